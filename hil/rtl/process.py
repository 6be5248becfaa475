"""One RTL simulation session in child processes, serving the board protocol.

``RtlProcess`` exports the chip's fixed pattern, builds the models (or reuses the build),
and starts the build's launcher (:meth:`hil.rtl.build.Build.command`) in a process group
of its own: it runs the simulator through cocotb's runner with :mod:`hil.rtl.session` as
the test module. The session announces its board resource in a file; until then, a
simulator that dies gives :class:`RtlSimulatorError` with the tail of its log at once,
not a time-out.

The whole group is ended by :meth:`RtlProcess.close`, at interpreter exit, and by the
session itself when this process is gone (a crash included).
"""
import atexit
import json
import os
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

from emulator.bss2 import VirtualChip

from ..contract.errors import InvalidValue, RigError
from ..results.atomic import write_text_atomic
from . import build, fixed_pattern
from .build import SIMULATORS
from .geometry import RtlGeometry
from .session import SETTINGS_ENV

SIMULATOR_LOG = "sim.log"
"""The simulator's own log in the session directory (:meth:`hil.rtl.build.Build.test`)."""
GRACE_S = 5.0
"""How long the simulation may take to end after SIGTERM before it is killed, seconds."""
LOG_TAIL_BYTES = 4000
"""How much of a failed simulator's log an error shows."""


class RtlSimulatorError(RigError, RuntimeError):
    """The RTL simulator failed to start or died; the message carries the tail of its log."""


def _log_tail(log: Path) -> str:
    try:
        data = log.read_bytes()
    except OSError:
        return "(no log)"
    return data[-LOG_TAIL_BYTES:].decode(errors="replace")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:     # pragma: no cover - a group of ours is ours to signal
        return True


def _end_group(proc: subprocess.Popen) -> None:
    """Ends the child's process group (launcher and simulator): SIGTERM, and SIGKILL for
    whatever is still there after a grace period (a simulator may not heed SIGTERM)."""
    pgid = proc.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(pgid):
                break
            time.sleep(0.02)
        else:
            continue
        break
    try:
        proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:   # pragma: no cover - SIGKILL cannot be refused
        pass


class RtlProcess:
    """An RTL session of chip ``serial`` (``ideal``: without mismatch) on ``simulator``.

    >>> with RtlProcess(serial="EMU-0042") as proc:
    ...     backend = hil.backend.open("board", resource=proc.resource)
    """

    def __init__(self, *, serial: str, ideal: bool = False, simulator: str = "icarus",
                 geometry: RtlGeometry = RtlGeometry(), start_timeout_s: float = 300.0):
        if simulator not in SIMULATORS:
            raise InvalidValue("simulator", f"{simulator!r} is not one of {list(SIMULATORS)}")
        self.simulator, self.geometry = simulator, geometry
        self._tmp = tempfile.TemporaryDirectory(prefix="hil-rtl-")
        work = Path(self._tmp.name)
        self.logs = (work / "launcher.log", work / SIMULATOR_LOG)
        fixed_pattern.export(VirtualChip(serial, ideal=ideal), geometry, work)
        built = build.build(geometry, simulator)
        resource_file = work / "resource"
        settings = {"serial": serial, "ideal": bool(ideal), "geometry": geometry.as_dict(), "workdir": str(work),
                    "simulator": simulator, "version": built.build_dir.name, "owner_pid": os.getpid(),
                    "resource_file": str(resource_file), "stop_file": str(work / "stop")}
        settings_file = work / "session.json"
        write_text_atomic(settings_file, json.dumps(settings))
        argv, env, cwd = built.command("hil.rtl.session", work, extra_env={SETTINGS_ENV: str(settings_file)})
        with open(self.logs[0], "wb") as log:
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        # At interpreter exit (and when this object is collected) the group goes too.
        self._finalizer = weakref.finalize(self, _end_group, self.proc)
        atexit.register(self._finalizer)
        self.resource = self._wait_for_resource(resource_file, start_timeout_s)

    def _tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{_log_tail(log)}" for log in self.logs)

    def _wait_for_resource(self, path: Path, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if path.exists():
                return path.read_text().strip()
            if self.proc.poll() is not None:
                tail = self._tail()
                self.close()
                raise RtlSimulatorError(f"the {self.simulator} simulation exited (status {self.proc.returncode}) "
                                        f"before serving; its logs end:\n{tail}")
            time.sleep(0.05)
        tail = self._tail()
        self.close()
        raise RtlSimulatorError(f"the {self.simulator} simulation did not serve within {timeout_s:g} s; "
                                f"its logs end:\n{tail}")

    def check_alive(self, wait_s: float = 0.0) -> None:
        """Raises :class:`RtlSimulatorError` with the logs' tails if the simulation has died, or
        dies within ``wait_s`` seconds (its launcher ends once the simulator has)."""
        try:
            self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            return
        if self.proc.poll() is not None:
            raise RtlSimulatorError(f"the {self.simulator} simulation died (status {self.proc.returncode}); "
                                    f"its logs end:\n{self._tail()}")

    def close(self) -> None:
        """Ends the session: asks the simulation to stop (the stop file) and waits up to
        GRACE_S for it to exit, then ends the process group, whatever is left of it."""
        if self._finalizer.alive and self.proc.poll() is None:
            try:
                (Path(self._tmp.name) / "stop").touch()
                self.proc.wait(timeout=GRACE_S)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._finalizer()
        atexit.unregister(self._finalizer)
        try:
            self._tmp.cleanup()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
