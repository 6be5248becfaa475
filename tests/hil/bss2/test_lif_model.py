"""LifModel and the spiking-mode helpers of hil.bss2.models: limits, equal time constants, a fine
numerical integration, the grid version against the ideal chip, and the monotonicity the
experiments' mismatch boxes rely on."""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import hil
from hil.bss2.experiments import spiking as sx
from hil.bss2.models import (LifModel, cadc_code, madc_code, psp_decay_time, psp_peak_time, psp_shape,
                             routed_synapses)
from hil.bss2.types import SpikingConfig, SpikingStimulus
from hil.errors import InvalidValue

TAU = 10e-6


def _integrated_psp(m: LifModel, jump: float, t: np.ndarray) -> np.ndarray:
    """V - leak after one event, by a fine adaptive integration of the two ODEs."""
    def rhs(_, y):
        v, i = y
        return [(-v + i) / m.tau_mem, -i / m.tau_syn]
    sol = solve_ivp(rhs, (0, t[-1]), [0.0, jump], t_eval=t, rtol=1e-11, atol=1e-12, method="DOP853")
    return sol.y[0]


@pytest.mark.parametrize("tau_syn", [5e-6, 10e-6, 10e-6 * (1 + 1e-7), 20e-6, 80e-6])
def test_psp_against_a_fine_integration(tau_syn):
    m = LifModel(tau_syn=tau_syn)
    t = np.linspace(0, 100e-6, 401)
    assert np.allclose(m.psp(t, 50.0), _integrated_psp(m, 50.0, t), rtol=1e-8, atol=1e-8)


def test_psp_is_continuous_through_equal_time_constants():
    t = np.linspace(0, 60e-6, 301)
    equal = 50.0 * (t / TAU) * np.exp(-t / TAU)
    assert np.allclose(LifModel().psp(t, 50.0), equal, rtol=1e-14, atol=1e-13)
    for rel in (1e-12, 1e-9, 1e-6, 1e-4):
        for sign in (-1, 1):
            near = LifModel(tau_syn=TAU * (1 + sign * rel)).psp(t, 50.0)
            assert np.max(np.abs(near - equal)) < 50.0 * 2 * rel   # a smooth function of tau_syn
    # Far from equality, the difference of exponentials as written.
    a, b = 1 / 5e-6, 1 / 20e-6
    direct = 20e-6 / (20e-6 - 5e-6) * (np.exp(-t * b) - np.exp(-t * a))
    assert np.allclose(LifModel(tau_mem=5e-6, tau_syn=20e-6).psp(t, 1.0), direct, rtol=1e-13, atol=1e-15)
    assert LifModel().psp(-1e-6, 50.0) == 0.0 and LifModel().psp(0.0, 50.0) == 0.0


def test_psp_features_equal_time_constants():
    m = LifModel()
    assert m.psp_time_to_peak() == pytest.approx(TAU, rel=1e-12)
    assert m.psp_amplitude(50.4) == pytest.approx(50.4 / math.e, rel=1e-12)
    # (t / tau) exp(1 - t / tau) = 1/e at t / tau = 3.1462: 2.1462 tau after the peak.
    x = 1 + 2.1461932206
    assert x * math.exp(1 - x) == pytest.approx(math.exp(-1), rel=1e-9)
    assert m.psp_decay_time() == pytest.approx(2.1461932206 * TAU, rel=1e-9)


@pytest.mark.parametrize("tau_mem, tau_syn", [(10e-6, 5e-6), (5e-6, 20e-6), (7e-6, 7.0001e-6), (16e-6, 7e-6)])
def test_psp_features_against_a_fine_sampling(tau_mem, tau_syn):
    m = LifModel(tau_mem=tau_mem, tau_syn=tau_syn)
    t = np.linspace(0, 200e-6, 2_000_001)
    v = m.psp(t, 1.0)
    i = int(np.argmax(v))
    assert m.psp_time_to_peak() == pytest.approx(t[i], abs=2e-10)
    assert float(m.psp_amplitude(1.0)) == pytest.approx(v[i], rel=1e-9)
    fall = t[i:][np.argmax(v[i:] < v[i] / math.e)]
    assert m.psp_decay_time() == pytest.approx(fall - t[i], abs=2e-10)


def test_free_membrane_and_time_to_threshold_against_integration():
    m = LifModel(i_const=100.0)
    t = np.linspace(0, 30e-6, 61)
    sol = solve_ivp(lambda _, v: (-(v - m.leak) + m.i_const) / m.tau_mem, (0, 30e-6), [60.0], t_eval=t,
                    rtol=1e-12, atol=1e-10, method="DOP853")
    assert np.allclose(m.free_membrane(t, 60.0), sol.y[0], rtol=1e-9)
    crossing = float(m.time_to_threshold(m.reset))
    assert m.free_membrane(crossing, m.reset) == pytest.approx(m.threshold, rel=1e-12)
    assert m.time_to_threshold(m.threshold + 1) == 0.0
    assert np.isinf(LifModel(i_const=45.0).time_to_threshold(80.0))     # v_inf == threshold: never


def test_fi_curve_limits():
    m = LifModel()
    assert m.rheobase == 45.0
    currents = np.array([0.0, 20.0, 45.0, 45.0001, 60.0, 1e3, 1e4])
    rate = m.rate(currents)
    assert (rate[:3] == 0).all() and (rate[3:] > 0).all()
    assert np.all(np.diff(rate[2:]) > 0)
    # The refractory time bounds it: at 1e4 LSB the approach takes 10 us ln(1e4 / (1e4 - 45)) = 45 ns.
    assert rate[-1] < 1 / m.refractory_s and rate[-1] == pytest.approx(1 / (2e-6 + 45.1e-9), rel=1e-3)
    assert rate[4] == pytest.approx(1 / (2e-6 + TAU * math.log(60 / 15)), rel=1e-12)
    spikes = LifModel(i_const=100.0).spike_times(100e-6)
    assert spikes[0] == pytest.approx(TAU * math.log(100 / 55)) and np.allclose(np.diff(spikes), 1 / m.rate(100.0))
    assert LifModel(i_const=30.0).spike_times(1e-3).size == 0


def test_the_grid_version_equals_the_ideal_chip():
    """512 neurons of different constant currents and refractory times, three grids: every spike
    and every CADC code of the ideal chip is the grid model's."""
    chip = hil.backend.open("emulator", ideal=True)
    levels = (np.arange(512) % 64 * 12 + 150).astype(np.uint16)
    refractory = (np.arange(512) * 7 % 4096).astype(np.uint16)
    chip.configure(SpikingConfig(i_const=levels, refractory=refractory))
    duration = 6250
    for step in (64, 100, 250):
        r = chip.run(SpikingStimulus(times=[], labels=[], duration=duration, step_ns=step))
        k = (8 * r.cadc_times) // step
        for n in range(512):
            m = LifModel.from_levels(i_const=int(levels[n]), refractory=int(refractory[n]))
            assert np.array_equal(m.grid_spike_times(step, duration), r.spike_times[r.spike_neurons == n]), (step, n)
            assert np.array_equal(cadc_code(m.grid_membrane(k, step)), r.cadc[0, :, n]), (step, n)


def test_grid_spikes_land_at_or_after_the_crossing():
    m = LifModel(i_const=100.0, refractory=250)
    steps = m.grid_spike_steps(100, 12500)
    t_cross = float(m.time_to_threshold(m.leak))
    assert steps[0] * 100e-9 >= t_cross > (steps[0] - 1) * 100e-9
    assert np.all(np.diff(steps) == m.grid_hold(100) + math.ceil(float(m.time_to_threshold(m.reset)) / 100e-9))
    assert m.grid_hold(100) == 20 and LifModel(refractory=6).grid_hold(100) == 0      # round(0.48)


def test_adc_models_clamp():
    assert list(cadc_code([-3.2, 0.0, 80.999, 300.0])) == [0, 0, 80, 255]
    assert list(cadc_code([80.5, 80.5], offset=[-100, 10])) == [0, 90]
    assert list(madc_code([-1.0, 80.3, 255.9, 400.0])) == [0, 321, 1023, 1023]


def test_nominal_and_from_config():
    m = LifModel.nominal()
    assert (m.leak, m.reset, m.threshold, m.tau_mem, m.tau_syn, m.i_const, m.refractory) == (
        80.0, 80.0, 125.0, 10e-6, 10e-6, 0.0, 250)
    cfg = SpikingConfig(i_const=np.full(512, 400, np.uint16), tau_mem=np.full(512, 100, np.uint16))
    assert LifModel.from_config(cfg, 3) == LifModel(i_const=100.0, tau_mem=20e-6)
    with pytest.raises(InvalidValue, match="tau_mem"):
        LifModel(tau_mem=0.0)
    with pytest.raises(InvalidValue, match="threshold"):
        LifModel.from_levels(threshold=1023)
    with pytest.raises(InvalidValue, match="neuron"):
        LifModel.from_config(cfg, 512)


def test_routing_model():
    bus = np.zeros((2, 128), np.uint8)
    bus[0, 1] = 2
    mask = np.full((2, 128), 31, np.uint8)
    mask[0, 1] = 0b00011
    sel = np.zeros((2, 128), np.uint8)
    sel[0, 1] = 0b10101
    mode = np.zeros((2, 256), np.uint8)
    mode[0, 2] = 1          # driver 1's first row; its second (row 3) is off
    labels = np.zeros((2, 256, 256), np.uint8)
    labels[0, 2, 7] = labels[0, 3, 7] = 9
    cfg = SpikingConfig(driver_bus=bus, driver_mask=mask, driver_row_select=sel, row_mode=mode, labels=labels)
    hit = lambda label: set(map(tuple, np.argwhere(routed_synapses(cfg, label))))  # noqa: E731
    label = (2 << 14) | (0b00001 << 6) | 9
    assert hit(label) == {(0, 2, 7)}                              # bit 0 matches; bits 2-4 are masked off
    assert hit(label | (0b111 << 11)) == {(0, 2, 7)}              # bits 11-13 are ignored
    assert hit((2 << 14) | (0b00011 << 6) | 9) == set()           # bit 1 differs and is compared
    assert hit((1 << 14) | (0b00001 << 6) | 9) == set()           # another bus
    assert hit((2 << 14) | (0b00001 << 6) | 8) == set()           # another address


def test_fit_parameterisation_matches_the_model():
    """The experiments' (s, u) PSP and its features are the LifModel's, through a == b."""
    for tm, ts in [(10e-6, 10e-6), (10e-6, 5e-6), (5e-6, 20e-6), (12e-6, 9e-6)]:
        m = LifModel(tau_mem=tm, tau_syn=ts)
        a, b = 1e-6 / tm, 1e-6 / ts                             # 1/us
        p = np.array([[80.0, 50.0 * a, (a + b) / 2, ((a - b) / 2) ** 2]])
        t = np.linspace(-5, 80, 500)
        assert np.allclose(sx._curve(t, p)[0], 80.0 + m.psp(t * 1e-6, 50.0), rtol=1e-12, atol=1e-10)
        amp, tp, decay = sx.psp_features(p)[0]
        assert amp == pytest.approx(float(m.psp_amplitude(50.0)), rel=1e-10)
        assert tp == pytest.approx(m.psp_time_to_peak(), rel=1e-10)
        assert decay == pytest.approx(m.psp_decay_time(), rel=1e-9)


def test_fit_recovers_a_noiseless_psp():
    m = LifModel(tau_mem=11e-6, tau_syn=8.5e-6)
    t = np.linspace(-8, 50, 300)
    y = (82.0 + m.psp(t * 1e-6, 45.0))[None, :]
    a0 = 0.1
    p = sx._fit(t, y, np.array([[80.0, 4.0, a0, 0.0]]), iterations=60)
    assert sx.psp_features(p)[0] == pytest.approx([float(m.psp_amplitude(45.0)), m.psp_time_to_peak(),
                                                   m.psp_decay_time()], rel=1e-6)


@pytest.mark.parametrize("feature", [0, 1, 2])
def test_psp_features_are_monotonic_in_each_time_constant(feature):
    """The mismatch boxes take the extremes at the corners: the amplitude falls with tau_mem and rises
    with tau_syn, time to peak and decay rise with both (checked on a dense grid of the box)."""
    taus = np.linspace(5e-6, 20e-6, 41)
    tm, ts = np.meshgrid(taus, taus, indexing="ij")
    a, b = 1 / tm, 1 / ts
    f = [a * psp_shape(psp_peak_time(a, b), a, b), psp_peak_time(a, b), psp_decay_time(a, b)][feature]
    d_tm, d_ts = np.diff(f, axis=0), np.diff(f, axis=1)
    assert (d_tm < 0).all() if feature == 0 else (d_tm > 0).all()
    assert (d_ts > 0).all()


def test_grid_isi_is_monotonic_in_each_parameter():
    rng = np.random.default_rng(3)
    base = dict(leak=80.0, reset=80.0, threshold=125.0, tau_mem=10e-6, i_const=100.0)
    sign = dict(leak=-1, reset=-1, threshold=1, tau_mem=1, i_const=-1)
    for name, s in sign.items():
        values = np.sort(base[name] * (1 + 0.3 * rng.uniform(-1, 1, 200)))
        isi = sx._grid_isi(**{**base, name: values}, hold_steps=20, step_ns=100)
        assert (s * np.diff(isi) >= 0).all(), name


def test_corners_bound_the_box():
    rng = np.random.default_rng(4)
    box = {"tm": (7e-6, 14e-6), "ts": (6e-6, 15e-6)}
    f = lambda tm, ts: psp_decay_time(1 / tm, 1 / ts)  # noqa: E731
    lo, hi = sx.corners(f, box)
    inner = f(rng.uniform(*box["tm"], 500), rng.uniform(*box["ts"], 500))
    assert (inner >= lo).all() and (inner <= hi).all()


def test_float32_error_bounds_the_ideal_chip():
    """The stated float32 error covers what the ideal chip's PSP shows: every MADC code is the floor
    of 4 (V -+ error) of the model's V."""
    chip = hil.backend.open("emulator", ideal=True)
    chip.configure(sx._psp_config(63, 368, 200, 200, 1022))
    r = chip.run(SpikingStimulus(times=[1250], labels=[0], duration=6250, step_ns=100, madc_neuron=5))
    m = LifModel(threshold=298.0)
    k = (34 * np.arange(r.madc.shape[1])) // 100
    v = m.leak + m.psp((k - 100) * 100e-9, m.jump(63))
    eps = m.float32_error(500, 100, scale=m.leak + m.jump(63))
    assert eps < 0.01
    assert ((r.madc[0] >= madc_code(v - eps)) & (r.madc[0] <= madc_code(v + eps))).all()
