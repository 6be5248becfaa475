"""The Dynap-SE2-like family's block benches, run from the host: ``run_bench("router")`` and
``run_bench("biasgen")``, the counterpart of :func:`hil.rtl.benches.run_bench` for the bss2 blocks,
with the same result (:class:`hil.rtl.benches.BenchResult`).

>>> from hil.rtl.dynapse2.benches import run_bench
>>> r = run_bench("router", simulator="icarus")
>>> r.passed, [(c.name, c.compared, c.mismatches) for c in r.checks], r.coverage

The bench's cocotb module is ``hil.rtl.benches.<block>`` on its harness ``hil/rtl/benches/<block>.v``
(``hil.rtl.dynapse2.build``). The blocks are digital and have no fixed pattern: the serial plays no
part (the result carries the family's default serial).
"""
from __future__ import annotations

import time
from pathlib import Path

from emulator.dynapse2 import DEFAULT_SERIAL

from . import build as d2_build
from ..benches import BenchResult, simulate
from ...contract.errors import InvalidValue

BLOCKS = ("router", "biasgen")
"""The benches, named after their blocks (``rtl_models/dynapse2/<block>.v``)."""
RESULT_FILE = "bench_result.json"
SERIAL = DEFAULT_SERIAL
"""The serial the results carry (the family's default; digital blocks are the same on every chip)."""


def run_bench(block: str, *, simulator: str = "icarus", workdir=None, plusargs=(), testcase: str | None = None,
              root=None) -> BenchResult:
    """Builds (or reuses) the bench of ``block`` ("router" or "biasgen") on ``simulator`` ("icarus" or
    "verilator"), runs it and returns its result.

    workdir: the session directory (default ``<build root>/<worker>/benches/<block>-<simulator>``),
    where the bench's files, the coverage YAML and the simulator log are left.
    plusargs: further simulator plusargs (``+BENCH_MUTATE=n`` seeds a fault in the harness; the
    benches' self-tests use it to show a wrong block is caught).
    testcase: run this cocotb test of the bench alone (its name, e.g. "corners"); the coverage goal
    is then not judged.
    A cocotb test that fails after its checks are recorded gives ``passed=False`` and
    ``figures["simulation_error"]``; ``hil.rtl.build.SimulationFailed`` is raised if the simulation
    fails without a result.
    """
    if block not in BLOCKS:
        raise InvalidValue("block", f"{block!r} is not one of {BLOCKS}")
    t0 = time.perf_counter()
    b = d2_build.build(block, simulator, root=root)
    if workdir is None:
        workdir = b.scratch / "benches" / f"{block}-{simulator}"
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    result = workdir / RESULT_FILE
    result.unlink(missing_ok=True)
    settings = {"block": block, "simulator": simulator, "serial": SERIAL, "ideal": True, "geometry": None,
                "workdir": str(workdir), "result": str(result)}
    return simulate(b, f"hil.rtl.benches.{block}", workdir, settings, plusargs=plusargs, testcase=testcase, t0=t0)


__all__ = ["BLOCKS", "run_bench"]
