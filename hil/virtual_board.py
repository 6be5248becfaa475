"""The virtual board: an in-process backend behind the board protocol (docs/protocol.md).

    hil serve --port 5025 --serial EMU-0007 --fault dead-neuron=77

Serves several connections at once (one thread each); the chip, its
configuration and its lease are shared, each connection has its own error
queue. A malformed command or an oversized block queues an error and leaves
the connection usable; a client that vanishes mid-run only loses its answer.
"""
import json
import socket
import socketserver
import threading
import time

from drivers import named_arrays, protocol
from drivers.blocks import MAX_BLOCK_BYTES, block_header
from drivers.errors import ProtocolError

from . import wire
from .backend import Backend
from .board_faults import LinkFaults
from .errors import InvalidValue, Unsupported

VENDOR = "hil-rig"


class _Connection:
    def __init__(self):
        self.errors = protocol.ErrorQueue()
        self.token: str | None = None
        self.readout = None
        self.commands = 0
        self.conf_refused = False
        """The last CONF of this connection was refused: RUN and READ? wait for one that succeeds,
        so that a READ? pipelined behind a refused CONF never runs on a stale configuration."""


class VirtualBoard:
    """Serves ``backend`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = protocol.DEFAULT_PORT, *,
                 link_faults: LinkFaults = LinkFaults(), max_block: int = MAX_BLOCK_BYTES,
                 lease_timeout: float = protocol.LEASE_TIMEOUT_S, io_timeout: float = protocol.IO_TIMEOUT_S):
        self.backend = backend
        self.link_faults = link_faults
        self.max_block = max_block
        self.lease_timeout = lease_timeout
        self.io_timeout = io_timeout
        self._chip_lock = threading.Lock()          # one command on the chip at a time
        self._lease_lock = threading.Lock()
        self._lease: tuple[str, float] | None = None  # (token, expiry on time.monotonic)
        board = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                board._serve_connection(self.request)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2]

    @property
    def resource(self) -> str:
        host, port = self.address
        return f"TCPIP::{host}::{port}::SOCKET"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> "VirtualBoard":
        """Serves in a background thread (for tests and benchmarks)."""
        self._thread = threading.Thread(target=self.serve_forever, name="virtual-board", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.backend.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- one connection -----------------------------------------------------------

    def _serve_connection(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, protocol.SOCKET_BUFFER_BYTES)
        conn = _Connection()
        reader = protocol.CommandReader(sock, max_block=self.max_block, io_timeout=self.io_timeout)
        while True:
            try:
                cmd = reader.read()
            except ProtocolError as exc:
                conn.errors.push(exc.code, exc.message)
                if exc.header == "CONF":
                    conn.conf_refused = True
                if exc.header is not None and exc.header.endswith("?"):
                    self._send(sock, protocol.EMPTY_BLOCK if exc.header in _BLOCK_QUERIES else b"")
                continue
            except OSError:         # timed out inside a command, or the client vanished
                break
            if cmd is None:
                break
            conn.commands += 1
            drop = self.link_faults.drop_after
            if drop is not None and conn.commands > drop:
                break
            answer = self._execute(conn, cmd)
            if answer is not None:
                if self.link_faults.slow_s:
                    time.sleep(self.link_faults.slow_s)
                if not self._send(sock, answer):
                    break
        try:
            sock.close()
        except OSError:
            pass

    @staticmethod
    def _send(sock: socket.socket, answer) -> bool:
        """Sends an answer (bytes, or a list of buffers: not joined) and its newline."""
        try:
            if isinstance(answer, list):
                _sendmsg_all(sock, answer + [b"\n"])
            else:
                sock.sendall(answer + b"\n")
            return True
        except OSError:             # the client is gone; its answer with it
            return False

    def _execute(self, conn: _Connection, cmd: protocol.Command) -> bytes | None:
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

    def _check_lease(self, conn: _Connection) -> None:
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


def _sendmsg_all(sock: socket.socket, buffers: list) -> None:
    """sendall() for a list of buffers, with scatter-gather I/O."""
    parts = [memoryview(b).cast("B") for b in buffers]
    while parts:
        sent = sock.sendmsg(parts[:64])
        while parts and sent >= parts[0].nbytes:
            sent -= parts[0].nbytes
            parts.pop(0)
        if sent:
            parts[0] = parts[0][sent:]


def _block_parts(payload_parts: list, limit: int) -> list:
    """A block answer as buffers: its header, then the payload's parts."""
    length = sum(memoryview(p).nbytes for p in payload_parts)
    if length > limit:
        raise ProtocolError(-223, f"answer block of {length} bytes exceeds the limit of {limit} bytes")
    return [block_header(length), *payload_parts]


_HANDLERS = {
    "*IDN?": VirtualBoard._idn,
    "*RST": VirtualBoard._rst,
    "*CLS": VirtualBoard._cls,
    "*OPC?": lambda self, conn, cmd: b"1",
    "SYST:ERR?": VirtualBoard._err,
    "SYST:VERS?": lambda self, conn, cmd: str(protocol.PROTOCOL_VERSION).encode(),
    "SYST:LIM?": VirtualBoard._limits,
    "CHIP:FAM?": lambda self, conn, cmd: self.backend.info().family.encode(),
    "CHIP:INFO?": VirtualBoard._info,
    "LOCK": VirtualBoard._lock,
    "UNLOCK": VirtualBoard._unlock,
    "LOCK?": VirtualBoard._lock_q,
    "CONF": VirtualBoard._conf,
    "RUN": VirtualBoard._run,
    "FETC?": VirtualBoard._fetch,
    "READ?": VirtualBoard._read,
    # A link test: the block comes back unchanged.
    "SYST:ECHO?": lambda self, conn, cmd: _block_parts([cmd.block], self.max_block),
}
_TAKES_BLOCK = {"CONF", "RUN", "READ?", "SYST:ECHO?"}
_BLOCK_QUERIES = {"FETC?", "READ?", "SYST:ECHO?"}
_NEED_LEASE = {"*RST", "CONF", "RUN", "FETC?", "READ?"}
