"""The board protocol's framing, shared by the driver, the virtual board and the
RTL bridge (docs/protocol.md). Knows nothing of chip families.
"""
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .blocks import MAX_BLOCK_BYTES, parse_block_header
from .errors import ERROR_CODES, ProtocolError

DEFAULT_PORT = 5025
PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 4096
"""Longest command line, without its block."""
ERROR_QUEUE_LENGTH = 32
LEASE_TIMEOUT_S = 60.0
IO_TIMEOUT_S = 30.0
"""How long a server waits for the rest of a started command."""
TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
"""What a lease token may look like."""
TOKEN_RANDOM_BITS = 128
"""Random bits in every token the rig makes: a token is a bearer secret, so it must not be guessable."""
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
"""Send and receive buffer both sides ask for (the kernel may cap it)."""
EMPTY_BLOCK = b"#10"
"""The answer to a failed block query."""


def new_token(prefix: str) -> str:
    """``<prefix>-<32 hex digits>``: a lease token with :data:`TOKEN_RANDOM_BITS` random bits;
    the prefix (1..31 of [A-Za-z0-9_.-]) says whose it is."""
    token = f"{prefix}-{secrets.token_hex(TOKEN_RANDOM_BITS // 8)}"
    if len(prefix) > 31 or not TOKEN.match(token):
        raise ValueError(f"token prefix {prefix!r} must be 1..31 of [A-Za-z0-9_.-]")
    return token


@dataclass(frozen=True)
class Command:
    header: str
    """Upper-cased header, e.g. 'CONF' or 'SYST:ERR?'."""
    args: str = ""
    """Text arguments (empty when the command carries a block)."""
    block: bytes | bytearray | None = None
    reserved: int = 0
    """Bytes of the server's memory budget held for the block (given back after the command)."""

    @property
    def is_query(self) -> bool:
        return self.header.endswith("?")


class ErrorQueue:
    """One connection's SCPI error queue."""

    def __init__(self, length: int = ERROR_QUEUE_LENGTH):
        self.length = length
        self._items: list[tuple[int, str]] = []

    def push(self, code: int, message: str) -> None:
        if len(self._items) >= self.length:
            self._items[-1] = (-350, ERROR_CODES[-350])
            return
        self._items.append((code, message))

    def pop(self) -> tuple[int, str]:
        return self._items.pop(0) if self._items else (0, ERROR_CODES[0])

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def ascii_text(text: str) -> str:
    """``text`` with line breaks as spaces and everything else outside printable ASCII
    escaped (``\\xe9``), so that no client's decoder fails on an error message that
    quotes what a client sent."""
    out = []
    for ch in text:
        if " " <= ch <= "~":
            out.append(ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def format_error(code: int, message: str) -> str:
    """``<code>,"<message>"``: quotes in the message doubled, as SCPI does; ASCII only."""
    text = ascii_text(message).replace('"', "''")
    return f'{code},"{text}"'


def parse_error(line: str) -> tuple[int, str]:
    """The (code, message) of a ``SYST:ERR?`` answer."""
    m = re.match(r'^\s*([+-]?\d+)\s*,\s*"(.*)"\s*$', line, re.S)
    if not m:
        raise ProtocolError(-102, f"malformed error answer {line!r}")
    return int(m.group(1)), m.group(2)


class ByteStream(Protocol):
    """What carries a connection's bytes: a TCP socket, or the RTL simulation's channel."""

    def recv(self, nbytes: int, timeout: float | None) -> bytes:
        """Up to ``nbytes`` bytes; b"" at the end of the stream. Waits at most ``timeout``
        seconds (None: for ever), then raises :class:`TimeoutError`."""

    def send(self, buffers: list, timeout: float) -> None:
        """Sends every buffer, in order, within ``timeout`` seconds in all; raises
        :class:`TimeoutError` (or another :class:`OSError`) if they cannot be."""

    def close(self) -> None: ...


class _EndOfStream(Exception):
    """The client closed its side: nothing more will come."""


class CommandReader:
    """Reads commands from a :class:`ByteStream`, one at a time, resynchronising after bad input.

    ``read()`` returns the next :class:`Command`, None at the end of the stream (also in
    the middle of a command: what was started is dropped), or raises
    :class:`ProtocolError` for a command it refused; after such an error the
    stream is positioned at the start of the next command, so the connection
    stays usable. The error's ``header`` is the refused command's header where it
    can be told, so that a refused query still gets its one answer.

    Time: a connection may wait ``idle_timeout`` seconds before a command; once a
    command has started, all of it (line and block) must arrive within
    ``block_timeout`` seconds of its start. Either raises :class:`TimeoutError`.

    Memory: ``reserve(nbytes)`` is asked before a block's payload is read; it
    returns None if the bytes may be held, or the reason they may not (the block
    is then read and dropped, error -225). The command carries the reserved
    bytes in ``Command.reserved``; the caller gives them back with ``release``
    (which the reader calls itself for a block it does not hand out).
    """

    def __init__(self, stream: ByteStream, max_block: int = MAX_BLOCK_BYTES, max_line: int = MAX_LINE_BYTES,
                 block_timeout: float = IO_TIMEOUT_S, idle_timeout: float | None = None,
                 reserve: Callable[[int], str | None] | None = None,
                 release: Callable[[int], None] | None = None):
        self.stream = stream
        self.max_block = max_block
        self.max_line = max_line
        self.block_timeout = block_timeout
        self.idle_timeout = idle_timeout
        self.reserve = reserve
        self.release = release
        self.buf = bytearray()
        self.eof = False
        self._deadline: float | None = None

    def _fill(self) -> None:
        if self.eof:
            raise _EndOfStream
        if self._deadline is None:          # between commands
            if self.buf:
                self._deadline = time.monotonic() + self.block_timeout
                timeout = self.block_timeout
            else:
                timeout = self.idle_timeout
        else:
            timeout = self._deadline - time.monotonic()
            if timeout <= 0:
                raise TimeoutError(f"a command did not arrive within {self.block_timeout} s")
        chunk = self.stream.recv(1 << 20, timeout)
        if not chunk:
            # Drop what was started: the stream stays at its end from now on, and
            # every later read() returns None at once (no spinning on recv).
            self.eof = True
            self.buf.clear()
            raise _EndOfStream
        self.buf += chunk
        if self._deadline is None:
            self._deadline = time.monotonic() + self.block_timeout

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            self._fill()

    def _discard(self, n: int) -> None:
        """Drops n bytes of the stream, without holding them all in memory."""
        while n > 0:
            if not self.buf:
                self._fill()
            k = min(n, len(self.buf))
            del self.buf[:k]
            n -= k

    def _skip_line(self) -> bytes:
        """Drops the stream up to and including the next LF; returns the line's last byte
        before it (CR removed), to tell whether a too-long line was a query."""
        last = b""
        while True:
            i = self.buf.find(b"\n")
            part = bytes(self.buf[:i] if i >= 0 else self.buf).rstrip(b"\r")
            last = part[-1:] or last
            if i >= 0:
                del self.buf[:i + 1]
                return last
            self.buf.clear()
            self._fill()

    def read(self) -> Command | None:
        self._deadline = None
        try:
            return self._read()
        except _EndOfStream:
            return None

    def _read(self) -> Command:
        # Find the end of the header and its text arguments, or the start of a block.
        while True:
            lf = self.buf.find(b"\n")
            hash_ = self.buf.find(b" #")
            if hash_ >= 0 and (lf < 0 or hash_ < lf):
                return self._read_block_command(hash_)
            if lf >= 0:
                line = bytes(self.buf[:lf])
                del self.buf[:lf + 1]
                if len(line) > self.max_line:
                    raise self._too_long(line[:self.max_line + 1], line.rstrip(b"\r")[-1:])
                return self._text_command(line)
            if len(self.buf) > self.max_line:
                head = bytes(self.buf[:self.max_line + 1])
                raise self._too_long(head, self._skip_line())
            self._fill()

    def _too_long(self, head: bytes, last: bytes) -> ProtocolError:
        """Error -363 for a line over max_line bytes, whose first max_line + 1 bytes are
        ``head`` and whose last byte (before CRs) is ``last``. Its header is its first word;
        a line that is one word too long to hold is a query if it ends in '?'."""
        if b" " in head.strip()[:self.max_line]:
            header = _header_of(head)
        else:
            header = _header_of(head[:40]) + ("...?" if last == b"?" else "...")
        return ProtocolError(-363, f"command line longer than {self.max_line} bytes", header)

    def _text_command(self, line: bytes) -> Command:
        line = line.rstrip(b"\r")
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(-102, f"command is not ASCII: {line[:40]!r}", _header_of(line)) from None
        if not text.strip():
            raise ProtocolError(-102, "empty command")
        header, _, args = text.strip().partition(" ")
        return Command(header.upper(), args.strip())

    def _read_block_command(self, at: int) -> Command:
        head = bytes(self.buf[:at])
        header = _header_of(head)
        del self.buf[:at + 1]                       # header and the space
        try:
            return self._read_block(header, head)
        except ProtocolError as exc:
            exc.header = header or None
            raise

    def _read_block(self, header: str, head: bytes) -> Command:
        if len(head) > self.max_line:
            # Skip the block too, or its bytes would be read as commands.
            self._skip_block(refused=ProtocolError(-363, f"command line longer than {self.max_line} bytes"))
        try:
            hlen, length = self._block_header()
        except ProtocolError:
            self._skip_line()
            raise
        if length > self.max_block:
            del self.buf[:hlen]
            self._discard(length)
            self._expect_lf()
            raise ProtocolError(-223, f"block of {length} bytes exceeds the limit of {self.max_block} bytes")
        refused = self.reserve(length) if self.reserve is not None else None
        if refused is not None:
            del self.buf[:hlen]
            self._discard(length)
            self._expect_lf()
            raise ProtocolError(-225, refused)
        reserved = length if self.reserve is not None else 0
        try:
            del self.buf[:hlen]
            payload = self._take(length)
            self._expect_lf()
            try:
                text = head.decode("ascii").strip()
            except UnicodeDecodeError:
                text = ""
            if not text or " " in text:
                raise ProtocolError(-102, f"malformed header before a block: {head[:40]!r}")
        except BaseException:
            if reserved and self.release is not None:
                self.release(reserved)
            raise
        return Command(header, "", payload, reserved)

    def _take(self, n: int) -> bytes | bytearray:
        """The next n bytes of the stream. A large block is read straight into a buffer of
        its size, so that the server holds it once, as its budget counts it, not twice."""
        if len(self.buf) >= n:
            out = bytes(self.buf[:n])
            del self.buf[:n]
            return out
        out = bytearray(n)
        with memoryview(out) as view:
            k = len(self.buf)
            view[:k] = self.buf
            self.buf = bytearray()
            while k < n:
                self._fill()
                m = min(n - k, len(self.buf))
                with memoryview(self.buf) as chunk:
                    view[k:k + m] = chunk[:m]
                del self.buf[:m]
                k += m
        return out

    def _block_header(self) -> tuple[int, int]:
        """(header bytes, payload length) of the block at the start of the buffer; any length."""
        self._need(2)
        n = self.buf[1] - ord("0")
        if 1 <= n <= 9:
            self._need(2 + n)
        return parse_block_header(bytes(self.buf[:2 + max(n, 0)]), limit=1 << 62)

    def _skip_block(self, refused: ProtocolError):
        try:
            hlen, length = self._block_header()
            del self.buf[:hlen]
            self._discard(length)
            self._expect_lf()
        except ProtocolError:
            self._skip_line()
        raise refused

    def _expect_lf(self) -> None:
        self._need(1)
        if self.buf[:1] == b"\n":
            del self.buf[:1]
        elif self.buf[:2] == b"\r\n":
            del self.buf[:2]
        else:
            self._skip_line()
            raise ProtocolError(-102, "a block must be followed by the newline that ends the command")


def _header_of(head: bytes) -> str:
    """The upper-cased first word of a command, non-ASCII escaped ('' if there is none)."""
    word = head.strip().split(b" ", 1)[0] if head.strip() else b""
    return ascii_text(word.decode("latin-1")).upper()
