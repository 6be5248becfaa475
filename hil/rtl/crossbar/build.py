"""The crossbar tile family's model files (``rtl_models/crossbar/``), the harnesses that wrap them (beside
this module), their builds (through :func:`hil.rtl.build.build_top`: the same runner, build directories and
reuse as the other families' models) and their static checks (Verilator's lint, Yosys synthesis).

>>> b = build("converter", "icarus")                 # a hil.rtl.build.Build of converter_bench
>>> lint("converter.v").returncode                   # 0: clean under verilator --lint-only -Wall
"""
import os
import shutil
import subprocess
from pathlib import Path

from .. import build as rtl_build
from ...contract.errors import InvalidValue

MODELS = rtl_build.REPO / "rtl_models" / "crossbar"
SOURCES = ("converter.v", "pulse_train.v", "coincidence.v")
"""The model files, in ``MODELS``."""
TOPS = {"converter.v": "crossbar_converter", "pulse_train.v": "crossbar_pulse_train",
        "coincidence.v": "crossbar_coincidence"}
"""Each model file's top module."""
HERE = Path(__file__).resolve().parent
BENCHES = HERE.parent / "benches"
"""Where ``harness.vh`` (the clock, the session directory, the seeded fault) lives."""
HARNESSES = {"converter": ("converter_bench", ("converter.v",)),
             "pulses": ("pulses_bench", ("pulse_train.v", "coincidence.v"))}
"""block: (harness top level, the model files it wraps); the harness is ``<block>.v`` beside this module."""
SYNTHESIS = {name: f"synth -top {top}" for name, top in TOPS.items()}
"""The Yosys script that synthesises each model file after reading it."""


def build(block: str, simulator: str = "icarus", *, root=None):
    """Builds (or reuses) the harness of ``block`` ("converter" or "pulses") on ``simulator``."""
    if block not in HARNESSES:
        raise InvalidValue("block", f"{block!r} is not one of {sorted(HARNESSES)}")
    top, models = HARNESSES[block]
    return rtl_build.build_top(top, [HERE / f"{block}.v", *(MODELS / m for m in models)], simulator,
                               includes=[BENCHES], root=root)


def _verilator_env() -> dict:
    env = {**os.environ, **rtl_build.simulator_env("verilator")}
    env.pop("MAKEFLAGS", None)
    return env


def lint(name: str) -> subprocess.CompletedProcess:
    """``verilator --lint-only -Wall`` of model file ``name`` (of :data:`SOURCES`) with its top module; the
    completed process (stderr holds any warning)."""
    if name not in TOPS:
        raise InvalidValue("name", f"{name!r} is not one of {list(SOURCES)}")
    cmd = [str(rtl_build.verilator_executable()), "--lint-only", "-Wall", "--top-module", TOPS[name],
           str(MODELS / name)]
    return subprocess.run(cmd, capture_output=True, text=True, env=_verilator_env(), timeout=300)


def synthesise(name: str, stat: Path) -> subprocess.CompletedProcess:
    """Yosys reads ``name`` and runs its :data:`SYNTHESIS` script, then ``check -assert``; the cell
    statistics go to ``stat``. Raises FileNotFoundError if yosys is not installed."""
    if name not in TOPS:
        raise InvalidValue("name", f"{name!r} is not one of {list(SOURCES)}")
    if shutil.which("yosys") is None:
        raise FileNotFoundError("yosys is not installed (apt-get install yosys)")
    script = f"read_verilog {MODELS / name}; {SYNTHESIS[name]}; check -assert; tee -o {stat} stat"
    return subprocess.run(["yosys", "-p", script], capture_output=True, text=True, timeout=900)
