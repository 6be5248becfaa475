"""The versioned acceptance specification: what a board is judged against.

>>> spec = load_spec("specs/bss2-acceptance-v1.toml")
>>> spec.label, spec.sha256                      # 'bss2-acceptance v1', '3f1c...'
>>> [p.experiment for p in spec.experiments]     # what `hil accept` runs, in order

A specification is a TOML file (read with the standard library's ``tomllib``)::

    [spec]                                       # required
    name = "bss2-acceptance"                     # str
    version = "1"                                # str: certificates cite it
    family = "bss2"                              # str: the chip family it judges
    description = "..."                          # str

    [experiments."bss2.mac_noise"]               # optional: the experiment's parameters
    repeats = 200                                # (only ones it has, of its default's type)

    [metrics."bss2.mac_noise".noise_max]         # one table per judged metric
    limit = 3.5                                  # a number, or "model"
    comparison = "<="                            # "<=", ">=" or "abs<="
    source = "hil.bss2.MacSpec.noise_max ..."    # where the limit comes from

``limit = "model"`` judges the metric with the experiment's own statistical
limit (the bound the analytical model's noise puts on a healthy board). The
experiments run in the order their metrics first appear. Everything is checked
on loading, before anything runs: an unknown table or key, a value of the
wrong type, an unregistered experiment, a parameter it does not take, or a
metric it does not report is refused with a :class:`SpecError` whose
``field`` is the key (``metrics."bss2.mac_noise".noise_max.limit``).
"""
import hashlib
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ..contract import experiment as experiments
from ..contract.errors import InvalidValue, UnknownExperiment
from ..contract.result import COMPARISONS

MODEL_LIMIT = "model"
"""The ``limit`` value that keeps the experiment's own statistical limit."""
SPEC_KEYS = ("name", "version", "family", "description")
METRIC_KEYS = ("limit", "comparison", "source")
TOP_LEVEL = ("spec", "experiments", "metrics")
DEFAULT_SPEC_NAME = "bss2-acceptance-v2.toml"
"""The newest bss2 specification; v1 stays readable, so its certificates can still be checked."""
DEFAULT_SPECS = {"bss2": DEFAULT_SPEC_NAME, "dynapse2": "dynapse2-acceptance-v1.toml",
                 "crossbar": "crossbar-acceptance-v1.toml"}
"""The newest specification of each family."""


class SpecError(InvalidValue):
    """A specification file is malformed. ``field`` is the offending key, the
    message also names the file and what is allowed."""

    def __init__(self, path: str, key: str, problem: str):
        self.path = path
        super().__init__(key, f"{problem} (in {path})")


@dataclass(frozen=True)
class MetricLimit:
    """One judged metric of the specification."""

    experiment: str
    """Registered experiment name, e.g. 'bss2.mac_noise'."""
    metric: str
    """The metric's name in that experiment's result, e.g. 'noise_max'."""
    limit: float | None
    """The limit; None: the experiment's own statistical limit (``limit = "model"``)."""
    comparison: str
    """'<=', '>=' or 'abs<=' (|value| <= limit)."""
    source: str
    """Where the limit comes from (a document, a measurement, the model's noise)."""

    @property
    def key(self) -> str:
        """'<experiment>.<metric>': the name of its JUnit test case and certificate row."""
        return f"{self.experiment}.{self.metric}"

    @property
    def from_model(self) -> bool:
        return self.limit is None


@dataclass(frozen=True)
class ExperimentPlan:
    """One experiment the specification runs, with its parameters and judged metrics."""

    experiment: str
    params: Mapping[str, int | float | str]
    """Read-only; what the spec sets (the experiment's defaults fill the rest)."""
    metrics: tuple[MetricLimit, ...]


@dataclass(frozen=True)
class AcceptanceSpec:
    name: str
    version: str
    family: str
    description: str
    path: str
    """The file it was read from (absolute), or '<string>'."""
    sha256: str
    """SHA-256 of the file's bytes, hex: certificates cite it."""
    experiments: tuple[ExperimentPlan, ...]

    @property
    def label(self) -> str:
        """'<name> v<version>', as limit sources cite it."""
        return f"{self.name} v{self.version}"

    @property
    def file_name(self) -> str:
        return os.path.basename(self.path)

    @property
    def metrics(self) -> tuple[MetricLimit, ...]:
        return tuple(m for p in self.experiments for m in p.metrics)

    @property
    def modes(self) -> tuple[str, ...]:
        """The operating modes its experiments run the device in (a device must declare all)."""
        return tuple(sorted({m for p in self.experiments if (m := experiments.mode(p.experiment))}))


def default_spec_path(family: str = "bss2") -> Path:
    """The newest specification of ``family`` (:data:`DEFAULT_SPECS`; bss2: specs/bss2-acceptance-v2.toml)
    in the source tree this package belongs to."""
    if family not in DEFAULT_SPECS:
        raise InvalidValue("--family", f"{family!r} has no acceptance specification; known: {sorted(DEFAULT_SPECS)}")
    return Path(__file__).resolve().parents[2] / "specs" / DEFAULT_SPECS[family]


def load_spec(path: str | os.PathLike) -> AcceptanceSpec:
    """Reads and checks the specification file at ``path``."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise SpecError(str(p), "--spec", f"file {str(p)!r} does not exist") from None
    except OSError as exc:
        raise SpecError(str(p), "--spec", f"file {str(p)!r} cannot be read: {exc.strerror}") from None
    return parse_spec(data, str(p.resolve()))


def parse_spec(data: bytes | str, path: str = "<string>") -> AcceptanceSpec:
    """The specification held in ``data`` (TOML text); ``path`` names it in errors."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(path, "file", f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(path, "file", f"is not valid TOML: {exc}") from None
    return _Checker(path).spec(doc, hashlib.sha256(raw).hexdigest())


def key_path(*parts: str) -> str:
    """A TOML key path; parts that are not bare keys are quoted."""
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else '"' + p.replace('"', '\\"') + '"'
                    for p in parts)


def _type_name(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            dict: "a table", list: "an array"}.get(type(value), type(value).__name__)


class _Checker:
    def __init__(self, path: str):
        self.path = path

    def error(self, key: str, problem: str) -> SpecError:
        return SpecError(self.path, key, problem)

    def table(self, value, *parts: str) -> dict:
        if not isinstance(value, dict):
            raise self.error(key_path(*parts), f"is {_type_name(value)}; expected a table")
        return value

    def string(self, value, *parts: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key_path(*parts), f"is {_type_name(value)} {value!r}; expected a non-empty string")
        return value

    def known_keys(self, table: dict, allowed: tuple[str, ...], *parts: str) -> None:
        for k in table:
            if k not in allowed:
                raise self.error(key_path(*parts, k), f"is not a known key; allowed here: {', '.join(allowed)}")

    def spec(self, doc: dict, sha256: str) -> AcceptanceSpec:
        self.known_keys(doc, TOP_LEVEL)
        if "spec" not in doc:
            raise self.error("spec", "is missing; a specification needs a [spec] table with "
                                     + ", ".join(SPEC_KEYS))
        head = self.table(doc["spec"], "spec")
        self.known_keys(head, SPEC_KEYS, "spec")
        for k in SPEC_KEYS:
            if k not in head:
                raise self.error(key_path("spec", k), "is missing")
            self.string(head[k], "spec", k)
        params = self.params(self.table(doc.get("experiments", {}), "experiments"))
        if "metrics" not in doc:
            raise self.error("metrics", "is missing; a specification judges at least one metric")
        metrics = self.metrics(self.table(doc["metrics"], "metrics"))
        for name in params:
            if name not in metrics:
                raise self.error(key_path("experiments", name), "sets parameters of an experiment that judges "
                                 "no metric; add its metrics or remove the table")
        plans = tuple(ExperimentPlan(name, MappingProxyType(dict(params.get(name, {}))), tuple(limits))
                      for name, limits in metrics.items())
        return AcceptanceSpec(name=head["name"], version=head["version"], family=head["family"],
                              description=head["description"], path=self.path, sha256=sha256,
                              experiments=plans)

    def experiment(self, name: str, *parts: str):
        try:
            return experiments.get(name)
        except UnknownExperiment:
            raise self.error(key_path(*parts, name), f"is not a registered experiment; registered: "
                             f"{', '.join(experiments.names())}") from None

    def params(self, table: dict) -> dict[str, dict]:
        out = {}
        for name, values in table.items():
            self.experiment(name, "experiments")
            values = self.table(values, "experiments", name)
            defaults = experiments.parameters(name)
            checked = {}
            for param, value in values.items():
                key = key_path("experiments", name, param)
                if param not in defaults:
                    raise self.error(key, f"is not a parameter of {name}; its parameters: "
                                          f"{', '.join(defaults) or '(none)'}")
                checked[param] = self.param_value(key, value, defaults[param])
            try:    # the experiment's declared ranges, checked before anything runs
                experiments.check_params(name, experiments.parameter_ranges(name), defaults, checked)
            except InvalidValue as exc:
                raise self.error(key_path("experiments", name, exc.field.rpartition(": ")[2]),
                                 exc.problem) from None
            out[name] = checked
        return out

    def param_value(self, key: str, value, default):
        kind = type(default)
        ok = (isinstance(value, str) if kind is str
              else isinstance(value, int) and not isinstance(value, bool) if kind is int
              else isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))
        if not ok:
            want = {int: "an integer", float: "a finite number", str: "a string"}[kind]
            raise self.error(key, f"is {_type_name(value)} {value!r}; expected {want} (the default is {default!r})")
        return float(value) if kind is float else value

    def metrics(self, table: dict) -> dict[str, list[MetricLimit]]:
        out: dict[str, list[MetricLimit]] = {}
        for name, entries in table.items():
            f = self.experiment(name, "metrics")
            entries = self.table(entries, "metrics", name)
            if not entries:
                raise self.error(key_path("metrics", name), "judges no metric; give at least one metric table")
            declared = getattr(f, "metric_names", None)
            for metric, entry in entries.items():
                if declared is not None and metric not in declared:
                    raise self.error(key_path("metrics", name, metric), f"is not a metric of {name}; its metrics: "
                                     f"{', '.join(declared)}")
                out.setdefault(name, []).append(self.metric(name, metric, entry))
        if not out:
            raise self.error("metrics", "is empty; a specification judges at least one metric")
        return out

    def metric(self, name: str, metric: str, entry) -> MetricLimit:
        parts = ("metrics", name, metric)
        entry = self.table(entry, *parts)
        self.known_keys(entry, METRIC_KEYS, *parts)
        for k in METRIC_KEYS:
            if k not in entry:
                raise self.error(key_path(*parts, k), "is missing")
        limit = entry["limit"]
        if limit == MODEL_LIMIT:
            limit = None
        elif isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit):
            raise self.error(key_path(*parts, "limit"), f"is {_type_name(limit)} {limit!r}; expected a finite "
                                                    f"number or {MODEL_LIMIT!r}")
        else:
            limit = float(limit)
        comparison = entry["comparison"]
        if comparison not in COMPARISONS:
            raise self.error(key_path(*parts, "comparison"), f"is {comparison!r}; allowed: {', '.join(COMPARISONS)}")
        if comparison == "abs<=" and limit is not None and limit < 0:
            raise self.error(key_path(*parts, "limit"), f"is {limit}; an 'abs<=' limit must be >= 0")
        source = self.string(entry["source"], *parts, "source")
        return MetricLimit(name, metric, limit, comparison, source)


__all__ = ["AcceptanceSpec", "ExperimentPlan", "MODEL_LIMIT", "MetricLimit", "SpecError", "default_spec_path",
           "key_path", "load_spec", "parse_spec"]
