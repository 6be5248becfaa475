"""Which device an experiment in the loop runs on (docs/torch.md#spiking).

>>> spiking.init()                                   # the embedded emulated chip (the default)
>>> spiking.init(hil.backend.open("emulator", serial="EMU-0007"))
>>> spiking.init("board")                            # a backend name, opened with its defaults
>>> spiking.release()

As ``hil.torch.perceptron.init``: a device given as an object stays the caller's
(``release`` does not close it); one this module opens (a name, the default) it closes
on ``release``. Without ``init``, the first run in the loop opens the embedded emulated
chip (``hil.backend.open("emulator")``) and keeps it, so its run counter (which keys its
temporal noise) advances from run to run as a chip's does. An :class:`Experiment` given
its own ``backend`` uses that instead.
"""
from ...contract.backend import Backend, open as open_backend
from ...contract.errors import InvalidValue, Unsupported
from .. import session as _session

MODE = "spiking"
_slot = _session.Slot()


class Session(_session.Session):
    """The device experiments run on, from :func:`init` until :func:`release`; also a context
    manager that releases it on exit."""

    slot = _slot

    def __init__(self, device: Backend, owned: bool):
        self.device = device
        self._owned = owned

    def close(self) -> None:
        if self._owned:
            self.device.close()

    def __repr__(self) -> str:
        return f"<hil.torch.spiking session on {self.device!r}>"


def device_of(spec) -> tuple[Backend, bool]:
    """(device, opened here) of a Backend or a backend name; refuses a device without the spiking mode."""
    if isinstance(spec, Backend):
        device, owned = spec, False
    elif isinstance(spec, str):
        device, owned = open_backend(spec), True
    else:
        raise InvalidValue("backend", f"{spec!r} is not a hil.backend.Backend or a backend name")
    modes = device.info().modes
    if MODE not in modes:
        if owned:
            device.close()
        raise Unsupported(f"{device!r} does not run the spiking mode (it runs {list(modes)})")
    return device, owned


def init(backend="emulator") -> Session:
    """Runs experiments in the loop on ``backend`` (a :class:`hil.backend.Backend` or a backend
    name; default: the embedded emulated chip) from now on; returns the session. A session
    already active is released first."""
    device, owned = device_of(backend)
    return _slot.install(Session(device, owned))


def release(session: Session | None = None) -> None:
    """Ends the active session (or ``session``, if it is the active one), closing a device it opened."""
    _slot.release(session)


def active() -> Backend:
    """The active session's device; the embedded emulated chip (opened now) if none was initialised."""
    session = _slot.active
    return (session if session is not None else init()).device
