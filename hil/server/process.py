"""``hil serve`` in a child process: virtual boards for fixtures and benchmarks."""
import selectors
import subprocess
import sys
import threading
import time

from emulator.bss2 import Faults

from .faults import fault_args


class BoardProcess:
    """``hil serve`` in a child process on a free loopback port (for fixtures and benchmarks).

    >>> with BoardProcess(serial="EMU-0007") as proc:
    ...     backend = hil.backend.open("board", resource=proc.resource)
    """

    def __init__(self, *, serial: str | None = None, ideal: bool = False, faults: Faults = Faults(),
                 family: str | None = None, extra_args: tuple[str, ...] = (), start_timeout: float = 30.0):
        cmd = [sys.executable, "-m", "hil", "serve", "--port", "0"]
        if family is not None:
            cmd += ["--family", family]
        if serial is not None:
            cmd += ["--serial", serial]
        if ideal:
            cmd.append("--ideal")
        for f in fault_args(faults):
            cmd += ["--fault", f]
        cmd += list(extra_args)
        self.command = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.resource = self._wait_for_resource(start_timeout)

    def _wait_for_resource(self, timeout: float) -> str:
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if " listening on " in line:
                self.startup_output = "".join(seen)
                """What the server printed up to and including its 'listening on' line."""
                # Keep draining its output, or a chatty server would block on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return line.rsplit(" listening on ", 1)[1].strip()
        self.close()
        raise RuntimeError(f"`{' '.join(self.command)}` did not start: {''.join(seen)[-2000:]!r}")

    def _drain(self) -> None:
        try:
            for _ in self.proc.stdout:
                pass
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
