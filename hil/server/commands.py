"""The board protocol's command set (docs/protocol.md), executed on any Backend.

A :class:`BoardServer` holds what every connection shares: the backend, its
configuration and the lease. Each connection gets a :class:`Session`, with its
own error queue and held readout. Nothing here touches a socket: the connection
loop (:func:`hil.server.connection.serve`, over TCP or later the RTL simulator
bridge) reads commands with :class:`drivers.protocol.CommandReader` and hands
each to :meth:`Session.execute` (or a refused one to :meth:`Session.refuse`),
then sends back what it returns, and calls :meth:`Session.close` at the end.
"""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from drivers import named_arrays, protocol
from drivers.blocks import block_header
from drivers.errors import ProtocolError

from ..contract import wire
from ..contract.backend import VENDOR, Backend
from ..contract.errors import InvalidValue, Unsupported
from .limits import Limits, MemoryBudget

MAX_WRONG_TOKENS = 3
"""A connection that presents this many wrong tokens to a leased board is closed."""


class Session:
    """One connection's state and its commands."""

    def __init__(self, server: "BoardServer"):
        self.server = server
        self.errors = protocol.ErrorQueue()
        self.token: str | None = None
        """The token this connection sent LOCK with; it acts as the owner while that token holds the lease."""
        self.readout: tuple[dict, dict] | None = None
        """(header, arrays) of the last RUN's readout, held for FETC?."""
        self.readout_bytes = 0
        """Bytes of the memory budget held for ``readout``."""
        self.answer_bytes = 0
        """Bytes of the memory budget held for the answer being sent."""
        self.commands = 0
        self.conf_refused = False
        """The last CONF of this connection was refused: RUN and READ? wait for one that succeeds,
        so that a READ? pipelined behind a refused CONF never runs on a stale configuration."""
        self.conf_generation: int | None = None
        """The server's configuration generation this connection's own CONF (or *RST) made;
        None before either. A run refuses (103) once another connection moved it on."""
        self.wrong_tokens = 0
        self.closing = False
        """The server ends this connection after the current command (too many wrong tokens)."""

    def execute(self, cmd: protocol.Command):
        """Runs one command; returns its answer (bytes, or a list of buffers sent without
        joining them), or None for a command that is not a query."""
        self.commands += 1
        return self.server.execute(self, cmd)

    def refuse(self, exc: ProtocolError):
        """A command the reader refused: its error is queued; a query still gets its answer."""
        self.commands += 1
        self.server.touch(self)
        self.errors.push(exc.code, exc.message)
        if exc.header == "CONF":
            self.conf_refused = True
        if exc.header is not None and exc.header.endswith("?"):
            return protocol.EMPTY_BLOCK if exc.header in _BLOCK_QUERIES else b""
        return None

    def drop_readout(self) -> None:
        self.readout = None
        if self.readout_bytes:
            self.server.budget.release(self.readout_bytes)
            self.readout_bytes = 0

    def answer_sent(self) -> None:
        """The answer went out (or never will): its budget is free."""
        if self.answer_bytes:
            self.server.budget.release(self.answer_bytes)
            self.answer_bytes = 0

    def close(self) -> None:
        """The connection ended: it holds nothing any more."""
        self.drop_readout()
        self.answer_sent()
        self.server.disconnect(self)


@dataclass
class _Lease:
    token: str
    expiry: float
    """On time.monotonic."""
    keep: bool
    """Taken with ``LOCK <token>,KEEP``: outlives its connections, until it expires or is released."""
    holders: set = field(default_factory=set)
    """The open connections that sent LOCK with the token."""


class BoardServer:
    """Serves ``backend`` to any number of sessions: one command on the chip at a time."""

    def __init__(self, backend: Backend, limits: Limits = Limits()):
        self.backend = backend
        self.limits = limits
        self.budget = MemoryBudget(limits.memory_budget)
        self.generation = 0
        """Counts the configurations written (CONF and *RST): a run checks its connection's."""
        # One thread runs every command on the chip, one at a time: the chip's big
        # transients then live in one allocator arena (a thread each kept what glibc
        # would not give back: 10 held 32-MiB readouts took 477 MB, 284 MB so), and a
        # backend that must be driven from one thread (a simulator) is.
        self._chip = ThreadPoolExecutor(max_workers=1, thread_name_prefix="board-chip")
        self._closed = False
        self._lease_lock = threading.Lock()
        self._lease: _Lease | None = None

    @property
    def max_block(self) -> int:
        return self.limits.max_block

    def session(self) -> Session:
        return Session(self)

    def close(self) -> None:
        """Closes the backend (after the command on the chip, if any); a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self._on_chip(self.backend.close)
        self._chip.shutdown()

    def _on_chip(self, fn, *args):
        """``fn(*args)`` on the chip's thread, after every command before it; its result or exception."""
        return self._chip.submit(fn, *args).result()

    def reserve(self, nbytes: int) -> str | None:
        """Takes ``nbytes`` of the budget for a block; None, or why they do not fit."""
        return None if self.budget.reserve(nbytes) else self.budget.refusal("a block", nbytes)

    def execute(self, conn: Session, cmd: protocol.Command) -> bytes | list | None:
        self.touch(conn)
        handler = _HANDLERS.get(cmd.header)
        try:
            if handler is None:
                raise ProtocolError(-113, f"undefined header {cmd.header!r}; known: {sorted(_HANDLERS)}")
            wants_block = cmd.header in _TAKES_BLOCK
            if wants_block and cmd.block is None:
                raise ProtocolError(-109, f"{cmd.header} needs a block argument")
            if not wants_block and cmd.block is not None:
                raise ProtocolError(-108, f"{cmd.header} takes no block")
            if cmd.header in _TAKES_TEXT:
                if not cmd.args:
                    raise ProtocolError(-109, f"{cmd.header} needs an argument: {_TAKES_TEXT[cmd.header]}")
            elif cmd.args:
                raise ProtocolError(-108, f"{cmd.header} takes no arguments; got {cmd.args[:40]!r}")
            if cmd.header == "CONF":
                conn.conf_refused = True         # until _conf succeeds
            if cmd.header in _NEED_LEASE:
                self._check_lease(conn)
            return handler(self, conn, cmd)
        except ProtocolError as exc:
            conn.errors.push(exc.code, exc.message)
        except wire.UnknownWire as exc:
            conn.errors.push(-161, str(exc))
        except InvalidValue as exc:
            conn.errors.push(-222, str(exc))
        except Unsupported as exc:
            conn.errors.push(-200, str(exc))
        except Exception as exc:   # the device's own failure: surface its text
            conn.errors.push(-200, f"{type(exc).__name__}: {exc}")
        if cmd.is_query:
            return protocol.EMPTY_BLOCK if cmd.header in _BLOCK_QUERIES else b""
        return None

    # --- lease ----------------------------------------------------------------------

    def _current_lease(self) -> _Lease | None:
        if self._lease is not None and time.monotonic() > self._lease.expiry:
            self._lease = None      # stale: its owner went quiet
        return self._lease

    def touch(self, conn: Session) -> None:
        """Any command of a connection holding the lease refreshes it."""
        if conn.token is None:
            return
        with self._lease_lock:
            lease = self._current_lease()
            if lease is not None and lease.token == conn.token:
                lease.expiry = time.monotonic() + self.limits.lease_timeout_s

    def disconnect(self, conn: Session) -> None:
        """A connection ended: a lease it took for itself ends with its last holder."""
        with self._lease_lock:
            lease = self._lease
            if lease is not None and conn in lease.holders:
                lease.holders.discard(conn)
                if not lease.keep and not lease.holders:
                    self._lease = None

    def _check_lease(self, conn: Session) -> None:
        with self._lease_lock:
            lease = self._current_lease()
            if lease is not None and conn.token != lease.token:
                raise ProtocolError(100, "the board is leased by another owner")

    def _wrong_token(self, conn: Session, code: int, message: str) -> ProtocolError:
        conn.wrong_tokens += 1
        if conn.wrong_tokens >= MAX_WRONG_TOKENS:
            conn.closing = True
            message += f"; {MAX_WRONG_TOKENS} wrong tokens on this connection: it is closed"
        return ProtocolError(code, message)

    def _lock(self, conn, cmd):
        token, comma, flag = cmd.args.partition(",")
        if not protocol.TOKEN.match(token):
            raise ProtocolError(-224, f"lease token {token!r} must be 1..64 of [A-Za-z0-9_.-]")
        if comma and flag.strip().upper() != "KEEP":
            raise ProtocolError(-224, f"LOCK takes <token> or <token>,KEEP; got {cmd.args[:80]!r}")
        keep = bool(comma)
        with self._lease_lock:
            lease = self._current_lease()
            if lease is not None and lease.token != token:
                raise self._wrong_token(conn, 100, "the board is leased by another owner")
            expiry = time.monotonic() + self.limits.lease_timeout_s
            if lease is None:
                lease = self._lease = _Lease(token, expiry, keep)
            lease.expiry = expiry
            lease.keep = lease.keep or keep
            lease.holders.add(conn)
            conn.token = token

    def _unlock(self, conn, cmd):
        with self._lease_lock:
            lease = self._current_lease()
            if lease is None or lease.token != cmd.args:
                message = "that token does not hold the lease"
                if lease is not None:
                    raise self._wrong_token(conn, 101, message)
                raise ProtocolError(101, message)
            self._lease = None
            conn.token = None

    def _lock_q(self, conn, cmd):
        with self._lease_lock:
            return b"1" if self._current_lease() else b"0"

    # --- identity and system --------------------------------------------------------

    def _idn(self, conn, cmd):
        i = self.backend.info()
        fields = [VENDOR, i.model, i.serial, i.firmware]
        return ",".join(f.replace(",", " ") for f in fields).encode()

    def _info(self, conn, cmd):
        i = self.backend.info()
        return json.dumps({"family": i.family, "serial": i.serial, "model": i.model, "firmware": i.firmware,
                           "geometry": i.geometry, "modes": list(i.modes), "ideal": i.ideal,
                           "faults": i.faults}).encode()

    def _run_counter(self, conn, cmd):
        counter = getattr(self.backend, "run_counter", None)
        if counter is None:
            raise ProtocolError(-200, f"the {self.backend.name} backend does not count its runs")
        return str(int(counter)).encode()

    def _limits(self, conn, cmd):
        return json.dumps({"max_line_bytes": protocol.MAX_LINE_BYTES, "error_queue": protocol.ERROR_QUEUE_LENGTH,
                           "max_wrong_tokens": MAX_WRONG_TOKENS, **self.limits.as_json()},
                          allow_nan=False).encode()

    def _err(self, conn, cmd):
        return protocol.format_error(*conn.errors.pop()).encode()

    def _cls(self, conn, cmd):
        conn.errors.clear()

    def _rst(self, conn, cmd):
        conn.conf_generation = self._on_chip(self._reset_chip)
        conn.drop_readout()
        conn.conf_refused = False

    # --- the chip -------------------------------------------------------------------

    def _decode(self, block: bytes):
        meta, arrays = named_arrays.unpack(block)
        return wire.decode(meta, arrays)

    def _conf(self, conn, cmd):
        config = self._decode(cmd.block)
        conn.conf_generation = self._on_chip(self._configure_chip, config)
        conn.conf_refused = False

    def _run(self, conn, cmd):
        if conn.conf_refused:
            raise ProtocolError(102, "the last CONF of this connection was refused; RUN and READ? wait "
                                     "for a CONF that succeeds")
        stimulus = self._decode(cmd.block)
        conn.drop_readout()
        conn.readout, conn.readout_bytes = self._on_chip(self._run_chip, stimulus, conn.conf_generation)

    # On the chip's thread, one at a time:

    def _reset_chip(self) -> int:
        self.generation += 1
        reset = getattr(self.backend, "reset", None)
        if reset is not None:
            reset()
        return self.generation

    def _configure_chip(self, config) -> int:
        # Moved on before the write: a write that fails half-way has replaced it too.
        self.generation += 1
        self.backend.configure(config)
        return self.generation

    def _run_chip(self, stimulus, generation: int | None) -> tuple[tuple[dict, dict], int]:
        """((header, arrays), budget bytes) of the readout, if the caller's configuration still holds."""
        if generation is not None and generation != self.generation:
            raise ProtocolError(103, "another connection's CONF or *RST replaced this connection's "
                                     "configuration since its CONF; send CONF again (or LOCK the board)")
        readout = self.backend.run(stimulus)
        # Counted before the next command runs, so at most one readout is ever uncounted.
        header, arrays = wire.encode(readout)
        nbytes = sum(a.nbytes for a in arrays.values())
        if not self.budget.reserve(nbytes):
            raise ProtocolError(-225, self.budget.refusal("the readout", nbytes))
        return (header, arrays), nbytes

    def _fetch(self, conn, cmd):
        if conn.readout is None:
            raise ProtocolError(102, "nothing to fetch: no RUN on this connection since the last fetch")
        (header, arrays), conn.readout = conn.readout, None
        conn.answer_bytes += conn.readout_bytes     # held until the answer is sent
        conn.readout_bytes = 0
        return _block_parts(named_arrays.pack_parts(header, arrays), self.max_block)

    def _read(self, conn, cmd):
        self._run(conn, cmd)
        return self._fetch(conn, cmd)


def _block_parts(payload_parts: list, limit: int) -> list:
    """A block answer as buffers: its header, then the payload's parts."""
    length = sum(memoryview(p).nbytes for p in payload_parts)
    if length > limit:
        raise ProtocolError(-223, f"answer block of {length} bytes exceeds the limit of {limit} bytes")
    return [block_header(length), *payload_parts]


_HANDLERS = {
    "*IDN?": BoardServer._idn,
    "*RST": BoardServer._rst,
    "*CLS": BoardServer._cls,
    "*OPC?": lambda self, conn, cmd: b"1",
    "SYST:ERR?": BoardServer._err,
    "SYST:VERS?": lambda self, conn, cmd: str(protocol.PROTOCOL_VERSION).encode(),
    "SYST:LIM?": BoardServer._limits,
    "CHIP:FAM?": lambda self, conn, cmd: self.backend.info().family.encode(),
    "CHIP:INFO?": BoardServer._info,
    "CHIP:RUN?": BoardServer._run_counter,
    "LOCK": BoardServer._lock,
    "UNLOCK": BoardServer._unlock,
    "LOCK?": BoardServer._lock_q,
    "CONF": BoardServer._conf,
    "RUN": BoardServer._run,
    "FETC?": BoardServer._fetch,
    "READ?": BoardServer._read,
    # A link test: the block comes back unchanged.
    "SYST:ECHO?": lambda self, conn, cmd: _block_parts([cmd.block], self.max_block),
}
_TAKES_BLOCK = {"CONF", "RUN", "READ?", "SYST:ECHO?"}
_BLOCK_QUERIES = {"FETC?", "READ?", "SYST:ECHO?"}
_NEED_LEASE = {"*RST", "CONF", "RUN", "FETC?", "READ?"}
_TAKES_TEXT = {"LOCK": "<token> or <token>,KEEP", "UNLOCK": "<token>"}
"""The commands with text arguments (what they take); any other refuses arguments with -108."""
