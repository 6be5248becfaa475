"""Builds are shared between processes: one builds, the others wait for it and reuse it."""
import fcntl
import json
import subprocess
import sys
import time

from hil.rtl.build import build_top
from tests.support import REPO

MODEL = "module tiny(input wire a, output wire b);\n  assign b = ~a;\nendmodule\n"

BUILD = """
import sys
from hil.rtl.build import build_top
b = build_top("tiny", [sys.argv[1]], "icarus", root=sys.argv[2])
print(b.build_dir)
"""


def test_a_build_is_shared_and_a_second_process_waits_for_the_first(tmp_path, monkeypatch):
    source = tmp_path / "tiny.v"
    source.write_text(MODEL)
    root = tmp_path / "builds"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    first = build_top("tiny", [source], "icarus", root=root)
    assert first.build_dir.parent == root, "the build does not depend on the worker"
    assert first.scratch == root / "runs" / "gw7", "a run's files do"
    marker = first.build_dir / "build.json"
    assert json.loads(marker.read_text())["toplevel"] == "tiny"

    # Another process that finds the build unfinished (no marker) while this one holds its lock
    # waits; once the lock is released it builds again and marks the build complete.
    marker.unlink()
    with open(root / f"{first.build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        other = subprocess.Popen([sys.executable, "-c", BUILD, str(source), str(root)], cwd=REPO,
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        assert other.poll() is None, "the second process did not wait for the lock"
        assert not marker.exists()
    out, _ = other.communicate(timeout=120)
    assert other.returncode == 0
    assert out.strip() == str(first.build_dir)
    assert marker.exists()
