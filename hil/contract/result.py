"""What an experiment returns: raw data, the model's prediction, metrics, verdict.

A metric's limit is never widened to make it pass: each carries the limit's
source (the analytical model's noise, or a specification).
"""
import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

COMPARISONS = ("<=", ">=", "abs<=")
NO_INTERVAL_KINDS = {"exact": "exact", "undefined": "no interval"}
"""Why a metric has no 95 % interval, by the word its ``no_interval`` reason starts with, and how
tables show it: 'exact' (the value has no sampling uncertainty, e.g. on an ideal device, whose
repeats all read the same), 'undefined' (no interval can be computed, e.g. too few repeats or a
value that is not finite)."""


def format_number(x: float | None, missing: str = "-") -> str:
    """A metric's value or limit as tables and reports show it: 4 significant digits,
    whole numbers as integers, ``missing`` for None."""
    if x is None:
        return missing
    if math.isfinite(x) and x == int(x) and abs(x) < 1e9:
        return str(int(x))
    return f"{x:.4g}"


def format_estimate(x, missing: str = "-") -> str:
    """A value with its 95 % interval as tables show it: 'v ± h' (symmetric about v), 'v [low, high]',
    'v (exact)' or 'v (no interval)' (see :data:`NO_INTERVAL_KINDS`), or 'v' where no interval was
    estimated; ``missing`` for no value. ``x`` has ``value``, ``interval``, ``low``, ``high`` and
    ``no_interval`` (a :class:`Metric`, or a fidelity ``Value``)."""
    if x is None or x.value is None:
        return missing
    text = format_number(x.value, missing)
    if x.interval is not None:
        return f"{text} ± {format_number(x.interval)}"
    if x.low is not None and x.high is not None:
        above, below = x.high - x.value, x.value - x.low
        if math.isfinite(above) and math.isclose(above, below, rel_tol=1e-9, abs_tol=1e-12 * (1 + abs(x.value))):
            return f"{text} ± {format_number(above)}"
        return f"{text} [{format_number(x.low)}, {format_number(x.high)}]"
    if x.no_interval:
        return f"{text} ({NO_INTERVAL_KINDS[x.no_interval.split(':', 1)[0]]})"
    return text


def interval_note(x) -> str:
    """One line on a value's interval: its method, or why it has none ('' if neither is known)."""
    return x.no_interval or (f"95 % interval: {x.interval_method}" if x.interval_method else "")


@dataclass(frozen=True)
class Interval:
    """A 95 % confidence interval: [low, high], in the unit of the value it belongs to, and how it
    was computed (the method says what the interval covers). See :mod:`hil.contract.statistics`."""

    low: float
    high: float
    method: str

    def __post_init__(self):
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.low > self.high:
            raise ValueError(f"Interval: low {self.low} > high {self.high}")

    def map(self, f, method: str | None = None) -> "Interval":
        """The interval of ``f(value)`` for a monotonic ``f`` (e.g. ``x / model - 1``)."""
        low, high = sorted((float(f(self.low)), float(f(self.high))))
        return Interval(low, high, self.method if method is None else method)


@dataclass(frozen=True)
class Metric:
    """One judged (or, without a limit, reported) number."""

    name: str
    value: float
    limit: float | None = None
    """None: reported only, not judged."""
    comparison: str = "<="
    """How value is held against limit: '<=', '>=' or 'abs<=' (|value| <= limit)."""
    source: str = ""
    """Where the limit came from, e.g. 'model: noise_std=2.0 LSB, chi2 99.9%'."""
    unit: str = ""
    detail: str = ""
    """What was measured, in one line."""
    interval: float | None = None
    """Half-width of a symmetric 95 % confidence interval, in the value's unit: sets ``low`` and
    ``high`` to value -+ interval. None where the interval is not symmetric, or there is none."""
    low: float | None = None
    """Lower end of the value's 95 % confidence interval, in its unit (None: no interval)."""
    high: float | None = None
    """Upper end of the value's 95 % confidence interval, in its unit (None: no interval)."""
    interval_method: str = ""
    """How the interval was computed and what it covers (e.g. 'Clopper-Pearson (binomial): the
    expected count of ...')."""
    no_interval: str = ""
    """Why the value has no interval: 'exact: <reason>' or 'undefined: <reason>'
    (:data:`NO_INTERVAL_KINDS`); '' where it has one, or in runs stored before every metric had one."""

    def __post_init__(self):
        if self.comparison not in COMPARISONS:
            raise ValueError(f"Metric {self.name}: comparison {self.comparison!r} not in {COMPARISONS}")
        object.__setattr__(self, "value", float(self.value))
        for k in ("limit", "interval", "low", "high"):
            if getattr(self, k) is not None:
                object.__setattr__(self, k, float(getattr(self, k)))
        if self.interval is not None:
            object.__setattr__(self, "low", self.value - self.interval)
            object.__setattr__(self, "high", self.value + self.interval)
        if (self.low is None) != (self.high is None) or (self.low is not None and self.low > self.high):
            raise ValueError(f"Metric {self.name}: interval [{self.low}, {self.high}] is not an interval")
        if self.no_interval:
            if self.no_interval.split(":", 1)[0] not in NO_INTERVAL_KINDS or ":" not in self.no_interval:
                raise ValueError(f"Metric {self.name}: no_interval {self.no_interval!r} does not start with "
                                 f"one of {[k + ':' for k in NO_INTERVAL_KINDS]}")
            if self.low is not None:
                raise ValueError(f"Metric {self.name}: has an interval and a reason for none")

    @property
    def has_interval(self) -> bool:
        """The value has a finite 95 % interval."""
        return self.low is not None and math.isfinite(self.low) and math.isfinite(self.high)

    def with_interval(self, interval: "Interval | str") -> "Metric":
        """This metric with ``interval`` (an :class:`Interval`), or with a reason for none (a
        'exact: ...' or 'undefined: ...' text)."""
        if isinstance(interval, str):
            return dataclasses.replace(self, interval=None, low=None, high=None, interval_method="",
                                       no_interval=interval)
        return dataclasses.replace(self, interval=None, low=interval.low, high=interval.high,
                                   interval_method=interval.method, no_interval="")

    @property
    def judged(self) -> bool:
        return self.limit is not None

    @property
    def passed(self) -> bool | None:
        """True/False when judged; None when only reported. NaN never passes."""
        if self.limit is None:
            return None
        if math.isnan(self.value):
            return False
        if self.comparison == "<=":
            return self.value <= self.limit
        if self.comparison == ">=":
            return self.value >= self.limit
        return abs(self.value) <= self.limit

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["passed"] = self.passed
        if not self.judged:
            d["comparison"] = None      # nothing is compared with a limit it does not have
        for k in ("value", "limit", "interval", "low", "high"):
            if isinstance(d[k], float) and not math.isfinite(d[k]):
                d[k] = str(d[k])
        return d


def with_intervals(metrics, intervals: dict, exact: str = "") -> tuple[Metric, ...]:
    """``metrics`` with the intervals of ``intervals`` (metric name -> :class:`Interval`, or a
    reason for none). With ``exact`` (an 'exact: ...' reason, e.g. for an ideal device), every
    metric left without an interval gets it; intervals already set are kept."""
    names = {m.name for m in metrics}
    unknown = sorted(set(intervals) - names)
    if unknown:
        raise ValueError(f"intervals for {unknown}, which are not metrics ({sorted(names)})")
    out = []
    for m in metrics:
        if m.name in intervals:
            m = m.with_interval(intervals[m.name])
        elif exact and m.low is None and not m.no_interval:
            m = m.with_interval(exact)
        out.append(m)
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Verdict:
    """PASS when every judged metric passed. Compares equal to its text, so
    ``result.verdict == "PASS"`` reads as it should (and ``result.verdict.passed`` too)."""

    metrics: tuple[Metric, ...]

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            return str(self) == other
        if isinstance(other, Verdict):
            return self.metrics == other.metrics
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.metrics if m.judged)

    @property
    def failed(self) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics if m.judged and not m.passed)

    def __str__(self) -> str:
        if self.passed:
            return "PASS"
        return "FAIL (" + ", ".join(m.name for m in self.failed) + ")"


@dataclass(frozen=True)
class RunContext:
    """Where and when a result was measured."""

    backend: str
    family: str
    serial: str
    model: str
    firmware: str
    software_version: str
    started: str
    """UTC, ISO 8601."""
    finished: str
    ideal: bool | None = None
    """The device was ideal (no mismatch, no noise); None in runs stored in result format 1, which
    did not record it."""
    faults: dict | None = None
    """The faults injected into the device (see :attr:`hil.backend.DeviceInfo.faults`);
    None where unknown."""
    software_commit: str = ""
    """The git commit of the rig that ran it ('+dirty' with uncommitted changes), '' outside a
    git checkout."""
    run_counter_first: int | None = None
    """The device's run counter at the first run of the experiment: with the serial it
    names the temporal-noise draws (the noise key) of an emulated chip. None: unknown."""
    run_counter_stop: int | None = None
    """The run counter after the experiment's last run; its runs were first..stop - 1."""
    run_counter_kind: str = ""
    """'chip' (the device's own counter) or 'client' (counted by the backend since it opened),
    '' where unknown."""
    geometry: dict | None = None
    """The device's geometry (:attr:`hil.backend.DeviceInfo.geometry`): the size of its runs,
    e.g. an RTL simulation's reduced core. None in runs stored before it was recorded."""

    @property
    def device(self) -> str:
        """The device as ``hil fidelity --device`` names it: 'emulator:EMU-0042',
        'emulator:EMU-0042:ideal', 'emulator:EMU-0042:core=32x32x1' (on an RTL core's size),
        'board:BSS2-0001', 'rtl:EMU-0042'."""
        core = (self.geometry or {}).get("core") if self.backend == "emulator" else None
        return f"{self.backend}:{self.serial}" + (":ideal" if self.ideal else "") + \
            (f":core={core['rows']}x{core['columns']}x{core['hemispheres']}" if core else "")


@dataclass(frozen=True)
class ExperimentResult:
    experiment: str
    """Registered name, e.g. 'bss2.mac_linearity'."""
    params: dict
    """JSON-able parameters the experiment ran with."""
    raw: dict[str, np.ndarray]
    """Measured arrays."""
    prediction: dict[str, np.ndarray]
    """The analytical model's arrays for the same stimuli."""
    metrics: tuple[Metric, ...]
    context: RunContext | None = None
    summary: dict = field(default_factory=dict)
    """JSON-able per-experiment extras (fitted parameters and the like)."""
    stimulus: dict[str, np.ndarray] = field(default_factory=dict)
    """The stimulus arrays as sent (inputs, weights), or with ``params`` enough to rebuild
    them exactly (the swept values); empty in runs stored in result format 1."""
    model: dict = field(default_factory=dict)
    """JSON-able: the analytical model and the specification the run was judged with, with
    their parameters ({'model': {...}, 'spec': {...}}); empty in runs stored in result format 1."""

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.metrics)

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(f"{self.experiment} has no metric {name!r}; it has {[m.name for m in self.metrics]}")

    def with_context(self, context: RunContext) -> "ExperimentResult":
        return dataclasses.replace(self, context=context)
