"""The board protocol's framing, shared by the driver, the virtual board and the
RTL bridge (docs/protocol.md). Knows nothing of chip families.
"""
import re
import socket
from dataclasses import dataclass

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
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
"""Send and receive buffer both sides ask for (the kernel may cap it)."""
EMPTY_BLOCK = b"#10"
"""The answer to a failed block query."""


@dataclass(frozen=True)
class Command:
    header: str
    """Upper-cased header, e.g. 'CONF' or 'SYST:ERR?'."""
    args: str = ""
    """Text arguments (empty when the command carries a block)."""
    block: bytes | None = None

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


def format_error(code: int, message: str) -> str:
    """``<code>,"<message>"`` with quotes in the message doubled, as SCPI does."""
    text = message.replace('"', "''").replace("\n", " ")
    return f'{code},"{text}"'


def parse_error(line: str) -> tuple[int, str]:
    """The (code, message) of a ``SYST:ERR?`` answer."""
    m = re.match(r'^\s*([+-]?\d+)\s*,\s*"(.*)"\s*$', line, re.S)
    if not m:
        raise ProtocolError(-102, f"malformed error answer {line!r}")
    return int(m.group(1)), m.group(2)


class CommandReader:
    """Reads commands from a socket, one at a time, resynchronising after bad input.

    ``read()`` returns the next :class:`Command`, None at end of stream, or
    raises :class:`ProtocolError` for a command it refused; after such an
    error the stream is positioned at the start of the next command, so the
    connection stays usable.
    """

    def __init__(self, sock: socket.socket, max_block: int = MAX_BLOCK_BYTES,
                 max_line: int = MAX_LINE_BYTES, io_timeout: float = IO_TIMEOUT_S):
        self.sock = sock
        self.max_block = max_block
        self.max_line = max_line
        self.io_timeout = io_timeout
        self.buf = bytearray()

    def _fill(self, mid_command: bool) -> bool:
        # Between commands a client may idle forever; within one, it has io_timeout.
        self.sock.settimeout(self.io_timeout if mid_command else None)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _need(self, n: int) -> bool:
        while len(self.buf) < n:
            if not self._fill(True):
                return False
        return True

    def _discard(self, n: int) -> None:
        """Drops n bytes of the stream, without holding them all in memory."""
        while n > 0:
            if not self.buf and not self._fill(True):
                return
            k = min(n, len(self.buf))
            del self.buf[:k]
            n -= k

    def _skip_line(self) -> None:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                del self.buf[:i + 1]
                return
            self.buf.clear()
            if not self._fill(True):
                return

    def read(self) -> Command | None:
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
                    raise ProtocolError(-363, f"command line longer than {self.max_line} bytes")
                return self._text_command(line)
            if len(self.buf) > self.max_line:
                self._skip_line()
                raise ProtocolError(-363, f"command line longer than {self.max_line} bytes")
            if not self._fill(bool(self.buf)):
                if self.buf:
                    raise ProtocolError(-102, "connection closed in the middle of a command")
                return None

    def _text_command(self, line: bytes) -> Command:
        line = line.rstrip(b"\r")
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(-102, f"command is not ASCII: {line[:40]!r}") from None
        if not text.strip():
            raise ProtocolError(-102, "empty command")
        header, _, args = text.strip().partition(" ")
        return Command(header.upper(), args.strip())

    def _read_block_command(self, at: int) -> Command:
        head = bytes(self.buf[:at])
        try:
            header = head.decode("ascii").strip().upper()
        except UnicodeDecodeError:
            header = ""
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
        if not self._need(hlen + length + 1):
            raise ProtocolError(-161, f"connection closed inside a block of {length} bytes")
        payload = bytes(self.buf[hlen:hlen + length])
        del self.buf[:hlen + length]
        self._expect_lf()
        if not header or " " in header:
            raise ProtocolError(-102, f"malformed header before a block: {head[:40]!r}")
        return Command(header, "", payload)

    def _block_header(self) -> tuple[int, int]:
        """(header bytes, payload length) of the block at the start of the buffer; any length."""
        if not self._need(2):
            raise ProtocolError(-161, "connection closed inside a block header")
        n = self.buf[1] - ord("0")
        if 1 <= n <= 9 and not self._need(2 + n):
            raise ProtocolError(-161, "connection closed inside a block header")
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
        if not self._need(1):
            return
        if self.buf[:1] == b"\n":
            del self.buf[:1]
        elif self.buf[:2] == b"\r\n":
            del self.buf[:2]
        else:
            self._skip_line()
            raise ProtocolError(-102, "a block must be followed by the newline that ends the command")
