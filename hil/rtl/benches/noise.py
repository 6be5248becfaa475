"""Block bench of the temporal-noise generator (``rtl_models/bss2/noise.v``), a cocotb test
module run on the harness ``noise.v`` beside it by ``hil.rtl.benches.run_bench``, in the
session directory, where the host side has written the coefficient file. Every batch
goes through files (the harness reads its inputs with $readmemh and writes its outputs
with $writememh), so Python only acts once per batch, not per cycle.

Each output is compared bit for bit (the float32 patterns of N1 and N2, and the
octaves) with the emulator's own generator (hil.rtl.noise.draws / deviates, the C
core): checks ``noise.random_keys_and_counters`` (3 x 4096 constrained-random keys and
counters, the last batch with bubbles) and ``noise.edge_patterns`` (steered edge words
of every octave). Functional coverage (cocotb-coverage): the octave 0..31 of each
deviate crossed with its sign (``noise.octave_x_sign``, 64 bins); the last test fails
unless it is complete. The serial plays no part (the generator has no fixed pattern).
"""
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge, Timer, with_timeout
from cocotb_coverage.coverage import CoverCross, CoverPoint, coverage_db

from emulator._native import lib
from hil.rtl import noise
from hil.rtl.benches import common

SEED = 20240515
BATCH = 4096            # the harness's DEPTH
RANDOM_BATCHES = 3
STIM_FILE, RESP_FILE = Path("noise_stim.hex"), Path("noise_resp.hex")
COVERAGE = "noise.octave_x_sign"
EDGE_WORDS = (0x00000000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
REFERENCE = "the emulator's generator (emulator/_native/rng.c through hil.rtl.noise.draws, deviates)"

_report = None


def _the_report() -> common.Report:
    global _report
    if _report is None:
        _report = common.Report(common.settings())
        _report.coverage = [COVERAGE]
    return _report


@CoverPoint("noise.octave", xf=lambda octave, sign: octave, bins=list(range(noise.SEGMENTS)))
@CoverPoint("noise.sign", xf=lambda octave, sign: sign, bins=[0, 1])
@CoverCross(COVERAGE, items=["noise.octave", "noise.sign"])
def _sample(octave: int, sign: int) -> None:
    """One deviate seen at the outputs: its octave and sign."""


async def _run(dut, keys: np.ndarray, counters: np.ndarray, gaps: bool = False) -> np.ndarray:
    """The harness's outputs for the inputs, rows (oct1, oct2, n1 bits, n2 bits)."""
    n = len(keys)
    assert 0 < n <= BATCH
    STIM_FILE.write_text("".join(f"{int(k):016x}{int(c):016x}\n" for k, c in zip(keys, counters)))
    RESP_FILE.unlink(missing_ok=True)
    dut.count.value = n
    dut.gaps.value = int(gaps)
    dut.start.value = 1
    await with_timeout(RisingEdge(dut.done), 40 * (n + 16), "ns")   # 10 ns a clock
    dut.start.value = 0
    await Timer(20, "ns")
    lines = (line.split("//")[0].strip() for line in RESP_FILE.read_text().splitlines())  # address comments
    rows = [int(line, 16) for line in lines if line]
    assert len(rows) == n, f"{len(rows)} outputs for {n} inputs"
    r = np.array(rows, dtype=object)
    return np.stack([(r >> 69) & 0x1F, (r >> 64) & 0x1F, (r >> 32) & 0xFFFFFFFF, r & 0xFFFFFFFF],
                    axis=1).astype(np.int64)


async def _check(dut, name: str, keys, counters, gaps: bool = False) -> None:
    """Runs a batch and compares it with the emulator; records the figures and the coverage."""
    keys = np.asarray(keys, dtype=np.uint64)
    counters = np.asarray(counters, dtype=np.uint64)
    got = await _run(dut, keys, counters, gaps)
    u1, u2 = noise.draws(keys, counters)
    n1, n2 = noise.deviates(keys, counters)
    want = np.stack([noise.octave(u1), noise.octave(u2),
                     n1.view(np.uint32).astype(np.int64), n2.view(np.uint32).astype(np.int64)], axis=1)
    bad = np.flatnonzero((got != want).any(axis=1))
    for octave, sign in zip(np.concatenate([want[:, 0], want[:, 1]]).tolist(),
                            np.concatenate([u1 >> np.uint32(31), u2 >> np.uint32(31)]).tolist()):
        _sample(octave, sign)
    report = _the_report()
    fields = ("oct1", "oct2", "n1_bits", "n2_bits")
    report.check(f"noise.{name}", "digital", "exact", REFERENCE).add(
        (got != want).any(axis=1), (got != want).any(axis=1).astype(float),
        lambda j: {"key": f"0x{int(keys[j]):016x}", "counter": f"0x{int(counters[j]):016x}",
                   "u1": f"0x{int(u1[j]):08x}", "u2": f"0x{int(u2[j]):08x}",
                   "rtl": {f: hex(int(v)) for f, v in zip(fields, got[j])},
                   "reference": {f: hex(int(v)) for f, v in zip(fields, want[j])}})
    report.figures[f"{name}_samples"] = report.figures.get(f"{name}_samples", 0) + len(keys)
    report.write()
    for j in bad[:10]:
        dut._log.error("mismatch: key=0x%016x counter=0x%016x u=(0x%08x, 0x%08x) rtl=%s emulator=%s",
                       int(keys[j]), int(counters[j]), int(u1[j]), int(u2[j]),
                       [hex(int(v)) for v in got[j]], [hex(int(v)) for v in want[j]])
    assert bad.size == 0, f"{name}: {bad.size} of {len(keys)} samples differ from the emulator"


def _random_counters(rng: np.random.Generator, n: int) -> np.ndarray:
    """Counters from three classes: the MAC readout's (sample * 512 + neuron), any 64-bit
    value, and values next to 2^63 and 2^64 (where the word index of the C API wraps)."""
    kind = rng.integers(0, 3, n)
    readout = (rng.integers(0, 1 << 20, n, dtype=np.uint64) * np.uint64(512)
               + rng.integers(0, 512, n, dtype=np.uint64))
    anything = rng.integers(0, 1 << 64, n, dtype=np.uint64, endpoint=False)
    base = np.where(rng.integers(0, 2, n) == 1, 1 << 63, 0).astype(np.uint64)
    edge = base + rng.integers(0, 2048, n, dtype=np.uint64) - np.uint64(1024)   # mod 2^64
    return np.where(kind == 0, readout, np.where(kind == 1, anything, edge))


def _random_keys(rng: np.random.Generator, n: int) -> np.ndarray:
    """Keys: half any 64-bit value, half the emulator's real stream keys
    (bss2_stream_key of a random chip seed, run and stream)."""
    keys = rng.integers(0, 1 << 64, n, dtype=np.uint64, endpoint=False)
    for j in range(0, n, 2):
        keys[j] = lib.bss2_stream_key(*(int(v) for v in rng.integers(0, 1 << 63, 3)))
    return keys


def _steered(rng: np.random.Generator, draws: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Keys and random counters whose draws are exactly the given 64-bit values."""
    counters = rng.integers(0, 1 << 64, len(draws), dtype=np.uint64, endpoint=False)
    keys = np.array([noise.key_for_draw(b, int(c)) for b, c in zip(draws, counters)], dtype=np.uint64)
    return keys, counters


@cocotb.test()
async def random_keys_and_counters(dut):
    """Constrained-random keys and counters (fixed seed), back to back and with bubbles."""
    rng = np.random.default_rng(SEED)
    for batch in range(RANDOM_BATCHES):
        await _check(dut, "random_keys_and_counters", _random_keys(rng, BATCH), _random_counters(rng, BATCH),
                     gaps=batch == RANDOM_BATCHES - 1)
    cover = coverage_db[COVERAGE]
    dut._log.info("coverage from random stimulus alone: %d of %d octave x sign bins",
                  cover.coverage, cover.size)


@cocotb.test()
async def edge_patterns(dut):
    """u = 0, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF in both halves (all 16 pairs), and the
    smallest, largest and a random word of every octave 0..31 on both signs."""
    rng = np.random.default_rng(SEED + 1)
    words = list(EDGE_WORDS)
    for octave in range(noise.SEGMENTS):
        # octave o: 2t + 1 has o leading zeros, t in [2^(30-o), 2^(31-o)); t = 0 for o = 31
        lo, hi = (0, 0) if octave == 31 else (1 << (30 - octave), (1 << (31 - octave)) - 1)
        for t in (lo, hi, int(rng.integers(lo, hi + 1))):
            words += [t, t ^ 0xFFFFFFFF]       # sign 0 and sign 1 (u = ~t)
    pairs = [(a, b) for a in EDGE_WORDS for b in EDGE_WORDS]
    pairs += list(zip(words, rng.permutation(words).tolist()))   # every word as high and as low half
    pairs += list(zip(rng.permutation(words).tolist(), words))
    keys, counters = _steered(rng, [(a << 32) | b for a, b in pairs])
    u1, u2 = noise.draws(keys, counters)
    assert [(int(a), int(b)) for a, b in zip(u1, u2)] == pairs, "key_for_draw did not steer the draws"
    await _check(dut, "edge_patterns", keys, counters)


@cocotb.test()
async def coverage_complete(dut):
    """Every octave 0..31 on both signs was seen, by N1 and N2 together (runs last)."""
    cover = coverage_db[COVERAGE]
    missing = [f"octave {o} sign {s}" for (o, s), hits in cover.detailed_coverage.items() if hits == 0]
    report = _the_report()
    report.figures["coverage_missing"] = missing
    report.write(dut._log.info)
    assert cover.coverage == cover.size == 2 * noise.SEGMENTS, \
        f"octave x sign coverage {cover.coverage}/{cover.size}: missing {missing}"
