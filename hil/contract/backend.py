"""The Backend contract, and the one registry of backends.

>>> backend = hil.backend.open("emulator")                    # the embedded default
>>> backend = hil.backend.open("emulator", serial="EMU-0007", ideal=True)
>>> backend.family, backend.info()
>>> backend.configure(config); readout = backend.run(stimulus); backend.close()

A backend declares what it supports in :meth:`Backend.info` and refuses the
rest with :class:`hil.errors.Unsupported`.
"""
import abc
import importlib
from dataclasses import dataclass, field
from typing import Callable

from .errors import BackendClosed, UnknownBackend, Unsupported

VENDOR = "hil-rig"
"""The vendor field of ``*IDN?`` for every device this rig itself provides (virtual boards, RTL)."""


@dataclass(frozen=True)
class DeviceInfo:
    """Identity and abilities of whatever is behind a backend."""

    backend: str
    """Registered backend name: 'emulator', 'board', 'rtl'."""
    family: str
    """Chip family, e.g. 'bss2'."""
    serial: str
    model: str
    firmware: str
    """Firmware, emulator or RTL version."""
    geometry: dict = field(default_factory=dict)
    """Family-specific sizes, e.g. {'hemispheres': 2, 'neurons': 512, ...}."""
    modes: tuple[str, ...] = ()
    """Operating modes this backend runs, e.g. ('mac',)."""
    ideal: bool = False
    """True for a device without mismatch or noise (equals the analytical model)."""
    faults: dict | None = None
    """The faults injected into the device as a JSON-able dict (an emulated chip's
    :class:`emulator.bss2.Faults`; empty lists: healthy), None where the backend cannot tell."""


class Backend(abc.ABC):
    """One device: configure it, run stimuli on it, read results back."""

    name: str = ""
    """The registry name (set by :func:`register`)."""

    def __init__(self):
        self._closed = False

    @property
    def family(self) -> str:
        return self.info().family

    @abc.abstractmethod
    def info(self) -> DeviceInfo: ...

    @abc.abstractmethod
    def configure(self, config) -> None:
        """Writes a family Config (weights, trims, neuron settings ...) to the device."""

    @abc.abstractmethod
    def run(self, stimulus):
        """Runs a family Stimulus on the configured device and returns its Readout."""

    @property
    def run_counter(self) -> int | None:
        """The device's run counter now: the run its next run will be (it keys the
        temporal noise of an emulated chip); None where the backend cannot tell."""
        return None

    run_counter_kind: str = ""
    """How :attr:`run_counter` is known: 'chip' (the device's own counter) or 'client'
    (the runs this backend issued since it opened; see :class:`hil.backends.board.BoardBackend`)."""

    def configure_and_run(self, config, stimulus):
        """``configure(config)`` then ``run(stimulus)``; a backend may do both in one
        round trip (the board backend does)."""
        self.configure(config)
        return self.run(stimulus)

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise BackendClosed(f"the {self.name} backend is closed")

    def _unsupported(self, what, modes: tuple[str, ...]):
        return Unsupported(
            f"the {self.name} backend ({self.info().model}) cannot run {type(what).__name__}; "
            f"it supports the modes {list(modes)}"
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self) -> str:
        i = self.info()
        return f"<{type(self).__name__} {i.family} {i.serial} ({i.model})>"


DEFAULT_FAMILY = "bss2"
"""The family ``open`` gives when none is named."""

ANY_FAMILY = "*"
"""The family of a backend that carries whichever family its device holds (a board): it learns the
family from the device, and ``open(..., family=F)`` refuses a device of another."""

_REGISTRY: dict[tuple[str, str], Callable[..., Backend]] = {}
# Built-in backends, imported on first use so that `import hil` stays light and
# a backend whose tools are missing does not break the others.
_BUILTIN = {("emulator", "bss2"): "hil.backends.emulator", ("emulator", "dynapse2"): "hil.backends.emulator",
            ("emulator", "crossbar"): "hil.backends.emulator",
            ("board", ANY_FAMILY): "hil.backends.board", ("model", "bss2"): "hil.backends.model",
            ("rtl", "bss2"): "hil.backends.rtl",
            ("rtl", "dynapse2"): "hil.rtl.dynapse2.backend"}


def register(name: str, family: str = DEFAULT_FAMILY):
    """Class decorator: makes ``open(name, family=family, ...)`` construct this backend; ``family``
    :data:`ANY_FAMILY` for a backend that serves every family (it is given ``family=`` to check)."""

    def deco(cls):
        cls.name = name
        _REGISTRY[(name, family)] = cls
        return cls

    return deco


def available() -> list[str]:
    """Names ``open`` accepts."""
    return sorted({n for n, _ in _REGISTRY} | {n for n, _ in _BUILTIN})


def families(name: str | None = None) -> list[str]:
    """The chip families ``open`` knows (for backend ``name``: the ones it opens; '*' for any)."""
    keys = set(_REGISTRY) | set(_BUILTIN)
    return sorted({f for n, f in keys if (name is None or n == name) and f != ANY_FAMILY})


def open(name: str = "emulator", *, family: str | None = None, **options) -> Backend:  # noqa: A001 - mirrors the builtin
    """Opens the backend registered as ``name`` for chip ``family`` (default: bss2; a board: whatever
    family it holds, checked against ``family`` if given) with its options."""
    for key in ((name, family or DEFAULT_FAMILY), (name, ANY_FAMILY)):
        if key not in _REGISTRY and key in _BUILTIN:
            importlib.import_module(_BUILTIN[key])
        if key in _REGISTRY:
            if key[1] == ANY_FAMILY:
                return _REGISTRY[key](family=family, **options)
            return _REGISTRY[key](**options)
    if name not in available():
        raise UnknownBackend(f"no backend {name!r}; available: {available()}")
    raise UnknownBackend(f"the {name} backend has no family {family!r}; its families: {families(name)}")
