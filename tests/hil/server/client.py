"""A raw-socket client of the board protocol, for tests that send what a broken client would."""
import socket

from drivers import named_arrays, protocol
from drivers.blocks import encode_block, parse_block_header
from hil.contract import wire


class Client:
    def __init__(self, board, timeout=5.0):
        self.sock = socket.create_connection(board.address, timeout=timeout)
        self.buf = b""

    def send(self, data: bytes):
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf.split(b"\n", 1)
        return out

    def query(self, text: str) -> str:
        self.send(text.encode() + b"\n")
        return self.line().decode()

    def _need(self, n: int):
        while len(self.buf) < n:
            self.buf += self.sock.recv(1 << 20)

    def block(self) -> bytes:
        self._need(2)
        self._need(2 + self.buf[1] - ord("0"))
        hlen, n = parse_block_header(self.buf[:2 + self.buf[1] - ord("0")])
        self._need(hlen + n + 1)
        out, self.buf = self.buf[hlen:hlen + n], self.buf[hlen + n + 1:]
        return out

    def error(self):
        return protocol.parse_error(self.query("SYST:ERR?"))


def block_cmd(header: str, obj) -> bytes:
    h, arrays = wire.encode(obj)
    return header.encode() + b" " + encode_block(named_arrays.pack(h, arrays)) + b"\n"
