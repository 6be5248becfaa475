"""The virtual chip's CADC ramp mode: raw codes from CapMem levels, noise, faults."""
import dataclasses
import hashlib

import numpy as np
import pytest

from emulator.bss2 import Faults, VirtualChip, capmem, fixed_pattern
from emulator.errors import InvalidInput
from hil.bss2 import CadcRampModel
from hil.bss2.experiments.cadc import histogram

LEVELS = np.arange(1023, dtype=np.uint16)


def test_ideal_chip_reads_the_ideal_ramp_adc_exactly():
    codes = VirtualChip("EMU-RAMP", ideal=True).read_cadc_ramp(LEVELS, repeats=2)
    expected = np.clip((np.repeat(LEVELS, 2).astype(np.int64) - 128) // 3, 0, 255)
    np.testing.assert_array_equal(codes, np.broadcast_to(expected[:, None], (2046, 512)))
    np.testing.assert_array_equal(CadcRampModel().codes(LEVELS), expected[::2])
    # Codes 1..254 take 3 levels each; the ends collect the overrange.
    h = CadcRampModel().histogram(LEVELS)
    assert (h[1:255] == 3).all() and h[0] == 131 and h[255] == 130 and h.sum() == 1023


def test_full_ramp_overdrives_both_ends():
    m = capmem.nominal_membrane(np.array([0, 1022]))
    assert m[0] < -40 and m[1] > 255 + 40


def test_ramp_is_reproducible_and_advances_the_run_counter():
    a, b = VirtualChip("EMU-RAMP"), VirtualChip("EMU-RAMP")
    mid = LEVELS[400:450]                  # inside the CADC's range (the first ~130 levels read code 0)
    first = a.read_cadc_ramp(mid, 4)
    np.testing.assert_array_equal(first, b.read_cadc_ramp(mid, 4))
    assert a.run_counter == 1
    assert not np.array_equal(first, a.read_cadc_ramp(mid, 4)), "a new run has new noise"
    # The noise of a sample depends on (run, sample, neuron) only: a shorter run reads the same prefix.
    np.testing.assert_array_equal(first[:8], VirtualChip("EMU-RAMP").read_cadc_ramp(mid[:2], 4))


def test_ramp_noise_is_the_chips_read_noise():
    chip = VirtualChip("EMU-RAMP")
    level = np.full(1, 600, np.uint16)
    codes = chip.read_cadc_ramp(level, 4000).astype(np.float64)
    sigma = codes.std(axis=0) / chip.pattern.cadc_slope
    expected = np.sqrt(chip.pattern.sigma_read**2 + 1 / 12)
    assert np.abs(sigma / expected - 1).max() < 0.15       # 4000 samples: ~1.1 % per neuron, 512 neurons
    mean = codes.mean(axis=0)
    v = capmem.membrane(chip.pattern, level)[0]
    np.testing.assert_allclose(mean + 0.5, chip.pattern.cadc_offset + chip.pattern.cadc_slope * v, atol=0.3)


def test_faults_in_the_ramp():
    faults = Faults(dead_neurons=(7,), missing_codes=(100, 101), noisy_neurons=((9, 5.0),))
    codes = VirtualChip("EMU-RAMP", faults=faults).read_cadc_ramp(LEVELS, 8)
    assert not np.isin(codes, [100, 101]).any()
    dead = codes[:, 7].astype(int)
    assert dead.max() - dead.min() < 20, "a dead neuron stays at its reset level"
    h = histogram(codes)
    assert h[99, 0] > 2 * h[98, 0], "a missing code is read as the code below it"


def test_bad_ramp_requests_are_refused():
    chip = VirtualChip("EMU-RAMP")
    with pytest.raises(InvalidInput, match=r"levels\[3\]: 1023 is outside"):
        chip.read_cadc_ramp(np.array([0, 1, 2, 1023], np.uint16))
    with pytest.raises(InvalidInput, match="levels"):
        chip.read_cadc_ramp(LEVELS.astype(np.int32))
    with pytest.raises(InvalidInput, match="repeats"):
        chip.read_cadc_ramp(LEVELS, 65)
    with pytest.raises(InvalidInput, match="repeats"):
        chip.read_cadc_ramp(LEVELS, 0)
    assert chip.run_counter == 0


def test_capmem_draws_keep_every_chip_drawn_before_them():
    """The CapMem mismatch is drawn after everything else: earlier fields keep their values."""
    p = fixed_pattern.draw(1)
    h = hashlib.sha256()
    for f in dataclasses.fields(p):
        if not f.name.startswith("capmem"):
            h.update(np.asarray(getattr(p, f.name), np.float64).tobytes())
    assert h.hexdigest() == "65d43e0e95defee57fe43fa7f8621ec33b5c703b7f0f2034cfbc2e128f7d787f"
    assert 0.5 < p.capmem_offset.std() < 1.5 and 0.005 < p.capmem_gain.std() < 0.015


def test_ramp_does_not_depend_on_how_it_is_split(monkeypatch):
    import emulator.bss2.chip as chip_module

    whole = VirtualChip("EMU-RAMP").read_cadc_ramp(LEVELS[300:700], 5)
    monkeypatch.setattr(chip_module, "_RAMP_CHUNK_SAMPLES", 7)
    np.testing.assert_array_equal(whole, VirtualChip("EMU-RAMP").read_cadc_ramp(LEVELS[300:700], 5))
