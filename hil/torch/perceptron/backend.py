"""Which devices the forward pass of ``matmul`` runs on (docs/torch.md#backends).

>>> perceptron.init()                        # the embedded emulated chip (the default)
>>> perceptron.init(hil.backend.open("board", resource=...))
>>> perceptron.init(load_inventory("inventory.toml"))   # every board of an inventory
>>> with perceptron.init(chip_a, chip_b):    # several chips: blocks run on them in parallel
...     y = perceptron.matmul(x, W)
>>> perceptron.release()

Backends given as objects stay the caller's (``release`` does not close them); those
this module opens (a name, an inventory, the default) it closes on ``release``.
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from drivers.inventory import Inventory

from ...contract.backend import Backend, open as open_backend
from ...contract.errors import InvalidValue
from .. import session as _session
from .partition import product

_slot = _session.Slot()


class Session(_session.Session):
    """The devices ``matmul`` runs on, from :func:`init` until :func:`release`; also a
    context manager that releases them on exit."""

    slot = _slot

    def __init__(self, backends: tuple[Backend, ...], owned: tuple[Backend, ...]):
        self.backends = backends
        """The devices, in the order given; the blocks of a product are dealt out in this order."""
        self._owned = owned
        self._locks = tuple(threading.Lock() for _ in backends)
        # One worker per device: each device serves one block at a time.
        self._pool = ThreadPoolExecutor(len(backends), "hil-torch") if len(backends) > 1 else None

    def product(self, x: np.ndarray, W: np.ndarray, num_sends: int, wait_between_events: int) -> np.ndarray:
        """``x @ W`` on the session's devices (:func:`hil.torch.perceptron.partition.product`)."""
        return product(self.backends, self._locks, self._pool, x, W, num_sends, wait_between_events)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for b in self._owned:
            b.close()

    def __repr__(self) -> str:
        return f"<hil.torch.perceptron session on {list(self.backends)}>"


def _devices(spec, opened: list) -> list[Backend]:
    if isinstance(spec, Backend):
        return [spec]
    if isinstance(spec, str):
        opened.append(open_backend(spec))
        return [opened[-1]]
    if isinstance(spec, Inventory):
        boards = []
        for board in spec:
            boards.append(open_backend("board", resource=board.resource, expected_serial=board.serial))
            opened.append(boards[-1])
        return boards
    if isinstance(spec, (list, tuple)):
        return [b for s in spec for b in _devices(s, opened)]
    raise InvalidValue("backend", f"{spec!r} is not a Backend, a backend name, an Inventory or a list of them")


def init(*backends) -> Session:
    """Runs the forward pass of ``matmul`` on ``backends`` from now on, and returns the
    session (a context manager that releases it).

    Each argument is a :class:`hil.backend.Backend`, a registered backend name (opened
    with its defaults: ``"emulator"`` is the embedded emulated chip), a
    :class:`drivers.inventory.Inventory` (each of its boards is opened and leased), or a
    list of these. None given: the embedded emulated chip. A session already active is
    released first.
    """
    opened: list[Backend] = []
    try:
        devices = _devices(list(backends) or ["emulator"], opened)
        if not devices:
            raise InvalidValue("backend", "no device given (an empty inventory or list)")
        if len({id(d) for d in devices}) != len(devices):
            raise InvalidValue("backend", "the same device is given twice; each serves its own blocks")
    except BaseException:
        for b in opened:
            b.close()
        raise
    return _slot.install(Session(tuple(devices), tuple(opened)))


def release(session: Session | None = None) -> None:
    """Ends the active session (or ``session``, if it is the active one): closes the devices
    it opened. The next ``matmul`` opens the embedded emulated chip again."""
    _slot.release(session)


def active() -> Session:
    """The active session; the embedded emulated chip if none was initialised."""
    session = _slot.active
    return session if session is not None else init()
