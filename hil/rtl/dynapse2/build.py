"""The Dynap-SE2-like family's model files (``rtl_models/dynapse2/``), the harnesses that wrap them,
their builds (through :func:`hil.rtl.build.build_top`: the same runner, build directories and reuse
as the bss2 models), and their static checks (Verilator's lint, Yosys synthesis).

>>> b = build("router", "icarus", max_chips=4)       # a hil.rtl.build.Build of router_bench
>>> lint("router.v").returncode                       # 0: clean under verilator --lint-only -Wall
"""
import os
import shutil
import subprocess
from pathlib import Path

from .. import build as rtl_build
from ...contract.errors import InvalidValue

MODELS = rtl_build.REPO / "rtl_models" / "dynapse2"
SOURCES = ("router.v", "biasgen.v")
"""The model files, in ``MODELS``."""
TOPS = {"router.v": "dynapse2_router", "biasgen.v": "dynapse2_biasgen"}
"""Each model file's top module."""
BENCHES = Path(__file__).resolve().parents[1] / "benches"
HARNESSES = {"router": ("router_bench", "router.v"), "biasgen": ("biasgen_bench", "biasgen.v")}
"""block: (harness top level, file name: the harness in hil/rtl/benches/ and the model it wraps in
``MODELS``)."""
MAX_CHIPS_DEFAULT = 4
"""Chips the router's memories hold in a bench build: the 2 x 2 board (and every smaller mesh)."""
LINT_PARAMETERS = {"router.v": ({}, {"MAX_CHIPS": 4}, {"MAX_CHIPS": 1}), "biasgen.v": ({},)}
"""The parameter sets each model file is linted with: its defaults, and for the router the bench's
build and the smallest."""


def build(block: str, simulator: str = "icarus", *, max_chips: int = MAX_CHIPS_DEFAULT, root=None):
    """Builds (or reuses) the harness of ``block`` ("router" or "biasgen") on ``simulator``;
    ``max_chips``: the router's MAX_CHIPS, 1..16 (chips its memories hold)."""
    if block not in HARNESSES:
        raise InvalidValue("block", f"{block!r} is not one of {sorted(HARNESSES)}")
    top, harness = HARNESSES[block]
    parameters = {}
    if block == "router":
        if isinstance(max_chips, bool) or not isinstance(max_chips, int) or not 1 <= max_chips <= 16:
            raise InvalidValue("max_chips", f"{max_chips!r} is outside the allowed range 1..16")
        parameters = {"MAX_CHIPS": max_chips}
    return rtl_build.build_top(top, [BENCHES / harness, MODELS / harness], simulator, parameters=parameters,
                               includes=[BENCHES], root=root)


def _verilator_env() -> dict:
    env = {**os.environ, **rtl_build.simulator_env("verilator")}
    env.pop("MAKEFLAGS", None)
    return env


def lint(name: str, parameters: dict | None = None) -> subprocess.CompletedProcess:
    """``verilator --lint-only -Wall`` of model file ``name`` (of :data:`SOURCES`) with its top module
    and the Verilog ``parameters``; the completed process (stderr holds any warning)."""
    if name not in TOPS:
        raise InvalidValue("name", f"{name!r} is not one of {list(SOURCES)}")
    sets = [f"-G{k}={v}" for k, v in (parameters or {}).items()]
    cmd = [str(rtl_build.verilator_executable()), "--lint-only", "-Wall", *sets, "--top-module", TOPS[name],
           str(MODELS / name)]
    return subprocess.run(cmd, capture_output=True, text=True, env=_verilator_env(), timeout=300)


SYNTHESIS = {
    # The router's memories stay memories ($mem_v2 cells: the SRAM and the CAM, each one write and one
    # registered read port, what a RAM macro offers); its logic goes to gates. Four chips: the size
    # of the memories plays no part in the logic.
    "router.v": ("chparam -set MAX_CHIPS 4 dynapse2_router; synth -top dynapse2_router -run begin:fine; "
                 "opt -fast -full; techmap; opt -fast; abc -fast; opt -fast"),
    "biasgen.v": "synth -top dynapse2_biasgen",
}
"""The Yosys script that synthesises each model file after reading it."""


def synthesise(name: str, stat: Path) -> subprocess.CompletedProcess:
    """Yosys reads ``name`` and runs its :data:`SYNTHESIS` script, then ``check -assert``; the cell
    statistics go to ``stat``. Raises FileNotFoundError if yosys is not installed."""
    if shutil.which("yosys") is None:
        raise FileNotFoundError("yosys is not installed (apt-get install yosys)")
    script = f"read_verilog {MODELS / name}; {SYNTHESIS[name]}; check -assert; tee -o {stat} stat"
    return subprocess.run(["yosys", "-p", script], capture_output=True, text=True, timeout=900)
