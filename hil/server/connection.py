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
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, protocol.SOCKET_BUFFER_BYTES)

    def recv(self, nbytes: int, timeout: float | None) -> bytes:
        self.sock.settimeout(timeout)
        return self.sock.recv(nbytes)

    def send(self, buffers: list, timeout: float) -> None:
        # One deadline for the whole answer: a client that takes a byte now and
        # then must not keep the server's buffers for ever.
        deadline = time.monotonic() + timeout
        parts = [memoryview(b).cast("B") for b in buffers]
        while parts:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the client did not take its answer within {timeout} s")
            self.sock.settimeout(remaining)
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
            try:
                cmd = reader.read()
            except ProtocolError as exc:
                answer = session.refuse(exc)
            except OSError:         # a deadline passed, or the client vanished
                return
            else:
                if cmd is None:
                    return
                drop = link_faults.drop_after
                if drop is not None and session.commands >= drop:
                    server.budget.release(cmd.reserved)
                    return
                try:
                    answer = session.execute(cmd)
                finally:
                    server.budget.release(cmd.reserved)
            if answer is not None:
                if link_faults.slow_s:
                    time.sleep(link_faults.slow_s)
                try:
                    stream.send([*answer, b"\n"] if isinstance(answer, list) else [answer + b"\n"],
                                limits.send_timeout_s)
                except OSError:     # the client is gone or does not read: its answer with it
                    return
                finally:
                    session.answer_sent()
    finally:
        session.close()
        stream.close()
