"""The crossbar tile family's block benches: cocotb tests of the converter (``rtl_models/crossbar/converter.v``)
and of the pulse-train generator and the coincidence counter (``pulse_train.v``, ``coincidence.v``) on their
harnesses (``converter.v``, ``pulses.v`` beside this module), and :func:`run_bench`, which runs them from the
host, the counterpart of :func:`hil.rtl.benches.run_bench` with the same result
(:class:`hil.rtl.benches.BenchResult`).

>>> from hil.rtl.crossbar.benches import run_bench
>>> r = run_bench("converter", simulator="icarus")
>>> r.passed, [(c.name, c.compared, c.mismatches) for c in r.checks], r.coverage

Every check is digital and exact, bit for bit, against the definitions called as they are:
``emulator.crossbar.converters`` (``codes``, ``quantise``, ``inverse``, ``step``, ``uniform``) and
``emulator.crossbar.pulses`` (``threshold``, ``trains``, ``coincidences``; the step's direction as
``emulator.crossbar.reference.update`` writes it). Each bench runs directed corners first, then
constrained-random cases (numpy, fixed seeds); the cases go to the harness in one file and come back in
another, so Python acts once per batch. The last test of each bench fails unless its functional coverage
(cocotb-coverage) is complete (``hil.rtl.benches.common.check_coverage_complete``).

converter: converters of chosen (bound, N) pairs (N = 0, a converter without quantisation, included;
    bounds from 2^-60 to 3.4e38, so the factor ``inv`` can be subnormal and ``v * inv`` can underflow or
    overflow) on values of every kind (in range, ties x.5, the +-N boundaries, +-0, subnormals, huge,
    random bit patterns), stochastic rounding off and on (deviates from ``uniform``, -0.5 and the largest
    included, arbitrary float32 deviates, deviates that cancel the product), with idle clocks between some
    cases. Checks: ``converter.steps`` (t = v * inv (+ u), float32 bits), ``converter.codes`` (code, above,
    below against ``codes``, N > 0), ``converter.values`` (the value's bits and the flags against
    ``quantise``, every N). Coverage: code sign x SR, saturation x SR, ties (to even, down or up) x SR, the
    class of t (zero, subnormal, below 2^23, integral, infinite) x SR, the class of v, the level count.
pulses: trains of probabilities at the edges (0, -0, subnormal, 2^-32 and its neighbours, 1/2, just below
    1, 1) and at random, BL 0..64, words at the threshold and one either side, with idle clocks between
    some words; then pairs of trains with every coincidence count 0..64 and every pair of signs. Checks:
    ``pulses.thresholds`` (``threshold``), ``pulses.trains`` (``trains``), ``pulses.coincidences``
    (``coincidences``), ``pulses.directions`` (sign(d) sign(x) > 0 from the sign bits of nonzero d and
    x). Coverage: the class of p, BL, the word edges, trains that fire nowhere, somewhere,
    everywhere; every count, and the sign pairs x count zero or not.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from emulator.crossbar import DEFAULT_SERIAL
from emulator.crossbar import converters as cv
from emulator.crossbar import pulses as pl

from . import build as cb_build
from ..benches import BenchResult, common, simulate
from ...contract.errors import InvalidValue

BLOCKS = ("converter", "pulses")
"""The benches: ``converter`` (converter.v) and ``pulses`` (pulse_train.v and coincidence.v)."""
RESULT_FILE = "bench_result.json"
SERIAL = DEFAULT_SERIAL
"""The serial the results carry (the family's default; the blocks are digital: the same on every tile)."""
CLOCK_NS = 10
SEEDS = {"converter_corners": 0xC0DE, "converter_random": 0xC0DE + 1, "pulses_corners": 0x9015E,
         "pulses_random": 0x9015E + 1}
RANDOM_CONFIGS = 400
"""Random (bound, N) converters of the converter bench, each with CASES_PER_CONFIG cases."""
CASES_PER_CONFIG = 150
RANDOM_TRAINS = 5000
RANDOM_PAIRS = 30000
F32 = np.float32
F32_MAX = float(np.finfo(np.float32).max)

CONVERTERS = "emulator.crossbar.converters (codes, quantise)"
PULSES = "emulator.crossbar.pulses (threshold, trains, coincidences)"
DIRECTION = "sign(d) sign(x) > 0, as emulator.crossbar.reference.update steps the devices"

C, P = "crossbar.converter", "crossbar.pulses"
COVERAGE = {
    "converter": (f"{C}.sign_x_sr", f"{C}.saturation_x_sr", f"{C}.tie_x_sr", f"{C}.steps_x_sr", f"{C}.value",
                  f"{C}.levels"),
    "pulses": (f"{P}.p", f"{P}.bl", f"{P}.edge", f"{P}.fired", f"{P}.count", f"{P}.direction_x_count"),
}
"""Each bench's coverage items; its last test fails unless all are complete."""
SR_LABELS = ["off", "on"]

_reports: dict = {}


def _block() -> str | None:
    """The block of the bench running in this simulator (None outside one)."""
    return json.loads(os.environ.get(common.ENV, "{}")).get("block")


def _the_report() -> common.Report:
    block = _block()
    if block not in _reports:
        _reports[block] = common.Report(common.settings())
        _reports[block].coverage = list(COVERAGE[block])
        for name in COVERAGE[block]:             # the bench's coverage items exist from its first test on
            _sampler(name)
    return _reports[block]


def bits(a) -> np.ndarray:
    """uint32 patterns of float32 values."""
    return np.ascontiguousarray(np.asarray(a, F32)).view(np.uint32)


def floats(b) -> np.ndarray:
    """float32 values of uint32 patterns."""
    return np.ascontiguousarray(np.asarray(b, np.uint32)).view(F32)


# ---------------------------------------------------------------------------------------- coverage
def _cross(name: str, first: str, labels_a, second: str, labels_b):
    """A cocotb-coverage cross of two integer class points ``first`` x ``second`` as one sampling function."""
    from cocotb_coverage.coverage import CoverCross, CoverPoint

    parent, leaf = name.rsplit(".", 1)
    a_name, b_name = f"{parent}.{leaf}_items.{first}", f"{parent}.{leaf}_items.{second}"   # beside the cross

    @CoverPoint(a_name, xf=lambda a, b: a, bins=list(range(len(labels_a))), bins_labels=list(labels_a))
    @CoverPoint(b_name, xf=lambda a, b: b, bins=list(range(len(labels_b))), bins_labels=list(labels_b))
    @CoverCross(name, items=[a_name, b_name])
    def sample(a, b):
        """One case's classes."""
    return sample


def _point(name: str, labels):
    from cocotb_coverage.coverage import CoverPoint

    @CoverPoint(name, bins=list(range(len(labels))), bins_labels=[str(x) for x in labels])
    def sample(a):
        """One case's class."""
    return sample


SIGNS = ("negative", "zero", "positive")
SATURATION = ("inside", "above", "below")
TIES = ("no tie", "tie rounded down", "tie rounded up")
STEPS = ("zero", "subnormal", "below 2^23", "integral (2^23 and above)", "infinite")
VALUES = ("+0", "-0", "subnormal", "normal")
LEVELS = ("N = 0 (no quantisation)", "N = 1", "1 < N < 2^20", "N = 2^20")
P_CLASSES = ("p = 0", "p > 0, threshold 0", "threshold < 2^16", "mid", "threshold > 2^32 - 2^16", "p = 1")
EDGES = ("word = threshold - 1 (fires)", "word = threshold (does not)", "word = threshold + 1",
         "p = 1, word 2^32 - 1 (fires)", "p = 0, word 0 (does not)")
FIRED = ("nowhere", "somewhere", "everywhere")
DIRECTIONS = ("d >= 0, x >= 0", "d >= 0, x < 0", "d < 0, x >= 0", "d < 0, x < 0")

_samplers: dict = {}
_FACTORIES = {
    f"{C}.sign_x_sr": lambda: _cross(f"{C}.sign_x_sr", "sign", SIGNS, "sr", SR_LABELS),
    f"{C}.saturation_x_sr": lambda: _cross(f"{C}.saturation_x_sr", "saturation", SATURATION, "sr", SR_LABELS),
    f"{C}.tie_x_sr": lambda: _cross(f"{C}.tie_x_sr", "tie", TIES, "sr", SR_LABELS),
    f"{C}.steps_x_sr": lambda: _cross(f"{C}.steps_x_sr", "steps", STEPS, "sr", SR_LABELS),
    f"{C}.value": lambda: _point(f"{C}.value", VALUES),
    f"{C}.levels": lambda: _point(f"{C}.levels", LEVELS),
    f"{P}.p": lambda: _point(f"{P}.p", P_CLASSES),
    f"{P}.bl": lambda: _point(f"{P}.bl", range(65)),
    f"{P}.edge": lambda: _point(f"{P}.edge", EDGES),
    f"{P}.fired": lambda: _point(f"{P}.fired", FIRED),
    f"{P}.count": lambda: _point(f"{P}.count", range(65)),
    f"{P}.direction_x_count": lambda: _cross(f"{P}.direction_x_count", "direction", DIRECTIONS, "count",
                                             ("0", "1..64")),
}


def _sampler(name: str):
    """The sampling function of coverage item ``name``, made at its first use (cocotb-coverage's items
    are global: a bench's simulation holds its own items only)."""
    if name not in _samplers:
        _samplers[name] = _FACTORIES[name]()
    return _samplers[name]


def float_class(a) -> np.ndarray:
    """0 zero, 1 subnormal, 2 normal below 2^23, 3 finite from 2^23 on, 4 infinite (NaN: 5) of float32 values."""
    b = bits(a) & np.uint32(0x7FFFFFFF)
    e = b >> np.uint32(23)
    return np.select([b == 0, e == 0, e < 150, e < 255, b == 0x7F800000], [0, 1, 2, 3, 4], 5)


def tie_class(t) -> np.ndarray:
    """0 no tie, 1 a tie x.5 rint takes down (in magnitude), 2 one it takes up."""
    a = np.abs(np.asarray(t, F32)).astype(np.float64)
    with np.errstate(all="ignore"):
        tie = np.isfinite(a) & (a < 2.0 ** 23) & (a - np.floor(a) == 0.5)
        up = np.abs(np.rint(np.asarray(t, F32)).astype(np.float64)) > a
    return np.where(tie, np.where(up, 2, 1), 0)


def level_class(n) -> np.ndarray:
    n = np.asarray(n)
    return np.select([n == 0, n == 1, n < 1 << 20], [0, 1, 2], 3)


# ---------------------------------------------------------------------------------------- the converter
def _nudged(x, k) -> np.ndarray:
    """float32 x moved k ulps (k an integer array; towards +inf for k > 0), staying finite."""
    x = np.asarray(x, F32).copy()
    k = np.broadcast_to(np.asarray(k), x.shape)
    for step in range(int(np.max(np.abs(k), initial=0))):
        move = np.abs(k) > step
        x[move] = np.nextafter(x[move], np.where(k[move] > 0, F32(np.inf), F32(-np.inf)).astype(F32))
    return np.clip(x, -F32_MAX, F32_MAX).astype(F32)


def _exact_steps(target, inv) -> np.ndarray:
    """float32 values v whose v * inv (float32) equals the float32 target where one within 4 ulps of
    target / inv does; otherwise target / inv itself (the largest finite value where that overflows)."""
    target = np.asarray(target, F32)
    with np.errstate(all="ignore"):
        v0 = (target.astype(np.float64) / np.float64(inv)).astype(F32)
        best = v0.copy()
        found = np.zeros(v0.shape, bool)
        for k in (0, 1, -1, 2, -2, 3, -3, 4, -4):
            cand = _nudged(v0, np.full(v0.shape, k))
            hit = ~found & (cand * F32(inv) == target)
            best[hit] = cand[hit]
            found |= hit
    return np.clip(best, -F32_MAX, F32_MAX).astype(F32)      # finite: beyond the range, the largest


def _random_bits(rng, n, *, subnormal=False) -> np.ndarray:
    """Finite float32 values of random sign, exponent (0..254, or 0 for subnormals) and fraction."""
    e = np.zeros(n, np.uint32) if subnormal else rng.integers(0, 255, n).astype(np.uint32)
    f = rng.integers(0, 1 << 23, n).astype(np.uint32)
    s = rng.integers(0, 2, n).astype(np.uint32)
    return floats((s << np.uint32(31)) | (e << np.uint32(23)) | f)


SPECIALS = np.array([0.0, -0.0, 1e-45, -1e-45, 2.0 ** -126 - 2.0 ** -149, -(2.0 ** -126 - 2.0 ** -149),
                     2.0 ** -126, -(2.0 ** -126), F32_MAX, -F32_MAX, 1e38, -1e38, 1e20, -1e20, 2.0 ** 23,
                     -(2.0 ** 23) - 1, 2.0 ** 21, 0.5, -0.5, 1.5, -2.5], F32)
CORNER_CONFIGS = ((1.0, 1), (1.0, 2), (1.0, 3), (1.0, 127), (1.0, 128), (3.0, 255), (1.0, 1 << 20), (0.75, 1000),
                  (1e-3, 100), (1e30, 1 << 20), (1e-30, 7), (3e38, 1), (3.4e38, 3), (2.0 ** -60, 5), (1.0, 0),
                  (20.0, 0))
"""(bound, N) of the directed converters: small and the largest N, factors inv from subnormal to 2^62,
and two converters without quantisation."""
CORNER_DEVIATES = np.array([-0.5, 0.0, 0.5 - 2.0 ** -24, -(2.0 ** -24), 0.25], F32)


def corner_values(bound: float, n: int) -> np.ndarray:
    """The directed values of one converter: the specials, +-bound and their neighbours, the ties k + 0.5
    and the integers near 0 and near +-N, +-(N + 0.5)."""
    inv = cv.inverse(bound, n)
    b = F32(bound)
    near_bound = _nudged(np.array([b, b, b, -b, -b, -b], F32), np.array([-1, 0, 1, -1, 0, 1]))
    if n == 0:
        return np.concatenate([SPECIALS, near_bound, np.array([b / 2, -b / 2, 2 * b, -2 * b], F32)])
    ks = np.array([0, 1, 2, 3, -1, -2, -3, n - 1, n, n + 1, -n + 1, -n, -n - 1], np.float64)
    ties = _exact_steps((ks + 0.5).astype(F32), inv)
    ints = _exact_steps(ks.astype(F32), inv)
    return np.concatenate([SPECIALS, near_bound, ties, ints])


def _converter_stimulus(rng, configs, per_config: int, directed: bool) -> dict:
    """Cases as arrays: config (index), v, sr, u (float32), gap."""
    cfg, vs, srs, us = [], [], [], []
    for c, (bound, n) in enumerate(configs):
        inv = cv.inverse(bound, n)
        if directed:
            base = corner_values(bound, n)
            v = np.concatenate([base] * (1 + len(CORNER_DEVIATES)))
            sr = np.repeat(np.arange(1 + len(CORNER_DEVIATES)) > 0, len(base))
            u = np.concatenate([np.zeros(len(base), F32)] + [np.full(len(base), d, F32) for d in CORNER_DEVIATES])
        else:
            v = _random_values(rng, bound, n, inv, per_config)
            sr = rng.random(per_config) < 0.5
            u = _random_deviates(rng, v, inv)
        cfg.append(np.full(len(v), c))
        vs.append(v)
        srs.append(sr)
        us.append(u)
    cases = {"config": np.concatenate(cfg), "v": np.concatenate(vs).astype(F32), "sr": np.concatenate(srs),
             "u": np.concatenate(us).astype(F32)}
    count = len(cases["v"])
    cases["gap"] = np.where(rng.random(count) < 0.02, rng.integers(1, 4, count), 0)
    assert np.isfinite(cases["v"]).all() and np.isfinite(cases["u"]).all()   # the tile refuses the others
    return cases


def _random_values(rng, bound: float, n: int, inv, count: int) -> np.ndarray:
    """Constrained-random values of one converter: a mix of in-range values, ties, integers, the
    +-bound edges, specials, subnormals and random bit patterns."""
    kind = rng.choice(7, count, p=[0.35, 0.15, 0.08, 0.07, 0.05, 0.05, 0.25])
    b = F32(bound)
    v = (rng.uniform(-1.25, 1.25, count) * bound).astype(F32)                 # 0: in range (and beyond)
    top = max(n, 3)
    k = rng.integers(-top - 2, top + 2, count).astype(np.float64)
    for sel, target in ((kind == 1, k + 0.5), (kind == 2, k)):                # 1: ties, 2: integers
        if sel.any():
            v[sel] = _exact_steps(target[sel].astype(F32), inv) if n else (target[sel] * bound / 4).astype(F32)
    sel = kind == 3                                                            # 3: +-bound, a few ulps off
    v[sel] = _nudged(np.where(rng.random(sel.sum()) < 0.5, b, -b).astype(F32), rng.integers(-3, 4, sel.sum()))
    sel = kind == 4
    v[sel] = rng.choice(SPECIALS, sel.sum())
    sel = kind == 5
    v[sel] = _random_bits(rng, sel.sum(), subnormal=True)
    sel = kind == 6
    v[sel] = _random_bits(rng, sel.sum())
    return v


def _random_deviates(rng, v, inv) -> np.ndarray:
    """Stochastic rounding's deviates: mostly ``uniform`` of random words (-0.5, 0 and the largest among
    them), some arbitrary float32 values and some that cancel the product v * inv to a few ulps."""
    count = len(v)
    kind = rng.choice(6, count, p=[0.66, 0.08, 0.04, 0.04, 0.10, 0.08])
    words = rng.integers(0, 1 << 32, count, dtype=np.uint64).astype(np.uint32)
    words[kind == 1] = rng.integers(0, 256, (kind == 1).sum())                  # -0.5
    words[kind == 2] = np.uint32(0xFFFFFFFF)                                    # 0.5 - 2^-24
    words[kind == 3] = (np.uint32(1 << 23) << np.uint32(8)) | rng.integers(0, 256, (kind == 3).sum()).astype(np.uint32)
    u = cv.uniform(words)                                                       # kind 3: exactly 0
    sel = kind == 4
    u[sel] = _random_bits(rng, sel.sum())
    sel = kind == 5
    with np.errstate(all="ignore"):
        t1 = np.asarray(v, F32) * F32(inv)
    sel &= np.isfinite(t1)
    u[sel] = _nudged(-t1[sel], rng.integers(-3, 4, sel.sum()))
    return u.astype(F32)


def converter_reference(configs, cases: dict) -> dict:
    """What the converter must give, case by case: t, code, above, below (``codes``, N > 0), value and its
    flags (``quantise``), per converter and SR setting as the definitions are called."""
    count = len(cases["v"])
    out = {"t": np.zeros(count, np.uint32), "code": np.zeros(count, np.int64), "above": np.zeros(count, bool),
           "below": np.zeros(count, bool), "value": np.zeros(count, np.uint32), "q_above": np.zeros(count, bool),
           "q_below": np.zeros(count, bool)}
    with np.errstate(all="ignore"):
        for c, (bound, n) in enumerate(configs):
            for sr in (False, True):
                sel = np.flatnonzero((cases["config"] == c) & (cases["sr"] == sr))
                if not sel.size:
                    continue
                v, u = cases["v"][sel], (cases["u"][sel] if sr else None)
                inv = cv.inverse(bound, n)
                t = v * F32(inv)                                   # codes' first steps, as it writes them
                if u is not None:
                    t = t + u
                out["t"][sel] = bits(t)
                if n:
                    code, above, below = cv.codes(v, inv, n, u)
                    out["code"][sel], out["above"][sel], out["below"][sel] = code, above, below
                value, q_above, q_below = cv.quantise(v, bound, n, u)
                out["value"][sel], out["q_above"][sel], out["q_below"][sel] = bits(value), q_above, q_below
    return out


def converter_lines(configs, cases: dict) -> str:
    inv = bits(np.array([cv.inverse(b, n) for b, n in configs], F32))
    step = bits(np.array([cv.step(b, n) for b, n in configs], F32))
    n = np.array([n for _, n in configs], np.int64)
    k = cases["config"]
    rows = zip(cases["gap"].tolist(), bits(cases["v"]).tolist(), inv[k].tolist(), step[k].tolist(), n[k].tolist(),
               cases["sr"].astype(int).tolist(), bits(cases["u"]).tolist())
    return "".join(f"{g:x} {v:08x} {i:08x} {s:08x} {m:x} {r:x} {u:08x}\n" for g, v, i, s, m, r, u in rows)


def read_converter(text: str) -> dict:
    """The harness's lines "t code above below value" as arrays."""
    f = text.split()
    t, code, above, below, value = (f[i::5] for i in range(5))
    return {"t": np.array([int(x, 16) for x in t], np.uint32), "code": np.array(code, np.int64),
            "above": np.array(above, np.int64).astype(bool), "below": np.array(below, np.int64).astype(bool),
            "value": np.array([int(x, 16) for x in value], np.uint32)}


def random_configs(rng, count: int) -> list[tuple[float, int]]:
    """(bound, N) of random converters: bounds 2^-60 .. 2^100, N 0, 1, 2^20, powers of two, log-uniform."""
    out = []
    for _ in range(count):
        bound = float(F32(2.0 ** rng.uniform(-60, 100)))
        r = rng.random()
        if r < 0.08:
            n = 0
        elif r < 0.16:
            n = 1
        elif r < 0.24:
            n = 1 << 20
        elif r < 0.40:
            n = 1 << int(rng.integers(1, 20))
        else:
            n = int(np.exp(rng.uniform(np.log(2), np.log(1 << 20))))
        out.append((bound, n))
    return out


async def _run_file(dut, stim: str, text: str, resp: str, clocks: int, phase: int | None = None) -> str:
    """Writes the case file, runs the harness over it and returns its response file's text."""
    from cocotb.triggers import RisingEdge, Timer, with_timeout
    workdir = Path(common.settings()["workdir"])
    (workdir / stim).write_text(text)
    (workdir / resp).unlink(missing_ok=True)
    dut.start.value = 0
    if phase is not None:
        dut.phase.value = phase
    await Timer(3 * CLOCK_NS, "ns")
    dut.start.value = 1
    await with_timeout(RisingEdge(dut.done), CLOCK_NS * (clocks + 200), "ns")
    dut.start.value = 0
    await Timer(3 * CLOCK_NS, "ns")
    return (workdir / resp).read_text()


def _check_converter(report: common.Report, configs, cases: dict, got: dict, log) -> dict:
    want = converter_reference(configs, cases)
    n = np.array([c[1] for c in configs], np.int64)[cases["config"]]
    bound = np.array([c[0] for c in configs])[cases["config"]]

    def case(j):
        return {"case": j, "bound": float(bound[j]), "N": int(n[j]), "v": f"0x{bits(cases['v'][j:j + 1])[0]:08x}",
                "v_value": float(cases["v"][j]), "sr": bool(cases["sr"][j]),
                "u": f"0x{bits(cases['u'][j:j + 1])[0]:08x}", "u_value": float(cases["u"][j])}

    steps_bad = got["t"] != want["t"]
    report.check(f"{C[9:]}.steps", "digital", "exact", CONVERTERS + ": t = v * inv (+ u), float32").add(
        steps_bad, steps_bad.astype(float),
        lambda j: {**case(j), "rtl": f"0x{got['t'][j]:08x}", "reference": f"0x{want['t'][j]:08x}"})
    q = n > 0
    codes_bad = q & ((got["code"] != want["code"]) | (got["above"] != want["above"]) | (got["below"] != want["below"]))
    quantised = np.flatnonzero(q)
    report.check(f"{C[9:]}.codes", "digital", "exact", CONVERTERS + ": codes").add(
        codes_bad[q], np.abs(got["code"] - want["code"])[q].astype(float),
        lambda j: _code_case(case(int(quantised[j])), got, want, int(quantised[j])))
    values_bad = ((got["value"] != want["value"]) | (got["above"] != want["q_above"])
                  | (got["below"] != want["q_below"]) | (~q & (got["code"] != 0)))
    report.check(f"{C[9:]}.values", "digital", "exact", CONVERTERS + ": quantise").add(
        values_bad, values_bad.astype(float),
        lambda j: {**case(j), "rtl": [f"0x{got['value'][j]:08x}", bool(got["above"][j]), bool(got["below"][j]),
                                      int(got["code"][j])],
                   "reference": [f"0x{want['value'][j]:08x}", bool(want["q_above"][j]), bool(want["q_below"][j])]})
    # coverage, from the reference's classes
    code = want["code"]
    sign = np.where(q, np.sign(code) + 1, 1)
    sat = np.where(want["q_above"], 1, np.where(want["q_below"], 2, 0))
    sr = cases["sr"].astype(np.int64)
    t = floats(want["t"])
    vb = bits(cases["v"])
    vclass = np.select([vb == 0, vb == 0x80000000, (vb & 0x7F800000) == 0], [0, 1, 2], 3)
    common.sample_unique(_sampler(f"{C}.sign_x_sr"), sign, sr)
    common.sample_unique(_sampler(f"{C}.saturation_x_sr"), sat, sr)
    common.sample_unique(_sampler(f"{C}.tie_x_sr"), np.where(q, tie_class(t), 0), sr)
    tc = float_class(t)
    finite = tc < 5
    common.sample_unique(_sampler(f"{C}.steps_x_sr"), tc[finite], sr[finite])
    common.sample_unique(_sampler(f"{C}.value"), vclass)
    common.sample_unique(_sampler(f"{C}.levels"), level_class(n))
    bad = {name: int(m.sum()) for name, m in (("steps", steps_bad), ("codes", codes_bad), ("values", values_bad))}
    for c in report.checks.values():
        for f in c.failures[:3]:
            log.error("%s: %s", c.name, f)
    return bad


def _code_case(inputs: dict, got: dict, want: dict, i: int) -> dict:
    return {**inputs, "rtl": [int(got["code"][i]), bool(got["above"][i]), bool(got["below"][i])],
            "reference": [int(want["code"][i]), bool(want["above"][i]), bool(want["below"][i])]}


async def _converter_test(dut, name: str, configs, per_config: int, directed: bool) -> None:
    rng = np.random.default_rng(SEEDS[name])
    cases = _converter_stimulus(rng, configs, per_config, directed)
    clocks = len(cases["v"]) + int(cases["gap"].sum()) + 16
    text = await _run_file(dut, "converter_stim.hex", converter_lines(configs, cases), "converter_resp.txt", clocks)
    got = read_converter(text)
    report = _the_report()
    assert len(got["t"]) == len(cases["v"]), f"{len(got['t'])} results for {len(cases['v'])} cases"
    bad = _check_converter(report, configs, cases, got, dut._log)
    report.figures[f"{name}_cases"] = len(cases["v"])
    report.write()
    assert not any(bad.values()), f"mismatches against {CONVERTERS}: {bad}"


# ---------------------------------------------------------------------------------------- the pulses
P_CORNERS = np.array([0.0, -0.0, 1e-45, 2.0 ** -126, 2.0 ** -33, 2.0 ** -32, 2.0 ** -32 * (1 + 2.0 ** -23),
                      2.0 ** -31, 2.0 ** -24, 0.25, 1 / 3, 0.5 - 2.0 ** -25, 0.5, 0.5 + 2.0 ** -24, 1 - 2.0 ** -23,
                      1 - 2.0 ** -24, 1.0], F32)
"""The directed probabilities: 0 and -0, the subnormals and below 2^-32 (threshold 0), 2^-32 (threshold 1)
and its neighbour, 1/2 and its neighbours, just below 1, and 1 (always fires)."""
BL_CORNERS = (0, 1, 2, 31, 63, 64)


def _edge_words(rng, thr: np.ndarray, shape) -> np.ndarray:
    """Words at the threshold: thr - 1, thr, thr + 1 (within 0 .. 2^32 - 1), 0, 2^32 - 1, or random."""
    kind = rng.integers(0, 6, shape)
    thr = np.broadcast_to(np.asarray(thr, np.int64)[..., None], shape)
    w = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
                  [thr - 1, thr, thr + 1, np.zeros(shape, np.int64), np.full(shape, 0xFFFFFFFF, np.int64)],
                  rng.integers(0, 1 << 32, shape, dtype=np.int64))
    return np.clip(w, 0, 0xFFFFFFFF).astype(np.uint32)


def train_stimulus(rng, directed: bool) -> dict:
    """Trains as arrays: p (float32), bl, words (n, 64) uint32, gaps (n,) uint64 masks."""
    if directed:
        p = np.repeat(P_CORNERS, len(BL_CORNERS) * 2)
        bl = np.tile(np.repeat(np.array(BL_CORNERS), 2), len(P_CORNERS))
    else:
        count = RANDOM_TRAINS
        kind = rng.choice(5, count, p=[0.05, 0.2, 0.5, 0.2, 0.05])
        p = np.select([kind == 0, kind == 1, kind == 2, kind == 3],
                      [np.zeros(count), 2.0 ** rng.uniform(-40, -16, count), rng.random(count),
                       1 - 2.0 ** rng.uniform(-24, -8, count)], np.ones(count)).astype(F32)
        bl = rng.integers(0, 65, count)
    n = len(p)
    thr = pl.threshold(p).astype(np.int64)
    words = rng.integers(0, 1 << 32, (n, 64), dtype=np.uint64).astype(np.uint32)
    edge = rng.random((n, 64)) < (0.5 if directed else 0.1)
    words[edge] = _edge_words(rng, thr, (n, 64))[edge]
    gaps = np.zeros(n, np.uint64)
    gappy = rng.random(n) < 0.2
    for i in np.flatnonzero(gappy):
        mask = rng.random(64) < 0.1
        gaps[i] = int(sum(1 << int(t) for t in np.flatnonzero(mask)))
    return {"p": p, "bl": bl.astype(np.int64), "words": words, "gaps": gaps}


def train_lines(trains: dict) -> str:
    out = []
    for p, bl, w, g in zip(bits(trains["p"]).tolist(), trains["bl"].tolist(), trains["words"], trains["gaps"].tolist()):
        out.append(f"{g:016x} {p:08x} {bl:x}" + "".join(f" {x:08x}" for x in w[:bl].tolist()) + "\n")
    return "".join(out)


def train_reference(trains: dict) -> dict:
    """``threshold`` and ``trains`` of every train, called per BL as the definition takes it."""
    n = len(trains["p"])
    train = np.zeros(n, np.uint64)
    for bl in np.unique(trains["bl"]).tolist():
        sel = trains["bl"] == bl
        train[sel] = pl.trains(trains["words"][sel], trains["p"][sel], bl)
    return {"threshold": pl.threshold(trains["p"]), "train": train}


def pair_stimulus(rng, directed: bool) -> dict:
    """Pairs of trains as arrays: row, column (uint64), d and x (nonzero float32 values; their sign bits
    go to the counter), gap."""
    full = np.uint64(0xFFFFFFFFFFFFFFFF)
    if directed:
        rows, cols = [np.uint64(0), full, full, np.uint64(0)], [np.uint64(0), full, np.uint64(0), full]
        for k in range(64):                                      # one common bit at each position
            rows.append(np.uint64(1) << np.uint64(k) | np.uint64(rng.integers(0, 1 << 63)) & ~(np.uint64(1) << np.uint64(k)))
            cols.append(np.uint64(1) << np.uint64(k))
        for k in range(65):                                      # every count, from the low bits up
            m = full if k == 64 else np.uint64((1 << k) - 1)
            rows.append(m)
            cols.append(m)
            r = np.uint64(rng.integers(0, 1 << 63)) | np.uint64(rng.integers(0, 2)) << np.uint64(63)
            rows.append(r)
            cols.append(~r)                                      # complementary: 0
        row, col = np.array(rows, np.uint64), np.array(cols, np.uint64)
        row, col = np.tile(row, 4), np.tile(col, 4)
        signs = np.repeat(np.arange(4), len(rows))
    else:
        count = RANDOM_PAIRS
        target = rng.integers(0, 65, count)
        row = np.zeros(count, np.uint64)
        col = np.zeros(count, np.uint64)
        for i in range(count):
            if i % 2:                                            # random density
                dr, dc = rng.random(2)
                r = sum(1 << t for t in np.flatnonzero(rng.random(64) < dr).tolist())
                c = sum(1 << t for t in np.flatnonzero(rng.random(64) < dc).tolist())
            else:                                                # a chosen count
                perm = rng.permutation(64)
                common_bits = perm[:target[i]].tolist()
                rest = perm[target[i]:]
                side = rng.integers(0, 3, len(rest))             # row only, column only, neither
                r = sum(1 << t for t in common_bits + rest[side == 0].tolist())
                c = sum(1 << t for t in common_bits + rest[side == 1].tolist())
            row[i], col[i] = np.uint64(r), np.uint64(c)
        signs = rng.integers(0, 4, count)
    n = len(row)
    mag = rng.uniform(1e-3, 1.0, (2, n)).astype(F32)
    d = np.where(signs >= 2, -mag[0], mag[0]).astype(F32)
    x = np.where(signs % 2 == 1, -mag[1], mag[1]).astype(F32)
    gap = np.where(rng.random(n) < 0.03, rng.integers(1, 4, n), 0)
    return {"row": row, "column": col, "d": d, "x": x, "gap": gap}


def pair_lines(pairs: dict) -> str:
    rows = zip(pairs["gap"].tolist(), pairs["row"].tolist(), pairs["column"].tolist(),
               np.signbit(pairs["d"]).astype(int).tolist(), np.signbit(pairs["x"]).astype(int).tolist())
    return "".join(f"{g:x} {r:016x} {c:016x} {ds:x} {xs:x}\n" for g, r, c, ds, xs in rows)


def pair_reference(pairs: dict, block: int = 64) -> dict:
    """``coincidences`` of each pair (the diagonal of the definition's rows x columns, in blocks) and the
    step's direction sign(d) sign(x) > 0."""
    n = len(pairs["row"])
    count = np.zeros(n, np.int64)
    for k in range(0, n, block):
        count[k:k + block] = np.diagonal(pl.coincidences(pairs["row"][k:k + block], pairs["column"][k:k + block]))
    down = (np.sign(pairs["d"]) * np.sign(pairs["x"])) > 0
    return {"count": count, "down": down}


def _check_trains(report: common.Report, trains: dict, text: str, log) -> int:
    f = text.split()
    got_train = np.array([int(x, 16) for x in f[0::2]], np.uint64)
    got_thr = np.array([int(x, 16) for x in f[1::2]], np.uint64)
    assert len(got_train) == len(trains["p"]), f"{len(got_train)} trains for {len(trains['p'])}"
    want = train_reference(trains)

    def case(j):
        return {"train": j, "p": f"0x{bits(trains['p'][j:j + 1])[0]:08x}", "p_value": float(trains["p"][j]),
                "bl": int(trains["bl"][j]), "words": [f"0x{w:08x}" for w in trains["words"][j, :trains["bl"][j]].tolist()],
                "gaps": f"0x{int(trains['gaps'][j]):016x}"}

    thr_bad = got_thr != want["threshold"]
    report.check(f"{P[9:]}.thresholds", "digital", "exact", PULSES + ": threshold").add(
        thr_bad, np.abs(got_thr.astype(float) - want["threshold"].astype(float)),
        lambda j: {**case(j), "rtl": int(got_thr[j]), "reference": int(want["threshold"][j])})
    train_bad = got_train != want["train"]
    report.check(f"{P[9:]}.trains", "digital", "exact", PULSES + ": trains").add(
        train_bad, train_bad.astype(float),
        lambda j: {**case(j), "rtl": f"0x{int(got_train[j]):016x}", "reference": f"0x{int(want['train'][j]):016x}"})
    # coverage
    thr = want["threshold"].astype(np.int64)
    p = trains["p"]
    pclass = np.select([p == 0, thr == 0, thr < 1 << 16, thr <= (1 << 32) - (1 << 16), thr < 1 << 32], [0, 1, 2, 3, 4], 5)
    common.sample_unique(_sampler(f"{P}.p"), pclass)
    common.sample_unique(_sampler(f"{P}.bl"), trains["bl"])
    slots = np.arange(64)[None, :] < trains["bl"][:, None]
    w = trains["words"].astype(np.int64)
    t = thr[:, None]
    inner = (t > 0) & (t < 1 << 32)
    edges = [slots & inner & (w == t - 1), slots & inner & (w == t), slots & inner & (w == t + 1),
             slots & (t == 1 << 32) & (w == 0xFFFFFFFF), slots & (t == 0) & (p[:, None] == 0) & (w == 0)]
    seen = [e for e, m in enumerate(edges) if m.any()]
    common.sample_unique(_sampler(f"{P}.edge"), np.array(seen, np.int64))
    fired = pl.popcount(want["train"])
    bl = trains["bl"]
    on = bl > 0
    common.sample_unique(_sampler(f"{P}.fired"), np.select([fired == 0, fired < bl], [0, 1], 2)[on])
    for c in report.checks.values():
        for f in c.failures[:3]:
            log.error("%s: %s", c.name, f)
    return int(thr_bad.sum() + train_bad.sum())


def _check_pairs(report: common.Report, pairs: dict, text: str, log) -> int:
    f = text.split()
    got_count = np.array(f[0::2], np.int64)
    got_down = np.array(f[1::2], np.int64).astype(bool)
    assert len(got_count) == len(pairs["row"]), f"{len(got_count)} counts for {len(pairs['row'])} pairs"
    want = pair_reference(pairs)

    def case(j):
        return {"pair": j, "row": f"0x{int(pairs['row'][j]):016x}", "column": f"0x{int(pairs['column'][j]):016x}",
                "d": float(pairs["d"][j]), "x": float(pairs["x"][j])}

    count_bad = got_count != want["count"]
    report.check("pulses.coincidences", "digital", "exact", PULSES + ": coincidences").add(
        count_bad, np.abs(got_count - want["count"]).astype(float),
        lambda j: {**case(j), "rtl": int(got_count[j]), "reference": int(want["count"][j])})
    down_bad = got_down != want["down"]
    report.check("pulses.directions", "digital", "exact", DIRECTION).add(
        down_bad, down_bad.astype(float),
        lambda j: {**case(j), "rtl": bool(got_down[j]), "reference": bool(want["down"][j])})
    common.sample_unique(_sampler(f"{P}.count"), want["count"])
    direction = 2 * np.signbit(pairs["d"]).astype(np.int64) + np.signbit(pairs["x"]).astype(np.int64)
    common.sample_unique(_sampler(f"{P}.direction_x_count"), direction, (want["count"] > 0).astype(np.int64))
    for c in report.checks.values():
        for f in c.failures[:3]:
            log.error("%s: %s", c.name, f)
    return int(count_bad.sum() + down_bad.sum())


async def _pulses_test(dut, name: str, directed: bool) -> None:
    rng = np.random.default_rng(SEEDS[name])
    trains = train_stimulus(rng, directed)
    clocks = int((trains["bl"] + 2).sum()) + 64 * len(trains["bl"]) // 8 + 16
    text = await _run_file(dut, "pulses_trains.hex", train_lines(trains), "pulses_trains_resp.txt", clocks, phase=0)
    report = _the_report()
    bad = _check_trains(report, trains, text, dut._log)
    pairs = pair_stimulus(rng, directed)
    clocks = len(pairs["row"]) + int(pairs["gap"].sum()) + 16
    text = await _run_file(dut, "pulses_pairs.hex", pair_lines(pairs), "pulses_pairs_resp.txt", clocks, phase=1)
    bad += _check_pairs(report, pairs, text, dut._log)
    report.figures[f"{name}_trains"] = len(trains["p"])
    report.figures[f"{name}_words"] = int(trains["bl"].sum())
    report.figures[f"{name}_pairs"] = len(pairs["row"])
    report.write()
    assert not bad, f"{bad} mismatches against {PULSES}"


# ---------------------------------------------------------------------------------------- the cocotb tests
def _test(block: str):
    """cocotb's test decorator for a test of ``block``'s bench: skipped in the other bench's simulation."""
    import cocotb
    return cocotb.test(skip=_block() != block)


@_test("converter")
async def converter_corners(dut):
    """The directed converters and values, SR off and with the corner deviates."""
    await _converter_test(dut, "converter_corners", CORNER_CONFIGS, 0, True)


@_test("converter")
async def converter_random(dut):
    """Constrained-random converters, values and deviates."""
    configs = random_configs(np.random.default_rng(SEEDS["converter_random"] ^ 0xFF), RANDOM_CONFIGS)
    await _converter_test(dut, "converter_random", configs, CASES_PER_CONFIG, False)


@_test("converter")
async def converter_coverage_complete(dut):
    """Every coverage item of the converter bench is complete (runs last)."""
    common.check_coverage_complete(_the_report(), COVERAGE["converter"], dut._log.info)


@_test("pulses")
async def pulses_corners(dut):
    """The directed probabilities, BLs and words; every coincidence count and sign pair."""
    await _pulses_test(dut, "pulses_corners", True)


@_test("pulses")
async def pulses_random(dut):
    """Constrained-random trains and pairs."""
    await _pulses_test(dut, "pulses_random", False)


@_test("pulses")
async def pulses_coverage_complete(dut):
    """Every coverage item of the pulses bench is complete (runs last)."""
    common.check_coverage_complete(_the_report(), COVERAGE["pulses"], dut._log.info)


# ---------------------------------------------------------------------------------------- the host side
def run_bench(block: str, simulator: str = "icarus", *, workdir=None, plusargs=(), testcase: str | None = None,
              root=None) -> BenchResult:
    """Builds (or reuses) the bench of ``block`` ("converter" or "pulses") on ``simulator`` ("icarus" or
    "verilator"), runs it and returns its result.

    workdir: the session directory (default ``<build root>/<worker>/benches/crossbar-<block>-<simulator>``),
    where the case files, the responses, the coverage YAML and the simulator log are left.
    plusargs: further simulator plusargs (``+BENCH_MUTATE=n`` seeds a fault in the harness: 1, 2 the
    converter's, 3, 4 the pulses'; the benches' self-tests use them to show a wrong block is caught).
    testcase: run this cocotb test of the bench alone (e.g. "converter_corners"); the coverage goal is then
    not judged.
    A cocotb test that fails after its checks are recorded gives ``passed=False`` and
    ``figures["simulation_error"]``; ``hil.rtl.build.SimulationFailed`` is raised if the simulation fails
    without a result.
    """
    if block not in BLOCKS:
        raise InvalidValue("block", f"{block!r} is not one of {BLOCKS}")
    t0 = time.perf_counter()
    b = cb_build.build(block, simulator, root=root)
    if workdir is None:
        workdir = b.scratch / "benches" / f"crossbar-{block}-{simulator}"
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    result = workdir / RESULT_FILE
    result.unlink(missing_ok=True)
    settings = {"block": block, "simulator": simulator, "serial": SERIAL, "ideal": True, "geometry": None,
                "workdir": str(workdir), "result": str(result)}
    return simulate(b, "hil.rtl.crossbar.benches", workdir, settings, plusargs=plusargs, testcase=testcase, t0=t0)


__all__ = ["BLOCKS", "COVERAGE", "run_bench"]
