"""MacModel: the rig's types, validation, the leak, and the mean of a noisy chip."""
import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

import hil
from hil.bss2 import MacConfig, MacModel, MacStimulus
from hil.errors import InvalidValue

ROWS_ONE = np.ones(128, int)
W3 = np.full((128, 1), 3)


def _sends(events: int, num_sends: int, wait: int, tau: float) -> float:
    """The effective sends of docs/chip_model.md, written out: sum of l**k, k < num_sends."""
    lam = math.exp(-events * (wait + 1) * 8e-9 / tau)
    return sum(lam**k for k in range(num_sends))


@pytest.mark.parametrize("wait", [0, 5, 200, 4095])
def test_expectation_includes_wait_and_leak(wait):
    """x = 1 on 128 rows, W = 3, 100 sends: 72.96 LSB without leak, less the longer a send lasts."""
    m = MacModel()
    got = m.expectation(ROWS_ONE, W3, 100, wait_between_events=wait)[0, 0, 0]
    assert got == pytest.approx(0.0019 * 384 * _sends(128, 100, wait, 4e-3), rel=1e-12)
    assert m.ideal().expectation(ROWS_ONE, W3, 100, wait_between_events=wait)[0, 0, 0] == pytest.approx(72.96)


def test_predict_takes_the_rigs_types():
    W = np.zeros((128, 512), np.int8)
    W[:, :256] = 21
    W[:, 256:] = -21
    x = np.zeros((3, 128), np.uint8)
    x[:, :100] = 15
    x[1, :50] = 0
    config, stimulus = MacConfig(W), MacStimulus(x, num_sends=2, wait_between_events=50)
    m = MacModel()
    y = m.predict(config, stimulus)
    assert y.shape == (3, 512)
    np.testing.assert_array_equal(y, m.predict(x, W, 2, wait_between_events=50))
    np.testing.assert_array_equal(m.expected_mean(config, stimulus), m.expected_mean(x, W, 2, wait_between_events=50))


@pytest.mark.parametrize("args, field", [
    (([40], [[100]]), "x[0]"), (([4], [[100]]), "W[0, 0]"), (([4], [[1, 2]], 0), "num_sends"),
    (([4, 1], [[1]]), "x"), ((np.ones(128),), "W")])
def test_predict_validates_like_the_types(args, field):
    with pytest.raises(InvalidValue, match=field.replace("[", r"\[")):
        MacModel().predict(*args)


def test_sends_beside_a_stimulus_are_refused_not_ignored():
    config, stimulus = MacConfig(np.zeros((128, 512), np.int8)), MacStimulus(np.zeros((1, 128), np.uint8))
    with pytest.raises(InvalidValue, match="num_sends"):
        MacModel().predict(config, stimulus, 3)
    with pytest.raises(InvalidValue, match="num_sends"):
        MacModel().predict(config, stimulus, wait_between_events=7)


def test_wait_is_validated():
    with pytest.raises(InvalidValue, match="wait_between_events"):
        MacModel().predict([1], [[1]], wait_between_events=4096)
    with pytest.raises(InvalidValue, match="MacStimulus"):
        MacModel().predict(MacConfig(np.zeros((128, 512), np.int8)), np.zeros((1, 128)))


@pytest.mark.parametrize("tau", [0.0, -1.0, float("nan"), "4ms"])
def test_tau_leak_is_validated(tau):
    with pytest.raises(InvalidValue, match="tau_leak"):
        MacModel(tau_leak=tau)


def test_expected_mean_is_the_noisy_mean_with_the_floor():
    """The seed example: mu = 59.85; floor(59.85) = 59, but a chip with 2 LSB of Gaussian noise
    reads floor(mu + e) = 59.35 on average (E floor(X) = mu - 1/2 for sigma >> 1)."""
    m = MacModel()
    x, W = np.full(100, 15), np.full((100, 1), 21)
    assert m.predict(x, W)[0] == 59
    exact = sum(k * (stats.norm.cdf(k + 1, 59.85, 2) - stats.norm.cdf(k, 59.85, 2)) for k in range(20, 100))
    assert m.expected_mean(x, W)[0] == pytest.approx(exact, abs=1e-9)
    assert m.expected_mean(x, W)[0] == pytest.approx(59.35, abs=1e-6)
    assert m.ideal().expected_mean(x, W)[0] == 59.0


def test_expected_mean_matches_the_models_own_noise_over_blocks():
    """Against predict(rng=...): 3 blocks, one saturating, the sum clamped; 20000 draws per output
    give a standard error of sigma_sum / 141, and the bound is 5 of them."""
    m = MacModel()
    x = np.full((20000, 300), 31)
    x[:, 128:256] = 5
    W = np.zeros((300, 2), int)
    W[:, 0] = 20
    W[:, 1] = -3
    draws = m.predict(x, W, rng=np.random.default_rng(7)).astype(np.float64)
    mean = m.expected_mean(x[:1], W)[0]
    se = draws.std(axis=0) / math.sqrt(x.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - mean) <= 5 * np.maximum(se, 1e-3))
    assert mean[0] == pytest.approx(127.0, abs=1e-9)     # every block of column 0 saturates


def test_the_ideal_chip_equals_the_ideal_model_with_sends_and_wait():
    W = np.random.default_rng(1).integers(-63, 64, (128, 512))
    x = np.random.default_rng(2).integers(0, 32, (20, 128))
    with hil.backend.open("emulator", ideal=True) as backend:
        y = hil.bss2.mac(backend, x, W, num_sends=7, wait_between_events=900)
    np.testing.assert_array_equal(y, MacModel().ideal().predict(x, W, 7, wait_between_events=900))


def test_a_per_chip_model_fitted_from_a_measurement():
    """MacModel.fit: the linearity's per-neuron gains, the noise and the leak, chained; the per-chip
    model predicts each output with its own gain, exactly as its expectation says."""
    with hil.backend.open("emulator", serial="EMU-0042") as backend:
        lin = hil.experiment.run("bss2.mac_linearity", backend)
        noise = hil.experiment.run("bss2.mac_noise", backend, repeats=50)
        leak = hil.experiment.run("bss2.mac_sends_and_wait", backend, repeats=2)
    chip = MacModel().fit(lin).fit(noise).fit(leak)
    np.testing.assert_array_equal(chip.neuron_gain, lin.raw["gain"])
    assert chip.gain == leak.summary["gain_fit"] and chip.tau_leak == leak.summary["tau_leak_fit_s"]
    assert chip.noise_std == pytest.approx(math.sqrt(noise.summary["noise_rms"] ** 2 - 1 / 12), abs=1e-12)
    W = np.full((128, 512), 21, np.int8)
    x = np.zeros((1, 128), np.uint8)
    x[0, 0] = 12
    mu = chip.expectation(MacConfig(W), MacStimulus(x, num_sends=100))[0, 0]
    lam = math.exp(-1 * 6 * 8e-9 / chip.tau_leak)
    np.testing.assert_allclose(mu, np.asarray(lin.raw["gain"]) * (1 - lam**100) / (1 - lam) * 252, rtol=1e-12)


def test_fit_refuses_what_it_cannot_use():
    with pytest.raises(InvalidValue, match="fitted from"):
        MacModel().fit(object())
    with pytest.raises(InvalidValue, match=r"neuron_gain: has shape \(513,\); expected \(outputs,\) with 1..512"):
        MacModel(neuron_gain=(0.002,) * 513)      # more outputs than the chip has
    with pytest.raises(InvalidValue, match="neuron_gain"):
        MacModel(neuron_gain=((0.002,) * 2,) * 2)  # not one gain per output
    with pytest.raises(InvalidValue, match=r"neuron_gain\[3\]"):
        MacModel(neuron_gain=(0.002,) * 3 + (-1.0,) + (0.002,) * 508)
    with pytest.raises(InvalidValue, match="W: has 1 columns; a per-chip model .* predicts its device's 512 outputs"):
        MacModel(neuron_gain=(0.002,) * 512).predict([1], [[1]])
    assert MacModel(neuron_gain=(0.002,) * 32).predict([10], np.full((1, 32), 50)).shape == (32,)  # a reduced core


def test_block_rows_split_the_product_as_the_device_does():
    """A 64-row product on a 32-input core: two runs, each floored and clamped, then summed."""
    x = np.full((1, 64), 31)
    W = np.ones((64, 1))
    W[32:] = -1
    one = MacModel(gain=0.1, noise_std=0.0, tau_leak=math.inf)
    core = dataclasses.replace(one, block_rows=32)
    assert one.predict(x, W)[0, 0] == 0                        # one block: 0
    assert core.expectation(x, W).shape == (2, 1, 1)
    assert core.predict(x, W)[0, 0] == 99 + (-100)              # floor(99.2) + floor(-99.2)
    with pytest.raises(InvalidValue, match="block_rows"):
        MacModel(block_rows=129)
