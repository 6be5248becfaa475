"""The synapses' experiments, read from the state traces (mode 'traces'; docs/dynapse2.md#experiments):

* ``dynapse2.synapse_time_constant``: one event into each synapse type of 64 neurons, the decay's time
  constant against ``C U_T / (kappa I_tau)``;
* ``dynapse2.synapse_gain``: events through the base-weight masks 1, 2, 4, 8 and 15, each jump against
  ``(1 - exp(-t_pulse / tau)) Igain / Itau W`` (AMPA: ``... (max(Igain / Itau W, Io) - Io)``);
* ``dynapse2.biasgen_sweep``: every (coarse, fine) of a synapse's leak generator, the current read back
  from the decay, against the measured table and its monotonicity within each coarse range.
"""
import math

import numpy as np

from emulator.dynapse2 import biasgen, geometry as g

from ...contract.errors import InvalidValue
from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric
from .. import models
from ..types import Config, Stimulus
from .probes import (EXACT_IDEAL, FLOAT_REL, band, core_neuron, decay_ratio, jump, listening, outside, with_core_biases)

NAMES = ("ampa", "gaba", "nmda", "shunt")
TRACED_PER_CORE = 16
EVENT_STEP = 5
TAG = 1


def _traced(chip: int) -> np.ndarray:
    """16 neurons of each core of ``chip`` (global indices), 64 in all."""
    return np.array([chip * g.NEURONS + core * g.NEURONS_PER_CORE + j
                     for core in range(g.CORES) for j in range(TRACED_PER_CORE)])


def _inputs(chip: int, step_tags: list[tuple[int, int]], duration: int, dt: float, record) -> Stimulus:
    """Events (step, tag) into every core of ``chip``."""
    times = np.repeat([s for s, _ in step_tags], g.CORES)
    tags = np.repeat([t for _, t in step_tags], g.CORES)
    cores = np.tile(np.arange(g.CORES), len(step_tags))
    return Stimulus(times=times, tags=tags, chips=np.full(len(times), chip), cores=cores, duration=duration,
                    dt=dt, record=record)


@experiment("dynapse2.synapse_time_constant", mode="traces",
            metrics=("neurons_off_model", "tau_ampa", "tau_gaba", "tau_nmda", "tau_shunt"),
            params={"dt": (1e-6, 1e-3), "window": (4, 200)})
def synapse_time_constant(backend, *, dt: float = 1e-4, window: int = 40, progress: bool = False) -> ExperimentResult:
    """Each synapse type's time constant on 64 neurons against ``tau = C U_T / (kappa I_tau)``.

    Type s is probed on chip ``s % chips``: 16 neurons of each core hear one input event (all four base
    weights) at step 5; the decay ratio r of ``window`` steps after it (:func:`.probes.decay_ratio`) gives
    ``tau = -dt / ln r``, compared with the nominal closed form of the neuron's core biases. On the ideal
    chip they agree to float rounding; on a mismatched one within the stated mismatch of I_tau (its
    generator's and its neuron's gain)."""
    info = backend.info()
    chips, ideal = int(info.geometry["chips"]), bool(info.ideal)
    base = Config.default(tuple(info.geometry["mesh"]))
    lo, hi, source = band(ideal, {"Itau": -1}, 2 * 4 * 64)
    measured, expected, off = np.zeros((4, 64)), np.zeros((4, 64)), 0
    for s, name in enumerate(NAMES):
        chip = s % chips
        traced = _traced(chip)
        config = listening(base, traced, entry=0, tag=TAG, synapse=s)
        out = backend.configure_and_run(config, _inputs(chip, [(EVENT_STEP, TAG)], EVENT_STEP + window + 2, dt,
                                                         traced))
        x = out.traces[:, :, 1 + s]
        measured[s] = -dt / np.log(decay_ratio(x, EVENT_STEP, window))
        expected[s] = [core_neuron(config, chip, int(n) % g.NEURONS // g.NEURONS_PER_CORE).synapse_tau(name)
                       for n in traced]
        off += int(outside(measured[s] / expected[s], lo, hi).sum())
        if progress:
            print(f"  {name}: median tau {np.median(measured[s]) * 1e3:.3f} ms", flush=True)
    metrics = (Metric("neurons_off_model", off, limit=0, source=source, unit="neurons",
                      detail=f"traced synapses (4 types x 64 neurons) whose tau / model leaves [{lo:.6g}, {hi:.6g}]",
                      no_interval="exact: a count of the traced synapses themselves"),) + tuple(
        Metric(f"tau_{name}", float(np.median(measured[s])) * 1e3, unit="ms",
               detail=f"median over 64 neurons; the model: {np.median(expected[s]) * 1e3:.6g} ms",
               no_interval=EXACT_IDEAL if ideal else "undefined: a median of neurons of different mismatch")
        for s, name in enumerate(NAMES))
    return ExperimentResult(
        experiment="dynapse2.synapse_time_constant", params={"dt": dt, "window": window},
        raw={"tau": measured}, prediction={"tau": expected, "band": np.array([lo, hi])}, metrics=metrics,
        model={"model": {"class": "hil.dynapse2.models.Neuron.synapse_tau", "formula": "C U_T / (kappa I_tau)",
                         "ideal_rel": FLOAT_REL}},
        summary={"types": list(NAMES)})


MASKS = (1, 2, 4, 8, 15)
GAIN_SPACING = 20
"""Steps between the events of :func:`synapse_gain`."""


@experiment("dynapse2.synapse_gain", mode="traces",
            metrics=("neurons_off_model", "jump_ampa", "jump_gaba", "jump_nmda", "jump_shunt"),
            params={"dt": (1e-6, 1e-3)})
def synapse_gain(backend, *, dt: float = 1e-4, progress: bool = False) -> ExperimentResult:
    """Each synapse type's jump per event, through the base-weight masks 1, 2, 4, 8 and 15, against
    ``(1 - exp(-t_pulse / tau)) Igain / Itau W`` with W the sum of the masked base currents (AMPA, whose charge
    target is clipped at Io: ``(1 - exp(-t_pulse / tau)) (max(Igain / Itau W, Io) - Io)``).

    Type s on chip ``s % chips``: 16 neurons of each core have five CAM entries (tags 1..5, one mask
    each) and hear one event per tag, 20 steps apart; a jump is read as :func:`.probes.jump` with the
    decay ratio measured after the last event. On a mismatched chip the limit is the stated mismatch of
    Igain, Ipulse (t_pulse) and the weight currents, to first order in t_pulse / tau (below 1e-3 here)."""
    info = backend.info()
    chips, ideal = int(info.geometry["chips"]), bool(info.ideal)
    base = Config.default(tuple(info.geometry["mesh"]))
    lo, hi, source = band(ideal, {"Igain": 1, "Ipulse": -1, "Iw": 1}, 3 * 2 * 4 * 64 * len(MASKS))
    if not ideal:
        lo, hi = lo * (1 - 1e-3), hi * (1 + 1e-3)      # the first-order expansion in t_pulse / tau
    steps = [EVENT_STEP + GAIN_SPACING * k for k in range(len(MASKS))]
    measured, expected, off = np.zeros((4, len(MASKS), 64)), np.zeros((4, len(MASKS), 64)), 0
    for s, name in enumerate(NAMES):
        chip = s % chips
        traced = _traced(chip)
        config = base
        for e, mask in enumerate(MASKS):
            config = listening(config, traced, entry=e, tag=TAG + e, synapse=s, weights=mask)
        last = steps[-1]
        out = backend.configure_and_run(config, _inputs(chip, [(t, TAG + e) for e, t in enumerate(steps)],
                                                         last + GAIN_SPACING + 2, dt, traced))
        x = out.traces[:, :, 1 + s]
        r = decay_ratio(x, last, GAIN_SPACING)
        for e, (t, mask) in enumerate(zip(steps, MASKS)):
            measured[s, e] = jump(x, t, r)
            for k, n in enumerate(traced):
                nrn = core_neuron(config, chip, int(n) % g.NEURONS // g.NEURONS_PER_CORE)
                w = sum(nrn.currents[f"Iw_{b}"] for b in range(g.WEIGHT_CURRENTS) if mask >> b & 1)
                expected[s, e, k] = nrn.event_jump(name, w)
        off += int(outside(measured[s] / expected[s], lo, hi).sum())
        if progress:
            print(f"  {name}: median jump at mask 15 {np.median(measured[s, -1]) * 1e9:.4g} nA", flush=True)
    exact = EXACT_IDEAL if ideal else "undefined: a median of neurons of different mismatch"
    metrics = (Metric("neurons_off_model", off, limit=0, source=source, unit="jumps",
                      detail=f"jumps (4 types x 5 masks x 64 neurons) whose ratio to the model leaves "
                             f"[{lo:.6g}, {hi:.6g}]", no_interval="exact: a count of the jumps themselves"),) + tuple(
        Metric(f"jump_{name}", float(np.median(measured[s, -1])) * 1e9, unit="nA",
               detail=f"median jump through mask 15; the model: {np.median(expected[s, -1]) * 1e9:.6g} nA",
               no_interval=exact) for s, name in enumerate(NAMES))
    return ExperimentResult(
        experiment="dynapse2.synapse_gain", params={"dt": dt}, raw={"jump": measured},
        prediction={"jump": expected, "band": np.array([lo, hi])}, metrics=metrics, stimulus={"masks": np.array(MASKS)},
        model={"model": {"class": "hil.dynapse2.models.Neuron.event_jump", "ideal_rel": FLOAT_REL,
                         "formula": "(1 - exp(-t_pulse / tau)) Igain / Itau W (AMPA: max(Igain / Itau W, Io) - Io)"}},
        summary={"types": list(NAMES), "masks": list(MASKS)})


SWEEP_PARAMETERS = ("Itau_ampa", "Itau_gaba", "Itau_nmda", "Itau_shunt")
SWEEP_LOUD = {"Igain": (5, 255), "Iw": (5, 255)}
"""The settings :func:`biasgen_sweep` gives the synapse's gain and the four base weights, so that an event
lifts the synapse far above its rest at every leak current."""
SWEEP_WINDOW = 3
RATIO_REL = 1e-6
"""Relative agreement of currents read back from the same generator with the table's ratios: the float64
rounding of the decay's differences relative to their change per step (dt / tau >= 1e-3 here, so below
1e-7), with a margin."""


def _sweep_dt(tau: float) -> float:
    """The step of a run whose fastest synapse has time constant ``tau`` (s): two of them, so that a
    step decays it by e^-2 and the slowest of its run (a few times slower) by no less than 1e-3 of itself,
    within the Stimulus's 1 us .. 1 ms."""
    return float(min(max(2 * tau, 1e-6), 1e-3))


@experiment("dynapse2.biasgen_sweep", mode="traces",
            metrics=("settings_off_table", "non_monotonic_steps", "settings"))
def biasgen_sweep(backend, *, parameter: str = "Itau_ampa", progress: bool = False) -> ExperimentResult:
    """Every (coarse, fine) of a synapse's leak generator, read back through the synapse's decay.

    ``parameter`` is one of Itau_ampa, Itau_gaba, Itau_nmda, Itau_shunt. The settings, in order of their
    table current, go 16 (one per core of a 4-chip board) to a run; in a run every core's generator is at
    one setting, neuron 0 of the core hears one event, and the decay ratio r of the steps after it gives
    the current ``C U_T / (kappa tau)``, ``tau = -dt / ln r``, each run at a step that suits its settings'
    time constants (:func:`_sweep_dt`). On the ideal chip it is ``max(table, Io)`` to float rounding. A
    mismatched generator multiplies the whole table by its gain (and the neuron by its own): the currents
    read through one generator must keep the table's ratios to 1e-6 and their gain within the stated
    mismatch, where ``table x gain`` stays above Io. Within each coarse range the read currents, divided by
    their generator's gain, must step up and down where the table does (the table itself steps back at
    some carries)."""
    if parameter not in SWEEP_PARAMETERS:
        raise InvalidValue("parameter", f"{parameter!r}; allowed: {', '.join(SWEEP_PARAMETERS)}")
    name = parameter.removeprefix("Itau_")
    s = NAMES.index(name)
    info = backend.info()
    mesh, ideal = tuple(info.geometry["mesh"]), bool(info.ideal)
    chips = mesh[0] * mesh[1]
    generators = [(c, k) for c in range(chips) for k in range(g.CORES)]
    settings = [(c, f) for c in range(biasgen.COARSE_MAX + 1) for f in range(biasgen.FINE_MAX + 1)]
    table = biasgen.current(parameter, np.array([c for c, _ in settings]), np.array([f for _, f in settings]))
    lay = models.DEFAULT_LAYOUT
    capacitance = getattr(lay, f"C_{name}")
    nominal_tau = capacitance * lay.U_T / (lay.kappa * np.maximum(table, lay.Io))
    order = np.argsort(-nominal_tau, kind="stable")
    loud = {f"Igain_{name}": SWEEP_LOUD["Igain"], **{f"Iw_{b}": SWEEP_LOUD["Iw"] for b in range(g.WEIGHT_CURRENTS)}}
    traced = np.array([c * g.NEURONS + k * g.NEURONS_PER_CORE for c, k in generators])
    base = listening(Config.default(mesh), traced, entry=0, tag=TAG, synapse=s)
    read = np.full(len(settings), np.nan)
    owner = np.full(len(settings), -1)
    runs = math.ceil(len(settings) / len(generators))
    for run in range(runs):
        chosen = dict(enumerate(order[run * len(generators):(run + 1) * len(generators)].tolist()))
        dt = _sweep_dt(min(nominal_tau[i] for i in chosen.values()))
        config = with_core_biases(base, {generators[j]: {parameter: settings[i], **loud} for j, i in chosen.items()})
        stim = Stimulus(times=np.full(len(generators), 2), tags=np.full(len(generators), TAG),
                        chips=[c for c, _ in generators], cores=[k for _, k in generators],
                        duration=2 + SWEEP_WINDOW + 2, dt=dt, record=traced)
        out = backend.configure_and_run(config, stim)
        tau = -dt / np.log(decay_ratio(out.traces[:, :, 1 + s], 2, SWEEP_WINDOW))
        for j, i in chosen.items():
            read[i] = capacitance * lay.U_T / (lay.kappa * tau[j])
            owner[i] = j
        if progress and run % 16 == 0:
            print(f"  run {run + 1}/{runs}", flush=True)
    io = lay.Io
    if ideal:
        ratio = read / np.maximum(table, io)
        lo, hi = 1 - RATIO_REL, 1 + RATIO_REL
        source = f"the measured table: exact on the ideal chip (relative {RATIO_REL:g})"
        judged = np.ones(len(settings), bool)
        gain = np.ones(len(generators))
    else:
        lo_box, hi_box, source = band(False, {"Itau": 1}, 2 * len(generators))
        judged = table * lo_box > io
        gain = np.array([np.median(read[judged & (owner == j)] / table[judged & (owner == j)])
                         for j in range(len(generators))])
        ratio = np.where(judged, read / (table * gain[owner]), 1.0)
        lo, hi = 1 - RATIO_REL, 1 + RATIO_REL
    off = int(outside(ratio, lo, hi).sum())
    if not ideal:
        off += int(sum(int((read[owner == j] > 0).any()) for j in range(len(generators))
                       if not lo_box <= gain[j] <= hi_box))
    same_coarse = np.diff([c for c, _ in settings]) == 0
    # Steps the table takes beyond the reading's resolution, between settings both judged.
    above = judged & (table > io)          # the clip at Io hides the table's steps below it
    pairs = same_coarse & above[1:] & above[:-1] & (np.abs(np.diff(table)) > 10 * RATIO_REL * table[1:])
    normalised = read / gain[owner]
    flips = int((np.sign(np.diff(normalised)) != np.sign(np.diff(table)))[pairs].sum())
    metrics = (
        Metric("settings_off_table", off, limit=0, source=source, unit="settings",
               detail=f"{parameter}: settings whose read current / {'max(table, Io)' if ideal else 'table x gain'} leaves "
                      f"[{lo:.9g}, {hi:.9g}]" + ("" if ideal else ", or generators whose gain leaves the stated mismatch"),
               no_interval="exact: a count of the settings themselves"),
        Metric("non_monotonic_steps", flips, limit=0, source="the measured table", unit="steps",
               detail=f"fine steps within a coarse range where the read current moves against the table "
                      f"({int(pairs.sum())} steps compared)", no_interval="exact: a count of the steps themselves"),
        Metric("settings", int(judged.sum()), unit="settings", detail=f"settings judged of {len(settings)}",
               no_interval="exact: a count"),
    )
    return ExperimentResult(
        experiment="dynapse2.biasgen_sweep", params={"parameter": parameter},
        raw={"current": read, "generator": owner}, prediction={"table": table, "gain": gain},
        metrics=metrics, stimulus={"settings": np.array(settings, np.int16)},
        model={"model": {"class": "emulator.dynapse2.biasgen.current", "parameter": parameter}},
        summary={"generators": len(generators), "runs": runs})
