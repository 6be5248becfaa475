"""cocotb test of the float32 helpers (rtl_models/bss2/float32.vh) through float32_bench.v.

The pytest side (tests/rtl/test_float32.py) writes the cases to float32_stim.hex before the
simulation starts; the harness evaluates them all at time 0. Expected values are numpy's
float64 -> float32 conversion (IEEE round to nearest even, with subnormals and overflow to
infinity) and float32 -> float64 widening.
"""
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge, with_timeout

STIM_FILE, RESP_FILE = Path("float32_stim.hex"), Path("float32_resp.hex")
COUNT = 4096
SEED = 7


def cases(rng: np.random.Generator = None) -> tuple[np.ndarray, np.ndarray]:
    """COUNT doubles (uint64 bits) and COUNT float32 patterns (uint32) that reach every
    branch: rounding with random low bits, exact ties on odd and even mantissas, the
    subnormal range and below, overflow (to infinity and just not), zeros, infinities,
    NaNs and double subnormals."""
    rng = np.random.default_rng(SEED) if rng is None else rng
    q = COUNT // 8
    f = rng.integers(0, 1 << 32, COUNT, dtype=np.uint64).astype(np.uint32)
    with np.errstate(invalid="ignore"):    # signalling NaNs among the random patterns
        wide = f[: 3 * q].view(np.float32).astype(np.float64).view(np.uint64)
    wide[np.isnan(f[: 3 * q].view(np.float32))] = 0x3FF0000000000000
    low = rng.integers(0, 1 << 29, 3 * q, dtype=np.uint64)
    low[q: 2 * q] = 1 << 28                                          # exact ties
    rounding = wide | low
    expo = rng.integers(1023 - 160, 1023 - 125, q, dtype=np.uint64)   # subnormal float32 range
    tiny = (rng.integers(0, 2, q, dtype=np.uint64) << np.uint64(63)) | (expo << np.uint64(52)) \
        | rng.integers(0, 1 << 52, q, dtype=np.uint64)
    tiny[: q // 4] = (expo[: q // 4] << np.uint64(52)) | np.uint64(1 << 51)   # ties there too
    big = (np.uint64(1150) << np.uint64(52)) | np.uint64(0xFFFFF) << np.uint64(32) \
        | rng.integers(0, 1 << 32, q, dtype=np.uint64)                  # about FLT_MAX
    special = np.array([0, 1 << 63, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000,
                        0x0000000000000001, 0x8000000000000001, 0x000FFFFFFFFFFFFF,
                        0x47EFFFFFF0000000, 0x47EFFFFFE0000000, 0x47EFFFFFEFFFFFFF,
                        0x36A0000000000000, 0x3690000000000000, 0x3690000000000001],
                       dtype=np.uint64)
    rest = rng.integers(0, 1 << 64, COUNT - 5 * q - special.size, dtype=np.uint64, endpoint=False)
    x = np.concatenate([rounding, tiny, big, special, rest])
    w = f.copy()
    w[: q] = rng.integers(0, 1 << 23, q, dtype=np.uint64).astype(np.uint32) \
        | (rng.integers(0, 2, q, dtype=np.uint64).astype(np.uint32) << np.uint32(31))   # subnormals
    return x, w


def write_cases(path: Path) -> None:
    x, w = cases()
    path.write_text("".join(f"{int(a):016x}{int(b):08x}\n" for a, b in zip(x, w)))


@cocotb.test()
async def helpers_match_numpy(dut):
    await with_timeout(RisingEdge(dut.done), 10, "ns")
    x, w = cases()
    lines = (line.split("//")[0].strip() for line in RESP_FILE.read_text().splitlines())
    rows = [int(line, 16) for line in lines if line]
    assert len(rows) == COUNT
    got_f32 = np.array([r >> 96 for r in rows], dtype=np.uint64)
    got_bits = np.array([(r >> 64) & 0xFFFFFFFF for r in rows], dtype=np.uint64).astype(np.uint32)
    got_wide = np.array([r & ((1 << 64) - 1) for r in rows], dtype=np.uint64)
    with np.errstate(over="ignore", invalid="ignore"):
        want32 = x.view(np.float64).astype(np.float32)
        want_wide = w.view(np.float32).astype(np.float64)
    nan_x, nan_w = np.isnan(want32), np.isnan(want_wide)
    checks = {
        "f32": (got_f32 != want32.astype(np.float64).view(np.uint64)) & ~nan_x,
        "f32 NaN": nan_x & ~np.isnan(got_f32.view(np.float64)),
        "f32_to_bits": (got_bits != want32.view(np.uint32)) & ~nan_x,
        "f32_to_bits NaN": nan_x & ~np.isnan(got_bits.view(np.float32)),
        "f32_from_bits": (got_wide != want_wide.view(np.uint64)) & ~nan_w,
        "f32_from_bits NaN": nan_w & ~np.isnan(got_wide.view(np.float64)),
    }
    for name, bad in checks.items():
        for j in np.flatnonzero(bad)[:5]:
            dut._log.error("%s: x=0x%016x w=0x%08x got (0x%016x, 0x%08x, 0x%016x)", name, int(x[j]), int(w[j]),
                           int(got_f32[j]), int(got_bits[j]), int(got_wide[j]))
    failed = {name: int(bad.sum()) for name, bad in checks.items() if bad.any()}
    assert not failed, f"float32 helpers differ from numpy in {failed} of {COUNT} cases"
