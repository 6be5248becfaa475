"""The connection loop over a byte stream that is not a socket (as the RTL simulation's bridge
will be): the same commands, limits and clean-up as over TCP."""
import hil
from drivers import protocol
from hil.server import connection
from hil.server.commands import BoardServer
from hil.server.limits import Limits


class ScriptedStream:
    """Hands out the given chunks, then the end of the stream (or a time-out); keeps what is sent."""

    def __init__(self, chunks: list[bytes], then: type[Exception] | None = None):
        self.chunks = list(chunks)
        self.then = then
        self.sent = bytearray()
        self.timeouts: list[float | None] = []
        self.closed = False

    def recv(self, nbytes: int, timeout: float | None) -> bytes:
        self.timeouts.append(timeout)
        if self.chunks:
            return self.chunks.pop(0)
        if self.then is not None:
            raise self.then("no more bytes")
        return b""

    def send(self, buffers: list, timeout: float) -> None:
        for b in buffers:
            self.sent += bytes(b)

    def close(self) -> None:
        self.closed = True


def test_a_stream_is_served_like_a_socket_and_given_back():
    server = BoardServer(hil.backend.open("emulator", serial="EMU-STREAM"), Limits(idle_timeout_s=5))
    stream = ScriptedStream([b"*ID", b"N?\nLOCK tok\n*RST 1\nSYST:E", b"RR?\nLOCK?\n", b"CONF #15ab"])
    connection.serve(server, stream)
    assert bytes(stream.sent) == b"hil-rig,BSS2-EMU,EMU-STREAM,emulator 0.1.0\n" + \
        protocol.format_error(-108, "*RST takes no arguments; got '1'").encode() + b"\n1\n"
    assert stream.closed and server.budget.used == 0
    assert stream.timeouts[0] == 5, "between commands: the idle time-out"
    assert 0 < stream.timeouts[1] <= Limits().block_timeout_s, "inside a command: what is left of its deadline"
    assert server._lease is None, "the lease ended with its only connection"


def test_a_stream_that_times_out_ends_the_connection():
    server = BoardServer(hil.backend.open("emulator"), Limits())
    stream = ScriptedStream([b"*IDN?\nCONF #3100xx"], then=TimeoutError)
    connection.serve(server, stream)
    assert stream.sent.startswith(b"hil-rig,") and stream.closed and server.budget.used == 0
