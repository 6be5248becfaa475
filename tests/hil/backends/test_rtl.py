"""The rtl backend: one simulation per backend, serving the board protocol from inside the
simulator; the same chip as the emulator of its serial; cleaned up on close, at exit and when
its owner dies; a dead simulator is an error with its log, not a time-out."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import hil
from hil.bss2 import MacConfig, MacStimulus
from hil.errors import InvalidValue
from hil.rtl.geometry import RtlGeometry
from hil.rtl.process import RtlSimulatorError
from tests.support import REPO

pytestmark = pytest.mark.rtl


def _children_of(pid: int) -> list[int]:
    """Every process whose parent is ``pid``, and theirs (from /proc)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == parent:
                    found.append(int(entry))
                    frontier.append(int(entry))
    return found


def _gone(pids: list[int], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and
                 open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def rtl():
    with hil.backend.open("rtl", serial="EMU-0042") as b:      # the non-ideal chip, its noise included
        yield b


def test_the_rtl_is_the_emulated_chip_of_its_serial(rtl):
    info = rtl.info()
    core = RtlGeometry.from_info(info.geometry)
    assert (info.backend, info.serial, info.modes, core) == ("rtl", "EMU-0042", ("mac",), RtlGeometry())
    rng = np.random.default_rng(15)
    w, x = rng.integers(-63, 64, (core.rows, core.neurons)), rng.integers(0, 32, (20, core.rows))
    first = rtl.run_counter
    with hil.backend.open("emulator", serial="EMU-0042", geometry=core, first_run=first) as emu:
        for sends, wait in ((1, 5), (7, 0)):
            stimulus = MacStimulus(inputs=x, num_sends=sends, wait_between_events=wait)
            got = rtl.configure_and_run(MacConfig(weights=w), stimulus).outputs
            np.testing.assert_array_equal(got, emu.configure_and_run(MacConfig(weights=w), stimulus).outputs)
    assert rtl.run_counter == first + 2


def test_hil_mac_splits_a_product_into_the_cores_blocks(rtl):
    core = RtlGeometry.from_info(rtl.info().geometry)
    rng = np.random.default_rng(16)
    x, W = rng.integers(0, 32, (5, core.rows + 3)), rng.integers(-63, 64, (core.rows + 3, core.neurons + 1))
    first = rtl.run_counter
    got = hil.bss2.mac(rtl, x, W)
    assert rtl.run_counter == first + 4           # 2 row blocks x 2 column blocks
    with hil.backend.open("emulator", serial="EMU-0042", geometry=core, first_run=first) as emu:
        np.testing.assert_array_equal(got, hil.bss2.mac(emu, x, W))


def test_other_shapes_are_refused_with_the_cores_size(rtl):
    with pytest.raises(ValueError, match=r"weights: has shape \(128, 512\); this device takes \(32, 32\)"):
        rtl.configure(MacConfig(weights=np.zeros((128, 512))))
    rtl.configure(MacConfig(weights=np.zeros((32, 32))))
    with pytest.raises(ValueError, match=r"inputs: has shape \(1, 128\); this device takes \(any, 32\)"):
        rtl.run(MacStimulus(inputs=np.zeros((1, 128))))


def test_unknown_simulator_and_options_are_refused():
    with pytest.raises(InvalidValue, match="simulator: 'modelsim' is not one of"):
        hil.backend.open("rtl", simulator="modelsim")
    with pytest.raises(TypeError):
        hil.backend.open("rtl", faults=None)


def test_close_ends_the_simulator():
    b = hil.backend.open("rtl", serial="EMU-0043", ideal=True)
    launcher = b.process.proc.pid
    group = [launcher] + _children_of(launcher)
    assert len(group) >= 2                          # the launcher and the simulator
    b.close()
    assert _gone(group)


def test_a_dead_simulator_is_an_error_with_its_log():
    with hil.backend.open("rtl", serial="EMU-0044", ideal=True) as b:
        b.configure(MacConfig(weights=np.ones((32, 32))))
        for pid in _children_of(b.process.proc.pid):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(RtlSimulatorError, match=r"simulation died .* its logs end:\n--- launcher.log"):
            b.run(MacStimulus(inputs=np.ones((2, 32))))


def test_the_session_ends_when_its_owner_is_killed(tmp_path):
    """A client that dies without closing (SIGKILL) leaves no simulator behind."""
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        import hil
        from tests.hil.backends.test_rtl import _children_of
        b = hil.backend.open("rtl", serial="EMU-0045", ideal=True)
        print(" ".join(map(str, _children_of(os.getpid()))), flush=True)
        time.sleep(600)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        line = owner.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert pids, "the owner started no simulation"
    finally:
        owner.kill()
        owner.wait()
    assert _gone(pids, timeout_s=30.0)
