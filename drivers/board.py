"""The board driver: the board protocol (docs/protocol.md) over pyvisa + pyvisa-py.

>>> with BoardDriver("TCPIP::127.0.0.1::5025::SOCKET") as board:
...     board.identity()                  # Identity(vendor, model, serial, firmware)
...     board.lock("worker-1")
...     board.configure(meta, arrays)     # named arrays + JSON meta, family-agnostic
...     meta, arrays = board.read(meta, arrays)

The driver moves named arrays and text; it knows nothing of chip families.
After a dropped connection it reconnects once (re-taking its lease) and tells
the caller: a repeated command that cannot have side effects is retried with a
:class:`Reconnected` warning; a run is never repeated: :class:`RunInterrupted`
is raised instead.
"""
import json
import re
import select
import socket
import warnings
from dataclasses import dataclass

import pyvisa
from pyvisa import constants

from . import named_arrays, protocol
from .blocks import MAX_BLOCK_BYTES, block_header, encode_block, parse_block_header
from .errors import DriverError, ProtocolError

DEFAULT_TIMEOUT_S = 10.0
READ_CHUNK = 128 * 1024


class BoardError(DriverError):
    """The board refused a command; ``code`` and ``message`` are the board's own."""

    def __init__(self, code: int, message: str, command: str = ""):
        self.code = code
        self.message = message
        self.command = command
        where = f" (after {command})" if command else ""
        super().__init__(f"board error {code}: {message}{where}")


class BoardValueError(BoardError, ValueError):
    """The board refused a value it was sent (-222 data out of range, -224 illegal parameter
    value): a ValueError, as the same value refused in process is, with the board's text
    (field, value, what is allowed)."""


VALUE_ERROR_CODES = (-222, -224)


class ConnectionLost(DriverError, ConnectionError):
    """The board cannot be reached (after the one reconnect)."""


class RunInterrupted(DriverError, ConnectionError):
    """The connection dropped during a run. The driver reconnected, and did not
    repeat the run: its result is lost, and whether the board ran it is unknown."""


class ConfigurationLost(DriverError):
    """The connection was re-established after the configuration was written: the board
    may hold another client's configuration now (its lease ended with the old
    connection), so a run without a new configuration is refused."""


class Reconnected(UserWarning):
    """The connection dropped; the driver reconnected and repeated a side-effect-free command."""


@dataclass(frozen=True)
class Identity:
    vendor: str
    model: str
    serial: str
    firmware: str


def _resource_manager():
    return pyvisa.ResourceManager("@py")


class _EndOfStreamIsAnError:
    """A socket whose ``recv`` raises ConnectionResetError at the end of the stream (the peer
    closed it) instead of returning no bytes; everything else is the socket's own."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def recv(self, size: int, *flags) -> bytes:
        data = self._sock.recv(size, *flags)
        if not data and size > 0:
            raise ConnectionResetError("the board closed the connection")
        return data

    def __getattr__(self, name):
        return getattr(self._sock, name)


class BoardDriver:
    """One board, reached at a VISA ``TCPIP::<host>::<port>::SOCKET`` resource.

    timeout_s: how long to wait for each answer, seconds (0.001..3600).
    max_block: largest block sent or accepted, bytes.
    """

    def __init__(self, resource: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 max_block: int = MAX_BLOCK_BYTES, resource_manager=None):
        if not (isinstance(timeout_s, (int, float)) and 0.001 <= timeout_s <= 3600):
            raise ValueError(f"timeout_s: {timeout_s!r} is outside 0.001..3600 seconds")
        self.resource_name = resource
        self.timeout_s = float(timeout_s)
        self.max_block = max_block
        self.reconnects = 0
        """How often the driver reconnected since it was opened."""
        self._rm = resource_manager or _resource_manager()
        self._token: str | None = None
        self._keep = False
        self._sock: socket.socket | None = None
        self._configured_at: int | None = None
        """``reconnects`` when the last configuration was written (None: never)."""
        self._res = None
        self._open()
        try:
            self._idn = self._first_idn()
        except BaseException:
            self._close_resource()
            raise

    # --- connection -----------------------------------------------------------------

    def _open(self) -> None:
        try:
            # open_timeout: pyvisa-py would otherwise wait 10 s for a host that does not answer.
            res = self._rm.open_resource(self.resource_name, read_termination="\n",
                                         write_termination="\n", timeout=int(self.timeout_s * 1000),
                                         open_timeout=int(self.timeout_s * 1000))
        except (pyvisa.VisaIOError, OSError, ValueError) as exc:
            raise ConnectionLost(f"cannot open {self.resource_name}: {exc}") from exc
        except Exception as exc:
            # pyvisa-py raises a bare Exception("could not connect: ...") for e.g. an unknown host.
            if not str(exc).startswith("could not connect"):
                raise
            raise ConnectionLost(f"cannot open {self.resource_name}: {exc}") from exc
        # Reads of 128 KiB: pyvisa-py copies its buffer per call, and much larger
        # chunks cost fresh pages on every call (measured in bench/board.py: a
        # 512 KiB block reads in 0.6 ms at 128 KiB, 1.2 ms at 1 MiB, 4 ms at 4 KiB).
        res.chunk_size = READ_CHUNK
        # pyvisa-py receives 4 KiB per call by default and has no VISA attribute
        # for it: set it on its session object where there is one.
        session = getattr(res.visalib, "sessions", {}).get(res.session)
        if hasattr(session, "max_recv_size"):
            session.max_recv_size = READ_CHUNK
        # Small commands after a block must not wait for Nagle's algorithm (40 ms
        # stalls against delayed ACKs). pyvisa-py 0.8.1 wires VI_ATTR_TCPIP_NODELAY
        # to a setter that refuses it, so call its own socket setter directly.
        set_nodelay = getattr(session, "_set_tcpip_nodelay", None)
        if set_nodelay is not None:
            set_nodelay(constants.ResourceAttribute.tcpip_nodelay, True)
        # Socket buffers big enough for a whole readout: with the default 128 KiB
        # receive buffer a batch-1024 MAC over loopback took 5.6 ms instead of
        # 2.6 ms, while the kernel's autotuning caught up (bench/board.py).
        sock = getattr(session, "interface", None)
        if isinstance(sock, socket.socket):
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock.setsockopt(socket.SOL_SOCKET, option, protocol.SOCKET_BUFFER_BYTES)
        self._sock = sock if isinstance(sock, socket.socket) else None
        """pyvisa-py's socket of this connection (None if it has none): for what VISA cannot ask."""
        if self._sock is not None:
            # pyvisa-py takes a read that returns no bytes for "no data yet" and loops until
            # its time-out, so a board that closed the connection cost the whole time-out
            # (30 s) before anything noticed. Its session reads through this wrapper, which
            # turns the end of the stream into the ConnectionResetError it is.
            session.interface = _EndOfStreamIsAnError(self._sock)
        if self._sock is not None:
            # poll() answers "nothing to read" without an exception: checking the link
            # before every command then costs about a microsecond.
            self._poll = select.poll()
            self._poll.register(self._sock, select.POLLIN | select.POLLRDHUP)
        self._res = res

    def _first_idn(self) -> str:
        """*IDN? on a new connection: a failure means no connection, not a lost one."""
        try:
            idn = self._ask_idn()
        except _LINK_ERRORS as exc:
            problem = f"no answer to *IDN? within {self.timeout_s} s: {exc}" if _is_timeout(exc) else str(exc)
            raise ConnectionLost(f"could not connect to {self.resource_name}: {problem}") from exc
        if re.match(r'^[+-]?\d+,"', idn):       # a board that refuses the connection says why
            code, message = protocol.parse_error(idn)
            raise BoardError(code, message, "connecting")
        return idn

    def _ask_idn(self) -> str:
        self._write(b"*IDN?")
        return self._read_line()

    def _reconnect(self) -> None:
        self._close_resource()
        self.reconnects += 1
        self._open()
        # The same board must answer: a board restarted in between may differ.
        idn = self._ask_idn()
        if idn != getattr(self, "_idn", idn):
            raise ConnectionLost(f"{self.resource_name} now answers {idn!r}, not {self._idn!r}")
        if self._token is not None:
            command = self._lock_command(self._token, self._keep)
            self._write(command.encode())
            self._check(command)

    def _close_resource(self, *, wait_for_board: bool = False) -> None:
        if self._res is not None and wait_for_board:
            self._await_board_close()
        if self._res is not None:
            try:
                self._res.close()
            except Exception:        # already broken: nothing left to close
                pass
            self._res = None

    def _await_board_close(self) -> None:
        """Ends the connection and waits (at most the time-out) until the board has closed its
        side too: by then it has released what the connection held, e.g. its share of a lease."""
        sock = self._sock
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(min(self.timeout_s, 2.0))
            while sock.recv(1 << 16):       # late answers of an abandoned command, if any
                pass
        except OSError:
            pass

    def close(self) -> None:
        """Closes the connection, releasing any lease it holds (UNLOCK): when this returns the
        board is free for the next owner. (A lease that is not kept would also end with the
        connection, but only once the board has noticed the close; UNLOCK does not wait on that.)"""
        if self._res is not None and self._token is not None:
            try:
                self.unlock()
            except DriverError:
                pass
        # Not the resource manager: pyvisa shares it (and its sessions) process-wide.
        self._close_resource(wait_for_board=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def timeout(self) -> float:
        return self.timeout_s

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        if not (isinstance(seconds, (int, float)) and 0.001 <= seconds <= 3600):
            raise ValueError(f"timeout: {seconds!r} is outside 0.001..3600 seconds")
        self.timeout_s = float(seconds)
        if self._res is not None:
            self._res.timeout = int(seconds * 1000)

    # --- raw I/O --------------------------------------------------------------------

    def _write(self, *parts) -> None:
        """One write of the parts and the terminating newline (joined once: blocks are large)."""
        if self._res is None:
            self._open()
        self._res.write_raw(b"".join([*parts, b"\n"]))

    def _read_line(self) -> str:
        return self._res.read()

    def _read_block(self) -> memoryview:
        # A block's bytes may contain the newline: with the termination character
        # enabled pyvisa-py would stop at each one, so switch it off meanwhile.
        res = self._res
        res.set_visa_attribute(constants.ResourceAttribute.termchar_enabled, constants.VisaBoolean.false)
        try:
            prefix = bytes(res.read_bytes(2))
            n = prefix[1] - ord("0") if len(prefix) == 2 else 0
            if 1 <= n <= 9:
                prefix += bytes(res.read_bytes(n))
            hlen, length = parse_block_header(prefix, limit=self.max_block)
            payload = res.read_bytes(length + 1)
        finally:
            if self._res is res:
                res.set_visa_attribute(constants.ResourceAttribute.termchar_enabled, constants.VisaBoolean.true)
        if payload[-1:] != b"\n":
            raise ProtocolError(-102, "block answer not followed by a newline")
        return memoryview(payload)[:-1]       # no copy of what may be megabytes

    def _peer_closed(self) -> bool:
        """Whether the board closed the connection (pyvisa-py reports that as a time-out)."""
        sock = self._sock if self._res is not None else None
        if sock is None or not self._poll.poll(0):
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _exchange(self, fn, *, repeatable: bool, what: str):
        """Runs fn(); after a dropped connection reconnects once, then repeats or raises."""
        if self._res is not None and self._peer_closed():
            # Closed while we were quiet (the board's idle time-out): a new connection
            # now, rather than a command lost into the closed one.
            try:
                self._reconnect()
            except (DriverError, *_LINK_ERRORS) as again:
                raise ConnectionLost(f"{self.resource_name}: the board closed the connection before {what} "
                                     f"and the reconnect failed: {again}") from again
        try:
            return fn()
        except _LINK_ERRORS as exc:
            dropped = not _is_timeout(exc) or self._peer_closed()
            try:
                # Reconnect in every case: after a time-out a late answer would
                # otherwise be read as the answer to the next command.
                self._reconnect()
            except (DriverError, *_LINK_ERRORS) as again:
                raise ConnectionLost(f"{self.resource_name}: connection lost during {what} and "
                                     f"the reconnect failed: {again}") from exc
            if not dropped:
                raise ConnectionLost(f"{self.resource_name}: no answer to {what} within "
                                     f"{self.timeout_s} s; reconnected") from exc
            if not repeatable:
                raise RunInterrupted(f"{self.resource_name}: connection lost during {what}; reconnected, "
                                     "the run was not repeated and its result is lost") from exc
            warnings.warn(Reconnected(f"{self.resource_name}: connection lost during {what}; "
                                      "reconnected and repeated it"), stacklevel=3)
            try:
                return fn()
            except _LINK_ERRORS as again:
                raise ConnectionLost(f"{self.resource_name}: connection lost again during {what}") from again

    def query(self, command: str, *, repeatable: bool = True) -> str:
        """A text query; returns the answer line."""
        def fn():
            self._write(command.encode("ascii"))
            return self._read_line()
        return self._exchange(fn, repeatable=repeatable, what=command)

    def write(self, command: str) -> None:
        """A text command, followed by an error check."""
        def fn():
            self._write(command.encode("ascii") + b"\nSYST:ERR?")
            return self._read_line()
        self._raise_if_error(self._exchange(fn, repeatable=True, what=command), command)

    def _raise_if_error(self, answer: str, command: str) -> None:
        code, message = protocol.parse_error(answer)
        if code != 0:
            self._drain_errors()
            raise (BoardValueError if code in VALUE_ERROR_CODES else BoardError)(code, message, command)

    def _drain_errors(self) -> None:
        for _ in range(protocol.ERROR_QUEUE_LENGTH):
            if protocol.parse_error(self.query("SYST:ERR?"))[0] == 0:
                return

    def _check(self, command: str) -> None:
        self._raise_if_error(self.query("SYST:ERR?"), command)

    def errors(self) -> list[tuple[int, str]]:
        """Empties the board's error queue for this connection; (code, message) pairs."""
        out = []
        for _ in range(protocol.ERROR_QUEUE_LENGTH + 1):
            code, message = protocol.parse_error(self.query("SYST:ERR?"))
            if code == 0:
                break
            out.append((code, message))
        return out

    # --- the protocol's commands ----------------------------------------------------------

    def identity(self) -> Identity:
        answer = self._exchange(self._ask_idn, repeatable=True, what="*IDN?")
        parts = answer.split(",")
        if len(parts) != 4:
            raise ProtocolError(-102, f"*IDN? answer {answer!r} is not vendor,model,serial,firmware")
        return Identity(*(p.strip() for p in parts))

    def reset(self) -> None:
        self.write("*RST")

    def protocol_version(self) -> int:
        return int(self.query("SYST:VERS?"))

    def limits(self) -> dict:
        return json.loads(self.query("SYST:LIM?"))

    def family(self) -> str:
        return self.query("CHIP:FAM?")

    def run_counter(self) -> int:
        """The chip's run counter (``CHIP:RUN?``): the runs since power-on, the key of the
        next run's temporal noise."""
        answer = self.query("CHIP:RUN?")
        if not answer:
            self._check("CHIP:RUN?")
        return int(answer)

    def info(self) -> dict:
        answer = self.query("CHIP:INFO?")
        if not answer:
            self._check("CHIP:INFO?")
        return json.loads(answer)

    @staticmethod
    def _lock_command(token: str, keep: bool) -> str:
        return f"LOCK {token},KEEP" if keep else f"LOCK {token}"

    def lock(self, token: str, *, keep: bool = False) -> None:
        """Leases the board for ``token`` (joins or refreshes a lease that token holds).

        Without ``keep`` the lease is this connection's: it ends when the connection
        closes (after a reconnect the driver takes it again). With ``keep`` it
        outlives the connection until its time-out or :meth:`unlock`: for a lease
        shared by several connections, such as the board pool's.
        """
        self.write(self._lock_command(token, keep))
        self._token = token
        self._keep = keep

    def unlock(self) -> None:
        """Releases the lease this driver took (for every connection sharing its token)."""
        if self._token is None:
            return
        token, self._token, self._keep = self._token, None, False
        self.write(f"UNLOCK {token}")

    def leased(self) -> bool:
        return self.query("LOCK?") == "1"

    def echo(self, payload: bytes) -> memoryview:
        """Sends a block and reads it back (``SYST:ECHO?``): a link test."""
        message = b"SYST:ECHO? " + encode_block(payload, limit=self.max_block)

        def fn():
            self._write(message)
            return self._read_block()
        return self._exchange(fn, repeatable=True, what="SYST:ECHO?")

    def _block_command(self, header: str, meta: dict, arrays: dict) -> list:
        """``<header> #<n><length><payload>`` as a list of buffers (the arrays are not copied)."""
        parts = named_arrays.pack_parts(meta, arrays)
        length = sum(memoryview(p).nbytes for p in parts)
        if length > self.max_block:
            raise ProtocolError(-223, f"block of {length} bytes exceeds the limit of {self.max_block} bytes")
        return [header.encode() + b" " + block_header(length), *parts]

    def configure(self, meta: dict, arrays: dict) -> None:
        """Writes a configuration (named arrays + meta); raises BoardError if the board refuses it."""
        message = self._block_command("CONF", meta, arrays)

        def fn():
            self._write(*message, b"\nSYST:ERR?")
            return self._read_line()
        self._raise_if_error(self._exchange(fn, repeatable=True, what="CONF"), "CONF")
        self._configured_at = self.reconnects

    def configure_and_read(self, conf_meta: dict, conf_arrays: dict, meta: dict,
                           arrays: dict) -> tuple[dict, dict]:
        """``configure`` then ``read`` in one round trip: CONF, its error check and READ?
        go out in one write. The board refuses a READ? behind a refused CONF, so the
        run never uses a stale configuration; the CONF's error is raised. Never repeated."""
        message = [*self._block_command("CONF", conf_meta, conf_arrays), b"\nSYST:ERR?\n",
                   *self._block_command("READ?", meta, arrays)]

        def fn():
            self._write(*message)
            return self._read_line(), self._read_block()
        conf_answer, payload = self._exchange(fn, repeatable=False, what="CONF + READ?")
        self._raise_if_error(conf_answer, "CONF")
        self._configured_at = self.reconnects
        if not len(payload):
            self._check("READ?")
            raise ProtocolError(-200, "the board answered READ? with an empty block and no error")
        return named_arrays.unpack(payload)

    def read(self, meta: dict, arrays: dict) -> tuple[dict, dict]:
        """Runs a stimulus and returns the readout (one ``READ?`` round trip). Never repeated."""
        message = self._block_command("READ?", meta, arrays)

        def fn():
            if self._configured_at is not None and self._configured_at != self.reconnects:
                raise ConfigurationLost(f"{self.resource_name}: the connection was re-established after the "
                                        "configuration was written, and the board may hold another client's "
                                        "configuration now; configure again")
            self._write(*message)
            return self._read_block()
        payload = self._exchange(fn, repeatable=False, what="READ?")
        if not len(payload):
            self._check("READ?")
            raise ProtocolError(-200, "the board answered READ? with an empty block and no error")
        return named_arrays.unpack(payload)


_LINK_ERRORS = (pyvisa.VisaIOError, ConnectionError, OSError, BrokenPipeError)


def _is_timeout(exc: Exception) -> bool:
    return isinstance(exc, pyvisa.VisaIOError) and exc.error_code == constants.StatusCode.error_timeout
