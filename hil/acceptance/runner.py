"""Runs a specification's experiments on one board and judges them against it.

>>> spec = load_spec("specs/bss2-acceptance-v1.toml")
>>> with hil.backend.open("board", resource=resource) as board:
...     acceptance = run_acceptance(board, spec, store=ResultStore())
>>> acceptance.verdict, [j.key for j in acceptance.failed]

Every experiment run is stored as the experiment measured it (its own limits);
the judgement against the specification is the certificate's. The spec's
limits replace the experiments' own for the metrics it names; the other
metrics are carried along as the experiments reported them, outside the
verdict. An experiment that raises (the board refused a mode, the link
dropped) leaves its metrics unjudged: each counts as failed with the error.
"""
import dataclasses
import time
from dataclasses import dataclass

from drivers.board import ConfigurationLost, ConnectionLost, RunInterrupted
from drivers.errors import DriverError

from .. import __version__
from ..contract import experiment as experiments
from ..contract.errors import InvalidValue, RigError
from ..contract.result import ExperimentResult, Metric
from .spec import AcceptanceSpec, MetricLimit, SpecError, key_path

# What an experiment may raise because of the board rather than of the rig:
# refused or invalid requests, protocol and driver errors, a lost connection.
BOARD_ERRORS = (RigError, ValueError, DriverError, OSError)

UNREACHABLE = "board unreachable"
UNRELIABLE = "link unreliable"
"""The two link outcomes (docs/acceptance.md#cadc-capmem-labels-and-the-link): neither says anything
about the chip, so an acceptance that ends in one has no PASS/FAIL verdict."""


def link_outcome(exc: BaseException) -> str:
    """The link outcome an experiment's error means, or '' for an error of the chip or the rig.

    'board unreachable': the connection is gone and the driver's reconnect failed (or was refused);
    'link unreliable': the board answered too slowly (a time-out), or dropped a run or the
    configuration and the driver reconnected. Why a distinction: the first calls for cabling or
    power, the second for a link test; neither is a defect of the chip."""
    if isinstance(exc, (RunInterrupted, ConfigurationLost, TimeoutError)):
        return UNRELIABLE
    if isinstance(exc, ConnectionLost):
        # The driver's words say which (drivers/board.py): a board that answered, but not within the
        # time-out, or that dropped the connection again after a reconnect, is there but unreliable;
        # one that cannot be opened or reconnected to is not there.
        text = str(exc)
        return UNRELIABLE if " within " in text or "lost again" in text else UNREACHABLE
    if isinstance(exc, (ConnectionError, EOFError)) or (isinstance(exc, OSError) and exc.errno is not None):
        # A socket error the driver did not wrap (refused, reset, no route): nobody answers.
        return UNREACHABLE
    return ""


@dataclass(frozen=True)
class BoardIdentity:
    """Who was judged: the board's ``*IDN?`` answer and what its backend says of it."""

    vendor: str
    model: str
    serial: str
    firmware: str
    backend: str
    """Registered backend name ('board', 'emulator', ...)."""
    family: str


@dataclass(frozen=True)
class ExperimentRun:
    """One experiment of the specification, as it ran."""

    experiment: str
    params: dict
    """The parameters the spec set (the experiment's defaults filled the rest)."""
    result: ExperimentResult | None
    """None if it raised."""
    run_id: str | None
    """Its run in the results store (also for a run that raised), None without a store."""
    seconds: float
    error: str = ""
    """'<ExceptionType>: <message>' if it raised, else ''."""
    link: str = ""
    """The link outcome of its error (:func:`link_outcome`): 'board unreachable', 'link unreliable', or ''."""


@dataclass(frozen=True)
class JudgedMetric:
    """One metric of the specification, judged."""

    spec: MetricLimit
    """The specification's entry."""
    metric: Metric
    """Value, the limit it was judged with and the limit's source. After an error,
    the value is NaN and, for a ``"model"`` limit, the limit None."""
    experiment_limit: float | None = None
    """The experiment's own limit (None: it only reported the metric, or it raised)."""
    experiment_comparison: str = ""
    experiment_source: str = ""
    error: str = ""
    """The experiment's error if it raised, else ''."""

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.metric.passed)

    @property
    def status(self) -> str:
        """'pass', 'fail', or 'error' (the experiment raised; the metric counts as failed)."""
        return "error" if self.error else ("pass" if self.passed else "fail")


@dataclass(frozen=True)
class Acceptance:
    """The outcome of one acceptance run: what a certificate is written from."""

    spec: AcceptanceSpec
    identity: BoardIdentity
    started: str
    """UTC, ISO 8601: the certificate's date."""
    finished: str
    software_version: str
    runs: tuple[ExperimentRun, ...]
    judged: tuple[JudgedMetric, ...]
    """One per metric of the specification, in its order."""
    reported: tuple[tuple[str, Metric], ...]
    """(experiment, metric) the specification does not name, as the experiment reported them."""

    @property
    def passed(self) -> bool:
        return not self.link and all(j.passed for j in self.judged)

    @property
    def link(self) -> str:
        """'' if the link held; else the worst link outcome of the runs ('board unreachable' before
        'link unreliable'): the acceptance then says nothing about the chip."""
        outcomes = {r.link for r in self.runs} - {""}
        return UNREACHABLE if UNREACHABLE in outcomes else (UNRELIABLE if outcomes else "")

    @property
    def outcome(self) -> str:
        """'PASS', 'FAIL' (the chip's verdict), or 'BOARD UNREACHABLE' / 'LINK UNRELIABLE'."""
        return self.link.upper() if self.link else ("PASS" if self.passed else "FAIL")

    @property
    def verdict(self) -> str:
        """As :attr:`outcome`: a link outcome is never turned into a chip verdict."""
        return self.outcome

    @property
    def failed(self) -> tuple[JudgedMetric, ...]:
        return tuple(j for j in self.judged if not j.passed)

    def result(self, experiment: str) -> ExperimentResult | None:
        for r in self.runs:
            if r.experiment == experiment:
                return r.result
        raise KeyError(f"{experiment} is not an experiment of {self.spec.label}")

    def judgement(self, key: str) -> JudgedMetric:
        """The judged metric '<experiment>.<metric>'."""
        for j in self.judged:
            if j.key == key:
                return j
        raise KeyError(f"{key} is not judged by {self.spec.label}; it judges {[j.key for j in self.judged]}")


def board_identity(backend) -> BoardIdentity:
    """The board's identity: its ``*IDN?`` fields where the backend can ask, else its info."""
    info = backend.info()
    ask = getattr(backend, "identity", None)
    idn = ask() if callable(ask) else {}
    return BoardIdentity(vendor=idn.get("vendor", ""), model=idn.get("model", info.model),
                         serial=idn.get("serial", info.serial), firmware=idn.get("firmware", info.firmware),
                         backend=info.backend, family=info.family)


def run_acceptance(backend, spec: AcceptanceSpec, *, store=None, progress: bool = False,
                   on_run=None) -> Acceptance:
    """Runs every experiment of ``spec`` on ``backend`` and judges it.

    store: a :class:`hil.results.store.ResultStore` that keeps every run (None: nothing stored).
    on_run: called with each :class:`ExperimentRun` as it finishes (progress output).
    Raises :class:`SpecError` where the spec does not fit an experiment (a
    parameter it refuses, a metric it does not report as the spec says), and
    :class:`InvalidValue` for a board of another family.
    """
    identity = board_identity(backend)
    if identity.family != spec.family:
        raise InvalidValue("--spec", f"{spec.label} judges {spec.family} boards; {identity.serial} is a "
                                     f"{identity.family} board")
    started = experiments.now()
    ideal = backend.info().ideal
    runs, judged, reported = [], [], []
    link = ""
    for plan in spec.experiments:
        params = dict(plan.params)
        if link:
            # After a link outcome the rest is not run: its results would be the link's, not the chip's.
            judged += [_unjudged(spec, entry, f"not run: {link} earlier") for entry in plan.metrics]
            continue
        t0 = time.monotonic()
        try:
            result = experiments.run(plan.experiment, backend, store=store, progress=progress, **params)
            error = ""
        except BOARD_ERRORS as exc:
            if isinstance(exc, InvalidValue) and exc.field in params:
                # The experiment refused a parameter the spec set: the spec's fault, not the board's.
                raise SpecError(spec.path, key_path("experiments", plan.experiment, exc.field),
                                exc.problem) from None
            result, error, link = None, f"{type(exc).__name__}: {exc}", link_outcome(exc)
        run = ExperimentRun(plan.experiment, params, result, store.last_run_id if store is not None else None,
                            time.monotonic() - t0, error, link)
        runs.append(run)
        if result is None:
            judged += [_unjudged(spec, entry, error) for entry in plan.metrics]
        else:
            judged += [_judge(spec, entry, result, ideal) for entry in plan.metrics]
            named = {entry.metric for entry in plan.metrics}
            reported += [(plan.experiment, m) for m in result.metrics if m.name not in named]
        if on_run is not None:
            on_run(run)
    return Acceptance(spec=spec, identity=identity, started=started, finished=experiments.now(),
                      software_version=__version__, runs=tuple(runs), judged=tuple(judged),
                      reported=tuple(reported))


def limit_source(spec: AcceptanceSpec, entry: MetricLimit, experiment_source: str = "") -> str:
    """The source a judged metric cites: the spec (name, version, file) and its entry's source;
    for a ``"model"`` limit also the experiment's own source of it."""
    text = f"{spec.label} ({spec.file_name}): {entry.source}"
    if entry.from_model and experiment_source:
        text += f"; limit from the experiment: {experiment_source}"
    return text


def _judge(spec: AcceptanceSpec, entry: MetricLimit, result: ExperimentResult, ideal: bool) -> JudgedMetric:
    try:
        m = result.metric(entry.metric)
    except KeyError:
        raise SpecError(spec.path, key_path("metrics", entry.experiment, entry.metric),
                        f"is not a metric {entry.experiment} reported; it reported "
                        f"{[x.name for x in result.metrics]}") from None
    if entry.from_model:
        if not m.judged and ideal:
            # An ideal chip has no noise for the model to set a limit on: it cannot be judged
            # by it, so the metric fails, with the experiment's reason.
            return _unjudged(spec, entry, f"{entry.experiment} sets no model limit for {entry.metric} on an "
                                          f"ideal chip: {m.detail}")
        if not m.judged:
            raise SpecError(spec.path, key_path("metrics", entry.experiment, entry.metric, "limit"),
                            f"is 'model', but {entry.experiment} reports {entry.metric} without a limit of its "
                            "own; give a number")
        if m.comparison != entry.comparison:
            raise SpecError(spec.path, key_path("metrics", entry.experiment, entry.metric, "comparison"),
                            f"is {entry.comparison!r}, but {entry.experiment} judges {entry.metric} with "
                            f"{m.comparison!r} against its own limit")
        limit = m.limit
    else:
        limit = entry.limit
    judged = dataclasses.replace(m, limit=limit, comparison=entry.comparison,
                                 source=limit_source(spec, entry, m.source))
    return JudgedMetric(entry, judged, m.limit, m.comparison if m.judged else "", m.source)


def _unjudged(spec: AcceptanceSpec, entry: MetricLimit, error: str) -> JudgedMetric:
    metric = Metric(entry.metric, float("nan"), entry.limit, entry.comparison, limit_source(spec, entry),
                    detail=f"not measured: {error}")
    return JudgedMetric(entry, metric, error=error)


__all__ = ["UNREACHABLE", "UNRELIABLE", "Acceptance", "BoardIdentity", "ExperimentRun", "JudgedMetric",
           "board_identity", "limit_source", "link_outcome", "run_acceptance"]
