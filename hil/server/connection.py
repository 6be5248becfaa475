"""One connection of a board server, over any byte stream: read commands with their
deadlines, execute them, send each answer within the send deadline.

The TCP transport (:mod:`.tcp`) hands each accepted socket to :func:`serve` as a
:class:`SocketStream`; the RTL simulation's bridge hands its own
:class:`~drivers.protocol.ByteStream`. Whatever ends the connection (the client
closing, a deadline, a wrong token too many), everything it held is given back
when :func:`serve` returns: its lease share, its budget, its stream.
"""
import socket
import time

from drivers import protocol
from drivers.errors import ProtocolError

from .commands import BoardServer
from .faults import LinkFaults


class SocketStream:
    """A :class:`~drivers.protocol.ByteStream` over a connected socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._timeout: float | None = -1.0       # what settimeout was last given (-1: nothing yet)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, protocol.SOCKET_BUFFER_BYTES)

    def _settimeout(self, timeout: float | None) -> None:
        if timeout != self._timeout:       # the idle time-out, set once, is the common case
            self.sock.settimeout(timeout)
            self._timeout = timeout

    def recv(self, nbytes: int, timeout: float | None) -> bytes:
        self._settimeout(timeout)
        return self.sock.recv(nbytes)

    def send(self, buffers: list, timeout: float) -> None:
        if len(buffers) == 1:
            # sendall's time-out bounds the whole call (Python >= 3.5).
            self._settimeout(timeout)
            self.sock.sendall(buffers[0])
            return
        # One deadline for the whole answer: a client that takes a byte now and
        # then must not keep the server's buffers for ever.
        deadline = time.monotonic() + timeout
        parts = [memoryview(b).cast("B") for b in buffers]
        while parts:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the client did not take its answer within {timeout} s")
            self._settimeout(remaining)
            sent = self.sock.sendmsg(parts[:64])
            while parts and sent >= parts[0].nbytes:
                sent -= parts[0].nbytes
                parts.pop(0)
            if sent:
                parts[0] = parts[0][sent:]

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def serve(server: BoardServer, stream: protocol.ByteStream, link_faults: LinkFaults = LinkFaults()) -> None:
    """Serves one connection until it ends; returns with everything it held given back."""
    limits = server.limits
    session = server.session()
    reader = protocol.CommandReader(stream, max_block=limits.max_block, block_timeout=limits.block_timeout_s,
                                    idle_timeout=limits.idle_timeout_s, reserve=server.reserve,
                                    release=server.budget.release)
    try:
        while not session.closing:
            reserved = 0        # budget held for this command's block, until its answer is sent
            try:
                try:
                    cmd = reader.read()
                except ProtocolError as exc:
                    answer = session.refuse(exc)
                else:
                    if cmd is None:
                        return
                    reserved = cmd.reserved
                    drop = link_faults.drop_after
                    if drop is not None and session.commands >= drop:
                        return
                    answer = session.execute(cmd)
                if answer is not None:
                    if link_faults.slow_s:
                        time.sleep(link_faults.slow_s)
                    stream.send([*answer, b"\n"] if isinstance(answer, list) else [answer + b"\n"],
                                limits.send_timeout_s)
            except OSError:     # a deadline passed, or the client is gone: its answer with it
                return
            finally:
                if reserved:
                    server.budget.release(reserved)
                session.answer_sent()
    finally:
        session.close()
        stream.close()
