"""The one active session of a torch frontend (``hil.torch.perceptron``, ``hil.torch.spiking``): the
devices its runs go to from ``init`` until ``release``.

Each frontend keeps one :class:`Slot`; its sessions derive from :class:`Session`, which closes what
the session opened and, as a context manager, releases itself on exit. Installing a session releases
the one active before it; releasing a session that is no longer active does nothing."""
import threading


class Session:
    """A frontend's session; subclasses set ``slot`` and implement :meth:`close`."""

    slot: "Slot"

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.slot.release(self)
        return False


class Slot:
    """Where a frontend's active session lives (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active: Session | None = None

    def install(self, session: Session) -> Session:
        """Makes ``session`` the active one, closing the one it replaces; returns it."""
        with self._lock:
            previous, self._active = self._active, session
        if previous is not None:
            previous.close()
        return session

    def release(self, session: Session | None = None) -> None:
        """Ends the active session (or ``session``, if it is the active one) and closes it."""
        with self._lock:
            if self._active is None or (session is not None and session is not self._active):
                return
            previous, self._active = self._active, None
        previous.close()

    @property
    def active(self) -> Session | None:
        return self._active
