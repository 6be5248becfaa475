"""A small run of examples/snn_intro.py on the ideal chip, where the alignment's numbers are known."""
import importlib.util

import pytest

from tests.support import REPO


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("snn_intro_example", REPO / "examples" / "snn_intro.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_alignment_and_a_short_training_on_the_ideal_chip(example, ideal_chip):
    """The ideal chip rests at exactly 80; the CADC never reads the threshold crossing (the
    neuron resets at once), so the measured threshold lies below 125 - 80 = 45, and an input
    every step that approaches it slowly is read within 2 LSB below it. The weight scale then
    matches the PSPs to within one CADC LSB, and 15 epochs cut the loss to a fifth."""
    lines = []
    example.tour(ideal_chip, report=lines.append)
    assert "spikes (50, 1, 1)" in lines[0] and "MADC (1471, 1, 1)" in lines[0]
    alignment = example.align(ideal_chip, runs=2, report=lines.append)
    assert alignment.baseline == 80.0
    assert 43.0 <= alignment.threshold < 45.0
    assert alignment.trace_scale == pytest.approx(1 / alignment.threshold)
    # The PSPs' peaks (model 0.387 at scale 1; chip Q * scale * exp(-1) LSB, times the trace scale)
    # meet at 57.9; the fit over the whole PSP and the CADC's floor move it by a few.
    peaks_meet = 0.387 * alignment.threshold / (0.8 * 0.3679)
    assert abs(alignment.weight_scale - peaks_meet) <= 4
    assert alignment.psp_error < alignment.trace_scale          # within one CADC LSB
    losses = example.train(ideal_chip, alignment, epochs=15, lr=1e-2, report=lines.append)
    assert losses[-1] < losses[0] / 5, losses
