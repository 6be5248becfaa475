"""The neurons' experiments (docs/dynapse2.md#experiments):

* ``dynapse2.fi_curve``: every core driven by its own DC current, every neuron's firing rate against the
  DPI membrane's f-I curve (:meth:`hil.dynapse2.models.Neuron.isi`);
* ``dynapse2.refractory_period``: the steps a neuron stays silent after a spike, against
  ``ceil(Vth C_ref / (Iref dt))``;
* ``dynapse2.mismatch_spread``: the spread across 256 neurons of a core of their synaptic time constants
  and spike thresholds, against the chip's stated mismatch.
"""
import itertools
import math

import numpy as np

from emulator.dynapse2 import geometry as g

from ...contract import statistics
from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric
from .. import models
from ..types import Config, Stimulus
from .probes import (EXACT_IDEAL, band, bonferroni_z, core_neuron, decay_ratio, listening, log_spread_limit,
                     with_core_biases)

FI_DRIVES = ((2, 60), (2, 120), (2, 240), (3, 60), (3, 120), (3, 240), (4, 60), (4, 120))
"""The Idc settings of :func:`fi_curve`: 0.4 nA .. 50 nA, rates of about 25 .. 250 Hz."""
EULER_REL_PER_STEP = 2000.0
"""The forward-Euler error of an interval against the integral, relative, per second of step: 2 % at
dt = 10 us. Measured on the ideal chip at the default biases: 0.08 .. 0.7 % over these drives at 10 us,
0.8 .. 6 % at 100 us (it falls with dt, as Euler's error does; docs/dynapse2.md#experiments)."""
FI_CURRENTS = ("Idc", "Itau_mem", "Igain_mem", "Ispkthr", "Iref")


def _cores(mesh) -> list[tuple[int, int]]:
    return [(c, k) for c in range(mesh[0] * mesh[1]) for k in range(g.CORES)]


def _intervals(readout, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean interval in steps, number of intervals) of every neuron's spikes (nan with fewer than 2)."""
    neurons, times = readout.global_neurons, readout.times
    first = np.full(n, -1)
    last = np.full(n, -1)
    count = np.bincount(neurons, minlength=n)
    order = np.argsort(neurons, kind="stable")
    ns, ts = neurons[order], times[order]
    starts = np.searchsorted(ns, np.arange(n))
    has = count > 0
    first[has] = ts[starts[has]]
    last[has] = ts[starts[has] + count[has] - 1]
    intervals = count - 1
    mean = np.where(intervals > 0, (last - first) / np.maximum(intervals, 1), np.nan)
    return mean, intervals


@experiment("dynapse2.fi_curve", mode="spiking", metrics=("neurons_off_model", "rate_low", "rate_high"),
            params={"dt": (1e-6, 1e-4), "duration": (1000, 100000)})
def fi_curve(backend, *, dt: float = 1e-5, duration: int = 20000, progress: bool = False) -> ExperimentResult:
    """Every neuron's firing rate under a DC drive against the DPI neuron's f-I curve.

    The eight Idc settings of :data:`FI_DRIVES` go to the board's cores in turn (one setting per core, as
    many runs as it takes); every neuron's mean interval between spikes is compared with the model's
    (:meth:`hil.dynapse2.models.Neuron.isi`: the refractory steps plus the integral of the membrane's
    equation from Io to the threshold) within Euler's error (:data:`EULER_REL_PER_STEP` x dt) and one step.
    On a mismatched chip the model's interval is taken at every corner of the stated mismatch of Idc,
    Itau_mem, Igain_mem, Ispkthr and Iref (the interval is monotonic in each)."""
    info = backend.info()
    mesh, ideal = tuple(info.geometry["mesh"]), bool(info.ideal)
    cores = _cores(mesh)
    n = len(cores) * g.NEURONS_PER_CORE
    base = Config.default(mesh)
    rel = EULER_REL_PER_STEP * dt
    z = bonferroni_z(2 * len(FI_CURRENTS) * n)
    g_lo, g_hi = max(1 - models.MISMATCH_SIGMA * z, 0.5) ** 2, (1 + models.MISMATCH_SIGMA * z) ** 2
    measured = np.full((len(FI_DRIVES), g.NEURONS_PER_CORE), np.nan)
    bounds = np.zeros((len(FI_DRIVES), 2))
    model_isi = np.zeros(len(FI_DRIVES))
    off, runs = 0, math.ceil(len(FI_DRIVES) / len(cores))
    for run in range(runs):
        chosen = {j: run * len(cores) + j for j in range(len(cores)) if run * len(cores) + j < len(FI_DRIVES)}
        config = with_core_biases(base, {cores[j]: {"Idc": FI_DRIVES[d]} for j, d in chosen.items()})
        out = backend.configure_and_run(config, Stimulus.empty(duration=duration, dt=dt))
        mean, count = _intervals(out, n)
        for j, d in chosen.items():
            neuron = core_neuron(config, *cores[j])
            model_isi[d] = neuron.isi(dt)
            if ideal:
                lo = hi = model_isi[d]
            else:
                corners = [neuron.with_gains(dict(zip(FI_CURRENTS, c))).isi(dt)
                           for c in itertools.product((g_lo, g_hi), repeat=len(FI_CURRENTS))]
                lo, hi = min(corners), max(corners)
            lo, hi = lo * (1 - rel) - dt, hi * (1 + rel) + dt
            bounds[d] = lo, hi
            isi = mean[j * g.NEURONS_PER_CORE:(j + 1) * g.NEURONS_PER_CORE] * dt
            measured[d] = isi
            off += int((~np.isfinite(isi) | (isi < lo) | (isi > hi)).sum())
        if progress:
            print(f"  run {run + 1}/{runs}", flush=True)
    rates = 1.0 / measured
    source = (f"model: the DPI f-I curve, within Euler's error {rel:.3g} and a step"
              + ("" if ideal else f", at the corners of the stated mismatch (z = {z:.2f}, Bonferroni at "
                                  f"{statistics.FALSE_ALARM:g})"))
    exact = EXACT_IDEAL if ideal else "undefined: a median of neurons of different mismatch"
    metrics = (
        Metric("neurons_off_model", off, limit=0, source=source, unit="neurons",
               detail=f"neurons (256 per drive, {len(FI_DRIVES)} drives) whose interval leaves the model's band",
               no_interval="exact: a count of the neurons themselves"),
        Metric("rate_low", float(np.nanmedian(rates[0])), unit="Hz",
               detail=f"median rate at Idc {FI_DRIVES[0]}; the model: {1 / model_isi[0]:.5g} Hz", no_interval=exact),
        Metric("rate_high", float(np.nanmedian(rates[-1])), unit="Hz",
               detail=f"median rate at Idc {FI_DRIVES[-1]}; the model: {1 / model_isi[-1]:.5g} Hz", no_interval=exact),
    )
    return ExperimentResult(
        experiment="dynapse2.fi_curve", params={"dt": dt, "duration": duration},
        raw={"isi": measured}, prediction={"model_isi": model_isi, "bounds": bounds}, metrics=metrics,
        stimulus={"idc": np.array(FI_DRIVES, np.int16)},
        model={"model": {"class": "hil.dynapse2.models.Neuron.isi", "euler_rel": rel}},
        summary={"drives": [list(d) for d in FI_DRIVES]})


REFRACTORY_REFS = ((1, 120), (1, 240), (2, 60), (2, 120), (2, 240), (3, 60))
"""The Iref settings of :func:`refractory_period`: about 0.25 .. 8 ms."""
REF_SHORTEST = (5, 255)
"""An Iref whose refractory period is below one step even at the low end of the stated mismatch: the
reference run's neurons are silent one step after each spike."""
REF_DRIVE = (5, 255)
"""Idc: a drive under which the membrane charges in a few steps, the same after every spike."""


@experiment("dynapse2.refractory_period", mode="spiking", metrics=("neurons_off_model", "refractory_median"),
            params={"dt": (1e-6, 1e-4)})
def refractory_period(backend, *, dt: float = 1e-5, progress: bool = False) -> ExperimentResult:
    """Every neuron's refractory period in steps against ``ceil(Vth C_ref / (Iref dt))``.

    Under a strong DC drive a neuron's interval is its refractory steps plus the steps its membrane takes
    to charge, the same after every spike. A reference run with the shortest refractory period (one step)
    gives each neuron's charge steps; the runs at the Iref settings of :data:`REFRACTORY_REFS` (one per
    core, in turn) give ``n_ref = interval - reference interval + 1``. Exact on the ideal chip; on a
    mismatched one within the stated mismatch of Iref."""
    info = backend.info()
    mesh, ideal = tuple(info.geometry["mesh"]), bool(info.ideal)
    cores = _cores(mesh)
    n = len(cores) * g.NEURONS_PER_CORE
    base = with_core_biases(Config.default(mesh), {c: {"Idc": REF_DRIVE} for c in cores})
    duration = int(round(0.05 / dt))
    steps = lambda config: np.round(_intervals(backend.configure_and_run(  # noqa: E731
        config, Stimulus.empty(duration=duration, dt=dt)), n)[0])
    reference = steps(with_core_biases(base, {c: {"Iref": REF_SHORTEST} for c in cores}))
    lo_box, hi_box, source = band(ideal, {"Iref": -1}, 2 * n)
    measured = np.full((len(REFRACTORY_REFS), g.NEURONS_PER_CORE), np.nan)
    model = np.zeros(len(REFRACTORY_REFS))
    off, runs = 0, math.ceil(len(REFRACTORY_REFS) / len(cores))
    for run in range(runs):
        chosen = {j: run * len(cores) + j for j in range(len(cores)) if run * len(cores) + j < len(REFRACTORY_REFS)}
        config = with_core_biases(base, {cores[j]: {"Iref": REFRACTORY_REFS[d]} for j, d in chosen.items()})
        got = steps(config) - reference + 1
        for j, d in chosen.items():
            neuron = core_neuron(config, *cores[j])
            model[d] = neuron.refractory_steps(dt)
            t_ref = model[d] * dt if ideal else models.pulse_width(neuron.currents["Iref"], models.DEFAULT_LAYOUT.C_ref)
            lo, hi = (model[d], model[d]) if ideal else (math.ceil(t_ref * lo_box / dt), math.ceil(t_ref * hi_box / dt))
            m = got[j * g.NEURONS_PER_CORE:(j + 1) * g.NEURONS_PER_CORE]
            measured[d] = m
            off += int((~np.isfinite(m) | (m < lo) | (m > hi)).sum())
        if progress:
            print(f"  run {run + 1}/{runs}", flush=True)
    metrics = (
        Metric("neurons_off_model", off, limit=0, source=source, unit="neurons",
               detail=f"neurons ({len(REFRACTORY_REFS)} settings x 256) whose refractory steps differ from "
                      f"ceil(Vth C_ref / (Iref dt)){'' if ideal else ' beyond the stated mismatch'}",
               no_interval="exact: a count of the neurons themselves"),
        Metric("refractory_median", float(np.nanmedian(measured[len(REFRACTORY_REFS) // 2])) * dt * 1e3, unit="ms",
               detail=f"median at Iref {REFRACTORY_REFS[len(REFRACTORY_REFS) // 2]}; the model: "
                      f"{model[len(REFRACTORY_REFS) // 2] * dt * 1e3:.5g} ms",
               no_interval=EXACT_IDEAL if ideal else "undefined: a median of neurons of different mismatch"),
    )
    return ExperimentResult(
        experiment="dynapse2.refractory_period", params={"dt": dt}, raw={"steps": measured},
        prediction={"steps": model}, metrics=metrics, stimulus={"iref": np.array(REFRACTORY_REFS, np.int16)},
        model={"model": {"class": "hil.dynapse2.models.Neuron.refractory_steps"}},
        summary={"settings": [list(r) for r in REFRACTORY_REFS]})


SPREAD_DRIVE = (3, 120)
SPREAD_STEPS = 2500


@experiment("dynapse2.mismatch_spread", mode="traces", metrics=("tau_spread", "threshold_spread"),
            params={"dt": (1e-6, 1e-5)})
def mismatch_spread(backend, *, dt: float = 1e-5, progress: bool = False) -> ExperimentResult:
    """The spread across the 256 neurons of core 0 of chip 0 of their AMPA time constants and their spike
    thresholds, against the chip's stated mismatch.

    Four runs trace 64 neurons each: one input event at step 5 gives each neuron's AMPA time constant (the
    decay ratio of the 40 steps after it); under a DC drive the membrane current of the last step before
    its first spike gives its threshold (below the threshold by less than one step's growth, which is
    measured and added to the limit). A neuron's generator is its core's, so across the core
    ``std(ln tau)`` and ``std(ln threshold)`` are the spread of the neurons' own gains,
    ``std ln max(1 + 0.10 N, 0.5)`` (:func:`hil.dynapse2.models.log_gain_sigma`); each is judged within
    the chi-square bounds of 256 neurons at the false alarm rate. On the ideal chip both are 0."""
    info = backend.info()
    mesh, ideal = tuple(info.geometry["mesh"]), bool(info.ideal)
    base = with_core_biases(Config.default(mesh), {(0, 0): {"Idc": SPREAD_DRIVE}})
    taus, thresholds, growth = [], [], []
    for run in range(g.NEURONS_PER_CORE // g.RECORD_MAX):
        traced = np.arange(run * g.RECORD_MAX, (run + 1) * g.RECORD_MAX)
        config = listening(base, traced, entry=0, tag=1, synapse=0)
        out = backend.configure_and_run(config, Stimulus(times=[5], tags=[1], chips=[0], cores=[0],
                                                         duration=SPREAD_STEPS, dt=dt, record=traced))
        taus.append(-dt / np.log(decay_ratio(out.traces[:, :, 1], 5, 40)))
        for k, nrn in enumerate(traced):
            spikes = out.times[out.global_neurons == nrn]
            if not len(spikes) or spikes[0] < 3:
                thresholds.append(np.nan)
                growth.append(np.nan)
                continue
            imem = out.traces[:, k, 0]
            thresholds.append(imem[spikes[0] - 1])
            growth.append(imem[spikes[0] - 1] / imem[spikes[0] - 2] - 1)
        if progress:
            print(f"  run {run + 1}/4", flush=True)
    tau, threshold = np.concatenate(taus), np.array(thresholds)
    s_tau = float(np.std(np.log(tau), ddof=1))
    s_th = float(np.std(np.log(threshold), ddof=1)) if np.isfinite(threshold).all() else math.nan
    if ideal:
        sigma, limit = 0.0, 1e-9
        source = "model: 0 on the ideal chip (float rounding 1e-9)"
        limit_th = limit + float(np.nanmax(growth))
    else:
        sigma = models.log_gain_sigma()
        limit = log_spread_limit(sigma, len(tau))
        limit_th = limit + float(np.nanmax(growth))
        source = (f"model: std ln max(1 + {models.MISMATCH_SIGMA:g} N, 0.5) = {sigma:.4f}, chi-square bounds of "
                  f"{len(tau)} neurons at {statistics.FALSE_ALARM:g}")
    exact = EXACT_IDEAL if ideal else ""
    metrics = [
        Metric("tau_spread", s_tau - sigma, limit=limit, comparison="abs<=", source=source,
               detail=f"std ln tau_ampa over {len(tau)} neurons ({s_tau:.5f}) minus the stated {sigma:.5f}"),
        Metric("threshold_spread", s_th - sigma, limit=limit_th, comparison="abs<=",
               source=source + "; plus one step's growth below the threshold",
               detail=f"std ln threshold over {len(threshold)} neurons ({s_th:.5f}) minus the stated {sigma:.5f}"),
    ]
    if exact:
        metrics = [m.with_interval(exact) for m in metrics]
    else:
        metrics = [m.with_interval(iv) for m, iv in zip(metrics, (
            statistics.std_interval(s_tau, len(tau) - 1).map(lambda v: v - sigma),
            statistics.std_interval(s_th, len(threshold) - 1).map(lambda v: v - sigma)))]
    return ExperimentResult(
        experiment="dynapse2.mismatch_spread", params={"dt": dt}, raw={"tau": tau, "threshold": threshold,
                                                                       "growth": np.array(growth)},
        prediction={"log_sigma": np.array([sigma])}, metrics=tuple(metrics),
        model={"model": {"class": "hil.dynapse2.models.log_gain_sigma", "sigma": models.MISMATCH_SIGMA}},
        summary={"tau_log_std": s_tau, "threshold_log_std": s_th})
