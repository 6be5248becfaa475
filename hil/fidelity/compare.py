"""Experiments across devices, against the model: the tables and the exact-match checks of a
fidelity report.

>>> f = compare(["bss2.mac_gain"], [parse_device("emulator:EMU-0042"), parse_device("emulator:EMU-0042:ideal")])
>>> f.passed, f.experiments[0].rows[0].values
"""
import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..bss2.models import MacSpec
from ..contract import experiment as experiments
from ..contract import backend as backends
from ..contract.errors import InvalidValue, RigError, UnknownBackend, Unsupported
from ..contract.result import ExperimentResult
from ..results.jsonable import to_json_value
from ..rtl.geometry import RtlGeometry
from .devices import Device

DEFAULT_MODEL_RUNS = 4
"""Runs of each experiment on the model device (different noise seeds): their mean is a
metric's model value, 1.96 of their standard deviations its 95 % band."""


@dataclass(frozen=True)
class Entry:
    """One device's result of one experiment."""

    device: str
    """The device as the run recorded it (``RunContext.device``: 'board:<serial>' for a board)."""
    result: ExperimentResult
    run_id: str | None = None


@dataclass(frozen=True)
class Value:
    """A number with its 95 % interval and, if judged, its verdict (the fields of
    :class:`hil.contract.result.Metric` of the same names)."""

    value: float | None
    interval: float | None = None
    """Half-width of a symmetric interval (the model's band: 1.96 standard deviations of its runs)."""
    passed: bool | None = None
    low: float | None = None
    """The interval's lower end (value - interval for a symmetric one)."""
    high: float | None = None
    interval_method: str = ""
    no_interval: str = ""
    """Why there is none: 'exact: ...' or 'undefined: ...'."""

    def __post_init__(self):
        if self.interval is not None and self.value is not None and self.low is None:
            object.__setattr__(self, "low", self.value - self.interval)
            object.__setattr__(self, "high", self.value + self.interval)


@dataclass(frozen=True)
class MetricRow:
    """One metric of one experiment across the devices: its values, the model's, the differences."""

    name: str
    unit: str
    values: dict
    """device -> Value."""
    model: Value
    """The metric on the model device (mean over its runs, 1.96 standard deviations between them)."""
    ideal_model: Value | None
    """The metric on the ideal model (no noise, no leak), the reference of the ideal devices."""
    differences: dict
    """device -> value minus the model's (the ideal model's for an ideal device); None where
    either is missing."""


@dataclass(frozen=True)
class Check:
    """An exact-match claim, checked: every compared value equal, or not."""

    claim: str
    """'ideal = model' or 'board = emulator at the same run counter'."""
    device: str
    reference: str
    compared: int
    """Values compared."""
    mismatches: int
    detail: str = ""
    examples: tuple[dict, ...] = ()
    """Up to :data:`EXAMPLES` of the unequal values, each with where it is (raw array and
    index), both values, and how to reproduce it (experiment, parameters, serial, run counter)."""

    @property
    def passed(self) -> bool:
        return self.compared > 0 and self.mismatches == 0


@dataclass(frozen=True)
class ExperimentComparison:
    experiment: str
    params: dict
    entries: tuple[Entry, ...]
    model_runs: tuple[ExperimentResult, ...]
    ideal_model_run: ExperimentResult | None
    rows: tuple[MetricRow, ...]
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        """Every device's verdict passed and every check held."""
        return all(e.result.verdict.passed for e in self.entries) and all(c.passed for c in self.checks)


@dataclass(frozen=True)
class Fidelity:
    experiments: tuple[ExperimentComparison, ...]

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(c for e in self.experiments for c in e.checks)

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.experiments)


def compare(names: Sequence[str], devices: Sequence[Device] = (), *, runs: str | Sequence[str] | None = None,
            store=None, params: dict | None = None, spec: MacSpec | None = None,
            model_runs: int = DEFAULT_MODEL_RUNS, inventory: str | None = None,
            progress: bool = False) -> Fidelity:
    """Compares experiments ``names`` across ``devices``.

    runs: None runs every experiment on every device now (stored in ``store`` if given);
    'latest' takes each device's latest stored run of each experiment from ``store``; a list
    of run ids takes those runs (their devices are the runs' own, ``devices`` may be empty).
    params: experiment parameters (by experiment name: ``{name: {param: value}}``) for runs
    made now; spec: the model and spec to run and judge with (default: each experiment's).
    model_runs: runs on the model device per experiment (0: no model column), 1..64.
    """
    names = list(dict.fromkeys(names))
    if not names:
        raise InvalidValue("experiments", "is empty; name at least one experiment")
    for n in names:
        experiments.get(n)
    if not (isinstance(model_runs, int) and 0 <= model_runs <= 64):
        raise InvalidValue("model_runs", f"{model_runs!r} is outside the allowed range 0..64")
    params = dict(params or {})
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise InvalidValue("params", f"given for {unknown}, which are not compared ({names})")
    if runs is not None and store is None:
        raise InvalidValue("--runs", "stored runs need a store")
    if runs is None:
        gathered = _run_now(names, devices, store, params, spec, inventory, progress)
    elif runs == "latest":
        gathered = _latest(names, devices, store, inventory)
    else:
        gathered = _by_id(names, list(runs), store)
    return Fidelity(tuple(_compare_one(n, gathered[n], model_runs, inventory) for n in names))


def _kwargs(name: str, params: dict, spec: MacSpec | None) -> dict:
    kw = dict(params)
    if spec is not None and "spec" in experiments.signature_parameters(name):
        kw["spec"] = spec
    return kw


def _run_now(names, devices, store, params, spec, inventory, progress) -> dict:
    if not devices:
        raise InvalidValue("--device", "name at least one device to run on")
    out = {n: [] for n in names}
    families = {experiments.family(n) for n in names}
    if len(families) > 1:
        raise InvalidValue("EXPERIMENT", f"{names} are experiments of the families {sorted(map(str, families))}; "
                                         "compare one family's experiments at a time")
    family = families.pop()
    for d in devices:
        with d.open(inventory, family=family) as backend:
            for n in names:
                r = experiments.run(n, backend, store=store, progress=progress, **_kwargs(n, params.get(n, {}), spec))
                out[n].append(Entry(r.context.device, r, store.last_run_id if store is not None else None))
    return out


def _stored(store, run_id: str) -> Entry:
    r = store.load(run_id)
    if r.context is None:
        raise InvalidValue("--runs", f"run {run_id} has no context: its device is unknown")
    return Entry(r.context.device, r, run_id)


def _latest(names, devices, store, inventory) -> dict:
    if not devices:
        raise InvalidValue("--device", "name the devices whose latest runs to compare")
    out = {n: [] for n in names}
    for d in devices:
        if d.kind == "board":
            with d.open(inventory) as b:          # the board's serial, as its runs recorded it
                serial = b.info().serial
        else:
            serial = d.name
        for n in names:
            found = [r for r in store.runs(experiment=n, serial=serial, backend=d.kind,
                                           ideal=d.ideal if d.kind == "emulator" else None)
                     if r.status != "error"]
            if not found:
                raise InvalidValue("--runs", f"no stored run of {n} on {d.spec} in {store.root}")
            out[n].append(_stored(store, found[0].run_id))
    return out


def _by_id(names, run_ids, store) -> dict:
    if not run_ids:
        raise InvalidValue("--runs", "give 'latest' or at least one run id")
    out = {n: [] for n in names}
    for run_id in run_ids:
        e = _stored(store, run_id)
        if e.result.experiment not in out:
            raise InvalidValue("--runs", f"run {run_id} is of {e.result.experiment}, which is not compared ({names})")
        out[e.result.experiment].append(e)
    missing = [n for n, es in out.items() if not es]
    if missing:
        raise InvalidValue("--runs", f"no run given of {missing}")
    return out


def _identity(r: ExperimentResult) -> dict:
    return to_json_value("params", {"params": r.params, "model": r.model}, strict=False, finite=True)


def _compare_one(name: str, entries: list[Entry], model_runs: int, inventory) -> ExperimentComparison:
    first = entries[0].result
    for e in entries[1:]:
        if _identity(e.result) != _identity(first):
            raise InvalidValue("--runs", f"{name}: {e.device} ran with {_identity(e.result)}, "
                                         f"{entries[0].device} with {_identity(first)}; a comparison needs "
                                         "the same parameters, model and spec")
    # The size of the runs: an RTL core's, or the whole chip's (None, also for runs that predate it).
    cores = {e.device: RtlGeometry.from_info(e.result.context.geometry) for e in entries}
    core = cores[entries[0].device]
    if any(c != core for c in cores.values()):
        raise InvalidValue("--runs", f"{name}: the runs are of devices of different sizes ({cores}); compare an "
                                     "RTL core with the emulator on that core (emulator:SERIAL:core=...)")
    devices = [e.device for e in entries]
    if len(set(devices)) != len(devices):
        raise InvalidValue("--runs", f"{name}: more than one run of the same device: {devices}")
    spec = MacSpec.from_record(first.model) if first.model.get("spec", {}).get("class") == "hil.bss2.MacSpec" else None
    kwargs = dict(first.params, **({"spec": spec} if spec is not None else {}))
    model = _on_model(name, kwargs, spec, [dict(seed=k, geometry=core) for k in range(model_runs)])
    ideal = _on_model(name, kwargs, spec, [dict(ideal=True, geometry=core)]) \
        if any(e.result.context.ideal for e in entries) else ()
    ideal_run = ideal[0] if ideal else None
    rows = tuple(_row(m.name, m.unit, entries, model, ideal_run) for m in first.metrics)
    checks = []
    for e in entries:
        if e.result.context.ideal:
            checks.append(ideal_check(e))
        if e.result.context.backend in REPLAYED:
            checks.append(replay_check(e, kwargs))
    return ExperimentComparison(name, first.params, tuple(entries), tuple(model), ideal_run, rows,
                                tuple(c for c in checks if c is not None))


def _on_model(name: str, kwargs: dict, spec: MacSpec | None, options: list[dict]) -> list[ExperimentResult]:
    """The experiment on the model device, once per options; none where the model cannot run it."""
    out = []
    for o in options:
        try:
            model = backends.open("model", family=experiments.family(name),
                                  **(dict(model=spec.model) if spec is not None else {}), **o)
        except UnknownBackend:
            return []              # no model device of this family: no model column
        with model as m:
            try:
                out.append(experiments.run(name, m, **kwargs))
            except Unsupported:
                return []          # the model has no such mode (the CADC ramp): no model column
    return out


def _value(result: ExperimentResult, name: str) -> Value:
    try:
        m = result.metric(name)
    except KeyError:
        return Value(None)
    return Value(m.value, m.interval, m.passed, m.low, m.high, m.interval_method, m.no_interval)


def _row(name: str, unit: str, entries: list[Entry], model: list[ExperimentResult],
         ideal_run: ExperimentResult | None) -> MetricRow:
    values = {e.device: _value(e.result, name) for e in entries}
    ms = np.array([_value(r, name).value for r in model], np.float64)
    ms = ms[np.isfinite(ms)]
    model_value = Value(float(ms.mean()) if ms.size else None,
                        float(1.96 * ms.std(ddof=1)) if ms.size > 1 else None,
                        interval_method=f"the model's band: 1.96 standard deviations of its {ms.size} runs"
                        if ms.size > 1 else "")
    ideal_value = _value(ideal_run, name) if ideal_run is not None else None
    differences = {}
    for e in entries:
        ref = ideal_value if e.result.context.ideal else model_value
        v = values[e.device].value
        ok = ref is not None and ref.value is not None and v is not None and math.isfinite(v) and math.isfinite(ref.value)
        differences[e.device] = v - ref.value if ok else None
    return MetricRow(name, unit, values, model_value, dataclasses.replace(ideal_value, passed=None)
                     if ideal_value is not None else None, differences)


def exact_mismatches(a, b, rel: float = 0.0) -> tuple[int, int]:
    """(values compared, values unequal) of ``a`` against ``b``, ``b`` broadcast along the axes it
    lacks: trailing axes first (one value per neuron), else leading ones (one value per point). ``rel``:
    values within that relative difference count as equal (a model stated to float rounding)."""
    a, b = np.asarray(a), np.asarray(b)
    for shaped in (b, b.reshape(b.shape + (1,) * (a.ndim - b.ndim)) if a.ndim >= b.ndim else b):
        try:
            bb = np.broadcast_to(shaped, a.shape)
        except ValueError:
            continue
        unequal = a != bb if rel == 0 else ~(np.abs(a - bb) <= rel * np.abs(bb))
        return int(a.size), int(np.count_nonzero(unequal))
    return 0, 0


def ideal_check(e: Entry) -> Check | None:
    """An ideal device against the ideal model: every raw array the run predicted, equal to its
    prediction, and its ``prediction_mismatches`` zero. None if the run predicted none of its arrays."""
    r = e.result
    model = r.model.get("model", {}) if isinstance(r.model, dict) else {}
    rel = float(model.get("ideal_rel", 0.0))      # an experiment whose model is exact to float rounding says so
    compared = mismatched = 0
    keys = []
    for k in sorted(set(r.raw) & set(r.prediction)):
        n, bad = exact_mismatches(r.raw[k], r.prediction[k], rel)
        if n:
            keys.append(k)
        compared, mismatched = compared + n, mismatched + bad
    try:
        m = r.metric("prediction_mismatches")
        keys.append("prediction_mismatches")
        outputs = int(m.detail.split()[1]) if m.detail.startswith("of ") else 1
        compared, mismatched = compared + outputs, mismatched + int(m.value)
    except (KeyError, ValueError, IndexError):
        pass
    if not keys:
        return None
    reference = f"the ideal model ({model.get('class', 'hil.bss2.MacModel')}{'' if 'class' in model else '().ideal()'})"
    return Check("ideal = model", e.device, reference + (f", to a relative {rel:g}" if rel else ""), compared,
                 mismatched, detail="compared: " + ", ".join(keys))


EXAMPLES = 20
"""Unequal values a check lists (it counts them all)."""
REPLAYED = {"board": "board", "rtl": "RTL"}
"""Backends whose runs the emulator of the same serial must reproduce exactly, and their names
in a check: a virtual board's chip is that emulator, and the RTL models are that chip."""


def replay_check(e: Entry, kwargs: dict) -> Check:
    """A board's or an RTL simulation's run against the emulator of its serial replayed at the same
    run counter (on an RTL run, restricted to its reduced core): every raw array equal, value
    for value."""
    c = e.result.context
    core = RtlGeometry.from_info(c.geometry)
    title = f"{REPLAYED[c.backend]} = emulator at the same run counter"
    reference = f"emulator:{c.serial}" + (":ideal" if c.ideal else "") + \
        (f" on the {core.rows} x {core.neurons} core" if core is not None else "") + \
        (f" from run {c.run_counter_first}" if c.run_counter_first is not None else "")
    if c.run_counter_first is None:
        return Check(title, e.device, reference, 0, 0,
                     detail="the run did not record its run counter (result format 1)")
    try:
        with backends.open("emulator", family=c.family, serial=c.serial, ideal=bool(c.ideal),
                           first_run=c.run_counter_first, **({"geometry": core} if core is not None else {})) as emu:
            replay = experiments.run(e.result.experiment, emu, **kwargs)
    except RigError as exc:
        return Check(title, e.device, reference, 0, 0, detail=f"the emulator could not replay it: {exc}")
    compared = mismatched = 0
    examples = []
    reproduce = {"experiment": e.result.experiment, "params": to_json_value("params", e.result.params, strict=False),
                 "serial": c.serial, "ideal": bool(c.ideal), "run_counter_first": c.run_counter_first}
    for k, a in e.result.raw.items():
        a, b = np.asarray(a), replay.raw.get(k)
        if b is None or np.shape(a) != np.shape(b):
            compared, mismatched = compared + a.size, mismatched + a.size
            examples.append({"raw": k, "index": None, "value": f"shape {a.shape}",
                             "emulator": "missing" if b is None else f"shape {np.shape(b)}", **reproduce})
            continue
        b = np.asarray(b)
        equal = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
        bad = np.argwhere(~equal)
        compared, mismatched = compared + a.size, mismatched + len(bad)
        for idx in bad[:max(0, EXAMPLES - len(examples))]:
            at = tuple(int(i) for i in idx)
            examples.append({"raw": k, "index": list(at), "value": a[at].item(), "emulator": b[at].item(),
                             **reproduce})
    runs = (replay.context.run_counter_first, replay.context.run_counter_stop)
    return Check(title, e.device, reference, compared, mismatched, examples=tuple(examples),
                 detail=f"raw arrays {', '.join(sorted(e.result.raw))}; emulator runs {runs[0]}..{runs[1] - 1}, "
                        f"{REPLAYED[c.backend]} runs {c.run_counter_first}..{c.run_counter_stop - 1} (counted "
                        f"{c.run_counter_kind or 'unknown'})")


__all__ = ["Check", "DEFAULT_MODEL_RUNS", "Entry", "ExperimentComparison", "Fidelity", "MetricRow", "Value",
           "compare", "exact_mismatches", "ideal_check", "replay_check"]
