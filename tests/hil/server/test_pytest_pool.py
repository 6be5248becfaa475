"""pytest over several boards: ``--board``, ``--boards`` and pytest-xdist workers each leasing their own."""
import json
import re
import subprocess
from pathlib import Path

import pytest

from drivers.board import BoardDriver
from hil.server.process import BoardProcess
from tests.support import free_port, pytest_in_subprocess, write_inventory

pytestmark = pytest.mark.board


# --- pytest over several boards -----------------------------------------------------------

WORK = '''
import json, os, time

import pytest


@pytest.mark.parametrize("i", range(int(os.environ["POOL_TESTS"])))
def test_board_work(backend, worker_id, i):
    start = time.time()
    backend.info()
    time.sleep(0.4)                               # "measuring" on the board
    record = {"worker": worker_id, "serial": backend.info().serial, "start": start, "end": time.time()}
    with open(os.environ["POOL_LOG"], "a") as f:  # one short append per test: atomic
        f.write(json.dumps(record) + "\\n")
'''


def run_pytest(tmp_path: Path, *args: str, tests: int = 8) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Runs the small test file above (``tests`` tests); returns pytest's result and the tests' records."""
    test_file = tmp_path / "test_pool_work.py"
    test_file.write_text(WORK)
    log = tmp_path / "work.jsonl"
    log.unlink(missing_ok=True)
    proc = pytest_in_subprocess(tmp_path, test_file, "-q", *args, POOL_LOG=str(log), POOL_TESTS=str(tests))
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, records


@pytest.fixture
def four_boards(tmp_path):
    """Five virtual boards (distinct serials) in an inventory; the third is leased by someone else."""
    procs = [BoardProcess(serial=f"EMU-XDIST-{i}") for i in range(5)]
    inv = write_inventory(tmp_path / "inventory.toml",
                          [(f"vb-{i}", p.resource, f"EMU-XDIST-{i}") for i, p in enumerate(procs)])
    outsider = BoardDriver(procs[2].resource)
    outsider.lock("someone-else")
    yield inv, procs
    outsider.close()
    for p in procs:
        p.close()


def test_xdist_workers_each_lease_their_own_board_in_parallel(tmp_path, four_boards):
    inv, procs = four_boards
    proc, records = run_pytest(tmp_path, "-n", "4", "--backend", "board", "--boards", str(inv))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(records) == 8

    by_worker: dict[str, set[str]] = {}
    for r in records:
        by_worker.setdefault(r["worker"], set()).add(r["serial"])
    assert sorted(by_worker) == ["gw0", "gw1", "gw2", "gw3"]
    assert all(len(serials) == 1 for serials in by_worker.values()), by_worker    # one board per worker
    used = [next(iter(s)) for s in by_worker.values()]
    assert len(set(used)) == 4, by_worker                                        # no board shared
    assert "EMU-XDIST-2" not in used                                             # nor the outsider's

    # Parallel: every worker's stretch of board work overlaps every other's.
    spans = {w: (min(r["start"] for r in records if r["worker"] == w),
                 max(r["end"] for r in records if r["worker"] == w)) for w in by_worker}
    for a in spans:
        for b in spans:
            assert spans[a][0] < spans[b][1], (a, b, spans)
    # And the run took about one worker's share, not the sum of all.
    wall = max(e for _, e in spans.values()) - min(s for s, _ in spans.values())
    assert wall < 0.6 * sum(r["end"] - r["start"] for r in records), spans

    # Every lease was released at the end of the sessions, and the outsider's kept.
    for i, p in enumerate(procs):
        with BoardDriver(p.resource) as d:
            assert d.leased() == (i == 2)


def test_a_worker_without_a_board_fails_with_the_reason(tmp_path, four_boards):
    """--board NAME: one board. A second xdist worker cannot have it: its tests fail, saying why."""
    inv, procs = four_boards
    proc, records = run_pytest(tmp_path, "-n", "2", "--backend", "board", "--boards", str(inv),
                               "--board", "vb-1", tests=4)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert {r["serial"] for r in records} == {"EMU-XDIST-1"} and len({r["worker"] for r in records}) == 1
    assert re.search(r"^gw[01] could not lease a board: no free board in .*inventory.toml for "
                     r"'pytest-gw[01]-[^']+' among 1: vb-1 \(TCPIP::127.0.0.1::\d+::SOCKET\): leased by another "
                     r"owner \(2 workers for 1 board\(s\): run with -n 1 or fewer, or add boards\)$", proc.stdout, re.M)
    assert re.search(r"\d+ passed, \d+ errors?", proc.stdout)


def test_a_board_given_by_resource_is_leased_and_skips_tests_needing_own_chips(tmp_path):
    test_file = tmp_path / "test_needs_ideal.py"
    test_file.write_text("def test_ideal(ideal_backend):\n    pass\n\n"
                         "def test_plain(backend):\n"
                         "    assert backend.info().serial == 'EMU-ONE' and backend.driver.leased()\n")
    with BoardProcess(serial="EMU-ONE") as board:
        proc = pytest_in_subprocess(tmp_path, test_file, "-rs", "--backend", "board", "--board", board.resource)
        with BoardDriver(board.resource) as d:
            assert not d.leased()                        # released at the end of the session
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"a real board ({board.resource}) cannot be opened with ['ideal']" in proc.stdout
    assert "1 passed, 1 skipped" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--boards", "{inv}"], "ERROR: --board and --boards select boards: they need --backend board"),
    (["--backend", "board", "--boards", "{inv}", "--board", "vb-9"],
     "ERROR: --board: no board named or at 'vb-9' in {inv}; boards: vb-0, vb-1"),
    (["--backend", "board", "--boards", "{tmp}/nope.toml"],
     "ERROR: --boards: {tmp}/nope.toml: no such inventory file; give another or set $HIL_INVENTORY"),
])
def test_board_options_are_checked_before_any_test(tmp_path, args, message):
    inv = write_inventory(tmp_path / "inventory.toml", [(f"vb-{i}", f"TCPIP::127.0.0.1::{free_port()}::SOCKET",
                                                         f"EMU-{i}") for i in range(2)])
    args = [a.format(inv=inv, tmp=tmp_path) for a in args]
    proc, records = run_pytest(tmp_path, *args)
    assert proc.returncode == 4 and records == []
    assert message.format(inv=inv, tmp=tmp_path) in proc.stderr


def test_session_tokens_carry_128_random_bits():
    from hil.server.pytest_pool import lease_token

    tokens = {lease_token("gw3") for _ in range(100)}
    assert len(tokens) == 100
    for t in tokens:
        assert re.fullmatch(r"pytest-gw3-[A-Za-z0-9_.-]*-[0-9a-f]{32}", t) and len(t) <= 64, t


def test_repeated_backend_runs_every_device_test_on_each(tmp_path):
    """``--backend emulator --backend model``: a test that takes a device runs once per backend
    (ids [emulator] and [model]); a test that takes none runs once."""
    test_file = tmp_path / "test_two_backends.py"
    test_file.write_text("def test_device(backend, ideal_backend):\n"
                         "    assert backend.info().backend == ideal_backend.info().backend\n"
                         "    print('RAN', backend.info().backend, ideal_backend.info().ideal)\n\n"
                         "def test_plain():\n    pass\n")
    proc = pytest_in_subprocess(tmp_path, test_file, "-s", "-v", "--backend", "emulator", "--backend", "model")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.findall(r"RAN (\w+) True", proc.stdout) == ["emulator", "model"]
    assert "test_device[emulator]" in proc.stdout and "test_device[model]" in proc.stdout
    assert "3 passed" in proc.stdout
    proc = pytest_in_subprocess(tmp_path, test_file, "--simulator", "icarus", "--backend", "emulator")
    assert proc.returncode == 4
    assert "--simulator selects the rtl backend's simulator; use it with --backend rtl" in proc.stderr
