"""Helpers shared by the tests: inventory files, free ports, pytest in a subprocess."""
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
"""The repository root."""


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

ENTRY = 'name = "bench-1"\nresource = "TCPIP::10.0.0.5::5025::SOCKET"\nserial = "BSS2-0042"\nfamily = "bss2"\n'
"""One board of an inventory file, as TOML (without its [[board]] line)."""
