"""docs/chip_model.md's equations, written out from the page, equal the code they describe."""
import math
import re

import numpy as np

from emulator.bss2 import VirtualChip
from emulator.bss2.neuron import compress
from hil.bss2 import MacModel
from tests.support import REPO

DOC = (REPO / "docs" / "chip_model.md").read_text("utf-8")


def test_the_compression_equation_is_the_emulators():
    rng = np.random.default_rng(3)
    kp, kn = 92.0, -88.0
    rp, rn = kp + 51.0, kn - 47.0
    v = rng.uniform(-300, 300, 1000)
    # As the page writes it:
    doc = np.where(v > kp, kp + (rp - kp) * np.tanh((v - kp) / (rp - kp)),
                   np.where(v < kn, kn + (rn - kn) * np.tanh((v - kn) / (rn - kn)), v))
    np.testing.assert_allclose(compress(v, kp, kn, rp, rn), doc, rtol=0, atol=1e-12)
    assert "v' = knee_pos + (rail_pos - knee_pos) * tanh((v - knee_pos) / (rail_pos - knee_pos))" in DOC


def test_the_knees_and_rails_are_as_stated():
    for serial in ("EMU-0042", "EMU-0001", "EMU-0007"):
        p = VirtualChip(serial).pattern
        beyond = np.concatenate([p.rail_pos - p.knee_pos, p.knee_neg - p.rail_neg])
        assert beyond.min() >= 45.0 and np.all(np.abs(p.knee_pos) >= 75) and np.all(np.abs(p.knee_neg) >= 75)
    p = VirtualChip("EMU-0042").pattern
    assert round(float((p.rail_pos - p.knee_pos).max()), 1) == 65.6
    assert "the widest of EMU-0042's 512 neurons is 65.6" in DOC


def test_the_leak_equation_is_the_models():
    """T = events * (w + 1) * 8 ns, l = exp(-T / tau), S_eff = (1 - l**S) / (1 - l)."""
    assert "S_eff  = (1 - l_b**S) / (1 - l_b)" in DOC
    m = MacModel()
    for events, sends, wait in ((128, 100, 5), (1, 30, 4095), (64, 1, 0)):
        x = np.zeros(128, int)
        x[:events] = 2
        lam = math.exp(-events * (wait + 1) * 8e-9 / m.tau_leak)
        s_eff = (1 - lam**sends) / (1 - lam)
        got = m.expectation(x, np.full((128, 1), 5), sends, wait_between_events=wait)[0, 0, 0]
        assert math.isclose(got, m.gain * s_eff * events * 10, rel_tol=1e-12)


def test_the_stated_defaults_are_the_models():
    m = MacModel()
    assert re.search(r"defaults 0\.0019 LSB,\s+2\.0 LSB and 4 ms", DOC)
    assert (m.gain, m.noise_std, m.tau_leak) == (0.0019, 2.0, 4e-3)
