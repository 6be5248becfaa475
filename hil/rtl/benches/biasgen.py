"""Block bench of the bias generators' digital part (``rtl_models/dynapse2/biasgen.v``), a cocotb test
module run on the harness ``biasgen.v`` beside it by ``hil.rtl.dynapse2.benches.run_bench``. The
cases go to the harness in one file and come back in another, so Python acts once.

Stimulus (exhaustive, in a seeded random order): every (core 0..3, parameter 0..22, coarse 0..7,
fine 0..255), coarse 6 and 7 included (the register's field is 3 bits), and 16 random settings of
every core at each parameter address 23..31 (no generator). 188992 writes, each read back.

Checks, against the expectation of ``hil.rtl.dynapse2.biasgen`` (from emulator/dynapse2/biasgen.py's
conventions) and the emulator's ``biasgen.current``:
outcome (digital, exact): wr_done for a write of parameter 0..22 with coarse 0..5, else wr_refused.
readback (digital, exact): the register's (coarse, fine) after the write: the written one if taken,
    the one before if refused ((0, 0) from the reset; (0, 0) for a parameter with no generator).
code (digital, exact): the read port's DAC code and the written generator's slice of the ``dac``
    bus, both the code of the register's setting (type bit, one-hot coarse, fine; 0 without a
    generator).
bank (digital, exact): the whole ``dac`` bus (92 generators) after the reset and every 8192 writes:
    a write changes its own generator only.
current (digital, exact): the current the code names (the table of its type at its coarse and fine,
    times the parameter's scale) equals ``emulator.dynapse2.biasgen.current`` of the setting written.
Coverage (cocotb-coverage; the last test fails unless every item is complete): parameter x coarse
(23 x 8), core x parameter address (4 x 32), fine (256), outcome (taken, refused for its coarse, its
parameter, both).
"""
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge, Timer, with_timeout
from cocotb_coverage.coverage import CoverCross, CoverPoint

from emulator.dynapse2 import biasgen as emu_biasgen
from hil.rtl.benches import common
from hil.rtl.dynapse2 import biasgen as expect

SEED = 0xB1A5
B = "biasgen"
CLOCK_NS = 10
DUMP_EVERY = 8192            # the harness's DUMP_EVERY
STIM_FILE, RESP_FILE, DUMP_FILE = "biasgen_stim.hex", "biasgen_resp.txt", "biasgen_dump.hex"
REFERENCE = "hil.rtl.dynapse2.biasgen (emulator/dynapse2/biasgen.py's conventions)"
CURRENT_REFERENCE = "emulator.dynapse2.biasgen.current"
OUTCOMES = ("taken", "refused: coarse", "refused: parameter", "refused: both")
COVERAGE = (f"{B}.parameter_x_coarse", f"{B}.core_x_parameter", f"{B}.fine", f"{B}.outcome")

_report = None


def _the_report() -> common.Report:
    global _report
    if _report is None:
        _report = common.Report(common.settings())
        _report.coverage = list(COVERAGE)
    return _report


@CoverPoint(f"{B}.pc.parameter", xf=lambda p, c: p, bins=list(range(len(expect.PARAMETERS))))
@CoverPoint(f"{B}.pc.coarse", xf=lambda p, c: c, bins=list(range(expect.COARSE_VALUES)))
@CoverCross(f"{B}.parameter_x_coarse", items=[f"{B}.pc.parameter", f"{B}.pc.coarse"])
def _cover_parameter_coarse(p, c):
    """A write of a generator's parameter with a coarse value (6 and 7 refused)."""


@CoverPoint(f"{B}.cp.core", xf=lambda k, p: k, bins=list(range(4)))
@CoverPoint(f"{B}.cp.parameter", xf=lambda k, p: p, bins=list(range(expect.PARAMETER_ADDRESSES)))
@CoverCross(f"{B}.core_x_parameter", items=[f"{B}.cp.core", f"{B}.cp.parameter"])
def _cover_core_parameter(k, p):
    """A write's core and parameter address (23..31: no generator)."""


@CoverPoint(f"{B}.fine", bins=list(range(emu_biasgen.FINE_MAX + 1)))
def _cover_fine(f):
    """A write's fine value."""


@CoverPoint(f"{B}.outcome", bins=list(range(len(OUTCOMES))), bins_labels=list(OUTCOMES))
def _cover_outcome(o):
    """A write's outcome."""


def stimulus(rng: np.random.Generator) -> np.ndarray:
    """(n, 4) int64 cases (core, parameter, coarse, fine), see the module docstring."""
    k, p, c, f = np.meshgrid(np.arange(4), np.arange(len(expect.PARAMETERS)), np.arange(expect.COARSE_VALUES),
                             np.arange(emu_biasgen.FINE_MAX + 1), indexing="ij")
    every = np.stack([k.ravel(), p.ravel(), c.ravel(), f.ravel()], axis=1)
    none = np.stack(np.meshgrid(np.arange(4), np.arange(len(expect.PARAMETERS), expect.PARAMETER_ADDRESSES),
                                np.arange(16), indexing="ij"), axis=-1).reshape(-1, 3)
    none = np.concatenate([none[:, :2], rng.integers(0, expect.COARSE_VALUES, (len(none), 1)),
                           rng.integers(0, emu_biasgen.FINE_MAX + 1, (len(none), 1))], axis=1)
    cases = np.concatenate([every, none]).astype(np.int64)
    return cases[rng.permutation(len(cases))]


def expected(cases: np.ndarray) -> dict:
    """What the model must answer case by case, and the bank at every dump."""
    bank = expect.Bank()
    n = len(cases)
    taken = np.zeros(n, bool)
    coarse = np.zeros(n, np.int64)
    fine = np.zeros(n, np.int64)
    dumps = [bank.codes()]
    for i, (k, p, c, f) in enumerate(cases.tolist()):
        taken[i] = bank.write(k, p, c, f)
        if p < len(expect.PARAMETERS):
            g = k * len(expect.PARAMETERS) + p
            coarse[i], fine[i] = bank.coarse[g], bank.fine[g]
        if (i + 1) % DUMP_EVERY == 0:
            dumps.append(bank.codes())
    if n % DUMP_EVERY:
        dumps.append(bank.codes())
    has = cases[:, 1] < len(expect.PARAMETERS)
    code = np.where(has, expect.dac_code(np.where(has, cases[:, 1], 0), coarse, fine), 0)
    return {"taken": taken, "coarse": coarse, "fine": fine, "code": code, "dumps": np.array(dumps)}


def _case(cases, j) -> dict:
    k, p, c, f = (int(v) for v in cases[j])
    name = expect.PARAMETERS[p] if p < len(expect.PARAMETERS) else None
    return {"case": j, "core": k, "parameter": p, "name": name, "coarse": c, "fine": f}


@cocotb.test()
async def every_setting_of_every_generator(dut):
    """The exhaustive writes, each read back, and the bank dumps."""
    s = common.settings()
    workdir = Path(s["workdir"])
    rng = np.random.default_rng(SEED)
    cases = stimulus(rng)
    (workdir / STIM_FILE).write_text("".join(f"{k:x} {p:x} {c:x} {f:x}\n" for k, p, c, f in cases.tolist()))
    dut.start.value = 1
    await with_timeout(RisingEdge(dut.done), CLOCK_NS * (2 * len(cases) + 64), "ns")
    dut.start.value = 0
    await Timer(2 * CLOCK_NS, "ns")
    got = np.array((workdir / RESP_FILE).read_text().split(), np.int64).reshape(-1, 6)
    dumps = [expect.bus_codes(line) for line in (workdir / DUMP_FILE).read_text().split()]
    want = expected(cases)
    report = _the_report()
    assert len(got) == len(cases), f"{len(got)} responses for {len(cases)} writes"

    done, refused, rd_coarse, rd_fine, rd_code, bus = got.T
    outcome_bad = (done != want["taken"]) | (refused != ~want["taken"])
    report.check(f"{B}.outcome", "digital", "exact", REFERENCE).add(
        outcome_bad, outcome_bad.astype(float),
        lambda j: {**_case(cases, j), "rtl": {"done": int(done[j]), "refused": int(refused[j])},
                   "reference": {"taken": bool(want["taken"][j])}})
    back_bad = (rd_coarse != want["coarse"]) | (rd_fine != want["fine"])
    report.check(f"{B}.readback", "digital", "exact", REFERENCE).add(
        back_bad, back_bad.astype(float),
        lambda j: {**_case(cases, j), "rtl": [int(rd_coarse[j]), int(rd_fine[j])],
                   "reference": [int(want["coarse"][j]), int(want["fine"][j])]})
    code_bad = (rd_code != want["code"]) | (bus != want["code"])
    report.check(f"{B}.code", "digital", "exact", REFERENCE).add(
        code_bad, code_bad.astype(float),
        lambda j: {**_case(cases, j), "rtl": {"rd_code": f"0x{int(rd_code[j]):04x}", "bus": f"0x{int(bus[j]):04x}"},
                   "reference": f"0x{int(want['code'][j]):04x}"})
    bank = report.check(f"{B}.bank", "digital", "exact", REFERENCE)
    if len(dumps) != len(want["dumps"]):
        bank.add(np.array([True]), None, lambda j: {"dumps": len(dumps), "reference": len(want["dumps"])})
    for d, (gd, wd) in enumerate(zip(dumps, want["dumps"])):
        bad = gd != wd
        bank.add(bad, bad.astype(float),
                 lambda j, d=d: {"dump": d, "after_writes": min(d * DUMP_EVERY, len(cases)), "generator": j,
                                 "core": j // len(expect.PARAMETERS),
                                 "name": expect.PARAMETERS[j % len(expect.PARAMETERS)],
                                 "rtl": f"0x{int(gd[j]):04x}", "reference": f"0x{int(wd[j]):04x}"})
    # the current each taken write's code names, against the emulator's current of the setting
    cur = report.check(f"{B}.current", "digital", "exact", CURRENT_REFERENCE)
    t = np.flatnonzero(want["taken"])
    kind, c_code, f_code, valid = expect.decode(bus[t])
    p = cases[t, 1]
    scale = np.array([emu_biasgen.SCALE[emu_biasgen.DEVICE_NAMES[n]] for n in expect.PARAMETERS])
    table = emu_biasgen.table()
    named = np.where(valid, table[kind, np.maximum(c_code, 0), f_code] * scale[p], np.nan)
    reference = np.empty(len(t))
    for q, name in enumerate(expect.PARAMETERS):
        sel = p == q
        reference[sel] = emu_biasgen.current(name, cases[t[sel], 2], cases[t[sel], 3])
    cur_bad = ~(named == reference)
    cur.add(cur_bad, np.where(cur_bad, 1.0, 0.0),
            lambda j: {**_case(cases, int(t[j])), "code": f"0x{int(bus[t[j]]):04x}",
                       "rtl_A": float(named[j]), "reference_A": float(reference[j])})

    outcome = ((cases[:, 2] > emu_biasgen.COARSE_MAX).astype(np.int64)
               + 2 * (cases[:, 1] >= len(expect.PARAMETERS)).astype(np.int64))
    has = cases[:, 1] < len(expect.PARAMETERS)
    common.sample_unique(_cover_parameter_coarse, cases[has, 1], cases[has, 2])
    common.sample_unique(_cover_core_parameter, cases[:, 0], cases[:, 1])
    common.sample_unique(_cover_fine, cases[:, 3])
    common.sample_unique(_cover_outcome, outcome)
    report.figures["writes"] = len(cases)
    report.figures["refused"] = int((~want["taken"]).sum())
    report.figures["dumps"] = len(dumps)
    report.write()
    failed = {c.name: c.mismatches for c in report.checks.values() if c.mismatches}
    for c in report.checks.values():
        for f in c.failures[:3]:
            dut._log.error("%s: %s", c.name, f)
    assert not failed, f"mismatches against {REFERENCE}: {failed}"


@cocotb.test()
async def coverage_complete(dut):
    """Every coverage item is complete (runs last)."""
    common.check_coverage_complete(_the_report(), COVERAGE, dut._log.info)
