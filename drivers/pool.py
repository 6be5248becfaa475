"""The board pool: lease a free board out of an inventory.

>>> board, driver = lease_any(load_inventory("inventory.toml"), "pytest-gw2-4711", start=2)
>>> with LeaseKeeper(driver, "pytest-gw2-4711"):     # refreshes the lease while tests run
...     ...                                           # closing it releases the lease

A board belongs to whoever holds its lease (``LOCK <token>``, docs/protocol.md):
the board grants it atomically, so two callers racing for one board never both
get it, and a board leased by someone else is skipped. The pool's lease is
taken with ``LOCK <token>,KEEP``, so that it outlives the connection that took
it (the holder's backends join it from connections of their own). It expires
when every connection holding it has been quiet for the board's lease time-out
(60 s by default), so a crashed owner does not block a board for long; an owner
that may stay quiet longer keeps the lease alive with :class:`LeaseKeeper`.
"""
import threading
import warnings

from .board import DEFAULT_TIMEOUT_S, BoardDriver, BoardError
from .errors import DriverError
from .inventory import Board, Inventory, failure_reason

LEASED_BY_OTHER = 100
"""The board's error code for "leased by another owner" (docs/protocol.md)."""


class NoFreeBoard(DriverError, RuntimeError):
    """No board of the pool could be leased.

    ``states`` lists every board tried with why it was not taken
    (``leased by another owner``, ``unreachable: ...``, ``wrong serial: ...``).
    """

    def __init__(self, message: str, token: str, states: list[tuple[Board, str]]):
        self.token = token
        self.states = states
        super().__init__(message)


class BoardSkipped(UserWarning):
    """A board of the pool was passed over for a reason its owner should fix
    (unreachable, wrong serial or family), not because someone else leased it."""


class WrongBoard(DriverError):
    """The board at an inventory's resource is not the board the inventory names there."""

    def __init__(self, board: Board, problem: str):
        self.board = board
        self.problem = problem
        super().__init__(f"{board.name} ({board.resource}): {problem}")


def lease(board: Board, token: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> BoardDriver:
    """Connects to ``board``, checks its serial and family, and leases it for ``token``.

    Returns the driver that holds the lease (closing it releases the lease).
    Raises :class:`~drivers.board.BoardError` with code 100 if another token
    holds the lease, :class:`WrongBoard` if the board is not the one the
    inventory names, and the driver's errors if it cannot be reached.
    """
    driver = BoardDriver(board.resource, timeout_s=timeout_s)
    try:
        answered = driver.identity().serial
        if board.serial is not None and answered != board.serial:
            raise WrongBoard(board, f"wrong serial: answers {answered!r}, the inventory says {board.serial!r}")
        if board.family is not None:
            family = driver.family()
            if family != board.family:
                raise WrongBoard(board, f"wrong family: answers {family!r}, the inventory says {board.family!r}")
        driver.lock(token, keep=True)      # the keeper refreshes it from a connection of its own
    except BaseException:
        driver.close()
        raise
    return driver


def lease_any(inventory: Inventory, token: str, family: str | None = None, *, start: int = 0,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[Board, BoardDriver]:
    """Leases the first free board of ``inventory`` (of ``family``, if given) for ``token``.

    The boards are tried in the inventory's order, beginning at index
    ``start`` (modulo their number) and wrapping around, so that callers
    starting at different offsets (the pytest-xdist worker index) spread over
    the boards instead of all racing for the first. A board that is leased by
    another token, unreachable, or answers another serial or family than the
    inventory's is skipped (the last two with a :class:`BoardSkipped` warning).

    Returns ``(board, driver)``; the driver holds the lease, and closing it
    releases the lease. Raises :class:`NoFreeBoard`, listing what each board
    said, when none could be leased.
    """
    boards = inventory.of_family(family)
    where = f" in {inventory.path}" if inventory.path else ""
    if not boards:
        families = sorted({b.family for b in inventory if b.family}) or ["(none)"]
        raise NoFreeBoard(f"no board of family {family!r}{where}; its families: {', '.join(families)}",
                          token, [])
    n = len(boards)
    order = [boards[(start + i) % n] for i in range(n)]
    states: list[tuple[Board, str]] = []
    for board in order:
        try:
            return board, lease(board, token, timeout_s=timeout_s)
        except BoardError as exc:
            if exc.code == LEASED_BY_OTHER:
                states.append((board, "leased by another owner"))
                continue
            state = f"refused the lease: {exc}"
        except WrongBoard as exc:
            state = exc.problem
        except Exception as exc:     # unreachable; pyvisa-py raises bare Exceptions for some of it
            state = f"unreachable: {failure_reason(exc, timeout_s)}"
        states.append((board, state))
        warnings.warn(BoardSkipped(f"board {board.name} ({board.resource}) skipped: {state}"), stacklevel=2)
    of = f" of family {family!r}" if family is not None else ""
    listing = "; ".join(f"{b.name} ({b.resource}): {s}" for b, s in states)
    raise NoFreeBoard(f"no free board{of}{where} for {token!r} among {n}: {listing}", token, states)


class LeaseKeeper:
    """Keeps a lease alive: re-sends ``LOCK <token>,KEEP`` on ``driver`` every ``interval_s``.

    The default interval is a third of the board's lease time-out (``SYST:LIM?``),
    so one lost refresh does not lose the lease. The keeper owns the driver from
    then on: no one else may use it (a driver is not thread-safe). ``close()``
    stops the refreshes and closes the driver, which releases the lease.
    A failed refresh is kept in ``error`` (the next one is still tried).
    """

    def __init__(self, driver: BoardDriver, token: str, interval_s: float | None = None):
        if interval_s is None:
            try:
                interval_s = float(driver.limits()["lease_timeout_s"]) / 3
            except (DriverError, KeyError, ValueError, TypeError):
                interval_s = 20.0
        if not interval_s > 0:
            raise ValueError(f"interval_s: {interval_s!r} must be > 0 seconds")
        self.driver = driver
        self.token = token
        self.interval_s = interval_s
        self.refreshes = 0
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-keeper-{token}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.driver.lock(self.token, keep=True)
                self.refreshes += 1
            except Exception as exc:     # report, and try again at the next interval
                self.error = exc

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.driver.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
