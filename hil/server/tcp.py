"""The virtual board: a :class:`~hil.server.commands.BoardServer` on a TCP port.

    hil serve --port 5025 --serial EMU-0007 --fault dead-neuron=77

Serves several connections at once (one thread each); the chip, its
configuration and its lease are shared, each connection has its own error
queue. A malformed command or an oversized block queues an error and leaves
the connection usable; a client that vanishes mid-run only loses its answer.
"""
import socket
import socketserver
import threading
import time

from drivers import protocol
from drivers.blocks import MAX_BLOCK_BYTES
from drivers.errors import ProtocolError

from ..contract.backend import Backend
from .commands import BoardServer
from .faults import LinkFaults


class VirtualBoard:
    """Serves ``backend`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = protocol.DEFAULT_PORT, *,
                 link_faults: LinkFaults = LinkFaults(), max_block: int = MAX_BLOCK_BYTES,
                 lease_timeout: float = protocol.LEASE_TIMEOUT_S, io_timeout: float = protocol.IO_TIMEOUT_S):
        self.server = BoardServer(backend, max_block=max_block, lease_timeout=lease_timeout,
                                  io_timeout=io_timeout)
        self.link_faults = link_faults
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
    def backend(self) -> Backend:
        return self.server.backend

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
        self.server.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _serve_connection(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, protocol.SOCKET_BUFFER_BYTES)
        session = self.server.session()
        reader = protocol.CommandReader(sock, max_block=self.server.max_block, io_timeout=self.server.io_timeout)
        while True:
            try:
                cmd = reader.read()
            except ProtocolError as exc:
                answer = session.refuse(exc)
                if answer is not None:
                    _send(sock, answer)
                continue
            except OSError:         # timed out inside a command, or the client vanished
                break
            if cmd is None:
                break
            drop = self.link_faults.drop_after
            if drop is not None and session.commands >= drop:
                break
            answer = session.execute(cmd)
            if answer is not None:
                if self.link_faults.slow_s:
                    time.sleep(self.link_faults.slow_s)
                if not _send(sock, answer):
                    break
        try:
            sock.close()
        except OSError:
            pass


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
