"""The board inventory: which boards a lab has, where they are and who they should be.

An inventory is a TOML file with one ``[[board]]`` table per board
(docs/boards.md)::

    [[board]]
    name = "bench-1"                              # how people and `--board` call it
    resource = "TCPIP::10.0.0.5::5025::SOCKET"    # where it answers (docs/protocol.md)
    serial = "BSS2-0042"                          # what its *IDN? must answer
    family = "bss2"                               # its chip family
    description = "rack 2, slot 3"                # optional

>>> inventory = load_inventory("inventory.toml")
>>> board = inventory.find("bench-1")            # by name or by resource
>>> probe(board).status                          # 'ok', 'wrong serial', 'unreachable: ...'

Knows nothing of chip families beyond their names; the pool that leases
boards out of an inventory is :mod:`drivers.pool`.
"""
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .board import DEFAULT_TIMEOUT_S, BoardDriver, Identity
from .errors import DriverError

ENV_INVENTORY = "HIL_INVENTORY"
"""Environment variable naming the default inventory file."""
DEFAULT_INVENTORY = "inventory.toml"
"""The default inventory file, in the working directory, when $HIL_INVENTORY is not set."""

RESOURCE = re.compile(r"^TCPIP::(?P<host>[^:\s]+)::(?P<port>\d{1,5})::SOCKET$")
"""What a board's resource must look like: ``TCPIP::<host>::<port>::SOCKET``."""
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""What a board's name may look like (so that it can never be mistaken for a resource)."""
FAMILY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

_REQUIRED = ("name", "resource", "serial", "family")
_OPTIONAL = ("description",)


class InventoryError(DriverError, ValueError):
    """An inventory file is missing, not TOML, or has a bad entry.

    ``path`` is the file, ``board`` the entry as ``'name' (#N)`` (N counts the
    ``[[board]]`` tables from 1; just ``#N`` when it has no usable name), ``key``
    the offending key (None when the problem is not one key).
    """

    def __init__(self, path, problem: str, *, board: str | None = None, key: str | None = None):
        self.path = str(path)
        self.board = board
        self.key = key
        self.problem = problem
        where = self.path
        if board is not None:
            where += f": board {board}"
        if key is not None:
            where += f": key {key!r}"
        super().__init__(f"{where}: {problem}")


class UnknownBoard(DriverError, LookupError):
    """No board of the inventory has that name or resource."""


@dataclass(frozen=True)
class Board:
    """One board of an inventory.

    A board given by its resource alone (``pytest --board TCPIP::...``) has no
    expected serial and no family: ``serial`` and ``family`` are None, and
    nothing is checked.
    """

    name: str
    resource: str
    """VISA resource, ``TCPIP::<host>::<port>::SOCKET``."""
    serial: str | None
    """The serial its ``*IDN?`` must answer."""
    family: str | None
    """Its chip family, e.g. ``bss2``."""
    description: str = ""

    @classmethod
    def from_resource(cls, resource: str) -> "Board":
        """An ad-hoc board known only by its resource (checked for form)."""
        problem = resource_problem(resource)
        if problem is not None:
            raise ValueError(f"board resource {resource!r}: {problem}")
        return cls(name=resource, resource=resource, serial=None, family=None)


def resource_problem(resource: str) -> str | None:
    """Why ``resource`` is not a ``TCPIP::<host>::<port>::SOCKET`` resource, or None if it is one."""
    m = RESOURCE.match(resource)
    if m is None:
        return f"{resource!r} is not of the form TCPIP::<host>::<port>::SOCKET"
    if not 1 <= int(m["port"]) <= 65535:
        return f"port {int(m['port'])} of {resource!r} is outside 1..65535"
    return None


def is_resource(text: str) -> bool:
    """Whether ``text`` is a board resource (rather than a board name)."""
    return resource_problem(text) is None


class Inventory:
    """The boards of one inventory file, in the file's order."""

    def __init__(self, boards, path: str | os.PathLike | None = None):
        self.boards: tuple[Board, ...] = tuple(boards)
        self.path = str(path) if path is not None else None

    def __iter__(self):
        return iter(self.boards)

    def __len__(self) -> int:
        return len(self.boards)

    def __repr__(self) -> str:
        return f"Inventory({[b.name for b in self.boards]}, path={self.path!r})"

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.boards]

    def find(self, name_or_resource: str) -> Board:
        """The board with this name, else the one at this resource; :class:`UnknownBoard` if none."""
        for b in self.boards:
            if b.name == name_or_resource:
                return b
        for b in self.boards:
            if b.resource == name_or_resource:
                return b
        where = f" in {self.path}" if self.path else ""
        raise UnknownBoard(f"no board named or at {name_or_resource!r}{where}; "
                           f"boards: {', '.join(self.names) or '(none)'}")

    def of_family(self, family: str | None) -> list[Board]:
        """The boards of ``family`` (every board if None), in the inventory's order."""
        return [b for b in self.boards if family is None or b.family == family]


def default_inventory_path() -> Path:
    """``$HIL_INVENTORY`` if set, else ``./inventory.toml``."""
    return Path(os.environ.get(ENV_INVENTORY) or DEFAULT_INVENTORY)


def load_inventory(path: str | os.PathLike | None = None) -> Inventory:
    """Reads and checks an inventory file (default: :func:`default_inventory_path`).

    Refuses, with an :class:`InventoryError` naming the board and the key: a
    missing file, invalid TOML, keys other than ``board`` at the top level, an
    entry with a missing or unknown key or a value of the wrong form, and two
    entries with the same name, resource or serial.
    """
    path = Path(path) if path is not None else default_inventory_path()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise InventoryError(path, f"no such inventory file; give another or set ${ENV_INVENTORY}") from None
    except OSError as exc:
        raise InventoryError(path, f"cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(path, f"not valid TOML: {exc}") from None

    unknown = sorted(set(data) - {"board"})
    if unknown:
        raise InventoryError(path, "unknown top-level key; an inventory holds only [[board]] tables",
                             key=unknown[0])
    entries = data.get("board")
    if entries is None or entries == []:
        raise InventoryError(path, "no boards: add a [[board]] table per board")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InventoryError(path, "must be an array of tables: write [[board]], not [board]",
                             key="board")

    boards: list[Board] = []
    seen: dict[tuple[str, str], int] = {}     # (key, value) -> the entry that has it
    for number, entry in enumerate(entries, start=1):
        board = _board(path, number, entry)
        for key in ("name", "resource", "serial"):
            value = getattr(board, key)
            other = seen.get((key, value))
            if other is not None:
                raise InventoryError(path, f"{value!r} is already the {key} of board #{other}",
                                     board=f"{board.name!r} (#{number})", key=key)
            seen[(key, value)] = number
        boards.append(board)
    return Inventory(boards, path)


def _board(path, number: int, entry: dict) -> Board:
    name = entry.get("name")
    label = f"{name!r} (#{number})" if isinstance(name, str) and name else f"#{number}"

    def fail(problem, key=None):
        raise InventoryError(path, problem, board=label, key=key)

    for key in entry:
        if key not in _REQUIRED + _OPTIONAL:
            fail(f"unknown key; allowed: {', '.join(_REQUIRED + _OPTIONAL)}", key)
    for key in _REQUIRED:
        if key not in entry:
            fail(f"missing; every board needs {', '.join(_REQUIRED)}", key)
    for key in _REQUIRED + _OPTIONAL:
        if key in entry and not isinstance(entry[key], str):
            fail(f"must be a string, not {entry[key]!r}", key)

    if not NAME.match(name):
        fail(f"{name!r} must be 1..64 of [A-Za-z0-9_.-], starting with a letter or digit", "name")
    problem = resource_problem(entry["resource"])
    if problem is not None:
        fail(problem, "resource")
    serial = entry["serial"]
    if not serial or serial != serial.strip() or "," in serial:
        fail(f"{serial!r} must be non-empty, without commas or surrounding spaces "
             "(it is compared with the serial field of *IDN?)", "serial")
    if not FAMILY.match(entry["family"]):
        fail(f"{entry['family']!r} must be a family name like 'bss2' (lower case, digits, _)", "family")
    return Board(name=name, resource=entry["resource"], serial=serial, family=entry["family"],
                 description=entry.get("description", ""))


# --- probing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeResult:
    """What one board answered to a probe (``*IDN?``, ``CHIP:FAM?``, ``LOCK?``)."""

    board: Board
    reachable: bool
    identity: Identity | None = None
    family: str | None = None
    """The family the board reports (None if it did not answer)."""
    leased: bool | None = None
    """Whether someone holds its lease now (None if unknown)."""
    error: str | None = None
    """Why it could not be probed (the driver's or the board's own text)."""

    @property
    def serial_ok(self) -> bool:
        return (self.identity is not None
                and (self.board.serial is None or self.identity.serial == self.board.serial))

    @property
    def family_ok(self) -> bool:
        return self.family is not None and (self.board.family is None or self.family == self.board.family)

    @property
    def ok(self) -> bool:
        return self.reachable and self.error is None and self.serial_ok and self.family_ok

    @property
    def status(self) -> str:
        """``ok``, ``wrong serial``, ``wrong family``, ``unreachable: <reason>`` or ``error: <reason>``."""
        if not self.reachable:
            return f"unreachable: {self.error}"
        if self.error is not None:
            return f"error: {self.error}"
        if not self.serial_ok:
            return "wrong serial"
        if not self.family_ok:
            return "wrong family"
        return "ok"


def probe(board: Board, timeout_s: float = DEFAULT_TIMEOUT_S) -> ProbeResult:
    """Asks ``board`` who it is and whether it is leased; never raises for a board's failure.

    Does not lease the board and sends nothing that needs the lease, so it may
    probe a board that a test run is using.
    """
    try:
        driver = BoardDriver(board.resource, timeout_s=timeout_s)
    except Exception as exc:   # pyvisa-py raises bare Exceptions for e.g. unknown hosts
        return ProbeResult(board, reachable=False, error=failure_reason(exc, timeout_s))
    try:
        identity = driver.identity()
        family = driver.family()
        leased = driver.leased()
    except Exception as exc:
        return ProbeResult(board, reachable=True, error=failure_reason(exc, timeout_s))
    finally:
        driver.close()
    return ProbeResult(board, reachable=True, identity=identity, family=family or None, leased=leased)


def failure_reason(exc: BaseException, timeout_s: float | None = None) -> str:
    """A short reason for a failed connection: the operating system's words where there are some."""
    seen = set()
    e = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        if "Timeout" in str(e) or "VI_ERROR_TMO" in str(e):
            return f"no answer within {timeout_s:g} s" if timeout_s is not None else "timed out"
        e = e.__cause__ or e.__context__
    text = str(exc)
    return text.removeprefix("could not connect: ") or type(exc).__name__
