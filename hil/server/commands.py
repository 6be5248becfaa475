"""The board protocol's command set (docs/protocol.md), executed on any Backend.

A :class:`BoardServer` holds what every connection shares: the backend, its
configuration and the lease. Each connection gets a :class:`Session`, with its
own error queue and held readout. Nothing here touches a socket: a transport
(:mod:`hil.server.tcp` for TCP, later the RTL simulator bridge) reads commands
with :class:`drivers.protocol.CommandReader` and hands each to
:meth:`Session.execute` (or a refused one to :meth:`Session.refuse`), then sends
back what it returns.
"""
import json
import threading
import time

from drivers import named_arrays, protocol
from drivers.blocks import MAX_BLOCK_BYTES, block_header
from drivers.errors import ProtocolError

from ..contract import wire
from ..contract.backend import VENDOR, Backend
from ..contract.errors import InvalidValue, Unsupported


class Session:
    """One connection's state and its commands."""

    def __init__(self, server: "BoardServer"):
        self.server = server
        self.errors = protocol.ErrorQueue()
        self.token: str | None = None
        self.readout = None
        self.commands = 0
        self.conf_refused = False
        """The last CONF of this connection was refused: RUN and READ? wait for one that succeeds,
        so that a READ? pipelined behind a refused CONF never runs on a stale configuration."""

    def execute(self, cmd: protocol.Command):
        """Runs one command; returns its answer (bytes, or a list of buffers sent without
        joining them), or None for a command that is not a query."""
        self.commands += 1
        return self.server.execute(self, cmd)

    def refuse(self, exc: ProtocolError):
        """A command the reader refused: its error is queued; a query still gets its answer."""
        self.errors.push(exc.code, exc.message)
        if exc.header == "CONF":
            self.conf_refused = True
        if exc.header is not None and exc.header.endswith("?"):
            return protocol.EMPTY_BLOCK if exc.header in _BLOCK_QUERIES else b""
        return None


class BoardServer:
    """Serves ``backend`` to any number of sessions: one command on the chip at a time."""

    def __init__(self, backend: Backend, *, max_block: int = MAX_BLOCK_BYTES,
                 lease_timeout: float = protocol.LEASE_TIMEOUT_S, io_timeout: float = protocol.IO_TIMEOUT_S):
        self.backend = backend
        self.max_block = max_block
        self.lease_timeout = lease_timeout
        self.io_timeout = io_timeout
        self._chip_lock = threading.Lock()          # one command on the chip at a time
        self._lease_lock = threading.Lock()
        self._lease: tuple[str, float] | None = None  # (token, expiry on time.monotonic)

    def session(self) -> Session:
        return Session(self)

    def close(self) -> None:
        self.backend.close()

    def execute(self, conn: Session, cmd: protocol.Command) -> bytes | list | None:
        handler = _HANDLERS.get(cmd.header)
        try:
            if handler is None:
                raise ProtocolError(-113, f"undefined header {cmd.header!r}; known: {sorted(_HANDLERS)}")
            wants_block = cmd.header in _TAKES_BLOCK
            if wants_block and cmd.block is None:
                raise ProtocolError(-109, f"{cmd.header} needs a block argument")
            if not wants_block and cmd.block is not None:
                raise ProtocolError(-108, f"{cmd.header} takes no block")
            if cmd.header == "CONF":
                conn.conf_refused = True         # until _conf succeeds
            if cmd.header in _NEED_LEASE:
                self._check_lease(conn)
            return handler(self, conn, cmd)
        except ProtocolError as exc:
            conn.errors.push(exc.code, exc.message)
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

    def _current_lease(self) -> str | None:
        if self._lease is not None and time.monotonic() > self._lease[1]:
            self._lease = None      # stale: its owner went quiet
        return self._lease[0] if self._lease else None

    def _check_lease(self, conn: Session) -> None:
        with self._lease_lock:
            owner = self._current_lease()
            if owner is not None:
                if conn.token != owner:
                    raise ProtocolError(100, "the board is leased by another owner")
                self._lease = (owner, time.monotonic() + self.lease_timeout)

    def _lock(self, conn, cmd):
        token = cmd.args
        if not protocol.TOKEN.match(token):
            raise ProtocolError(-224, f"lease token {token!r} must be 1..64 of [A-Za-z0-9_.-]")
        with self._lease_lock:
            owner = self._current_lease()
            if owner is not None and owner != token:
                raise ProtocolError(100, "the board is leased by another owner")
            self._lease = (token, time.monotonic() + self.lease_timeout)
            conn.token = token

    def _unlock(self, conn, cmd):
        with self._lease_lock:
            if self._current_lease() != cmd.args:
                raise ProtocolError(101, "that token does not hold the lease")
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
                           "geometry": i.geometry, "modes": list(i.modes), "ideal": i.ideal}).encode()

    def _limits(self, conn, cmd):
        return json.dumps({"max_line_bytes": protocol.MAX_LINE_BYTES, "max_block_bytes": self.max_block,
                           "error_queue": protocol.ERROR_QUEUE_LENGTH, "lease_timeout_s": self.lease_timeout,
                           "io_timeout_s": self.io_timeout}).encode()

    def _err(self, conn, cmd):
        return protocol.format_error(*conn.errors.pop()).encode()

    def _cls(self, conn, cmd):
        conn.errors.clear()

    def _rst(self, conn, cmd):
        with self._chip_lock:
            reset = getattr(self.backend, "reset", None)
            if reset is not None:
                reset()
        conn.readout = None
        conn.conf_refused = False

    # --- the chip -------------------------------------------------------------------

    def _decode(self, block: bytes):
        meta, arrays = named_arrays.unpack(block)
        return wire.decode(meta, arrays)

    def _conf(self, conn, cmd):
        config = self._decode(cmd.block)
        with self._chip_lock:
            self.backend.configure(config)
        conn.conf_refused = False

    def _run(self, conn, cmd):
        if conn.conf_refused:
            raise ProtocolError(102, "the last CONF of this connection was refused; RUN and READ? wait "
                                     "for a CONF that succeeds")
        stimulus = self._decode(cmd.block)
        conn.readout = None
        with self._chip_lock:
            conn.readout = self.backend.run(stimulus)

    def _fetch(self, conn, cmd):
        if conn.readout is None:
            raise ProtocolError(102, "nothing to fetch: no RUN on this connection since the last fetch")
        readout, conn.readout = conn.readout, None
        header, arrays = wire.encode(readout)
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
