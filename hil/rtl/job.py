"""A batch of MAC runs on the RTL chip: the cocotb test (simulator side) and its host side.

Host side: ``run(build, workdir, runs)`` writes the runs into ``workdir`` (which must
hold an exported fixed pattern for ``build.geometry``), starts the simulator once, and
returns each run's outputs with its simulated cycles and wall time. Run k of a job is
run k of the chip (its run counter, which keys the temporal noise): the runs of a
fresh emulated chip of the same serial. Simulator side:
the cocotb test ``run_job`` below reads ``job.json`` + ``job.npz`` and runs them on a
``ChipDut``.
"""
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

JOB_ENV = "HIL_RTL_JOB"


@dataclass(frozen=True)
class MacRun:
    """One configure + run: weights (rows, neurons) int8 -63..63; inputs (batch, rows) uint8
    0..31; trims (hemispheres, rows) uint8 or None for the calibrated ones."""

    weights: np.ndarray
    inputs: np.ndarray
    num_sends: int = 1
    wait_between_events: int = 5
    trims: np.ndarray | None = None


@dataclass(frozen=True)
class MacResult:
    outputs: np.ndarray
    """(batch, neurons) int8."""
    cycles: int
    """Simulated clock cycles of the run (8 ns each), configuration not included."""
    seconds: float
    """Wall time of the run inside the simulator, s."""


def run(build, workdir, runs: list[MacRun]) -> list[MacResult]:
    """Runs ``runs`` in one simulation of ``build`` (a ``hil.rtl.build.Build``) in ``workdir``."""
    workdir = Path(workdir)
    arrays = {}
    for k, r in enumerate(runs):
        arrays[f"weights{k}"] = r.weights
        arrays[f"inputs{k}"] = r.inputs
        if r.trims is not None:
            arrays[f"trims{k}"] = r.trims
    np.savez(workdir / "job.npz", **arrays)
    (workdir / "job.json").write_text(json.dumps({
        "geometry": build.geometry.__dict__,
        "runs": [{"num_sends": int(r.num_sends), "wait": int(r.wait_between_events),
                  "trims": r.trims is not None} for r in runs]}))
    (workdir / "job_results.npz").unlink(missing_ok=True)
    build.test("hil.rtl.job", workdir, extra_env={JOB_ENV: str(workdir.resolve())})
    with np.load(workdir / "job_results.npz") as res:
        return [MacResult(res[f"out{k}"], int(res["cycles"][k]), float(res["seconds"][k]))
                for k in range(len(runs))]


try:
    import cocotb
except ImportError:  # pragma: no cover - the host side needs no cocotb
    cocotb = None

if cocotb is not None:
    @cocotb.test()
    async def run_job(dut):
        """The runs of ``$HIL_RTL_JOB/job.json`` on the chip; results into job_results.npz."""
        from .dut import ChipDut
        from .geometry import RtlGeometry
        workdir = Path(os.environ[JOB_ENV])
        job = json.loads((workdir / "job.json").read_text())
        chip = ChipDut(dut, workdir, RtlGeometry(**job["geometry"]))
        await chip.start()
        outs, cycles, seconds = {}, [], []
        with np.load(workdir / "job.npz") as data:
            for k, r in enumerate(job["runs"]):
                await chip.configure(data[f"weights{k}"], data[f"trims{k}"] if r["trims"] else None)
                t0 = time.perf_counter()
                outs[f"out{k}"] = await chip.run(data[f"inputs{k}"], r["num_sends"], r["wait"], run_counter=k)
                seconds.append(time.perf_counter() - t0)
                cycles.append(chip.cycles)
        np.savez(workdir / "job_results.npz", cycles=np.array(cycles, np.int64),
                 seconds=np.array(seconds), **outs)
