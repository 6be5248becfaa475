"""What every block bench shares inside the simulator: its settings, the batch hand-over
to its harness, the checks and the coverage it records, the result file it writes.

The host side (``hil.rtl.benches.run_bench``) passes the settings in the environment
variable ``HIL_BENCH`` (JSON: block, serial, ideal, geometry, the result file) and reads
the result file (JSON, ``BenchResult`` as a dict) once the simulator has exited.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ENV = "HIL_BENCH"
MAX_FAILURES = 20
"""Failing cases kept per check (each with the inputs that reproduce it)."""


def settings() -> dict:
    """The bench's settings (``HIL_BENCH``): block, simulator, serial, ideal, geometry, workdir, result."""
    return json.loads(os.environ[ENV])


def chip(s: dict):
    """The emulator's chip of the bench's serial (the golden model the RTL is compared with)."""
    from emulator.bss2 import VirtualChip
    return VirtualChip(s["serial"], ideal=s["ideal"])


def read_hex(path: Path) -> list[int]:
    """The words of a ``$writememh`` / ``%h`` file (address comments and blank lines skipped)."""
    lines = (line.split("//")[0].strip() for line in Path(path).read_text().splitlines())
    return [int(line, 16) for line in lines if line and not line.startswith("@")]


def write_hex(path: Path, words, width_bits: int) -> None:
    digits = (width_bits + 3) // 4
    Path(path).write_text("".join(f"{int(w):0{digits}x}\n" for w in words))


def f32_bits_as_double(values) -> np.ndarray:
    """uint64 double bit patterns of float32 values widened (what the models' ``$bitstoreal`` reads)."""
    return np.asarray(values, np.float32).astype(np.float64).view(np.uint64)


async def run_batch(dut, count: int, *, phase: int | None = None, timeout_ns: int) -> None:
    """Starts one batch of ``count`` cases in the harness and waits for its ``done``."""
    from cocotb.triggers import RisingEdge, Timer, with_timeout
    dut.count.value = int(count)
    if phase is not None:
        dut.phase.value = int(phase)
    dut.start.value = 1
    await with_timeout(RisingEdge(dut.done), int(timeout_ns), "ns")
    dut.start.value = 0
    await Timer(20, "ns")


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float) and not np.isfinite(v):
        return repr(v)
    return v


@dataclass
class Check:
    """One comparison of a bench (the simulator side of ``BenchCheck``)."""

    name: str
    stage: str
    tolerance: str
    reference: str
    compared: int = 0
    mismatches: int = 0
    max_deviation: float = 0.0
    failures: list = field(default_factory=list)

    def add(self, bad: np.ndarray, deviation: np.ndarray | None = None, cases=None) -> None:
        """Adds one batch: ``bad`` (bool per case), the |deviation| per case (0 where exact), and
        ``cases(j) -> dict`` giving case j's inputs, the RTL's and the reference's values."""
        bad = np.asarray(bad, bool).ravel()
        self.compared += int(bad.size)
        self.mismatches += int(bad.sum())
        if deviation is not None and np.size(deviation):
            dev = np.asarray(deviation, np.float64).ravel()
            dev = dev[np.isfinite(dev)]
            if dev.size:
                self.max_deviation = max(self.max_deviation, float(dev.max()))
        for j in np.flatnonzero(bad)[:MAX_FAILURES - len(self.failures)]:
            self.failures.append({k: _jsonable(v) for k, v in cases(int(j)).items()})

    def as_dict(self) -> dict:
        return {"name": self.name, "stage": self.stage, "compared": self.compared,
                "mismatches": self.mismatches, "tolerance": self.tolerance,
                "max_deviation": float(self.max_deviation), "reference": self.reference,
                "failures": self.failures}


class Report:
    """The checks, figures and coverage of one bench run; ``write`` leaves the result file."""

    def __init__(self, s: dict):
        self.settings = s
        self.checks: dict[str, Check] = {}
        self.figures: dict[str, float] = {}
        self.coverage: list[str] = []
        """Names of the coverage items (cocotb-coverage's coverage_db) reported."""

    def check(self, name: str, stage: str, tolerance: str, reference: str) -> Check:
        assert stage in ("digital", "analog"), stage
        return self.checks.setdefault(name, Check(name, stage, tolerance, reference))

    def write(self, log=None) -> dict:
        from cocotb_coverage.coverage import coverage_db
        workdir = Path(self.settings["workdir"])
        cover = []
        for name in self.coverage:
            item = coverage_db[name]
            cover.append({"name": name, "bins_hit": int(item.coverage), "bins_total": int(item.size)})
        if self.coverage:
            coverage_db.export_to_yaml(str(workdir / f"{self.settings['block']}_coverage.yml"))
            if log is not None:
                coverage_db.report_coverage(log, bins=False)
        out = {k: self.settings[k] for k in ("block", "simulator", "serial", "ideal")}
        out["checks"] = [c.as_dict() for c in self.checks.values()]
        out["coverage"] = cover
        out["figures"] = {k: _jsonable(v) for k, v in self.figures.items()}
        Path(self.settings["result"]).write_text(json.dumps(out, indent=1))
        return out


def sample_unique(sample, *columns) -> None:
    """Calls the cocotb-coverage sampling function ``sample`` once per distinct row of
    ``columns`` (equal-length integer arrays): bins hit are what the bench reports; the
    per-bin counts are then counts of distinct stimuli, not of cases (sampling millions
    of cases one by one would put Python in the per-case path)."""
    cols = [np.asarray(c, np.int64).ravel() for c in columns]
    radix = [int(c.max()) + 1 if c.size else 1 for c in cols]
    key = np.zeros(cols[0].shape, np.int64)
    for c, r in zip(cols, radix):          # one mixed-radix key per row (values are >= 0)
        key = key * r + c
    for k in np.unique(key).tolist():
        row = []
        for r in reversed(radix):
            k, v = divmod(k, r)
            row.append(v)
        sample(*reversed(row))


def check_coverage_complete(report: "Report", names, log) -> None:
    """The last test of a bench: every coverage item of ``names`` complete, the holes (up to 20 per item)
    recorded in the report's ``coverage_missing`` figure, the report written to ``log``."""
    from cocotb_coverage.coverage import coverage_db

    missing = {}
    for name in names:
        item = coverage_db[name]
        if item.coverage != item.size:
            missing[name] = [k for k, hits in item.detailed_coverage.items() if hits == 0][:20]
    report.figures["coverage_missing"] = missing
    report.write(log)
    assert not missing, f"coverage incomplete: {missing}"
