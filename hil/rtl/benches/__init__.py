"""Block-level benches of the chip's Verilog models: cocotb test modules, one per block,
each on a small harness around its block (``<block>.v`` beside ``<block>.py``), judged
against the emulator's block of the same serial and the analytical model.

>>> from hil.rtl.benches import BLOCKS, run_bench
>>> r = run_bench("cadc", simulator="icarus", serial="EMU-0042")
>>> r.passed, [(c.name, c.compared, c.mismatches) for c in r.checks], r.coverage

``run_bench`` exports the chip's fixed pattern into the session directory
(``hil.rtl.fixed_pattern.export``), builds the harness with its model files or reuses
the build (``hil.rtl.build.build_top``: one build directory per pytest-xdist worker,
reused while its sources are unchanged), runs the bench's cocotb module in one
simulation and reads the result file it writes. Stimulus goes to the harness in files
($readmemh); the HDL loops over the cases, so Python acts once per batch.

Blocks: ``synapse_driver`` (decode, exhaustive; the pulse of every driver),
``cadc`` (transfer curve, INL/DNL, missing codes of every channel of the core),
``neuron`` (integrator, leak scale, linearity and compression), ``noise`` (the
temporal-noise generator, bit for bit). The docstring of each module says what it
checks and against what.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..build import MODELS, SimulationFailed, build_top
from ..geometry import RtlGeometry
from ...contract.errors import InvalidValue

HERE = Path(__file__).resolve().parent
BLOCKS = ("synapse_driver", "cadc", "neuron", "noise")
"""The benches, named after their blocks (``rtl_models/bss2/<block>.v``)."""

_BENCHES = {
    # block: (harness top level, model files it wraps, core geometry of the exported pattern)
    "synapse_driver": ("synapse_driver_bench", ("synapse_driver.v",), RtlGeometry.FULL),
    "cadc": ("cadc_bench", ("cadc.v",), RtlGeometry()),
    "neuron": ("neuron_bench", ("neuron.v",), RtlGeometry()),
    "noise": ("noise_bench", ("noise.v",), None),
}
RESULT_FILE = "bench_result.json"


@dataclass(frozen=True)
class BenchCheck:
    """One comparison of a bench: RTL against a reference, case by case."""

    name: str
    stage: str
    """"digital" (decode, counters, latches, clamps: exact) or "analog" (a tolerance from the model)."""
    compared: int
    """Cases compared."""
    mismatches: int
    """Cases outside the tolerance."""
    tolerance: str
    """"exact", or the bound and its reason from the model (e.g. "<= 2^-24 relative: ...")."""
    max_deviation: float
    """The largest deviation seen, in the unit the tolerance states (0 for exact agreement)."""
    reference: str
    """What the RTL is compared with: the emulator's block or the analytical model."""
    failures: tuple[dict, ...] = ()
    """Up to 20 failing cases, each with the inputs that reproduce it and both values."""


@dataclass(frozen=True)
class Coverage:
    """A functional-coverage item (cocotb-coverage): a coverpoint or a cross."""

    name: str
    bins_hit: int
    bins_total: int

    @property
    def complete(self) -> bool:
        return self.bins_hit == self.bins_total


@dataclass(frozen=True)
class BenchResult:
    block: str
    simulator: str
    serial: str
    ideal: bool
    checks: tuple[BenchCheck, ...]
    coverage: tuple[Coverage, ...]
    passed: bool
    """Every check without mismatches and the simulation without error."""
    figures: dict = field(default_factory=dict)
    """The bench's measured figures (e.g. the CADC's INL/DNL, cases run), by name."""
    seconds: float = 0.0
    """Wall time of build (or reuse) and simulation."""
    workdir: str = ""
    """The session directory: stimulus, responses, the coverage YAML, the simulator log."""

    def check(self, name: str) -> BenchCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)


def _prepare(block: str, serial: str, ideal: bool, geometry, workdir: Path) -> None:
    if block == "noise":
        from .. import noise
        noise.write_coefficients(workdir / noise.COEFFICIENT_FILE)
        return
    from emulator.bss2 import VirtualChip
    from .. import fixed_pattern
    fixed_pattern.export(VirtualChip(serial, ideal=ideal), geometry, workdir)


def run_bench(block: str, *, simulator: str = "icarus", serial: str = "EMU-0042", ideal: bool = False,
              workdir=None, tamper: Callable[[Path], None] | None = None, plusargs=(),
              root=None) -> BenchResult:
    """Builds (or reuses) the bench of ``block`` on ``simulator``, runs it for the chip
    ``serial`` (``ideal``: the ideal chip) and returns its result.

    workdir: the session directory (default ``<build root>/<worker>/benches/<block>-...``),
    where the pattern, the stimulus, the responses and the coverage YAML are left.
    tamper: called with the session directory after the fixed pattern (or the noise
    coefficients) has been written and before the simulation, to alter the RTL's chip;
    the benches' self-tests use it to show a chip that is not the emulator's is caught.
    plusargs: further simulator plusargs (``+BENCH_MUTATE=n`` seeds a fault in a harness).
    A cocotb test of the bench that fails after its checks are recorded (the noise bench
    asserts its coverage) gives ``passed=False`` and ``figures["simulation_error"]``;
    ``hil.rtl.build.SimulationFailed`` is raised if the simulation fails without a result.
    """
    if block not in _BENCHES:
        raise InvalidValue("block", f"{block!r} is not one of {BLOCKS}")
    top, models, geometry = _BENCHES[block]
    t0 = time.perf_counter()
    b = build_top(top, [HERE / f"{block}.v", *(MODELS / m for m in models)], simulator, includes=[HERE],
                  root=root)
    if workdir is None:
        workdir = b.scratch / "benches" / f"{block}-{simulator}-{serial}{'-ideal' if ideal else ''}"
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    result = workdir / RESULT_FILE
    result.unlink(missing_ok=True)
    _prepare(block, serial, ideal, geometry, workdir)
    if tamper is not None:
        tamper(workdir)
    settings = {"block": block, "simulator": simulator, "serial": serial, "ideal": bool(ideal),
                "geometry": dict(geometry.__dict__) if geometry is not None else None,
                "workdir": str(workdir), "result": str(result)}
    return simulate(b, f"hil.rtl.benches.{block}", workdir, settings, plusargs=plusargs, t0=t0)


def simulate(b, module: str, workdir: Path, settings: dict, *, plusargs=(), testcase: str | None = None,
             t0: float) -> BenchResult:
    """Runs the cocotb tests ``module`` on the built bench ``b`` in ``workdir`` with the bench's
    ``settings`` (``$HIL_BENCH``; its result file is ``settings["result"]``), and returns the result,
    timed from ``t0``. A cocotb test that fails after its checks are recorded gives ``passed=False`` and
    ``figures["simulation_error"]``; without a result, ``SimulationFailed`` is raised."""
    result = Path(settings["result"])
    error = None
    try:
        b.test(module, workdir, extra_env={"HIL_BENCH": json.dumps(settings)}, plusargs=plusargs,
               testcase=testcase)
    except SimulationFailed as e:
        if not result.exists():         # no result: the bench itself broke
            raise
        error = str(e)                  # a cocotb test of the bench failed after recording its checks
    r = load_result(result, seconds=time.perf_counter() - t0, workdir=workdir)
    if error is not None:
        r = replace(r, passed=False, figures={**r.figures, "simulation_error": error[-4000:]})
    return r


def load_result(path, *, seconds: float = 0.0, workdir=None) -> BenchResult:
    """The ``BenchResult`` of a bench's result file."""
    d = json.loads(Path(path).read_text())
    checks = tuple(BenchCheck(c["name"], c["stage"], c["compared"], c["mismatches"], c["tolerance"],
                              c["max_deviation"], c["reference"], tuple(c["failures"])) for c in d["checks"])
    cover = tuple(Coverage(c["name"], c["bins_hit"], c["bins_total"]) for c in d["coverage"])
    passed = bool(checks) and all(c.mismatches == 0 and c.compared > 0 for c in checks)
    return BenchResult(d["block"], d["simulator"], d["serial"], d["ideal"], checks, cover, passed,
                       d.get("figures", {}), seconds, str(workdir or Path(path).parent))


__all__ = ["BLOCKS", "BenchCheck", "BenchResult", "Coverage", "load_result", "run_bench", "simulate"]
