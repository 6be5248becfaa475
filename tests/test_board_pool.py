"""The board inventory, `hil boards`, the lease pool, and pytest-xdist over several boards.

The boards are virtual (`hil serve` processes, or VirtualBoard threads for the
lease unit tests) on loopback ports; everything else is the real path: TOML
inventory, pyvisa-py sockets, LOCK/UNLOCK on the board, xdist workers.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import hil
from drivers.board import BoardDriver
from drivers.inventory import (Board, Inventory, InventoryError, UnknownBoard, load_inventory, probe)
from drivers.pool import BoardSkipped, LeaseKeeper, NoFreeBoard, lease_any
from hil.cli import main
from hil.board_process import BoardProcess
from hil.virtual_board import VirtualBoard

pytestmark = pytest.mark.board

REPO = Path(__file__).resolve().parents[1]


def write_inventory(path: Path, boards) -> Path:
    """``boards``: (name, resource, serial) triples, family bss2."""
    path.write_text("".join(f'[[board]]\nname = "{n}"\nresource = "{r}"\nserial = "{s}"\nfamily = "bss2"\n\n'
                            for n, r, s in boards))
    return path


def free_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the inventory file -------------------------------------------------------------------

GOOD = '''
[[board]]
name = "bench-1"
resource = "TCPIP::10.0.0.5::5025::SOCKET"
serial = "BSS2-0042"
family = "bss2"
description = "rack 2, slot 3"

[[board]]
name = "bench-2"
resource = "TCPIP::lab-bss2-7.example.org::5025::SOCKET"
serial = "BSS2-0043"
family = "bss2"
'''


def test_inventory_loads_boards_in_order_and_finds_them(tmp_path):
    path = tmp_path / "inventory.toml"
    path.write_text(GOOD)
    inv = load_inventory(path)
    assert inv.names == ["bench-1", "bench-2"] and len(inv) == 2 and inv.path == str(path)
    b = inv.find("bench-1")
    assert b == Board("bench-1", "TCPIP::10.0.0.5::5025::SOCKET", "BSS2-0042", "bss2", "rack 2, slot 3")
    assert inv.find("TCPIP::lab-bss2-7.example.org::5025::SOCKET").name == "bench-2"
    with pytest.raises(UnknownBoard, match=r"no board named or at 'bench-9' in .*; boards: bench-1, bench-2"):
        inv.find("bench-9")
    with pytest.raises(AttributeError):
        b.serial = "other"          # frozen


def test_inventory_default_path_is_the_environment_variable(tmp_path, monkeypatch):
    path = tmp_path / "lab.toml"
    path.write_text(GOOD)
    monkeypatch.setenv("HIL_INVENTORY", str(path))
    assert load_inventory().names == ["bench-1", "bench-2"]


ENTRY = 'name = "bench-1"\nresource = "TCPIP::10.0.0.5::5025::SOCKET"\nserial = "BSS2-0042"\nfamily = "bss2"\n'


@pytest.mark.parametrize("text, message", [
    ("[[board]]\n" + ENTRY.replace('serial = "BSS2-0042"\n', ""),
     "board 'bench-1' (#1): key 'serial': missing; every board needs name, resource, serial, family"),
    ("[[board]]\n" + ENTRY + 'serail = "BSS2-0042"\n',
     "board 'bench-1' (#1): key 'serail': unknown key; allowed: name, resource, serial, family, description"),
    ("[[board]]\n" + ENTRY.replace("::5025::SOCKET", "::SOCKET"),
     "board 'bench-1' (#1): key 'resource': 'TCPIP::10.0.0.5::SOCKET' is not of the form "
     "TCPIP::<host>::<port>::SOCKET"),
    ("[[board]]\n" + ENTRY.replace("TCPIP::10.0.0.5::5025::SOCKET", "10.0.0.5:5025"),
     "board 'bench-1' (#1): key 'resource': '10.0.0.5:5025' is not of the form TCPIP::<host>::<port>::SOCKET"),
    ("[[board]]\n" + ENTRY.replace("5025", "70000"),
     "board 'bench-1' (#1): key 'resource': port 70000 of 'TCPIP::10.0.0.5::70000::SOCKET' is outside 1..65535"),
    ("[[board]]\n" + ENTRY + "[[board]]\n" + ENTRY.replace("10.0.0.5", "10.0.0.6").replace("0042", "0043"),
     "board 'bench-1' (#2): key 'name': 'bench-1' is already the name of board #1"),
    ("[[board]]\n" + ENTRY + "[[board]]\n" + ENTRY.replace("bench-1", "bench-2").replace("0042", "0043"),
     "board 'bench-2' (#2): key 'resource': 'TCPIP::10.0.0.5::5025::SOCKET' is already the resource of board #1"),
    ("[[board]]\n" + ENTRY + "[[board]]\n" + ENTRY.replace("bench-1", "bench-2").replace("10.0.0.5", "10.0.0.6"),
     "board 'bench-2' (#2): key 'serial': 'BSS2-0042' is already the serial of board #1"),
    ("[[board]]\n" + ENTRY.replace('"bench-1"', "7"), "board #1: key 'name': must be a string, not 7"),
    ("[[board]]\n" + ENTRY.replace('"bench-1"', '"bench 1"'),
     "board 'bench 1' (#1): key 'name': 'bench 1' must be 1..64 of [A-Za-z0-9_.-], starting with a letter or digit"),
    ("[[board]]\n" + ENTRY.replace('"BSS2-0042"', '"BSS2,0042"'),
     "board 'bench-1' (#1): key 'serial': 'BSS2,0042' must be non-empty, without commas or surrounding "
     "spaces (it is compared with the serial field of *IDN?)"),
    ("[board]\n" + ENTRY, "key 'board': must be an array of tables: write [[board]], not [board]"),
    ("boards = []\n", "key 'boards': unknown top-level key; an inventory holds only [[board]] tables"),
    ("", "no boards: add a [[board]] table per board"),
    ("[[board]\n", "not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 8)"),
])
def test_inventory_refuses_bad_files_naming_board_and_key(tmp_path, text, message):
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    assert str(e.value) == f"{path}: {message}"
    assert isinstance(e.value, ValueError)


def test_missing_inventory_says_how_to_name_one(tmp_path):
    with pytest.raises(InventoryError) as e:
        load_inventory(tmp_path / "nope.toml")
    assert str(e.value) == f"{tmp_path / 'nope.toml'}: no such inventory file; give another or set $HIL_INVENTORY"


# --- hil boards ---------------------------------------------------------------------------

def table_rows(out: str) -> dict[str, list[str]]:
    """The `hil boards` table as {name: [cells]}; cells are separated by two or more spaces."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("name "))
    rows = {}
    for line in lines[start + 2:]:
        if not line.strip() or line.endswith("boards ok"):
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells
    return rows


def test_hil_boards_probes_every_board(tmp_path, capsys):
    with BoardProcess(serial="EMU-INV-1") as a, BoardProcess(serial="EMU-INV-2") as b, \
            BoardProcess(serial="EMU-SWAPPED") as c:
        gone = f"TCPIP::127.0.0.1::{free_port()}::SOCKET"
        inv = write_inventory(tmp_path / "inventory.toml", [
            ("vb-1", a.resource, "EMU-INV-1"), ("vb-2", b.resource, "EMU-INV-2"),
            ("gone", gone, "EMU-INV-3"), ("swapped", c.resource, "EMU-INV-4")])
        with BoardDriver(b.resource) as holder:
            holder.lock("someone-else")          # a board in use is still ok, and shown as leased
            code = main(["boards", "--inventory", str(inv), "--timeout", "2"])
            out = capsys.readouterr().out
            assert holder.leased()               # probing did not take or break the lease
    firmware = f"emulator {hil.__version__}"
    assert table_rows(out) == {
        "vb-1": ["vb-1", a.resource, "EMU-INV-1", "EMU-INV-1", firmware, "no", "ok"],
        "vb-2": ["vb-2", b.resource, "EMU-INV-2", "EMU-INV-2", firmware, "yes", "ok"],
        "gone": ["gone", gone, "EMU-INV-3", "-", "-", "-", "unreachable: Connection refused"],
        "swapped": ["swapped", c.resource, "EMU-INV-4", "EMU-SWAPPED", firmware, "no", "wrong serial"],
    }
    assert out.splitlines()[0] == f"inventory: {inv}"
    assert out.splitlines()[1].split() == ["name", "resource", "expected", "serial", "answered", "serial",
                                           "firmware", "leased", "status"]
    assert out.rstrip().endswith("2 of 4 boards ok")
    assert code == 1


def test_hil_boards_exit_codes(tmp_path, capsys, monkeypatch):
    with BoardProcess(serial="EMU-INV-1") as a:
        inv = write_inventory(tmp_path / "inventory.toml", [("vb-1", a.resource, "EMU-INV-1")])
        monkeypatch.setenv("HIL_INVENTORY", str(inv))        # the default inventory
        assert main(["boards"]) == 0
        assert table_rows(capsys.readouterr().out)["vb-1"][-1] == "ok"
    (tmp_path / "bad.toml").write_text("[[board]]\n" + ENTRY.replace("5025::", ""))
    assert main(["boards", "--inventory", str(tmp_path / "bad.toml")]) == 2
    assert capsys.readouterr().err == (f"hil boards: error: {tmp_path / 'bad.toml'}: board 'bench-1' (#1): "
                                       "key 'resource': 'TCPIP::10.0.0.5::SOCKET' is not of the form "
                                       "TCPIP::<host>::<port>::SOCKET\n")
    assert main(["boards", "--timeout", "0"]) == 2


def test_probe_of_an_unknown_host_is_unreachable_not_a_crash():
    r = probe(Board.from_resource("TCPIP::no-such-host.invalid::5025::SOCKET"), timeout_s=2)
    assert not r.reachable and not r.ok and r.status.startswith("unreachable: ")


# --- the pool -----------------------------------------------------------------------------

@pytest.fixture
def boards():
    """Three in-process virtual boards (threads), with a short lease time-out, and their inventory."""
    vbs = [VirtualBoard(hil.backend.open("emulator", serial=f"EMU-POOL-{i}"), port=0, lease_timeout=0.6).start()
           for i in range(3)]
    inv = Inventory([Board(f"vb-{i}", vb.resource, f"EMU-POOL-{i}", "bss2") for i, vb in enumerate(vbs)],
                    path="pool.toml")
    yield inv
    for vb in vbs:
        vb.close()


def test_lease_any_never_hands_out_a_leased_board(boards):
    held = []
    for i in range(3):
        board, driver = lease_any(boards, f"token-{i}")
        held.append((board, driver))
        assert driver.leased()
    assert [b.name for b, _ in held] == ["vb-0", "vb-1", "vb-2"]
    with pytest.raises(NoFreeBoard) as e:
        lease_any(boards, "token-3", start=1)
    r = [b.resource for b in boards]
    assert str(e.value) == (f"no free board in pool.toml for 'token-3' among 3: "
                            f"vb-1 ({r[1]}): leased by another owner; vb-2 ({r[2]}): leased by another owner; "
                            f"vb-0 ({r[0]}): leased by another owner")
    assert e.value.token == "token-3" and [s for _, s in e.value.states] == ["leased by another owner"] * 3
    assert isinstance(e.value, RuntimeError)
    # Closing the lease's driver releases it: the board is free again, and only that one.
    held[1][1].close()
    board, driver = lease_any(boards, "token-3")
    assert board.name == "vb-1"
    for _, d in held + [(board, driver)]:
        d.close()


def test_lease_any_starts_at_an_offset_and_wraps(boards):
    board, driver = lease_any(boards, "a", start=5)         # 5 mod 3 = 2
    assert board.name == "vb-2"
    board2, driver2 = lease_any(boards, "b", start=2)       # vb-2 is taken: wraps to vb-0
    assert board2.name == "vb-0"
    driver.close(), driver2.close()


def test_lease_any_refuses_a_board_whose_serial_differs(boards):
    swapped = Inventory([Board("vb-0", boards.boards[0].resource, "BSS2-0042", "bss2"), boards.boards[1]])
    with pytest.warns(BoardSkipped, match=r"vb-0 .* wrong serial: answers 'EMU-POOL-0', the inventory says "
                                          r"'BSS2-0042'"):
        board, driver = lease_any(swapped, "t")
    assert board.name == "vb-1"
    with BoardDriver(boards.boards[0].resource) as d:
        assert not d.leased()                                # the wrong board was not leased
    driver.close()
    with pytest.raises(NoFreeBoard, match="no board of family 'dynapse2' in pool.toml; its families: bss2"):
        lease_any(boards, "t", family="dynapse2")


def test_lease_any_skips_unreachable_boards():
    inv = Inventory([Board("gone", f"TCPIP::127.0.0.1::{free_port()}::SOCKET", "X", "bss2")])
    with pytest.warns(BoardSkipped), pytest.raises(NoFreeBoard, match=r"gone \(.*\): unreachable: Connection refused"):
        lease_any(inv, "t", timeout_s=2)


def test_racing_callers_each_get_a_different_board(boards):
    """Three threads lease from the same start at once: the board's LOCK is atomic, so they spread."""
    got, errors, barrier = [], [], threading.Barrier(3)

    def take(token):
        barrier.wait()
        try:
            got.append(lease_any(boards, token))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(f"racer-{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(b.name for b, _ in got) == ["vb-0", "vb-1", "vb-2"]
    for _, d in got:
        d.close()


def test_a_quiet_lease_expires_and_a_kept_one_does_not(boards):
    board, driver = lease_any(boards, "quiet")
    time.sleep(1.0)                                          # the lease time-out is 0.6 s
    assert lease_any(boards, "next")[0] is board             # expired: the next caller gets it
    board2, driver2 = lease_any(boards, "kept", start=1)
    with LeaseKeeper(driver2, "kept", interval_s=0.15) as keeper:
        time.sleep(1.0)
        with pytest.raises(NoFreeBoard):
            lease_any(Inventory([board2]), "thief")
        assert keeper.refreshes >= 3 and keeper.error is None
    assert lease_any(Inventory([board2]), "after")[0] is board2   # closing the keeper released it
    driver.close()


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


def pytest_in_subprocess(tmp_path: Path, test_file: Path, *args: str, **env_vars: str):
    """A fresh pytest on ``test_file`` (in tmp_path), with the repository's conftest and settings.

    pytest loads conftest.py files beside and above the paths it is given, and the test file
    lives in tmp_path, so the repository's conftest is loaded by its module name instead
    (``-p conftest``; the repository root is on sys.path through PYTHONPATH, which xdist's
    workers inherit). ``-c pyproject.toml`` brings the repository's pytest settings;
    ``--rootdir`` keeps node ids and caches out of the repository.
    """
    # Not this pytest's own variables (PYTEST_XDIST_WORKER, PYTEST_ADDOPTS, ...), nor a default inventory.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "HIL_INVENTORY"}
    env.update(env_vars, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "pytest", "-p", "conftest", "-c", str(REPO / "pyproject.toml"),
           "--rootdir", str(tmp_path), "-p", "no:cacheprovider", *args, str(test_file)]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


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
