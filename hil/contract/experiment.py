"""The registry of experiments and the runner that gives every run its context
and stores it.

>>> result = hil.experiment.run("bss2.mac_noise", backend, store=store, repeats=100)
"""
import datetime as _dt
import functools
import inspect
import subprocess
from pathlib import Path
from typing import Callable

from .. import __version__
from .errors import InvalidValue, UnknownExperiment, Unsupported
from .result import ExperimentResult, RunContext
from .validation import integer, real

_EXPERIMENTS: dict[str, Callable[..., ExperimentResult]] = {}
_BUILTIN_MODULES = ("hil.bss2.experiments", "hil.dynapse2.experiments", "hil.crossbar.experiments")


def experiment(name: str, *, mode: str | None = None, metrics: tuple[str, ...] | None = None,
               params: dict[str, tuple[float, float]] | None = None):
    """Function decorator: registers an experiment ``f(backend, *, progress=False, **params)``.

    mode: the operating mode it runs the device in (``"mac"``, ``"cadc"``; None: any). On a
    device that does not declare it in ``info().modes`` the run fails with
    :class:`Unsupported` before the experiment starts (and is stored as failed); a suite skips
    it by that declaration, never by the backend's name.

    metrics: the names of every metric it reports, judged or not. Declared,
    they let a specification file naming them be checked before anything runs,
    and :func:`run` refuses a result whose metrics differ from them.

    params: the allowed range ``(lo, hi)`` (inclusive) of every int or float
    parameter. Each call is checked against them before the experiment starts,
    so a bad value is refused before anything runs and nothing is stored; a
    parameter without a declared range is refused at registration.
    """

    def deco(f):
        if name in _EXPERIMENTS and _EXPERIMENTS[name] is not f:
            raise ValueError(f"experiment {name!r} is registered twice")
        ranges = dict(params or {})
        scalars = _scalar_defaults(f, ranges)
        undeclared = sorted(set(scalars) - set(ranges))
        unknown = sorted(set(ranges) - set(scalars))
        if undeclared or unknown:
            raise ValueError(f"experiment {name!r}: declare a range for every scalar parameter; "
                             f"missing {undeclared}, not parameters {unknown}")

        @functools.wraps(f)
        def checked(backend, **kwargs):
            return f(backend, **check_params(name, ranges, scalars, kwargs))

        checked.experiment_name = name
        checked.mode = mode
        checked.metric_names = tuple(metrics) if metrics is not None else None
        checked.param_ranges = ranges
        for p, default in scalars.items():   # a default outside its own range is a bug here
            check_params(name, ranges, scalars, {p: default})
        _EXPERIMENTS[name] = checked
        return checked

    return deco


def _is_scalar(default) -> bool:
    return isinstance(default, (int, float)) and not isinstance(default, bool)


def _scalar_defaults(f, ranges: dict) -> dict:
    """The int and float parameters of ``f`` and their defaults; a parameter with a declared
    range and the default None (the device's own default, e.g. every row it has) among them."""
    sig = inspect.signature(f)
    return {p.name: p.default for p in list(sig.parameters.values())[1:]
            if _is_scalar(p.default) or (p.default is None and p.name in ranges)}


def check_params(name: str, ranges: dict, defaults: dict, params: dict) -> dict:
    """``params`` checked against the declared ranges: whole numbers for int parameters,
    finite numbers for float ones; raises :class:`InvalidValue` naming the parameter."""
    checked = dict(params)
    for p, value in params.items():
        if p not in ranges or (value is None and defaults[p] is None):   # None: the device's default
            continue
        lo, hi = ranges[p]
        field = f"{name}: {p}"
        whole = isinstance(defaults[p], int) or (defaults[p] is None and isinstance(lo, int))
        checked[p] = integer(field, value, lo=lo, hi=hi) if whole else real(field, value, lo=lo, hi=hi)
    return checked


def _load_builtins() -> None:
    import importlib

    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def names() -> list[str]:
    _load_builtins()
    return sorted(_EXPERIMENTS)


def get(name: str) -> Callable[..., ExperimentResult]:
    _load_builtins()
    try:
        return _EXPERIMENTS[name]
    except KeyError:
        raise UnknownExperiment(f"no experiment {name!r}; available: {sorted(_EXPERIMENTS)}") from None


def parameters(name: str) -> dict:
    """The experiment's scalar parameters and their defaults (what a command line may set)."""
    f = get(name)
    sig = inspect.signature(f)
    return {p.name: p.default for p in list(sig.parameters.values())[1:]
            if (isinstance(p.default, (int, float, str)) and not isinstance(p.default, bool))
            or (p.default is None and p.name in f.param_ranges)}


def signature_parameters(name: str) -> tuple[str, ...]:
    """Every keyword parameter of experiment ``name``, scalar or not (``spec`` among them)."""
    return tuple(list(inspect.signature(get(name)).parameters)[1:])


def parameter_ranges(name: str) -> dict[str, tuple[float, float]]:
    """The declared ``(lo, hi)`` of each int or float parameter of experiment ``name``."""
    return dict(get(name).param_ranges)


def family(name: str) -> str | None:
    """The chip family experiment ``name`` is for: its name's first part (``dynapse2.routing``: dynapse2),
    if that is a family a backend opens; else None (an experiment of any family)."""
    from .backend import families

    prefix = get(name).experiment_name.partition(".")[0]
    return prefix if prefix in families() else None


def mode(name: str) -> str | None:
    """The operating mode experiment ``name`` runs the device in (None: it needs none)."""
    return get(name).mode


def metric_names(name: str) -> tuple[str, ...] | None:
    """The metrics experiment ``name`` declares it reports (None: it declares none)."""
    return getattr(get(name), "metric_names", None)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=1)
def software_commit() -> str:
    """The git commit of this checkout of the rig, '+dirty' if it has uncommitted changes;
    '' when the rig is not run from a git checkout (an installed copy)."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def context(backend, started: str, first_run: int | None = None) -> RunContext:
    """The run's context: the device's identity, the software, the times and the run-counter
    range from ``first_run`` (the counter before the experiment) to the counter now."""
    i = backend.info()
    stop = run_counter(backend)
    return RunContext(backend=i.backend, family=i.family, serial=i.serial, model=i.model,
                      firmware=i.firmware, software_version=__version__, started=started,
                      finished=now(), ideal=i.ideal, faults=i.faults, software_commit=software_commit(),
                      run_counter_first=first_run if stop is not None else None,
                      run_counter_stop=stop if first_run is not None else None,
                      run_counter_kind=getattr(backend, "run_counter_kind", "") if first_run is not None else "",
                      geometry=dict(i.geometry))


def run_counter(backend) -> int | None:
    """The device's run counter, or None where it keeps none or cannot tell now (a board that
    went away: the run's own failure is what its record must say)."""
    try:
        return getattr(backend, "run_counter", None)
    except Exception:
        return None


def run(name: str, backend, *, store=None, progress: bool = False, **params) -> ExperimentResult:
    """Runs a registered experiment on ``backend``; stores the result (or the failure) in ``store``."""
    f = get(name)
    unknown = sorted(set(params) - set(inspect.signature(f).parameters) - {"progress"})
    if unknown:
        raise InvalidValue(name, f"no parameters {unknown}; its parameters: {', '.join(parameters(name))}")
    # Checked before the run starts: a refused parameter is not a failed run, and is not stored.
    params = check_params(name, f.param_ranges, _scalar_defaults(f, f.param_ranges), params)
    started = now()
    first_run = run_counter(backend)
    try:
        # A device without the mode fails the run, stored as such (acceptance fails that board).
        if f.mode is not None and f.mode not in backend.info().modes:
            raise Unsupported(f"experiment {name} runs in the {f.mode!r} mode; {backend!r} runs "
                              f"{list(backend.info().modes)}")
        # The parameters are checked above: the experiment itself, not its checking wrapper.
        result = f.__wrapped__(backend, progress=progress, **params)
    except Exception as exc:
        if store is not None:
            store.record_failure(name, context(backend, started, first_run), params, exc)
        raise
    declared = getattr(f, "metric_names", None)
    if declared is not None and [m.name for m in result.metrics] != list(declared):
        raise RuntimeError(f"experiment {name} reported the metrics {[m.name for m in result.metrics]}, "
                           f"not the ones it declares: {list(declared)}")
    result = result.with_context(context(backend, started, first_run))
    if store is not None:
        store.save(result)
    return result
