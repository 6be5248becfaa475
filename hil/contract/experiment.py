"""The registry of experiments and the runner that gives every run its context
and stores it.

>>> result = hil.experiment.run("bss2.mac_noise", backend, store=store, repeats=100)
"""
import datetime as _dt
import inspect
from typing import Callable

from .. import __version__
from .errors import UnknownExperiment
from .result import ExperimentResult, RunContext

_EXPERIMENTS: dict[str, Callable[..., ExperimentResult]] = {}
_BUILTIN_MODULES = ("hil.bss2.experiments",)


def experiment(name: str, *, metrics: tuple[str, ...] | None = None):
    """Function decorator: registers an experiment ``f(backend, *, progress=False, **params)``.

    metrics: the names of every metric it reports, judged or not. Declared,
    they let a specification file naming them be checked before anything runs,
    and :func:`run` refuses a result whose metrics differ from them.
    """

    def deco(f):
        if name in _EXPERIMENTS and _EXPERIMENTS[name] is not f:
            raise ValueError(f"experiment {name!r} is registered twice")
        f.experiment_name = name
        f.metric_names = tuple(metrics) if metrics is not None else None
        _EXPERIMENTS[name] = f
        return f

    return deco


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
    sig = inspect.signature(get(name))
    return {p.name: p.default for p in list(sig.parameters.values())[1:]
            if isinstance(p.default, (int, float, str)) and not isinstance(p.default, bool)}


def metric_names(name: str) -> tuple[str, ...] | None:
    """The metrics experiment ``name`` declares it reports (None: it declares none)."""
    return getattr(get(name), "metric_names", None)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def context(backend, started: str) -> RunContext:
    i = backend.info()
    return RunContext(backend=i.backend, family=i.family, serial=i.serial, model=i.model,
                      firmware=i.firmware, software_version=__version__, started=started,
                      finished=now())


def run(name: str, backend, *, store=None, progress: bool = False, **params) -> ExperimentResult:
    """Runs a registered experiment on ``backend``; stores the result (or the failure) in ``store``."""
    f = get(name)
    started = now()
    try:
        result = f(backend, progress=progress, **params)
    except Exception as exc:
        if store is not None:
            store.record_failure(name, context(backend, started), params, exc)
        raise
    declared = getattr(f, "metric_names", None)
    if declared is not None and [m.name for m in result.metrics] != list(declared):
        raise RuntimeError(f"experiment {name} reported the metrics {[m.name for m in result.metrics]}, "
                           f"not the ones it declares: {list(declared)}")
    result = result.with_context(context(backend, started))
    if store is not None:
        store.save(result)
    return result
