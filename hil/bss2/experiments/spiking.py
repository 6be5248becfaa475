"""Spiking-mode experiments: the PSP, the threshold, the f-I curve, the event routing, the two
ADCs and the seed's trace alignment (docs/spiking.md#models-and-experiments).

Each holds the chip against :class:`hil.bss2.LifModel` with limits derived from the spreads
and noise of :class:`hil.bss2.SpikingSpec` (docs/spiking.md), never picked by hand:

* **mismatch boxes**: a per-neuron quantity the model makes monotonic in each mismatched
  parameter (a time constant, a gain, a potential) lies between the model's values at the
  corners of the box ``nominal -+ z sigma`` of those parameters. ``z`` is Bonferroni over
  the neurons, the parameters and both sides, so that a healthy neuron leaves its box with
  probability at most ``false_alarm / 2`` over the whole chip;
* **noise margins**: the rest of ``false_alarm`` goes to the temporal noise, a Gaussian
  bound on the measured quantity's deviation (its standard deviation derived from the
  stated membrane, CADC and MADC noise), Bonferroni over what is judged.

A judged count of neurons outside their bounds then has the limit 0. On an ideal chip
(``info().ideal``: nominal curves, no noise) the box is a point and the bounds shrink to
the model's grid version and its stated float32 and quantization errors: there the
equality is exact within them.
"""
import dataclasses
import itertools
import math

import numpy as np
from scipy import stats

from emulator.bss2 import capmem, geometry as g

from ...contract import statistics
from ...contract.errors import InvalidValue
from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric, with_intervals
from ..models import (DEFAULT_SPIKING_SPEC, FPGA_CYCLE_NS, LifModel, SpikingSpec, cadc_code, event_grid_index,
                      grid_index, madc_code, psp_decay_time, psp_peak_time, psp_shape)
from ..types import SpikingConfig, SpikingStimulus
from .mac import IDEAL_EXACT, index_list

N = g.NEURONS
H_COLS = g.COLUMNS_PER_HEMISPHERE
MODEL_SOURCE = "model: hil.bss2.LifModel"
IDEAL_GRID = ("model: an ideal chip equals the LifModel's grid version, within its stated float32 error "
              "(LifModel.float32_error) and the ADC's floor")
US = 1e-6


# -- shared pieces ------------------------------------------------------------------------------


def _spec(spiking_spec) -> SpikingSpec:
    if not isinstance(spiking_spec, SpikingSpec):
        raise InvalidValue("spiking_spec", f"{spiking_spec!r} is not a hil.bss2.SpikingSpec")
    return spiking_spec


def _z(alpha: float, tests: int) -> float:
    """The two-sided Gaussian bound of ``alpha`` over ``tests`` tests (Bonferroni)."""
    return float(stats.norm.isf(alpha / (2.0 * tests)))


def corners(f, ranges: dict) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of ``f(**params)`` over the corners of the box ``ranges`` (name -> (lo, hi)):
    the extremes over the box for an ``f`` monotonic in each parameter (which the tests of
    the models check for every use here). ``f`` takes arrays and broadcasts."""
    names = list(ranges)
    grid = np.array(list(itertools.product((0, 1), repeat=len(names))))
    params = {n: np.asarray(ranges[n][0], np.float64) * (1 - grid[:, i]) + np.asarray(ranges[n][1], np.float64)
              * grid[:, i] for i, n in enumerate(names)}
    values = np.asarray(f(**params), np.float64)
    return values.min(axis=0), values.max(axis=0)


def _gain_range(sigma: float, z: float) -> tuple[float, float]:
    """A relative gain 1 + sigma N, drawn at least 0.5 (``spiking.draw_pattern``), within -+ z sigma."""
    return max(1.0 - z * sigma, 0.5), 1.0 + z * sigma


def _tau_range(tau: float, sigma: float, z: float) -> tuple[float, float]:
    """A time constant nominal / gain (a larger bias current, a shorter time)."""
    lo, hi = _gain_range(sigma, z)
    return tau / hi, tau / lo


def _around(value: float, sigma: float, z: float) -> tuple[float, float]:
    return value - z * sigma, value + z * sigma


def sample_sigma(spec: SpikingSpec) -> float:
    """LSB: one CADC sample's noise: the membrane's (at most 5 sigma of its spread over neurons above
    nominal), the read noise and the floor dithered by them (1/12)."""
    return math.sqrt((spec.sigma_mem * (1 + 5 * spec.sigma_mem_spread)) ** 2 + spec.sigma_cadc**2 + 1 / 12)


def _run(backend, config: SpikingConfig, stimulus: SpikingStimulus):
    backend.configure(config)
    return backend.run(stimulus)


def _outside(measured: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Indices (along the last axis) where any ``measured`` value lies outside [lo, hi] (NaN: outside)."""
    bad = ~((measured >= lo) & (measured <= hi))
    return np.flatnonzero(bad.reshape(-1, bad.shape[-1]).any(axis=0))


def _count_metric(name: str, outside: np.ndarray, source: str, what: str, units: str = "neurons",
                  total: int = N) -> Metric:
    return Metric(name, outside.size, 0, "<=", source, units,
                  detail=what + (f": {index_list(outside)}" if outside.size else "")).with_interval(
        statistics.count_interval(outside.size, total, units))


def _mismatch_interval(count: int, total: int, ideal: bool, what: str) -> Metric:
    m = Metric("prediction_mismatches", count, 0 if ideal else None, "<=", IDEAL_GRID if ideal else "",
               "values", detail=f"of {total} {what}, those unequal to the model's grid version"
                                + ("" if ideal else " (a noisy chip: reported, not judged)"))
    return m.with_interval(IDEAL_EXACT if ideal else statistics.count_interval(count, total, what))


def _median_rel(name: str, values: np.ndarray, model: float, unit_detail: str) -> Metric:
    finite = values[np.isfinite(values)]
    med = float(np.median(finite)) if finite.size else float("nan")
    detail = f"median over {finite.size} neurons {med:.5g} vs the nominal model's {model:.5g} {unit_detail}"
    if finite.size > 1:
        return Metric(name, med / model - 1.0, detail=detail,
                      interval=statistics.median_half_width(finite) / model,
                      interval_method="normal: sqrt(pi / 2) x 1.96 standard errors of the mean over neurons")
    return Metric(name, med / model - 1.0, detail=detail).with_interval("undefined: fewer than two neurons measured")


def _ideal_or(ideal: bool, intervals: dict) -> dict:
    return {} if ideal else intervals


def _finish(metrics, ideal: bool, intervals: dict | None = None) -> tuple[Metric, ...]:
    """The metrics with their intervals; on an ideal chip (no noise) every count is exact, and every
    value without an interval of its own (the normal ones over neurons are kept) too."""
    if ideal:
        metrics = [m.with_interval(IDEAL_EXACT) if m.interval_method.startswith("Clopper-Pearson") else m
                   for m in metrics]
    return with_intervals(metrics, _ideal_or(ideal, intervals or {}), exact=IDEAL_EXACT if ideal else "")


def _spike_stats(readout, step_ns: int) -> dict:
    """Per (trial, neuron): spike count, first and last timestamp (cycles; -1 without spikes)."""
    trials = readout.n_trials
    idx = readout.spike_trials.astype(np.int64) * N + readout.spike_neurons.astype(np.int64)
    count = np.bincount(idx, minlength=trials * N).reshape(trials, N)
    first = np.full(trials * N, np.iinfo(np.int64).max)
    last = np.full(trials * N, -1, np.int64)
    np.minimum.at(first, idx, readout.spike_times)
    np.maximum.at(last, idx, readout.spike_times)
    first = np.where(first == np.iinfo(np.int64).max, -1, first).reshape(trials, N)
    return {"count": count, "first": first, "last": last.reshape(trials, N)}


def _mean_isi(count: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Mean inter-spike interval (s) per neuron over trials: the summed (last - first) over the summed
    (count - 1) of the trials with two spikes or more; NaN where no trial has two."""
    two = count >= 2
    span = np.where(two, last - first, 0).sum(axis=0) * FPGA_CYCLE_NS * 1e-9
    intervals = np.where(two, count - 1, 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(intervals > 0, span / intervals, np.nan)


# -- the PSP fit ----------------------------------------------------------------------------------
#
# The PSP of any two time constants, as a function of s = (a + b) / 2 and u = ((a - b) / 2)**2
# (a, b the rates): K t exp(-s t) S(u t^2), S(z) = sinh(sqrt z) / sqrt z (sin for z < 0). It is
# smooth through a == b (u = 0) and symmetric in a and b, so a fit of (baseline, K, s, u) is well
# conditioned where one of (tau_m, tau_s) is not: near equal time constants the trace does not
# tell which is which. Times in us, rates in 1/us, inside the fit.


_S_SERIES = np.array([1.0 / math.factorial(2 * n + 1) for n in range(9)])
"""Coefficients of S(z) = sum z^n / (2n + 1)!; nine terms err by < 1e-17 at |z| <= 1."""


def _s_of_z(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S(z) = sinh(sqrt z) / sqrt z (sin(sqrt -z) / sqrt -z for z < 0) and dS/dz: their series
    (Horner) for |z| <= 1, the functions themselves beyond."""
    z = np.asarray(z, np.float64)
    s = np.full(z.shape, _S_SERIES[-1])
    ds = np.full(z.shape, (len(_S_SERIES) - 1) * _S_SERIES[-1])
    for n in range(len(_S_SERIES) - 2, -1, -1):
        s = s * z + _S_SERIES[n]
        if n:
            ds = ds * z + n * _S_SERIES[n]
    far = np.abs(z) > 1.0
    if far.any():
        zf = z[far]
        x = np.sqrt(np.abs(zf))
        sf = np.where(zf > 0, np.sinh(x), np.sin(x)) / x
        s[far] = sf
        ds[far] = (np.where(zf > 0, np.cosh(x), np.cos(x)) - sf) / (2.0 * zf)
    return s, ds


def _curve(t: np.ndarray, p: np.ndarray, jacobian: bool = False):
    """The fit's model at times ``t`` (us, (n,)) for parameters ``p`` (..., 4): baseline (codes), K
    (codes / us), s (1/us), u (1/us^2); and its Jacobian (..., n, 4)."""
    b, k, s, u = (p[..., i:i + 1] for i in range(4))
    tp = np.maximum(t, 0.0)
    e = np.exp(-s * tp)
    sz, dsz = _s_of_z(u * tp * tp)
    shape = np.where(t > 0, tp * e * sz, 0.0)
    y = b + k * shape
    if not jacobian:
        return y
    jac = np.stack([np.ones_like(y), shape, -k * tp * shape, np.where(t > 0, k * tp**3 * e * dsz, 0.0)], axis=-1)
    return y, jac


def _peak_time(s: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Time to the peak (us) of the (s, u) PSP: (1 / s) atanh(w) / w, w = sqrt(u) / s (atan for u < 0)."""
    x = u / (s * s)
    w = np.sqrt(np.abs(x))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(x > 0, np.arctanh(np.minimum(w, 1 - 1e-12)) / w, np.arctan(w) / w)
    return np.where(np.abs(x) < 1e-6, 1.0 + x / 3.0, ratio) / s


def _unit(t: np.ndarray, s: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The unit (s, u) PSP kernel t exp(-s t) S(u t^2) elementwise (t in us, 0 before the event)."""
    tp = np.maximum(t, 0.0)
    return np.where(t > 0, tp * np.exp(-s * tp) * _s_of_z(u * tp * tp)[0], 0.0)


def psp_features(p: np.ndarray) -> np.ndarray:
    """(..., 3) amplitude (codes), time to peak (s) and 1/e decay time (s) of fitted PSP parameters
    (..., 4), as :meth:`LifModel.psp_amplitude`, ``psp_time_to_peak``, ``psp_decay_time`` define them."""
    k, s, u = p[..., 1], p[..., 2], p[..., 3]
    tp = _peak_time(s, u)
    peak = _unit(tp, s, u)
    lo, hi = tp.copy(), tp + 4.0 / np.maximum(s - np.sqrt(np.maximum(u, 0.0)), 1e-3 * s)
    for _ in range(60):
        mid = (lo + hi) / 2
        above = _unit(mid, s, u) > peak / math.e
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return np.stack([k * peak, tp * US, ((lo + hi) / 2 - tp) * US], axis=-1)


def _fit(t: np.ndarray, y: np.ndarray, p0: np.ndarray, iterations: int = 25) -> np.ndarray:
    """Levenberg-Marquardt least squares of :func:`_curve` to every row of ``y`` ((neurons, n)) at
    once, from ``p0`` ((neurons, 4)); u kept within -s^2 .. 0.98 s^2 (both rates positive, or the
    smooth continuation past a == b)."""
    p = p0.copy()
    lam = np.full(p.shape[0], 1e-3)
    cost = ((_curve(t, p) - y) ** 2).sum(axis=1)
    for _ in range(iterations):
        f, jac = _curve(t, p, jacobian=True)
        r = y - f
        jtj = np.einsum("nki,nkj->nij", jac, jac)
        jtr = np.einsum("nki,nk->ni", jac, r)
        diag = np.einsum("nii->ni", jtj)
        step = np.linalg.solve(jtj + lam[:, None, None] * np.eye(4) * np.maximum(diag, 1e-12)[:, :, None],
                               jtr[..., None])[..., 0]
        trial = p + step
        trial[:, 2] = np.maximum(trial[:, 2], 1e-3)
        trial[:, 3] = np.clip(trial[:, 3], -trial[:, 2] ** 2, 0.98 * trial[:, 2] ** 2)
        new = ((_curve(t, trial) - y) ** 2).sum(axis=1)
        better = new < cost
        p = np.where(better[:, None], trial, p)
        cost = np.where(better, new, cost)
        lam = np.where(better, lam / 3.0, lam * 4.0)
    return p


def _feature_gradient(p: np.ndarray) -> np.ndarray:
    """(neurons, 3, 4) derivatives of :func:`psp_features` by the fitted parameters (central differences)."""
    grads = []
    for i in range(4):
        h = 1e-5 * np.maximum(np.abs(p[:, i]), 1e-3 if i < 3 else 1e-4)
        up, down = p.copy(), p.copy()
        up[:, i] += h
        down[:, i] -= h
        grads.append((psp_features(up) - psp_features(down)) / (2 * h)[:, None])
    return np.stack(grads, axis=-1)


def _ou_covariance(times_s: np.ndarray, sigma: float, tau: float) -> np.ndarray:
    """Covariance of an Ornstein-Uhlenbeck membrane noise of stationary ``sigma`` and time constant
    ``tau`` started at 0 at time 0 (a trial's power-on state), at ``times_s``."""
    s, t = np.meshgrid(times_s, times_s, indexing="ij")
    return sigma**2 * np.exp(-np.abs(s - t) / tau) * -np.expm1(-2.0 * np.minimum(s, t) / tau)


def _fit_noise(t: np.ndarray, p: np.ndarray, block: np.ndarray, blocks: int, white: float) -> tuple:
    """The fit's linear map and the features' noise: (neurons, 3) standard deviations of the fitted
    features under per-trial noise of covariance ``block`` (samples x samples, each of ``blocks``
    trials alike, codes^2) plus ``white`` variance per sample, from the sandwich A Sigma A^T of the
    least-squares map A = (J^T J)^-1 J^T; and the (neurons, 3, n) maps g^T A of the features."""
    _, jac = _curve(t, p, jacobian=True)
    a = np.linalg.solve(np.einsum("nki,nkj->nij", jac, jac), np.swapaxes(jac, 1, 2))     # (neurons, 4, n)
    ga = np.einsum("nfi,nik->nfk", _feature_gradient(p), a)                              # (neurons, 3, n)
    per = ga.reshape(ga.shape[0], 3, blocks, -1)
    var = np.einsum("nfbi,ij,nfbj->nf", per, block, per) + white * (ga**2).sum(axis=-1)
    return np.sqrt(var), ga


def _psp_config(weight: int, leak: int, tau_mem: int, tau_syn: int, threshold: int) -> SpikingConfig:
    """Driver 0 of both hemispheres (bus 0, row select 0, every bit compared) feeds row 0,
    excitatory, whose synapses of label 0 carry ``weight`` to every neuron: event label 0 reaches all 512."""
    w = np.zeros((g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, H_COLS), np.uint8)
    w[:, 0, :] = weight
    mode = np.zeros((g.HEMISPHERES, g.ROWS_PER_HEMISPHERE), np.uint8)
    mode[:, 0] = 1
    full = lambda v: np.full(N, v, np.uint16)  # noqa: E731
    return SpikingConfig(weights=w, row_mode=mode, leak=full(leak), reset=full(leak), threshold=full(threshold),
                         tau_mem=full(tau_mem), tau_syn_exc=full(tau_syn))


PSP_OFFSETS = 9
"""Event offsets of the equivalent-time sampling: trial j's event comes ``j * 200 ns`` later, so
the CADC's 1.84 us samples fall at 9 phases of the PSP (200 ns apart)."""
PSP_OFFSET_NS = 200
PSP_STEP_NS = 200
"""The grid of the PSP runs: the exact propagators make the linear neuron exact between grid points,
so only the event times (here on grid points) and the sample times (the last grid point at or
before each) feel the grid; 200 ns halves the numpy chip's time against the default 100 ns."""
PSP_EVENT_CYCLES = 1250
"""The first offset's event, FPGA cycles (10 us: five CADC samples of the resting membrane first)."""


def measure_psp(backend, *, weight: int, repeats: int, window_us: float, spec: SpikingSpec, leak: int = 368,
                tau_mem: int = 200, tau_syn: int = 200, madc_neuron: int = 0) -> dict:
    """One event of ``weight`` into every neuron, at ``PSP_OFFSETS`` offsets x ``repeats`` trials;
    every neuron's PSP fitted, and its amplitude, time to peak and decay with their bounds.

    Returns the raw codes, the fit, the features, the model's values and the bounds
    (``lo``/``hi``, (3, 512)) a healthy neuron's features lie within (docs/spiking.md)."""
    ideal = bool(backend.info().ideal)
    step = PSP_STEP_NS
    threshold = g.CAPMEM_LEVEL_MAX           # far above any PSP: the neuron never spikes
    config = _psp_config(weight, leak, tau_mem, tau_syn, threshold)
    offsets = PSP_EVENT_CYCLES + (PSP_OFFSET_NS // FPGA_CYCLE_NS) * np.arange(PSP_OFFSETS)
    duration = int(offsets[-1] + window_us * 1000 / FPGA_CYCLE_NS)
    times = np.tile(offsets, repeats).astype(np.int64)
    trials = np.arange(times.size, dtype=np.uint16)
    stim = SpikingStimulus(times=times, labels=np.zeros(times.size, np.uint16), trials=trials,
                           n_trials=times.size, duration=duration, step_ns=step, madc_neuron=madc_neuron)
    readout = _run(backend, config, stim)
    model = LifModel.from_levels(leak=leak, reset=leak, threshold=threshold, tau_mem=tau_mem, tau_syn=tau_syn)
    cadc = readout.cadc.astype(np.float64)                                     # (trials, samples, 512)
    k = grid_index(FPGA_CYCLE_NS * readout.cadc_times, step)                   # grid point of each sample
    k_event = event_grid_index(times, step)                                   # (trials,)
    t_rel = (k[None, :] - k_event[:, None]) * step * 1e-9                     # (trials, samples) s

    # The model's codes (the ideal chip's, within the float32 error) and its MADC trace.
    jump = model.jump(weight)
    v_model = model.leak + model.psp(t_rel, jump)
    eps = model.float32_error(stim.steps, step, scale=model.leak + jump)
    km = grid_index(np.arange(readout.madc.shape[1]) * g.MADC_PERIOD_NS, step)
    v_madc = model.leak + model.psp((km[None, :] - k_event[:, None]) * step * 1e-9, jump)

    def outside_band(codes, v, code_of):
        """Codes that are neither the model's floor of v - eps nor of v + eps."""
        return ~((codes >= code_of(v - eps)) & (codes <= code_of(v + eps)))

    bad_cadc = outside_band(readout.cadc, v_model[..., None], cadc_code)
    bad_madc = outside_band(readout.madc, v_madc, madc_code)

    # Fit every neuron: samples of all trials stacked, times relative to each trial's event.
    t_us = (t_rel / US).ravel()
    y = cadc.transpose(2, 0, 1).reshape(N, -1)
    pre = t_rel <= 0
    base0 = cadc[:, pre.any(axis=0)].mean(axis=(0, 1)) if pre.any() else y.mean(axis=1)
    a0 = 1.0 / (model.tau_mem / US)
    b0 = 1.0 / (model.tau_syn / US)
    s0, u0 = (a0 + b0) / 2, ((a0 - b0) / 2) ** 2
    peak0 = float(psp_shape(model.psp_time_to_peak(), 1.0 / model.tau_mem, 1.0 / model.tau_syn)) / US
    amp0 = np.maximum(y.max(axis=1) - base0, 0.5)
    p0 = np.stack([base0, amp0 / peak0, np.full(N, s0), np.full(N, u0)], axis=1)
    p = _fit(t_us, y, p0)
    features = psp_features(p)                                                    # (512, 3)

    # The features' noise (and on the ideal chip the floor's worst case), through the fit's linear map.
    sigma_mem = spec.sigma_mem * (1.0 + _z(spec.false_alarm, N) * spec.sigma_mem_spread)
    tau_noise = capmem.nominal_value("tau_mem", tau_mem) * (1.0 + 5 * spec.tau_gain)
    samples_t = k * step * 1e-9
    if ideal:
        block, white = np.zeros((k.size, k.size)), 0.0
    else:
        block = _ou_covariance(samples_t, sigma_mem, tau_noise)
        white = spec.sigma_cadc**2 + 1.0 / 12.0      # read noise, and the floor dithered by the noise
    noise_std, ga = _fit_noise(t_us, p, block, times.size, white)
    quant = 0.5 * np.abs(ga).sum(axis=-1) + eps * np.abs(ga).sum(axis=-1)     # an undithered floor: |error| <= 1/2

    # The model's features, and each neuron's box of the mismatch.
    nominal = np.array([float(model.psp_amplitude(jump)), model.psp_time_to_peak(), model.psp_decay_time()])
    if ideal:
        lo = nominal[:, None] - quant.T
        hi = nominal[:, None] + quant.T
        box_note = "ideal chip: the model's values -+ the fit's worst case of the floor (1/2 code a sample)"
    else:
        zb = _z(spec.false_alarm / 2, N * 6)          # six mismatched parameters per neuron
        zn = _z(spec.false_alarm / 2, N * 3)          # three judged features per neuron
        tau_m, tau_s = model.tau_mem, model.tau_syn
        ranges = {"tm": _tau_range(tau_m, spec.tau_gain, zb), "ts": _tau_range(tau_s, spec.tau_gain, zb),
                  "gs": _gain_range(spec.synapse_gain, zb), "gd": _gain_range(spec.driver_gain, zb),
                  "gi": _gain_range(spec.input_gain, zb), "gc": _gain_range(spec.cadc_slope, zb)}

        def feats(tm, ts, gs, gd, gi, gc):
            a, b = 1.0 / tm, 1.0 / ts
            amp = jump * gs * gd * gi * gc * a * psp_shape(psp_peak_time(a, b), a, b)
            return np.stack([amp, psp_peak_time(a, b), psp_decay_time(a, b)], axis=-1)

        flo, fhi = corners(feats, ranges)
        lo = flo[:, None] - zn * noise_std.T
        hi = fhi[:, None] + zn * noise_std.T
        box_note = (f"mismatch box at {zb:.2f} sigma of 6 parameters (tau_mem, tau_syn {spec.tau_gain:.0%}; "
                    f"synapse {spec.synapse_gain:.0%}, driver {spec.driver_gain:.0%}, input "
                    f"{spec.input_gain:.0%}, CADC slope {spec.cadc_slope:.1%}) -+ {zn:.2f} sigma of the fit's "
                    f"noise (membrane {sigma_mem:.2f} LSB OU, CADC read {spec.sigma_cadc} LSB, floor)")
    return dict(readout=readout, stimulus=stim, config=config, model=model, jump=jump, fit=p, features=features,
                nominal=nominal, lo=lo, hi=hi, noise_std=noise_std, quant=quant, eps=eps, box_note=box_note,
                v_model=v_model, v_madc=v_madc, bad_cadc=bad_cadc, bad_madc=bad_madc, times=times, t_rel=t_rel)


FEATURES = ("amplitude", "time_to_peak", "decay")
FEATURE_UNITS = ("LSB", "s", "s")


@experiment("bss2.psp_shape", mode="spiking", metrics=(
    "amplitude_outside_neurons", "time_to_peak_outside_neurons", "decay_outside_neurons", "prediction_mismatches",
    "amplitude_median_rel_error", "time_to_peak_median_rel_error", "decay_median_rel_error"),
    params={"weight": (16, g.WEIGHT_MAX), "repeats": (1, 16), "window_us": (30.0, 200.0),
            "tau_syn_level": (100, 400), "madc_neuron": (0, N - 1)})
def psp_shape_experiment(backend, *, weight: int = 63, repeats: int = 1, window_us: float = 50.0,
                         tau_syn_level: int = 200, madc_neuron: int = 0,
                         spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC, progress: bool = False) -> ExperimentResult:
    """One input event of ``weight`` into all 512 neurons (leak 80 LSB, tau_mem 10 us, tau_syn of
    CapMem level ``tau_syn_level``; threshold out of reach), at 9 offsets 200 ns apart
    (equivalent-time sampling of the 1.84 us CADC) x ``repeats`` trials, ``window_us`` after it.

    Per neuron the PSP model is fitted to its CADC samples; its amplitude (LSB), time to
    peak and 1/e decay time (s) are judged against the LifModel within the mismatch box and
    the fit's noise. The MADC records ``madc_neuron`` at 34 ns. On an ideal chip every CADC
    and MADC code equals the model's, within the float32 error, and the features equal the
    model's within the floor's worst case.
    """
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    m = measure_psp(backend, weight=weight, repeats=repeats, window_us=window_us, spec=spec, tau_syn=tau_syn_level,
                    madc_neuron=madc_neuron)
    feats, lo, hi, nominal = m["features"], m["lo"], m["hi"], m["nominal"]
    source = MODEL_SOURCE + ": " + m["box_note"]
    metrics = [_count_metric(f"{f}_outside_neurons", _outside(feats[:, i], lo[i], hi[i]), source,
                             f"neurons whose fitted PSP {f} ({u}) lies outside the model's bounds")
               for i, (f, u) in enumerate(zip(FEATURES, FEATURE_UNITS))]
    total = m["bad_cadc"].size + m["bad_madc"].size
    metrics.append(_mismatch_interval(int(m["bad_cadc"].sum() + m["bad_madc"].sum()), total, ideal,
                                      "CADC and MADC codes"))
    metrics += [_median_rel(f"{f}_median_rel_error", feats[:, i], nominal[i], u)
                for i, (f, u) in enumerate(zip(FEATURES, FEATURE_UNITS))]
    r = m["readout"]
    model_cadc = cadc_code(m["v_model"])
    return ExperimentResult(
        experiment="bss2.psp_shape",
        params=dict(weight=weight, repeats=repeats, window_us=window_us, tau_syn_level=tau_syn_level,
                    madc_neuron=madc_neuron),
        raw={"psp_cadc": r.cadc, "psp_cadc_times": r.cadc_times, "psp_madc": r.madc, "psp_fit": m["fit"],
             "psp_features": feats, "psp_time_since_event": m["t_rel"]},
        prediction={"psp_cadc_model": model_cadc, "psp_madc_model": madc_code(m["v_madc"]),
                    "psp_features_model": nominal, "psp_features_low": lo, "psp_features_high": hi},
        metrics=_finish(metrics, ideal),
        stimulus={"event_times": m["times"], "event_labels": np.zeros(m["times"].size, np.uint16),
                  "weights_row0": np.full(N, weight, np.uint8)},
        model={"model": m["model"].record(), "spec": spec.record()},
        summary={"jump_lsb": float(m["jump"]), "model_amplitude_lsb": float(nominal[0]),
                 "model_time_to_peak_s": float(nominal[1]), "model_decay_s": float(nominal[2]),
                 "amplitude_median_lsb": float(np.median(feats[:, 0])),
                 "time_to_peak_median_s": float(np.median(feats[:, 1])), "decay_median_s": float(np.median(feats[:, 2])),
                 "float32_error_lsb": m["eps"]},
    )


# -- constant current: the threshold and the f-I curve ----------------------------------------------

DRIVE_LEVEL = 400
"""i_const level of the strong drive (100 LSB nominal): v_inf = 180 LSB, 55 above threshold, so V
crosses it at some 0.5 LSB per 100 ns step; above rheobase on every corner of a healthy chip's box."""


def _constant_config(i_const, threshold: int = 503) -> SpikingConfig:
    return SpikingConfig(i_const=np.broadcast_to(np.asarray(i_const, np.uint16), (N,)).copy(),
                         threshold=np.full(N, threshold, np.uint16))


def _neuron_box(model: LifModel, spec: SpikingSpec, z: float) -> dict:
    """The mismatch box of a neuron under constant input: leak, reset, threshold, tau_mem, i_const."""
    return {"leak": _around(model.leak, spec.potential_sigma(model.leak, "leak"), z),
            "reset": _around(model.reset, spec.potential_sigma(model.reset, "voltage"), z),
            "threshold": _around(model.threshold, spec.potential_sigma(model.threshold, "voltage"), z),
            "tau_mem": _tau_range(model.tau_mem, spec.tau_gain, z),
            "i_const": tuple(model.i_const * np.array(_gain_range(spec.current_gain, z)))}


def _grid_isi(leak, reset, threshold, tau_mem, i_const, hold_steps: int, step_ns: int) -> np.ndarray:
    """The grid model's inter-spike interval (s), vectorized over the parameters: (hold + ceil(T / h)) h,
    T = tau_mem ln((v_inf - reset) / (v_inf - threshold)); inf below rheobase. Increasing in
    threshold and tau_mem, decreasing in leak, reset and i_const."""
    h = step_ns * 1e-9
    v_inf = leak + i_const
    with np.errstate(invalid="ignore", divide="ignore"):
        t = tau_mem * np.log((v_inf - reset) / (v_inf - threshold))
    m = np.where(v_inf > threshold, np.maximum(np.ceil(t / h), 1.0), np.inf)
    return (hold_steps + m) * h


def measure_threshold(backend, *, level: int, duration_us: float, trials: int, spec: SpikingSpec,
                      drive: int = DRIVE_LEVEL) -> dict:
    """Every neuron driven hard by a constant current (i_const level ``drive``), its threshold read as
    the seed reads it: the largest CADC code over the samples of all trials. Returns the codes, the
    spikes and each neuron's bounds of that largest code (docs/spiking.md#models-and-experiments)."""
    ideal = bool(backend.info().ideal)
    step = 100
    duration = int(round(duration_us * 1000 / FPGA_CYCLE_NS))
    readout = _run(backend, _constant_config(drive, level),
                   SpikingStimulus(times=[], labels=[], duration=duration, n_trials=trials, step_ns=step))
    codes = readout.cadc.astype(np.int64)
    measured = codes.max(axis=(0, 1)).astype(np.float64)                   # (512,)
    model = LifModel.from_levels(threshold=level, i_const=drive)
    k = grid_index(FPGA_CYCLE_NS * readout.cadc_times, step)
    spikes = _spike_stats(readout, step)
    spiking = spikes["count"].sum(axis=0) > 0
    if ideal:
        v = model.grid_membrane(k, step)
        eps = model.float32_error(readout.cadc_times.size and int(k.max()) + 1, step)
        lo = np.full(N, float(cadc_code(v - eps).max()))
        hi = np.full(N, float(cadc_code(v + eps).max()))
        note = "ideal chip: the grid model's largest sample, within its float32 error"
        d_min = np.zeros(N, np.int64)
    else:
        alpha = spec.false_alarm / 4                      # mismatch, the approach's box, read noise, membrane noise
        z_mis = _z(alpha, N)
        z_box = _z(alpha, N * 4)
        z_read = _z(alpha, N * codes.shape[0] * codes.shape[1])
        z_mem = _z(alpha, N)
        # The threshold as the CADC channel sees it: offset + slope * threshold, one Gaussian.
        sigma_th = math.sqrt(spec.potential_sigma(model.threshold, "voltage") ** 2 + spec.cadc_offset**2
                             + (spec.cadc_slope * model.threshold) ** 2)
        # Steps from each sample to the neuron's next spike in its trial (its spikes' grid points).
        d_min = _steps_to_next_spike(readout, k, step)
        box = _neuron_box(model, spec, z_box)
        th_lo = box["threshold"][0]
        v_inf_hi = box["leak"][1] + box["i_const"][1]
        tau_lo = box["tau_mem"][0]
        h = step * 1e-9
        with np.errstate(invalid="ignore", over="ignore"):
            # A sample d steps before the crossing grid point: V >= th - (v_inf - th)(exp(d h / tau) - 1),
            # less the membrane noise gathered over those d steps.
            gap = (v_inf_hi - th_lo) * np.expm1(d_min * h / tau_lo)
            gap = gap + z_mem * spec.sigma_mem * (1 + 5 * spec.sigma_mem_spread) * np.sqrt(
                -np.expm1(-2 * d_min * h / tau_lo))
        lo = np.floor(model.threshold - z_mis * sigma_th - gap - z_read * spec.sigma_cadc)
        hi = np.floor(model.threshold + z_mis * sigma_th + z_read * spec.sigma_cadc)
        lo = np.where(np.isfinite(lo), lo, np.nan)
        note = (f"threshold {model.threshold:g} LSB -+ {z_mis:.2f} x {sigma_th:.2f} LSB (threshold cell "
                f"{spec.voltage_offset} LSB, {spec.voltage_gain:.0%}; CADC offset {spec.cadc_offset} codes, slope "
                f"{spec.cadc_slope:.1%}), -+ {z_read:.2f} x {spec.sigma_cadc} LSB read noise, less the approach "
                "over the steps from the sample nearest before a spike (box corner, membrane noise)")
    return dict(readout=readout, codes=codes, measured=measured, lo=lo, hi=hi, model=model, spiking=spiking,
                spikes=spikes, note=note, d_min=d_min, duration=duration)


def _steps_to_next_spike(readout, k: np.ndarray, step: int) -> np.ndarray:
    """(512,) the fewest grid steps from any CADC sample to the neuron's next spike in the same trial
    (huge where it never spikes after a sample)."""
    out = np.full(N, 2**40, np.int64)
    n_spike = -(-FPGA_CYCLE_NS * readout.spike_times // step)     # grid point of each spike (step >= 8)
    for trial in range(readout.n_trials):
        sel = readout.spike_trials == trial
        for nrn, spikes in _group(readout.spike_neurons[sel], n_spike[sel]):
            nxt = np.searchsorted(spikes, k, side="right")
            ok = nxt < spikes.size
            if ok.any():
                out[nrn] = min(out[nrn], int((spikes[nxt[ok]] - k[ok]).min()))
    return out


def _group(neurons: np.ndarray, values: np.ndarray):
    order = np.argsort(neurons, kind="stable")
    neurons, values = neurons[order], values[order]
    cuts = np.flatnonzero(np.diff(neurons)) + 1
    for idx in np.split(np.arange(neurons.size), cuts):
        if idx.size:
            yield int(neurons[idx[0]]), np.sort(values[idx])


@experiment("bss2.spike_threshold", mode="spiking", metrics=(
    "threshold_outside_neurons", "silent_neurons", "threshold_mean_error", "threshold_spread"),
    params={"threshold_level": (400, 600), "duration_us": (40.0, 400.0), "trials": (1, 32)})
def spike_threshold(backend, *, threshold_level: int = 503, duration_us: float = 100.0, trials: int = 4,
                    spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC, progress: bool = False) -> ExperimentResult:
    """Every neuron driven hard by a constant current (i_const level 400, 100 LSB) for ``trials``
    trials of ``duration_us``; its threshold is the largest CADC code over them, as the seed
    measures it. Judged: each neuron's largest code within the configured threshold's nominal
    value (CapMem level ``threshold_level``) -+ the threshold cell's and the CADC channel's
    mismatch, the read noise and the approach below threshold; every neuron spikes. On an
    ideal chip the largest code is the grid model's exactly."""
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    m = measure_threshold(backend, level=threshold_level, duration_us=duration_us, trials=trials, spec=spec)
    measured, model = m["measured"], m["model"]
    outside = _outside(measured, m["lo"], m["hi"])
    silent = np.flatnonzero(~m["spiking"])
    err = measured - model.threshold
    metrics = (
        _count_metric("threshold_outside_neurons", outside, (IDEAL_GRID if ideal else MODEL_SOURCE) + ": " + m["note"],
                      "neurons whose largest CADC code lies outside their bounds"),
        _count_metric("silent_neurons", silent, MODEL_SOURCE + ": the drive is above rheobase on every corner "
                      "of a healthy neuron's mismatch box, so every neuron spikes",
                      "neurons without a spike under the strong drive"),
        Metric("threshold_mean_error", float(err.mean()), unit="LSB",
               detail=f"mean over neurons of the largest code - the nominal threshold {model.threshold:g} LSB",
               interval=statistics.mean_half_width(err),
               interval_method="normal: 1.96 standard errors of the mean over neurons"),
        Metric("threshold_spread", float(err.std(ddof=1)), unit="LSB",
               detail="standard deviation over neurons of the largest code"),
    )
    boot = {} if ideal else {"threshold_spread": statistics.bootstrap(
        lambda idx: m["codes"][idx].max(axis=(1, 2)).std(axis=-1, ddof=1), [trials], "trials").interval(
        metrics[3].value, 0, (0.0, np.inf))}
    r = m["readout"]
    return ExperimentResult(
        experiment="bss2.spike_threshold",
        params=dict(threshold_level=threshold_level, duration_us=duration_us, trials=trials),
        raw={"threshold_code": measured, "threshold_cadc": r.cadc, "spike_times": r.spike_times,
             "spike_neurons": r.spike_neurons, "spike_trials": r.spike_trials},
        prediction={"threshold_low": m["lo"], "threshold_high": m["hi"],
                    "threshold_model": np.full(N, model.threshold)},
        metrics=_finish(metrics, ideal, boot),
        stimulus={"i_const": np.full(N, DRIVE_LEVEL, np.uint16), "threshold": np.full(N, threshold_level, np.uint16)},
        model={"model": model.record(), "spec": spec.record()},
        summary={"threshold_nominal_lsb": model.threshold, "threshold_code_mean": float(measured.mean()),
                 "outside": [int(i) for i in outside[:64]], "silent": [int(i) for i in silent[:64]]},
    )


FI_LEVELS = (80, 320, 480, 720, 1000)
"""i_const levels of ``bss2.fi_curve`` (20, 80, 120, 180, 250 LSB): the first below rheobase on every
corner of a healthy neuron's box (v_inf stays below threshold), the others above it on every corner."""


@experiment("bss2.fi_curve", mode="spiking", metrics=(
    "rate_outside_neurons", "silent_neurons", "spiking_below_rheobase", "prediction_mismatches",
    "rate_median_rel_error_max"),
    params={"duration_us": (50.0, 1000.0), "trials": (1, 16)})
def fi_curve(backend, *, duration_us: float = 100.0, trials: int = 2,
             spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC, progress: bool = False) -> ExperimentResult:
    """The f-I curve: every neuron at the constant currents of ``FI_LEVELS`` (one run each,
    ``trials`` trials of ``duration_us``), its rate the inverse of its mean inter-spike interval.

    Judged per neuron against the LifModel's grid version: the rate within the model's rates at
    the corners of the neuron's mismatch box (leak, reset, threshold, tau_mem, i_const) and the
    spike-time noise; no spike below rheobase, spikes above it. An ideal chip's spike times
    equal the grid model's."""
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    step = 100
    duration = int(round(duration_us * 1000 / FPGA_CYCLE_NS))
    levels = np.array(FI_LEVELS)
    counts, isis, lo, hi, pred_counts, pred_isi = [], [], [], [], [], []
    mismatched = compared = 0
    alpha = spec.false_alarm / 2
    z_box = _z(alpha, N * 5)
    z_noise = _z(alpha, N * (levels.size - 1))
    for level in levels:
        r = _run(backend, _constant_config(int(level)),
                 SpikingStimulus(times=[], labels=[], duration=duration, n_trials=trials, step_ns=step,
                                 record_cadc=False))
        s = _spike_stats(r, step)
        counts.append(s["count"])
        isis.append(_mean_isi(s["count"], s["first"], s["last"]))
        model = LifModel.from_levels(i_const=int(level))
        times = model.grid_spike_times(step, duration)
        pred_counts.append(times.size)
        pred_isi.append(float(_mean_isi(np.full((trials, 1), times.size), np.full((trials, 1), times[0] if times.size else -1),
                                        np.full((trials, 1), times[-1] if times.size else -1))[0]))
        # Every spike train compared with the grid model's, on the ideal chip the exact claim.
        for trial in range(trials):
            sel = r.spike_trials == trial
            for nrn in range(N):
                got = r.spike_times[sel & (r.spike_neurons == nrn)]
                compared += 1
                mismatched += not np.array_equal(got, times)
        hold = model.grid_hold(step)
        if ideal:
            lo.append(np.full(N, pred_isi[-1]))
            hi.append(np.full(N, pred_isi[-1]))
            continue
        box = _neuron_box(model, spec, z_box)
        isi_lo, isi_hi = corners(lambda **p: _grid_isi(**p, hold_steps=hold, step_ns=step), box)
        # Spike-time noise: the membrane noise at the crossing over the slope there, the OU noise
        # grown from zero since the release from reset; the mean of the intervals of all trials.
        slow = dict(leak=box["leak"][0], reset=box["reset"][1], threshold=box["threshold"][1],
                    tau_mem=box["tau_mem"][1], i_const=box["i_const"][0])
        gap = slow["leak"] + slow["i_const"] - slow["threshold"]
        sigma_mem = spec.sigma_mem * (1 + _z(alpha, N) * spec.sigma_mem_spread)
        jitter = sigma_mem * slow["tau_mem"] / gap if gap > 0 else math.inf
        fewest = LifModel(leak=slow["leak"], reset=slow["reset"], threshold=slow["threshold"],
                          tau_mem=slow["tau_mem"], i_const=slow["i_const"]).grid_spike_times(step, duration).size
        intervals = trials * max(fewest - 1, 0)
        margin = (z_noise * jitter / math.sqrt(intervals) if intervals else math.inf) + step * 1e-9 + 8e-9
        lo.append(np.full(N, isi_lo - margin))
        hi.append(np.full(N, isi_hi + margin))
    counts, isis = np.stack(counts), np.stack(isis)                # (levels, trials, 512), (levels, 512)
    lo, hi = np.stack(lo), np.stack(hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(np.isfinite(isis), 1.0 / isis, 0.0)
        pred_rate = np.array([1.0 / i if np.isfinite(i) else 0.0 for i in pred_isi])
        rate_lo = np.where(np.isfinite(hi) & (hi > 0), 1.0 / hi, 0.0)
        rate_hi = np.where(lo > 0, 1.0 / lo, np.inf)
    above = np.array([LifModel.from_levels(i_const=int(lv)).v_inf > LifModel.nominal().threshold for lv in levels])
    # Judged where the model spikes: the rate within its bounds; below rheobase: no spike at all.
    outside = _outside(rate[above], rate_lo[above], rate_hi[above])
    silent = np.flatnonzero((counts[above].sum(axis=1) == 0).any(axis=0))
    below = np.flatnonzero(counts[~above].sum(axis=(0, 1)) > 0)
    rel = np.abs(np.median(rate[above], axis=1) / pred_rate[above] - 1.0)
    worst = int(np.argmax(rel))
    box_src = ("ideal chip: the grid model's spike times" if ideal else
               f"mismatch box at {z_box:.2f} sigma (leak, reset, threshold, tau_mem {spec.tau_gain:.0%}, i_const "
               f"{spec.current_gain:.0%}) on the grid model, -+ {z_noise:.2f} sigma of the spike-time noise, a step "
               "and a timestamp")
    metrics = (
        _count_metric("rate_outside_neurons", outside, MODEL_SOURCE + ": " + box_src,
                      "neurons whose rate at some current lies outside the model's bounds"),
        _count_metric("silent_neurons", silent, MODEL_SOURCE + ": above rheobase on every corner of the box",
                      "neurons without a spike at a current above rheobase"),
        _count_metric("spiking_below_rheobase", below, MODEL_SOURCE + ": below rheobase on every corner of the box",
                      f"neurons that spike at i_const level {int(levels[~above][0])}"),
        _mismatch_interval(mismatched, compared, ideal, "spike trains (level, trial, neuron)"),
        Metric("rate_median_rel_error_max", float(rel[worst]),
               detail=f"largest over currents of |median rate / the nominal grid model's - 1| (at i_const level "
                      f"{int(levels[above][worst])}: {np.median(rate[above][worst]):.4g} Hz vs "
                      f"{pred_rate[above][worst]:.4g} Hz)",
               interval=statistics.median_half_width(rate[above][worst]) / pred_rate[above][worst],
               interval_method="normal: sqrt(pi / 2) x 1.96 standard errors of the mean over neurons"),
    )
    return ExperimentResult(
        experiment="bss2.fi_curve", params=dict(duration_us=duration_us, trials=trials),
        raw={"fi_levels": levels, "fi_rate": rate, "spike_counts": counts},
        prediction={"fi_rate_model": pred_rate, "fi_rate_low": rate_lo, "fi_rate_high": rate_hi,
                    "spike_counts": np.array(pred_counts),
                    "fi_rate_continuous": LifModel.nominal().rate(capmem.nominal_value("i_const", levels))},
        metrics=_finish(metrics, ideal),
        stimulus={"i_const_levels": levels.astype(np.uint16)},
        model={"model": LifModel.nominal().record(), "spec": spec.record()},
        summary={"i_const_lsb": [float(x) for x in capmem.nominal_value("i_const", levels)],
                 "rate_median_hz": [float(x) for x in np.median(rate, axis=1)],
                 "rate_model_hz": [float(x) for x in pred_rate]},
    )


# -- routing ---------------------------------------------------------------------------------------

ROUTING_LEVELS = dict(leak=578, threshold=g.CAPMEM_LEVEL_MAX, tau_mem=400, tau_syn=100)
"""The routing test's neurons: resting at 150 LSB (room for PSPs of either sign within the CADC's
0..255), the threshold out of reach, tau_mem 5 us and tau_syn 20 us (a PSP of 0.63 x the jump,
against 1/e at equal time constants: a weight-63 event stands far above the noise)."""
ROUTING_EVENT = 1000
"""FPGA cycle of each trial's event (8 us: five samples of the resting membrane first)."""


def response_bounds(spec: SpikingSpec, ideal: bool, model: LifModel, repeats: int, tests: int,
                    steps: int) -> tuple[float, float, str]:
    """The weakest healthy PSP of one weight-63 synapse as the largest CADC sample after its event sees it
    (the mismatch box's corner, the sample nearest the peak half a CADC period off it), and the noise
    bound a response must exceed: z sigma of a sample and of the resting level, over ``repeats``
    averaged repeats, Bonferroni over ``tests`` samples. Returns (weakest PSP, noise bound, note), LSB."""
    jump = model.jump(g.WEIGHT_MAX)
    half_period = g.CADC_PERIOD_DEFAULT * FPGA_CYCLE_NS * 1e-9 / 2

    def weakest(tm, ts, gs, gd, gi, gc):
        a, b = 1.0 / tm, 1.0 / ts
        tp = psp_peak_time(a, b)                   # the sample nearest the peak is within half a period of it
        return jump * gs * gd * gi * gc * a * np.minimum(psp_shape(tp - half_period, a, b),
                                                        psp_shape(tp + half_period, a, b))

    if ideal:
        amp_min = float(weakest(model.tau_mem, model.tau_syn, 1, 1, 1, 1))
        noise = 1.0 + model.float32_error(steps, 100)       # a floor each of the sample and the resting read
        return amp_min, noise, "ideal chip: no noise, the floor's 1 code"
    zb = _z(spec.false_alarm / 2, N * 6)
    box = {"tm": _tau_range(model.tau_mem, spec.tau_gain, zb), "ts": _tau_range(model.tau_syn, spec.tau_gain, zb),
           "gs": _gain_range(spec.synapse_gain, zb), "gd": _gain_range(spec.driver_gain, zb),
           "gi": _gain_range(spec.input_gain, zb), "gc": _gain_range(spec.cadc_slope, zb)}
    amp_min = float(corners(weakest, box)[0])
    sigma = sample_sigma(spec)
    zn = _z(spec.false_alarm / 2, tests)
    noise = 2 * zn * sigma / math.sqrt(repeats)        # a sample's deviation and the resting level's
    return amp_min, noise, (f"noise bound {noise:.2f} LSB: {zn:.2f} sigma of a sample ({sigma:.2f} LSB: membrane, read, "
                            f"floor) and of the resting level, over {repeats} repeats; weakest healthy PSP "
                            f"{amp_min:.2f} LSB (mismatch box at {zb:.2f} sigma, sampled at its worst phase)")


def routing_design(seed: int, events: int) -> tuple[SpikingConfig, np.ndarray]:
    """A random routing configuration and the labels of ``events`` test events (seeded):

    drivers with random buses and row selects, most comparing all five bits, some a random mask,
    some none (mask 0); rows off, excitatory or inhibitory at random; every column two synapses
    of weight 63 and random labels on rows of one sign (or off), so that an event's effect on a
    neuron never cancels. Three of four events aim at a weighted synapse of a row that is on (a random row select
    that its driver's mask lets through, random bits 11-13); the fourth is any label."""
    rng = np.random.default_rng([seed, 0x524F5554])
    h, d, r, c = g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE, g.ROWS_PER_HEMISPHERE, H_COLS
    bus = rng.integers(0, g.DRIVER_BUSES, (h, d))
    select = rng.integers(0, g.ROW_SELECT_MAX + 1, (h, d))
    mask = np.where(rng.random((h, d)) < 0.6, g.ROW_SELECT_MAX, rng.integers(0, g.ROW_SELECT_MAX + 1, (h, d)))
    mask[rng.random((h, d)) < 0.1] = 0
    mode = rng.choice(3, size=(h, r), p=[0.2, 0.4, 0.4])
    labels = rng.integers(0, 1 << g.LABEL_BITS, (h, r, c))
    weights = np.zeros((h, r, c), np.uint8)
    for hh in range(h):
        for col in range(c):
            sign = 1 + rng.integers(2)
            rows = np.flatnonzero((mode[hh] == sign) | (mode[hh] == 0))
            weights[hh, rng.choice(rows, 2, replace=False), col] = g.WEIGHT_MAX
    full = lambda v: np.full(g.NEURONS, v, np.uint16)  # noqa: E731
    config = SpikingConfig(weights=weights, labels=labels.astype(np.uint8), row_mode=mode.astype(np.uint8),
                           driver_bus=bus.astype(np.uint8), driver_row_select=select.astype(np.uint8),
                           driver_mask=mask.astype(np.uint8), leak=full(ROUTING_LEVELS["leak"]),
                           reset=full(ROUTING_LEVELS["leak"]), threshold=full(ROUTING_LEVELS["threshold"]),
                           tau_mem=full(ROUTING_LEVELS["tau_mem"]), tau_syn_exc=full(ROUTING_LEVELS["tau_syn"]),
                           tau_syn_inh=full(ROUTING_LEVELS["tau_syn"]))
    weighted = np.argwhere((weights > 0) & (mode != 0)[:, :, None])     # aimed at: a synapse that can respond
    out = []
    for e in range(events):
        if e % 4 == 3:
            out.append(int(rng.integers(0, g.LABEL_MAX + 1)))
            continue
        hh, row, col = weighted[rng.integers(weighted.shape[0])]
        dd = row // 2
        sel = int(select[hh, dd]) ^ (int(rng.integers(0, 32)) & ~int(mask[hh, dd]) & g.ROW_SELECT_MAX)
        out.append((int(bus[hh, dd]) << 14) | (int(rng.integers(0, 8)) << 11) | (sel << 6) | int(labels[hh, row, col]))
    return config, np.array(out, np.uint16)


def expected_responses(config: SpikingConfig, labels: np.ndarray) -> np.ndarray:
    """(events, 512) int: +1 where an event reaches a weighted excitatory synapse of the neuron, -1 an
    inhibitory one, 0 none (the design never mixes them), from :func:`hil.bss2.models.routed_synapses`."""
    from ..models import routed_synapses

    out = np.zeros((labels.size, N), np.int64)
    sign = np.where(config.row_mode == 1, 1, np.where(config.row_mode == 2, -1, 0))[:, :, None]
    for e, lab in enumerate(labels):
        hit = routed_synapses(config, int(lab)) & (config.weights > 0)
        out[e] = np.sign((hit * sign).sum(axis=1)).reshape(-1)
    return out


@experiment("bss2.label_routing", mode="spiking", metrics=(
    "misrouted_responses", "missing_responses", "spurious_responses"),
    params={"events": (4, 64), "repeats": (1, 16), "seed": (0, 2**31 - 1)})
def label_routing(backend, *, events: int = 16, repeats: int = 3, seed: int = 1,
                  spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC, progress: bool = False) -> ExperimentResult:
    """Events reach exactly the synapses whose label matches, through the drivers whose bus and
    masked row select take them (docs/spiking.md, Events and routing).

    A random configuration (:func:`routing_design`, ``seed``) and ``events`` events, each alone in
    ``repeats`` trials; a neuron responds to an event when its averaged CADC trace rises (or, for
    inhibition, falls) by more than the noise bound after it. Every (event, neuron) response must
    equal the digital expectation, with the sign: exact on every healthy chip, since the weakest
    healthy PSP (the mismatch box's corner, sampled at its worst phase) exceeds twice the noise bound."""
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    step = 100
    config, labels = routing_design(seed, events)
    expected = expected_responses(config, labels)
    duration = ROUTING_EVENT + 30_000 // FPGA_CYCLE_NS
    trials = np.repeat(np.arange(events), repeats)
    stim = SpikingStimulus(times=np.full(trials.size, ROUTING_EVENT, np.int64), labels=labels[trials],
                           trials=np.arange(trials.size, dtype=np.uint16), n_trials=trials.size, duration=duration,
                           step_ns=step)
    r = _run(backend, config, stim)
    k = grid_index(FPGA_CYCLE_NS * r.cadc_times, step)
    pre = k < int(event_grid_index(ROUTING_EVENT, step))
    y = r.cadc.astype(np.float64).reshape(events, repeats, -1, N).mean(axis=1)        # (events, samples, 512)
    base = y[:, pre].mean(axis=1)
    rise, fall = y[:, ~pre].max(axis=1) - base, base - y[:, ~pre].min(axis=1)

    lv = ROUTING_LEVELS
    model = LifModel.from_levels(leak=lv["leak"], reset=lv["leak"], threshold=lv["threshold"], tau_mem=lv["tau_mem"],
                                 tau_syn=lv["tau_syn"])
    amp_min, noise, note = response_bounds(spec, ideal, model, repeats, events * N * (int((~pre).sum()) + 1),
                                           stim.steps)
    if amp_min - noise <= noise:
        raise RuntimeError(f"bss2.label_routing: the weakest healthy PSP ({amp_min:.2f} LSB) does not clear twice the "
                           f"noise bound ({noise:.2f} LSB); more repeats separate them")
    seen = np.where(rise > noise, 1, 0) - np.where(fall > noise, 1, 0)
    wrong = seen != expected
    missing = (expected != 0) & (seen == 0)
    spurious = (expected == 0) & (seen != 0)
    pairs = expected.size
    src = ("model: the digital routing (hil.bss2.models.routed_synapses); a response is a rise or fall beyond "
           "the noise bound, " + note)
    metrics = (
        Metric("misrouted_responses", int(wrong.sum()), 0, "<=", src, "pairs",
               detail=f"of {pairs} (event, neuron) pairs, those whose response differs from the expectation "
                      f"(the routing reaches {int((expected > 0).sum())} excitatory and "
                      f"{int((expected < 0).sum())} inhibitory pairs)"
               ).with_interval(statistics.count_interval(int(wrong.sum()), pairs, "pairs")),
        Metric("missing_responses", int(missing.sum()), unit="pairs",
               detail="expected responses not seen").with_interval(
            statistics.count_interval(int(missing.sum()), pairs, "pairs")),
        Metric("spurious_responses", int(spurious.sum()), unit="pairs",
               detail="responses where none was expected").with_interval(
            statistics.count_interval(int(spurious.sum()), pairs, "pairs")),
    )
    return ExperimentResult(
        experiment="bss2.label_routing", params=dict(events=events, repeats=repeats, seed=seed),
        raw={"routing_response": seen, "routing_rise": rise, "routing_fall": fall, "routing_cadc": r.cadc},
        prediction={"routing_response": expected},
        metrics=_finish(metrics, ideal),
        stimulus={"event_labels": labels, **{f: getattr(config, f) for f in (
            "weights", "labels", "row_mode", "driver_bus", "driver_row_select", "driver_mask")}},
        model={"model": model.record(), "spec": spec.record()},
        summary={"noise_bound_lsb": noise, "weakest_psp_lsb": amp_min,
                 "expected_excitatory": int((expected > 0).sum()), "expected_inhibitory": int((expected < 0).sum()),
                 "wrong_pairs": [[int(e), int(n)] for e, n in np.argwhere(wrong)[:32]]},
    )


LABEL_SCAN_LEVELS = dict(leak=218, threshold=g.CAPMEM_LEVEL_MAX, tau_mem=800, tau_syn=200)
"""The label scan's neurons: resting at 30 LSB, the threshold out of reach, tau_mem 2.5 us and tau_syn
10 us: a weight-63 PSP of about 31 LSB that has decayed to under 1 LSB when the next event comes."""
LABEL_SCAN_FIRST = 1250
"""FPGA cycle of a trial's first event (10 us of rest first)."""
LABEL_SCAN_SPACING = 9375
"""FPGA cycles (75 us) between a trial's events: the 128 drivers' events fill 9.6 ms of the 10 ms a trial holds."""
LABEL_SCAN_BURST, LABEL_SCAN_BURST_CYCLES = 4, 13
"""Each event is a burst of four 104 ns apart (one per 100 ns grid step): four times one synapse's PSP,
still one synapse (the label selects it), far above the noise in one repeat."""
LABEL_SCAN_PRE = 625
"""Cycles (5 us) before an event whose samples give the resting level (2 or 3 samples)."""
LABEL_SCAN_POST = (250, 1125)
"""Cycles (2..9 us) after an event whose samples' mean is the response (3 or 4 samples): the PSP's body,
where it stays above its value at either end."""


def label_scan_design(pattern: int) -> tuple[SpikingConfig, np.ndarray]:
    """The label scan's configuration of ``pattern`` 0 or 1 and its event labels (2, 128): every synapse of
    row 2d labelled ``d % 64`` and of row 2d + 1 ``(d + 32) % 64`` (pattern 1: their complements, so that
    every label bit of every synapse takes both values over the two), weight 63, excitatory; driver d of
    both hemispheres on bus ``d // 32`` with row select ``d % 32``, all five bits compared, so an event
    reaches exactly one driver per hemisphere. Event ``[p, d]`` addresses row 2d + p's label through driver d."""
    d = np.arange(g.DRIVERS_PER_HEMISPHERE)
    row_labels = np.stack([d % 64, (d + 32) % 64], axis=1).reshape(-1)           # (256,) rows 0, 1, 2, ...
    if pattern:
        row_labels = (1 << g.LABEL_BITS) - 1 - row_labels
    shape = (g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, H_COLS)
    labels = np.broadcast_to(row_labels[None, :, None], shape).astype(np.uint8)
    bus, select = d // 32, d % 32
    full = lambda v: np.full(g.NEURONS, v, np.uint16)  # noqa: E731
    lv = LABEL_SCAN_LEVELS
    config = SpikingConfig(
        weights=np.full(shape, g.WEIGHT_MAX, np.uint8), labels=labels,
        row_mode=np.ones((g.HEMISPHERES, g.ROWS_PER_HEMISPHERE), np.uint8),
        driver_bus=np.broadcast_to(bus, (g.HEMISPHERES, d.size)).astype(np.uint8),
        driver_row_select=np.broadcast_to(select, (g.HEMISPHERES, d.size)).astype(np.uint8),
        driver_mask=np.full((g.HEMISPHERES, d.size), g.ROW_SELECT_MAX, np.uint8),
        leak=full(lv["leak"]), reset=full(lv["leak"]), threshold=full(lv["threshold"]), tau_mem=full(lv["tau_mem"]),
        tau_syn_exc=full(lv["tau_syn"]))
    events = (bus << 14)[None, :] | (select << 6)[None, :] | row_labels.reshape(-1, 2).T
    return config, events.astype(np.uint16)


@experiment("bss2.label_scan", mode="spiking", metrics=("failing_synapses",), params={"repeats": (1, 8)})
def label_scan(backend, *, repeats: int = 1, spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC,
               progress: bool = False) -> ExperimentResult:
    """Every synapse's label match through the analog path (docs/acceptance.md#label-match-in-spiking-mode):
    two complementary label patterns (:func:`label_scan_design`), each one run of 2 x ``repeats`` trials;
    in trial p the events of the 128 drivers come 75 us apart (each a burst of four), each addressing the
    label of row 2d + p,
    so each neuron sees one synapse of its column per event. A synapse responds when the averaged CADC
    trace of its neuron, averaged 2..9 us after its event, lies above its resting level of the 5 us before
    by more than the noise bound (the weakest healthy PSP exceeds twice the bound). Judged: the synapses that miss their event in either pattern (limit 0): a
    label bit stuck at either value, whatever it holds, mismatches in one of the two patterns."""
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    step = 100
    d = np.arange(g.DRIVERS_PER_HEMISPHERE)
    t_ev = LABEL_SCAN_FIRST + LABEL_SCAN_SPACING * d
    lv = LABEL_SCAN_LEVELS
    model = LifModel.from_levels(leak=lv["leak"], reset=lv["leak"], threshold=lv["threshold"], tau_mem=lv["tau_mem"],
                                 tau_syn=lv["tau_syn"])
    rises = []
    burst = LABEL_SCAN_BURST_CYCLES * np.arange(LABEL_SCAN_BURST)
    for pattern in (0, 1):
        config, events = label_scan_design(pattern)
        trial_of = np.repeat(np.arange(2 * repeats), d.size * burst.size)      # trial p * repeats + r
        driver = np.tile(np.repeat(d, burst.size), 2 * repeats)
        times = np.tile((t_ev[:, None] + burst[None, :]).reshape(-1), 2 * repeats).astype(np.int64)
        stim = SpikingStimulus(times=times, labels=events[trial_of // repeats, driver],
                               trials=trial_of.astype(np.uint16), n_trials=2 * repeats,
                               duration=int(t_ev[-1] + LABEL_SCAN_POST[1] + 1), step_ns=step)
        r = _run(backend, config, stim)
        y = r.cadc.astype(np.float64).reshape(2, repeats, -1, N).mean(axis=1)          # (parity, samples, 512)
        t = r.cadc_times.astype(np.int64)
        rise = np.empty((2, d.size, N))
        for i, te in enumerate(t_ev):
            pre = (t >= te - LABEL_SCAN_PRE) & (t < te)
            post = (t >= te + LABEL_SCAN_POST[0]) & (t < te + LABEL_SCAN_POST[1])
            rise[:, i] = y[:, post].mean(axis=1) - y[:, pre].mean(axis=1)
        rises.append(rise)
    period = g.CADC_PERIOD_DEFAULT
    n_pre, n_post = LABEL_SCAN_PRE // period, (LABEL_SCAN_POST[1] - LABEL_SCAN_POST[0]) // period
    s_ = FPGA_CYCLE_NS * 1e-9
    window = np.linspace(LABEL_SCAN_POST[0] * s_, LABEL_SCAN_POST[1] * s_, 64)
    lags = (burst + 1) * s_           # each event of the burst takes effect at its next grid point (<= 1 cycle on)
    jump = model.jump(g.WEIGHT_MAX)

    def weakest(tm, ts, gs, gd, gi, gc):
        """The burst's PSP at its least over the window (the samples' mean is at least that)."""
        a, b = (np.asarray(x, np.float64)[..., None, None] for x in (1.0 / tm, 1.0 / ts))
        v = psp_shape(window[:, None] - lags[None, :], a, b).sum(axis=-1).min(axis=-1)
        return jump * gs * gd * gi * gc * (1.0 / tm) * v

    if ideal:
        amp_min = float(weakest(*(np.array([v]) for v in (model.tau_mem, model.tau_syn, 1.0, 1.0, 1.0, 1.0)))[0])
        noise = 1.0 + model.float32_error(int(t_ev[-1] * FPGA_CYCLE_NS / step), step)   # the floor of each mean
        residual, note = 0.0, "ideal chip: no noise, the floor's 1 code"
    else:
        zb = _z(spec.false_alarm / 2, N * 6)
        box = {"tm": _tau_range(model.tau_mem, spec.tau_gain, zb), "ts": _tau_range(model.tau_syn, spec.tau_gain, zb),
               "gs": _gain_range(spec.synapse_gain, zb), "gd": _gain_range(spec.driver_gain, zb),
               "gi": _gain_range(spec.input_gain, zb), "gc": _gain_range(spec.cadc_slope, zb)}
        # The earlier PSP left at the next event's resting window (the slowest, largest corner), which
        # may fall by that much over the response window.
        slow = dataclasses.replace(model, tau_mem=box["tm"][1], tau_syn=box["ts"][1])
        gain_hi = box["gs"][1] * box["gd"][1] * box["gi"][1] * box["gc"][1]
        residual = LABEL_SCAN_BURST * float(slow.psp((LABEL_SCAN_SPACING - LABEL_SCAN_PRE - burst[-1]) * s_,
                                                     jump * gain_hi))
        amp_min = float(corners(weakest, box)[0]) - residual
        # A difference of two means of OU-correlated samples (at the largest tau_mem), over the repeats.
        rho = math.exp(-period * s_ / box["tm"][1])
        sigma = sample_sigma(spec) * math.sqrt((1 + rho) / (1 - rho) * (1 / n_pre + 1 / n_post) / repeats)
        zn = _z(spec.false_alarm / 2, 2 * 2 * d.size * N)
        noise = zn * sigma
        note = (f"noise bound {noise:.2f} LSB: {zn:.2f} sigma of the difference of the response's and the resting "
                f"level's means ({sigma:.2f} LSB: membrane, read, floor; OU-correlated; {repeats} repeats); weakest "
                f"healthy PSP over the window {amp_min:.2f} LSB (mismatch box at {zb:.2f} sigma, less "
                f"{residual:.2f} LSB of the previous PSP)")
    if amp_min - noise <= noise:
        raise RuntimeError(f"bss2.label_scan: the weakest healthy PSP ({amp_min:.2f} LSB) does not clear twice the "
                           f"noise bound ({noise:.2f} LSB); more repeats separate them")
    rise = np.stack(rises)                                                     # (pattern, parity, driver, 512)
    seen = rise > noise
    missing = ~seen.all(axis=0)                                                # (parity, driver, 512)
    # (parity p, driver d, neuron n) is the synapse (hemisphere n // 256, row 2 d + p, column n % 256).
    p_idx, d_idx, n_idx = np.nonzero(missing)
    where = np.stack([n_idx // H_COLS, 2 * d_idx + p_idx, n_idx % H_COLS], axis=1)
    where = where[np.lexsort(where.T[::-1])]
    total = g.HEMISPHERES * g.ROWS_PER_HEMISPHERE * H_COLS
    shown = ", ".join(f"{h}:{row}:{col}" for h, row, col in where[:10]) + (
        f" and {len(where) - 10} more" if len(where) > 10 else "")
    metric = Metric("failing_synapses", int(len(where)), 0, "<=",
                    "model: the digital label match (every synapse answers its row's label in both patterns); a "
                    "response is a rise beyond the noise bound, " + note, "synapses",
                    detail="synapses (hemisphere:row:column) that missed their event in a pattern"
                           + (f": {shown}" if len(where) else "")).with_interval(
        statistics.count_interval(int(len(where)), total, "synapses"))
    return ExperimentResult(
        experiment="bss2.label_scan", params=dict(repeats=repeats),
        raw={"label_scan_rise": rise}, prediction={"label_scan_weakest": np.array([amp_min]),
                                                    "label_scan_noise": np.array([noise])},
        metrics=_finish((metric,), ideal),
        stimulus={"event_times": t_ev, "events_pattern0": label_scan_design(0)[1],
                  "events_pattern1": label_scan_design(1)[1]},
        model={"model": model.record(), "spec": spec.record()},
        summary={"noise_bound_lsb": noise, "weakest_psp_lsb": amp_min, "residual_lsb": residual,
                 "failing": [[int(x) for x in w] for w in where[:64]]},
    )


# -- the two ADCs --------------------------------------------------------------------------------------


@experiment("bss2.cadc_vs_madc", mode="spiking", metrics=(
    "offset_error_max", "gain_error_max", "residual_rms_max", "prediction_mismatches"),
    params={"neurons": (1, 16), "duration_us": (20.0, 400.0), "trials": (1, 16)})
def cadc_vs_madc(backend, *, neurons: int = 4, duration_us: float = 50.0, trials: int = 2,
                 spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC, progress: bool = False) -> ExperimentResult:
    """The same membrane seen by both ADCs: ``neurons`` neurons (evenly spread over 0..511), each in
    its own run as the MADC's, spiking under a constant current (i_const level 400) so that V
    sweeps 80..125 LSB; every CADC sample against the MADC sample of the same grid point.

    Per neuron the difference MADC / 4 - CADC is fitted against the CADC code: its offset (at
    100 LSB) and slope within the ADCs' stated offsets and gains, its residual within their
    noise (the membrane's own noise is common to both). On an ideal chip
    floor(MADC / 4) equals the CADC code exactly."""
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    step = 100
    duration = int(round(duration_us * 1000 / FPGA_CYCLE_NS))
    chosen = np.unique(np.round(np.linspace(0, N - 1, neurons)).astype(np.int64))
    pairs_c, pairs_m, fits, rms, mism, total = [], [], [], [], 0, 0
    config = _constant_config(DRIVE_LEVEL)
    for nrn in chosen:
        r = _run(backend, config, SpikingStimulus(times=[], labels=[], duration=duration, n_trials=trials,
                                                  step_ns=step, madc_neuron=int(nrn)))
        k = grid_index(FPGA_CYCLE_NS * r.cadc_times, step)
        m_idx = -(-k * step // g.MADC_PERIOD_NS)                 # the first MADC sample on grid point k
        ok = m_idx < r.madc.shape[1]
        c = r.cadc[:, ok, nrn].astype(np.float64).ravel()
        mcode = r.madc[:, m_idx[ok]].astype(np.float64).ravel()
        valid = (c > 0) & (c < g.CADC_CODES - 1) & (mcode > 0) & (mcode < g.MADC_CODES - 1)
        c, mcode = c[valid], mcode[valid]
        mism += int(np.count_nonzero(np.floor(mcode / 4) != c))
        total += c.size
        d = mcode / 4 - c
        design = np.stack([np.ones_like(c), c - 100.0], axis=1)
        coef, *_ = np.linalg.lstsq(design, d, rcond=None)
        res = d - design @ coef
        cov = np.linalg.inv(design.T @ design) * (res @ res) / max(c.size - 2, 1)
        fits.append((coef[0], coef[1], math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])))
        rms.append(float(np.sqrt((res**2).mean())))
        pairs_c.append(c)
        pairs_m.append(mcode)
    fits = np.array(fits)
    n = chosen.size
    # E[floor(x + noise)] = x - 1/2 for noise that dithers the floor: MADC / 4 reads 1/8 low, the CADC 1/2.
    bias = 0.5 - 0.5 / 4
    sigma_gain = math.hypot(spec.madc_gain, spec.cadc_slope)
    sigma_off = math.sqrt((spec.madc_offset / 4) ** 2 + spec.cadc_offset**2 + (100.0 * sigma_gain) ** 2)
    z_mis = _z(spec.false_alarm / 2, 2 * n)
    z_fit = _z(spec.false_alarm / 2, 2 * n)
    var_d = (spec.sigma_madc / 4) ** 2 + spec.sigma_cadc**2 + 1 / 12 + 1 / (12 * 16)
    dof = min(len(x) for x in pairs_c) - 2
    off_err = np.abs(fits[:, 0] - bias)
    off_lim = z_mis * sigma_off + z_fit * fits[:, 2]
    gain_lim = z_mis * sigma_gain + z_fit * fits[:, 3]
    off_worst = int(np.argmax(off_err / off_lim))
    gain_worst = int(np.argmax(np.abs(fits[:, 1]) / gain_lim))
    src_adc = (f"model: MADC offset {spec.madc_offset} codes, gain {spec.madc_gain:.0%}; CADC offset {spec.cadc_offset} "
               f"codes, slope {spec.cadc_slope:.1%}: {z_mis:.2f} sigma over {n} neurons, and {z_fit:.2f} fit errors")
    judged = not ideal
    metrics = (
        Metric("offset_error_max", float(off_err[off_worst] / off_lim[off_worst]), 1.0 if judged else None, "<=",
               src_adc if judged else "", detail=f"largest |offset of MADC/4 - CADC at 100 LSB - {bias} (the floors)| "
                                                 f"over its limit (neuron {int(chosen[off_worst])}: "
                                                 f"{fits[off_worst, 0]:.3f} LSB)"),
        Metric("gain_error_max", float(np.abs(fits[gain_worst, 1]) / gain_lim[gain_worst]), 1.0 if judged else None,
               "<=", src_adc if judged else "",
               detail=f"largest |slope of MADC/4 - CADC against the CADC code| over its limit (neuron "
                      f"{int(chosen[gain_worst])}: {fits[gain_worst, 1]:.4f})"),
        Metric("residual_rms_max", float(max(rms)),
               statistics.rms_limit(var_d, dof, n_tests=n, alpha=spec.false_alarm) if judged else None, "<=",
               f"model: MADC noise {spec.sigma_madc} codes / 4, CADC read {spec.sigma_cadc} LSB, both floors; chi2 over "
               f"{n} neurons" if judged else "", "LSB",
               detail="largest RMS of a neuron's residual of MADC/4 - CADC around its line"),
        Metric("prediction_mismatches", mism, 0 if ideal else None, "<=",
               "model: both ADCs read the same grid point; floor(floor(4 V) / 4) = floor(V)" if ideal else "",
               "samples", detail=f"of {total} sample pairs, those with floor(MADC / 4) unequal to the CADC code"),
    )
    intervals = {
        "offset_error_max": statistics.Interval(max(off_err[off_worst] - 1.96 * fits[off_worst, 2], 0) / off_lim[off_worst],
                                                (off_err[off_worst] + 1.96 * fits[off_worst, 2]) / off_lim[off_worst],
                                                "normal: 1.96 standard errors of the fitted offset"),
        "gain_error_max": statistics.Interval(
            max(abs(fits[gain_worst, 1]) - 1.96 * fits[gain_worst, 3], 0) / gain_lim[gain_worst],
            (abs(fits[gain_worst, 1]) + 1.96 * fits[gain_worst, 3]) / gain_lim[gain_worst],
            "normal: 1.96 standard errors of the fitted slope"),
        "residual_rms_max": statistics.std_interval(float(max(rms)), dof),
        "prediction_mismatches": statistics.count_interval(mism, total, "sample pairs"),
    }
    return ExperimentResult(
        experiment="bss2.cadc_vs_madc", params=dict(neurons=neurons, duration_us=duration_us, trials=trials),
        raw={"adc_neurons": chosen, "adc_fit": fits, "adc_residual_rms": np.array(rms),
             "adc_cadc": np.concatenate(pairs_c), "adc_madc": np.concatenate(pairs_m),
             "adc_pairs": np.array([len(x) for x in pairs_c])},
        prediction={"adc_madc_floor_model": np.concatenate(pairs_c) * 4},
        metrics=_finish(metrics, ideal, intervals),
        stimulus={"i_const": np.full(N, DRIVE_LEVEL, np.uint16), "madc_neurons": chosen},
        model={"model": LifModel.from_levels(i_const=DRIVE_LEVEL).record(), "spec": spec.record()},
        summary={"offset_lsb": fits[:, 0].tolist(), "slope": fits[:, 1].tolist(), "floor_bias_lsb": bias},
    )


def resting_bounds(spec: SpikingSpec, leak: float, ideal: bool, tests: int = N) -> tuple[np.ndarray, np.ndarray, str]:
    """(512,) bounds of a neuron's resting CADC mean (codes) with no input at a leak of ``leak`` LSB, and
    their source: the leak cell's and the CADC channel's mismatch at half the false-alarm budget and
    the noise of a sample at the other half, each Bonferroni over ``tests`` judged means. On an ideal
    chip the resting membrane reads floor(leak) exactly."""
    if ideal:
        b = np.full(N, float(math.floor(leak)))
        return b, b, "ideal chip: the resting membrane reads floor(leak) exactly"
    z_mis, z_noise = _z(spec.false_alarm / 2, tests), _z(spec.false_alarm / 2, tests)
    sigma_b = math.sqrt(spec.potential_sigma(leak, "leak") ** 2 + spec.cadc_offset**2 + (spec.cadc_slope * leak) ** 2)
    sigma_read = sample_sigma(spec)
    half = z_mis * sigma_b + z_noise * sigma_read      # a mean of correlated samples: no averaging claimed
    src = (f"model: leak {leak:g} LSB - 1/2 (the floor) -+ {z_mis:.2f} x {sigma_b:.2f} LSB (leak cell "
           f"{spec.leak_offset} LSB, {spec.leak_gain:.0%}; CADC offset {spec.cadc_offset}, slope {spec.cadc_slope:.1%}) "
           f"-+ {z_noise:.2f} x {sigma_read:.2f} LSB noise")
    return np.full(N, leak - 0.5 - half), np.full(N, leak - 0.5 + half), src


# -- the seed's trace alignment ---------------------------------------------------------------------------


@experiment("bss2.trace_alignment", mode="spiking", metrics=(
    "baseline_outside_neurons", "baseline", "threshold_above_baseline", "trace_scale", "weight_scale",
    "weight_scale_rel_error"),
    params={"trials": (1, 16), "psp_weight": (16, g.WEIGHT_MAX)})
def trace_alignment(backend, *, trials: int = 4, psp_weight: int = 63,
                    spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC, progress: bool = False) -> ExperimentResult:
    """Seed 002's alignment of the hardware traces with a model of leak 0, threshold 1:

    * baseline: the mean CADC code with no input (every neuron, ``trials`` trials of 20 us);
    * threshold: the largest CADC code under a strong drive, less the baseline (as
      ``bss2.spike_threshold`` measures it); ``trace_scale = 1 / threshold``;
    * weight scale: the hardware weight per model weight that makes the model's PSP of weight 1
      match the chip's, in closed form: the model's PSP of a current jump of 1 peaks at
      F = a psp_shape(t_peak) (1/e at equal time constants); the chip's PSP of ``psp_weight``
      peaks at A LSB (the median fitted amplitude, ``bss2.psp_shape``), so
      ``weight_scale = F / (A / psp_weight * trace_scale)``. The nominal expectation is
      ``(threshold - leak) / Q`` = 45 / 0.8 = 56.25 (the seed's tutorial uses 55).

    Judged: each neuron's baseline within the leak cell's and the CADC channel's mismatch; the
    rest is reported with the nominal model's values."""
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    nominal = LifModel.nominal()
    r = _run(backend, SpikingConfig(), SpikingStimulus(times=[], labels=[], duration=2500, n_trials=trials, step_ns=100))
    codes = r.cadc.astype(np.float64)
    base = codes.mean(axis=(0, 1))                                            # (512,)
    th = measure_threshold(backend, level=503, duration_us=100.0, trials=trials, spec=spec)
    psp = measure_psp(backend, weight=psp_weight, repeats=1, window_us=50.0, spec=spec)
    above = th["measured"] - base
    threshold_chip = float(above.mean())
    trace_scale = 1.0 / threshold_chip
    amplitude = float(np.median(psp["features"][:, 0]))
    peak_factor = float(nominal.psp_amplitude(1.0))                           # the model's PSP of a jump of 1
    weight_scale = peak_factor / (amplitude / psp_weight * trace_scale)
    weight_nominal = nominal.rheobase / nominal.q
    b_lo, b_hi, src = resting_bounds(spec, nominal.leak, ideal)
    outside = _outside(base, b_lo, b_hi)
    mean_hw = statistics.mean_half_width
    metrics = (
        _count_metric("baseline_outside_neurons", outside, src, "neurons whose resting CADC mean lies outside its bounds"),
        Metric("baseline", float(base.mean()), unit="LSB", interval=mean_hw(base),
               interval_method="normal: 1.96 standard errors of the mean over neurons",
               detail=f"mean CADC code with no input (model: leak {nominal.leak:g} LSB, read floor(V): "
                      f"{nominal.leak - (0 if ideal else 0.5):g} on average)"),
        Metric("threshold_above_baseline", threshold_chip, unit="LSB", interval=mean_hw(above),
               interval_method="normal: 1.96 standard errors of the mean over neurons",
               detail=f"mean over neurons of the largest CADC code under the strong drive less the baseline "
                      f"(model: threshold - leak = {nominal.rheobase:g} LSB, read just below it)"),
        Metric("trace_scale", trace_scale, unit="1/LSB",
               interval=mean_hw(above) / threshold_chip**2,
               interval_method="normal: 1.96 standard errors, through 1 / threshold",
               detail=f"model_threshold (1) / threshold_above_baseline (model: 1 / {nominal.rheobase:g} = "
                      f"{1 / nominal.rheobase:.5f})"),
        Metric("weight_scale", weight_scale, unit="hardware weight per model weight",
               detail=f"F / (A / {psp_weight} x trace_scale), F = {peak_factor:.4f} (the model's PSP of a jump of 1), "
                      f"A = {amplitude:.3f} LSB (median fitted PSP of weight {psp_weight}); nominal "
                      f"(threshold - leak) / Q = {weight_nominal:.2f}"),
        Metric("weight_scale_rel_error", weight_scale / weight_nominal - 1.0,
               detail=f"weight_scale / the nominal {weight_nominal:.2f} - 1"),
    )
    amps = psp["features"][:, 0]
    rel = statistics.median_half_width(amps) / amplitude + mean_hw(above) / threshold_chip
    intervals = {
        "weight_scale": statistics.Interval(weight_scale * (1 - rel), weight_scale * (1 + rel),
                                            "normal: the relative 95 % half-widths of the median amplitude and the "
                                            "threshold added"),
        "weight_scale_rel_error": statistics.Interval((weight_scale * (1 - rel)) / weight_nominal - 1,
                                                      (weight_scale * (1 + rel)) / weight_nominal - 1,
                                                      "normal: as weight_scale's, relative to the nominal value")}
    return ExperimentResult(
        experiment="bss2.trace_alignment", params=dict(trials=trials, psp_weight=psp_weight),
        raw={"alignment_baseline": base, "alignment_threshold_code": th["measured"],
             "alignment_psp_amplitude": amps},
        prediction={"alignment_baseline_low": b_lo, "alignment_baseline_high": b_hi,
                    "alignment_threshold_model": np.full(N, nominal.threshold)},
        metrics=_finish(metrics, ideal, intervals),
        stimulus={"i_const": np.full(N, DRIVE_LEVEL, np.uint16), "psp_weight": np.array([psp_weight])},
        model={"model": nominal.record(), "spec": spec.record()},
        summary={"baseline": float(base.mean()), "threshold": threshold_chip, "trace_scale": trace_scale,
                 "weight_scale": weight_scale, "weight_scale_nominal": weight_nominal,
                 "psp_amplitude_lsb": amplitude, "model_peak_factor": peak_factor},
    )
