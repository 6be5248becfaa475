"""The experiments are not blind: each injected fault fails the metric that should catch it.

Missing CADC codes are not here: the MAC output is read minus baseline, and
the baseline's own spread fills the holes, so they need a raw-code density
test (the acceptance suite's job, not the MAC experiments').
"""
import pytest

import hil.experiment
from emulator.bss2 import Faults, StuckBit

CASES = [
    (Faults(dead_neurons=(77,)), "bss2.mac_linearity", "linear_range_min"),
    (Faults(noisy_neurons=((300, 6.0),)), "bss2.mac_noise", "noise_max"),
    (Faults(stuck_bits=(StuckBit(hemisphere=0, row=0, column=12, bit=5, value=1),)),
     "bss2.mac_linearity", "weight_residual_rms_max"),
]


@pytest.mark.parametrize("faults, experiment, metric", CASES, ids=[c[2] for c in CASES])
def test_fault_is_caught(open_backend, faults, experiment, metric):
    faulty_chip = open_backend(serial="EMU-FAULT", faults=faults)   # first: a backend without faults skips
    faulty = hil.experiment.run(experiment, faulty_chip)
    healthy = hil.experiment.run(experiment, open_backend(serial="EMU-FAULT"))
    assert healthy.metric(metric).passed, f"healthy chip fails {metric}"
    assert not faulty.metric(metric).passed, f"{faults} not caught by {metric}={faulty.metric(metric).value}"
