"""The virtual board: a :class:`~hil.server.commands.BoardServer` on a TCP port.

    hil serve --port 5025 --serial EMU-0007 --fault dead-neuron=77

Serves up to ``limits.max_connections`` connections at once, one thread each
(:func:`hil.server.connection.serve`); one more is told so (error 104) and
closed. The chip, its configuration and its lease are shared, each connection
has its own error queue. A malformed command or an oversized block queues an
error and leaves the connection usable; a client that vanishes mid-anything
only loses its answer and costs nothing afterwards.
"""
import errno
import selectors
import socket
import threading

from drivers import protocol

from ..contract.backend import Backend
from . import connection
from .commands import BoardServer
from .faults import LinkFaults
from .limits import Limits

LISTEN_BACKLOG = 128
"""Connections the kernel queues before they are accepted (a burst of workers connecting at once)."""
ACCEPT_BACKOFF_S = (0.01, 1.0)
"""Wait after an accept that failed for want of file descriptors: first, doubling up to last, seconds."""
_NO_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class VirtualBoard:
    """Serves ``backend`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = protocol.DEFAULT_PORT, *,
                 link_faults: LinkFaults = LinkFaults(), limits: Limits = Limits()):
        self.server = BoardServer(backend, limits)
        self.link_faults = link_faults
        self.limits = limits
        self._listener = socket.create_server((host, port), backlog=LISTEN_BACKLOG, reuse_port=False)
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._active: dict[threading.Thread, socket.socket] = {}
        self._thread: threading.Thread | None = None
        self.accept_backoffs = 0
        """How often accepting waited for file descriptors (at the process's limit)."""

    @property
    def backend(self) -> Backend:
        return self.server.backend

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()[:2]

    @property
    def resource(self) -> str:
        host, port = self.address
        return f"TCPIP::{host}::{port}::SOCKET"

    @property
    def connections(self) -> int:
        """Connections being served now."""
        with self._idle:
            return len(self._active)

    def wait_idle(self, timeout: float, connections: int = 0) -> bool:
        """Waits until at most ``connections`` are being served (none by default); False if
        more still are after ``timeout`` seconds. Every connection's thread has ended then."""
        with self._idle:
            return self._idle.wait_for(lambda: len(self._active) <= connections, timeout)

    def serve_forever(self) -> None:
        backoff = ACCEPT_BACKOFF_S[0]
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not sel.select(timeout=0.2):
                    continue
                try:
                    sock, _ = self._listener.accept()
                except OSError as exc:
                    if exc.errno in _NO_RESOURCES:
                        # The connection stays queued in the kernel; trying again at
                        # once would only spin. Wait (a stop ends the wait).
                        self.accept_backoffs += 1
                        self._stop.wait(backoff)
                        backoff = min(2 * backoff, ACCEPT_BACKOFF_S[1])
                    continue            # e.g. ECONNABORTED: that client gave up
                backoff = ACCEPT_BACKOFF_S[0]
                self._start(sock)

    def _start(self, sock: socket.socket) -> None:
        with self._idle:
            if len(self._active) >= self.limits.max_connections:
                full = True
            else:
                full = False
                t = threading.Thread(target=self._serve, args=(sock,), name="board-connection", daemon=True)
                self._active[t] = sock
        if full:
            _refuse_connection(sock, self.limits.max_connections)
            return
        t.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            connection.serve(self.server, connection.SocketStream(sock), self.link_faults)
        finally:
            with self._idle:
                self._active.pop(threading.current_thread(), None)
                self._idle.notify_all()

    def start(self) -> "VirtualBoard":
        """Serves in a background thread (for tests and benchmarks)."""
        self._thread = threading.Thread(target=self.serve_forever, name="virtual-board", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stops accepting, ends every connection (waiting at most ``timeout`` seconds for
        a command on the chip to finish), then closes the backend."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._listener.close()
        with self._idle:
            socks = list(self._active.values())
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)      # its thread's recv or send returns at once
            except OSError:
                pass
        self.wait_idle(timeout)
        self.server.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _refuse_connection(sock: socket.socket, limit: int) -> None:
    """One error line, then closed: the client learns why instead of timing out."""
    line = protocol.format_error(104, f"too many connections: this board serves {limit} at once; "
                                      "try again when one has closed")
    try:
        sock.settimeout(0)              # never wait for this client: the line fits any socket buffer
        sock.send(line.encode() + b"\n")
    except OSError:
        pass
    finally:
        sock.close()
