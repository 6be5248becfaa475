"""One connection of a board server, over any byte stream: read commands with their
deadlines, execute them, send each answer within the send deadline.

The TCP transport (:mod:`.tcp`) hands each accepted socket to :func:`serve` as a
:class:`SocketStream`; the RTL simulation's bridge hands its own
:class:`~drivers.protocol.ByteStream`. Whatever ends the connection (the client
closing, a deadline, a wrong token too many), everything it held is given back
when :func:`serve` returns: its lease share, its budget, its stream.
"""
import socket
import struct
import time

from drivers import protocol
from drivers.errors import ProtocolError

from .commands import BoardServer
from .faults import LinkFaults


class SocketStream:
    """A :class:`~drivers.protocol.ByteStream` over a connected socket.

    The socket stays in blocking mode and its time-outs are the kernel's
    (SO_RCVTIMEO, SO_SNDTIMEO): a Python time-out would cost a poll() before every
    recv and send (4 us of a 25-us ``*IDN?`` round trip). An expired one makes the
    call fail with an OSError, which ends the connection.
    """

    def __init__(self, sock: socket.socket):
        self.sock = sock
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, protocol.SOCKET_BUFFER_BYTES)
        self._set = {socket.SO_RCVTIMEO: None, socket.SO_SNDTIMEO: None}

    def _timeout(self, option: int, seconds: float | None) -> None:
        """Sets SO_RCVTIMEO or SO_SNDTIMEO (None or 0: wait for ever) unless it is set so already."""
        if seconds != self._set[option]:
            # A timeval of 0 means "for ever": a time-out that is nearly up is 1 us.
            whole, micro = (0, 0) if seconds is None else divmod(max(1, round(seconds * 1e6)), 1_000_000)
            self.sock.setsockopt(socket.SOL_SOCKET, option, struct.pack("ll", whole, micro))
            self._set[option] = seconds

    def recv(self, nbytes: int, timeout: float | None) -> bytes:
        self._timeout(socket.SO_RCVTIMEO, timeout)
        try:
            return self.sock.recv(nbytes)
        except BlockingIOError:
            raise TimeoutError(f"nothing received within {timeout} s") from None

    def send(self, buffers: list, timeout: float) -> None:
        # One deadline for the whole answer: a client that takes a byte now and
        # then must not keep the server's buffers for ever. The first call may
        # wait the whole time-out (set once: the common case), later ones what is left.
        self._timeout(socket.SO_SNDTIMEO, timeout)
        if len(buffers) == 1:                   # a text answer: one send() takes it, as a rule
            sent = self._send_call(self.sock.send, buffers[0], timeout)
            if sent == len(buffers[0]):
                return
            buffers = [memoryview(buffers[0])[sent:]]
        deadline = time.monotonic() + timeout
        parts = [memoryview(b).cast("B") for b in buffers]
        while parts:
            sent = self._send_call(self.sock.sendmsg, parts[:64], timeout)
            while parts and sent >= parts[0].nbytes:
                sent -= parts[0].nbytes
                parts.pop(0)
            if sent:
                parts[0] = parts[0][sent:]
            if parts:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    raise TimeoutError(f"the client did not take its answer within {timeout} s")
                self._timeout(socket.SO_SNDTIMEO, wait)

    @staticmethod
    def _send_call(call, data, timeout: float) -> int:
        try:
            return call(data)
        except BlockingIOError:                 # SO_SNDTIMEO expired with nothing sent
            raise TimeoutError(f"the client did not take its answer within {timeout} s") from None

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
