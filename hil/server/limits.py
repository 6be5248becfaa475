"""The bounds of a board server (docs/protocol.md, "Limits"): every resource a client
can make the server hold is bounded by one of these, and ``SYST:LIM?`` states them.
"""
import math
import threading
from dataclasses import dataclass, fields

from drivers import protocol
from drivers.blocks import MAX_BLOCK_BYTES

from ..contract.errors import InvalidValue

MIB = 1 << 20

RANGES = {
    "max_block": (1, 1 << 30),
    "memory_budget": (1 * MIB, 64 << 30),
    "max_connections": (1, 1024),
    "lease_timeout_s": (0.1, 86400.0),
    "block_timeout_s": (0.1, 3600.0),
    "idle_timeout_s": (0.1, 86400.0),
    "send_timeout_s": (0.1, 3600.0),
}
"""Allowed (lowest, highest) of each limit, both included; ``hil serve`` offers each as an option."""


@dataclass(frozen=True)
class Limits:
    """A board server's bounds. Each is finite and inside :data:`RANGES`; anything else is refused."""

    max_block: int = MAX_BLOCK_BYTES
    """Largest block payload accepted or answered, bytes."""
    memory_budget: int = 256 * MIB
    """Bytes the whole server may hold for clients: blocks being received or executed, held
    readouts and answers being sent. A block or readout that does not fit is refused (-225)."""
    max_connections: int = 16
    """Connections served at once; one more is answered with error 104 and closed."""
    lease_timeout_s: float = protocol.LEASE_TIMEOUT_S
    """A lease expires this long after the last command of a connection holding it, seconds."""
    block_timeout_s: float = protocol.IO_TIMEOUT_S
    """A started command (its line and its whole block) must arrive within this, seconds."""
    idle_timeout_s: float = 600.0
    """A connection that sends nothing for this long is closed, seconds."""
    send_timeout_s: float = 30.0
    """An answer must be taken by the client within this, seconds; else the connection is closed."""

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            lo, hi = RANGES[f.name]
            whole = f.type is int
            ok = (isinstance(value, int) if whole else isinstance(value, (int, float))) \
                and not isinstance(value, bool) and math.isfinite(value) and lo <= value <= hi
            if not ok:
                kind, allowed = ("a whole number", f"{lo}..{hi}") if whole else ("a finite number", f"{lo:g}..{hi:g}")
                raise InvalidValue(f.name, f"{value!r} is not {kind} in {allowed}")
        if self.memory_budget < self.max_block:
            raise InvalidValue("memory_budget", f"{self.memory_budget} bytes is below max_block "
                                                f"({self.max_block} bytes): no block of that size could be held")

    def as_json(self) -> dict:
        """What ``SYST:LIM?`` reports (besides the framing limits)."""
        return {"max_block_bytes": self.max_block, "memory_budget_bytes": self.memory_budget,
                "max_connections": self.max_connections, "lease_timeout_s": self.lease_timeout_s,
                "block_timeout_s": self.block_timeout_s, "idle_timeout_s": self.idle_timeout_s,
                "send_timeout_s": self.send_timeout_s}


class MemoryBudget:
    """Bytes the server holds for its clients, against :attr:`Limits.memory_budget`."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._lock = threading.Lock()

    def reserve(self, nbytes: int) -> bool:
        """Takes ``nbytes`` if they fit; False (nothing taken) if not."""
        with self._lock:
            if self.used + nbytes > self.limit:
                return False
            self.used += nbytes
            self.peak = max(self.peak, self.used)
            return True

    def release(self, nbytes: int) -> None:
        with self._lock:
            self.used -= nbytes
            assert self.used >= 0, "released more than was reserved"

    def refusal(self, what: str, nbytes: int) -> str:
        """The text of error -225 for ``what`` of ``nbytes`` that did not fit."""
        return (f"{what} of {nbytes} bytes does not fit the server's memory budget of {self.limit} bytes "
                f"({self.used} in use by all connections); fetch held readouts, or ask for less")
