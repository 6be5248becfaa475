"""The definition of the tile's runs in numpy: what the C core (emulator/_native/crossbar/tile.c) computes,
bit for bit. Slow; for tests on small tiles.

Float32 throughout, every operation rounding to nearest even in the order written here; a matrix-vector
product sums its terms in input order by fused multiply-adds, ``acc = fma(x_k, m_k, acc)`` from ``acc = 0``
(:mod:`.arithmetic`); nothing else is fused.
The noise is counter-based (rng.h): the deviate of element e in round r of vector b of a run is the normal
of the high half of draw ``(b * ROUNDS_MAX + r) * SPAN + e`` of that run's stream of its kind; so a
vector's result depends on its index in its run, never on the batch's size or on threads.

``io`` is an object with the fields of :class:`hil.crossbar.IOConfig`, ``update`` of
:class:`hil.crossbar.UpdateConfig`; ``device`` is a :class:`emulator.crossbar.device.Devices`.
"""
import numpy as np

from emulator._native import ffi, lib

from . import converters as cv, pulses
from .arithmetic import fma
from .geometry import BL_MAX, ROUNDS_MAX, SPAN

F32 = np.float32
NM = {"none": 0, "abs_max": 1, "max": 2, "constant": 3}


def words(key: int, counters: np.ndarray) -> np.ndarray:
    """The 32-bit words (the high half of draw c, rng.h) at draw counters ``counters``."""
    c = np.asarray(counters, np.uint64).ravel()
    out = np.empty(c.size, np.uint32)
    buf = np.empty(2, np.uint32)
    for i, ci in enumerate(c):      # slow and plain: the definition
        lib.bss2_uniform_fill(key, int(ci) * 2, 1, ffi.from_buffer("uint32_t[]", buf))
        out[i] = buf[0]
    return out.reshape(np.shape(counters))


def normals(key: int, counters: np.ndarray) -> np.ndarray:
    """The float32 standard normal deviates of the high halves of the draws at ``counters``."""
    w = words(key, counters)
    out = np.empty(w.size, np.float32)
    lib.bss2_normal_from_bits(ffi.from_buffer("uint32_t[]", np.ascontiguousarray(w.ravel())), w.size,
                              ffi.from_buffer("float[]", out))
    return out.reshape(w.shape)


def counters(b: int, r: int, n: int) -> np.ndarray:
    return (b * ROUNDS_MAX + r) * SPAN + np.arange(n, dtype=np.uint64)


def matvec(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum_k m[k] x[k]`` of one vector x (k,) and m (k, n), in k's order by fused multiply-adds, float32."""
    acc = np.zeros(m.shape[1], F32)
    for k in range(m.shape[0]):
        acc = fma(x[k], m[k], acc)
    return acc


def sumsq(v: np.ndarray) -> np.float32:
    """``sum v_k^2`` in k's order, float32."""
    acc = F32(0.0)
    for e in v:
        acc = F32(acc + e * e)
    return acc


def nm_scale(x: np.ndarray, io) -> tuple[bool, np.float32]:
    """(scaling, alpha) of the noise management for one input vector."""
    kind, thres = io.noise_management, F32(io.nm_thres)
    if kind == "none":
        return False, F32(1.0)
    if kind == "constant":
        return True, thres if thres > 0 else F32(1.0)
    a = np.max(np.abs(x)) if kind == "abs_max" else np.max(x)
    return True, F32(min(a, thres)) if thres > 0 else F32(a)


def dac(v: np.ndarray, io, key_noise: int, key_sr: int, b: int, r: int) -> np.ndarray:
    n = cv.levels(io.inp_res)
    u = cv.uniform(words(key_sr, counters(b, r, v.size))) if io.inp_sto_round and n else None
    q, _, _ = cv.quantise(v, io.inp_bound, n, u)
    if io.inp_noise > 0:
        q = q + F32(io.inp_noise) * normals(key_noise, counters(b, r, v.size))
    return q


def adc(y: np.ndarray, io, key_sr: int, b: int, r: int) -> tuple[np.ndarray, bool]:
    n = cv.levels(io.out_res)
    u = cv.uniform(words(key_sr, counters(b, r, y.size))) if io.out_sto_round and n else None
    q, above, below = cv.quantise(y, io.out_bound, n, u)
    saturated = bool(above.any() or (io.bm_test_negative_bound and below.any()))
    return q, saturated


def mvm(m: np.ndarray, x: np.ndarray, io, keys: dict, *, bound_management: bool, perfect: bool = False):
    """The analog matrix-vector products of a batch: ``m`` (k, n) float32 (W^T forward, W backward), ``x``
    (batch, k). Returns (y (batch, n) float32, rounds (batch,) int8: the bound management's last round).
    ``keys``: the run's stream keys 'in_noise', 'out_noise', 'in_sr', 'out_sr'."""
    m, x = np.asarray(m, F32), np.asarray(x, F32)
    y = np.zeros((x.shape[0], m.shape[1]), F32)
    rounds = np.zeros(x.shape[0], np.int8)
    if perfect or io.is_perfect:
        for b in range(x.shape[0]):
            acc = matvec(m, x[b])
            y[b] = acc if io.out_scale == 1 else acc * F32(io.out_scale)
        return y, rounds
    bm = bound_management and io.bound_management == "iterative"
    n_in = cv.levels(io.inp_res)
    last = cv.bm_last_round(io.max_bm_factor, io.max_bm_res, float(cv.step(io.inp_bound, n_in)) if n_in else 0.0) \
        if bm else 0
    for b in range(x.shape[0]):
        scaling, alpha = nm_scale(x[b], io)
        if scaling and alpha <= 0 and io.inp_noise <= 0:
            continue                                   # zeros, no draws
        for r in range(last + 1):
            s = F32(1.0)
            if scaling and alpha > 0:
                s = F32(s / alpha)
            if bm:
                s = F32(s / F32(2.0 ** r))
            v = x[b] * s
            xq = dac(v, io, keys["in_noise"], keys["in_sr"], b, r)
            acc = matvec(m, xq)
            sigma = F32(io.out_noise)
            if io.w_noise > 0:      # (W + w_noise Xi) x: per output a normal of std w_noise |x|
                sigma = np.sqrt(sigma * sigma + F32(io.w_noise) * F32(io.w_noise) * sumsq(xq))
            if sigma > 0:
                acc = acc + F32(sigma) * normals(keys["out_noise"], counters(b, r, acc.size))
            q, saturated = adc(acc, io, keys["out_sr"], b, r)
            rounds[b] = r
            if not (bm and saturated):
                break
        gain = F32(F32(io.out_scale) / s)
        y[b] = q * gain if gain != 1 else q
    return y, rounds


def train_words(key: int, b: int, n: int, bl: int) -> np.ndarray:
    """(n, bl) words of the trains of n rows or columns of vector b: words ``(b SPAN + e) BL_MAX + t``."""
    out = np.empty((n, bl), np.uint32)
    buf = np.empty(bl, np.uint32)
    for e in range(n):
        lib.bss2_uniform_fill(key, (b * SPAN + e) * BL_MAX, bl, ffi.from_buffer("uint32_t[]", buf))
        out[e] = buf
    return out


def update(w: np.ndarray, dev, x: np.ndarray, d: np.ndarray, lr: float, up, keys: dict, *, ideal: bool = False):
    """The pulsed update of a batch, vector after vector: returns (w (rows, columns) float32, bl (batch,)
    int32, pulses (batch, 2) int64: the row and column pulses fired). ``keys``: 'x_trains', 'd_trains',
    'ctoc', 'sr' stream keys. ``ideal``: the exact update ``w -= (lr d_i) x_j``, no bounds."""
    w = np.array(w, F32)
    x, d = np.asarray(x, F32), np.asarray(d, F32)
    bl_out = np.zeros(x.shape[0], np.int32)
    pulses_out = np.zeros((x.shape[0], 2), np.int64)
    for b in range(x.shape[0]):
        if ideal:
            w = w - (F32(lr) * d[b])[:, None] * x[b][None, :]
            continue
        bl, a, s = pulses.scales(lr, np.max(np.abs(x[b])), np.max(np.abs(d[b])), dev.dw_min, up)
        bl_out[b] = bl
        if bl == 0:
            continue
        sr = up.sto_round and up.res > 0
        px = pulses.probabilities(x[b], s, up, words(keys["sr"], b * 2 * SPAN + np.arange(x.shape[1])) if sr else None)
        pd = pulses.probabilities(d[b], a, up,
                                  words(keys["sr"], b * 2 * SPAN + SPAN + np.arange(d.shape[1])) if sr else None)
        tx = pulses.trains(train_words(keys["x_trains"], b, x.shape[1], bl), px, bl)
        td = pulses.trains(train_words(keys["d_trains"], b, d.shape[1], bl), pd, bl)
        pulses_out[b] = pulses.popcount(td).sum(), pulses.popcount(tx).sum()
        n = pulses.coincidences(td, tx)
        down = np.signbit(d[b])[:, None] == np.signbit(x[b])[None, :]      # sign(d) sign(x) > 0 where both fire
        for i in np.nonzero(td)[0]:
            xi = normals(keys["ctoc"], (b * SPAN + int(i)) * SPAN + np.arange(x.shape[1], dtype=np.uint64)) \
                if dev.dw_min_std > 0 else None
            for j in np.nonzero(n[i])[0]:
                c = F32(n[i, j])
                t = c + F32(dev.dw_min_std) * np.sqrt(c) * xi[j] if xi is not None else c
                dw = F32(t * (dev.scale_down[i, j] if down[i, j] else dev.scale_up[i, j]))
                v = F32(w[i, j] - dw) if down[i, j] else F32(w[i, j] + dw)
                w[i, j] = max(min(v, dev.w_max[i, j]), dev.w_min[i, j])     # the upper bound first (aihwkit)
    return w, bl_out, pulses_out
