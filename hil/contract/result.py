"""What an experiment returns: raw data, the model's prediction, metrics, verdict.

A metric's limit is never widened to make it pass: each carries the limit's
source (the analytical model's noise, or a specification).
"""
import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

COMPARISONS = ("<=", ">=", "abs<=")


def format_number(x: float | None, missing: str = "-") -> str:
    """A metric's value or limit as tables and reports show it: 4 significant digits,
    whole numbers as integers, ``missing`` for None."""
    if x is None:
        return missing
    if math.isfinite(x) and x == int(x) and abs(x) < 1e9:
        return str(int(x))
    return f"{x:.4g}"


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
    """Half-width of the value's 95 % confidence interval, in its unit (None: not estimated)."""

    def __post_init__(self):
        if self.comparison not in COMPARISONS:
            raise ValueError(f"Metric {self.name}: comparison {self.comparison!r} not in {COMPARISONS}")
        object.__setattr__(self, "value", float(self.value))
        if self.limit is not None:
            object.__setattr__(self, "limit", float(self.limit))
        if self.interval is not None:
            object.__setattr__(self, "interval", float(self.interval))

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
        for k in ("value", "limit", "interval"):
            if isinstance(d[k], float) and not math.isfinite(d[k]):
                d[k] = str(d[k])
        return d


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
