"""A virtual chip's identity: same serial, same chip and same results; other serials differ."""
import numpy as np

import hil
from hil.bss2 import DEFAULT_SPEC, MacModel


def _operands(backend):
    """16 random vectors and weights of one run of the device (fixed seed)."""
    from hil.bss2.types import mac_shape

    inputs, outputs = mac_shape(backend.info().geometry)
    rng = np.random.default_rng(7)
    return rng.integers(0, 32, (16, inputs)), rng.integers(-63, 64, (inputs, outputs))


def _sequence(backend):
    X, W = _operands(backend)
    return [hil.bss2.mac(backend, X, W) for _ in range(3)]


def test_same_serial_same_results(open_backend):
    a = _sequence(open_backend(serial="EMU-DET-1"))
    b = _sequence(open_backend(serial="EMU-DET-1"))
    for ya, yb in zip(a, b):
        np.testing.assert_array_equal(ya, yb)


def test_other_serial_other_chip(open_backend):
    a = _sequence(open_backend(serial="EMU-DET-1"))
    b = _sequence(open_backend(serial="EMU-DET-2"))
    # Different mismatch: the per-neuron means differ well beyond the noise.
    diff = np.mean(a, axis=(0, 1)) - np.mean(b, axis=(0, 1))
    assert np.abs(diff).mean() > 0.5


def test_repeated_runs_carry_fresh_noise(open_backend):
    a, b, _ = _sequence(open_backend(serial="EMU-DET-1"))
    assert not np.array_equal(a, b)
    # ... but only noise: the difference spreads like two outputs' noise, within the spec's tolerance.
    sigma = np.sqrt(2 * MacModel().output_variance())
    tol = DEFAULT_SPEC.noise_tolerance
    sd = np.std(a.astype(float) - b)
    assert sigma * (1 - tol) <= sd <= sigma * (1 + tol)


def test_noise_does_not_depend_on_batch_size(open_backend):
    """Sample k of a run reads the same whether the run holds 16 vectors or 1."""
    full = open_backend(serial="EMU-DET-3")
    single = open_backend(serial="EMU-DET-3")
    X, W = _operands(full)
    cfg = hil.bss2.MacConfig(weights=W.astype(np.int8))
    full.configure(cfg)
    single.configure(cfg)
    y_full = full.run(hil.bss2.MacStimulus(inputs=X)).outputs
    y_first = single.run(hil.bss2.MacStimulus(inputs=X[:1])).outputs
    np.testing.assert_array_equal(y_full[:1], y_first)
