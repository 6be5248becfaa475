"""The definition of a run of the Dynap-SE2-like board in numpy, step by step: what the C core
(emulator/_native/dynapse2/dpi.c) computes, bit for bit. Slow; for tests on small runs.

The equations are circuit.py's; the order of the router's events is dpi.h's.
"""
import math
from fractions import Fraction

import numpy as np

from emulator._native import ffi, lib

from . import geometry as g
from .circuit import Step
from .routing import Tables, receivers

LN2_HI, LN2_LO = 0.693147180369123816490, 1.90821492927058770002e-10
ROUND52 = 6755399441055744.0
TWO52 = 4503599627370496.0
LN_SERIES = [float(Fraction(2, k)) for k in (3, 5, 7, 9, 11, 13, 15, 17)]
EXP_SERIES = [float(Fraction(1, math.factorial(k))) for k in range(2, 14)]


def _horner(x: np.ndarray, coefficients: list[float]) -> np.ndarray:
    """c0 + x (c1 + x (c2 + ...)), in that order."""
    acc = np.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        acc = c + x * acc
    return acc


def feedback_pow(r: np.ndarray, e: float) -> np.ndarray:
    """r ** e for r >= 1, 0 < e < 1, by the operations of dpi.c's feedback_pow (so the same bits): ln r from
    r's exponent and mantissa with the atanh series, exp by 2^j and its Taylor series."""
    b = np.asarray(r, np.float64).view(np.uint64)
    k = ((b >> np.uint64(52)) | np.float64(TWO52).view(np.uint64)).view(np.float64) - TWO52 - 1023.0
    m = ((b & np.uint64(0x000FFFFFFFFFFFFF)) | np.uint64(0x3FF0000000000000)).view(np.float64)
    big = m > 1.41421356237309504880
    m = np.where(big, m * 0.5, m)
    k = np.where(big, k + 1.0, k)
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    ln_m = s * _horner(z, [2.0] + LN_SERIES)
    y = e * ((k * LN2_HI + ln_m) + k * LN2_LO)
    t = y * 1.44269504088896340736 + ROUND52
    j = t - ROUND52
    f = (y - j * LN2_HI) - j * LN2_LO
    p = 1.0 + f * _horner(f, [1.0] + EXP_SERIES)
    scale = ((t.view(np.uint64) - np.float64(ROUND52).view(np.uint64)) + np.uint64(1023)) << np.uint64(52)
    return p * scale.view(np.float64)


def normal_high(key: int, c0: int, n: int) -> np.ndarray:
    """(n,) the deviates of the high halves of draws c0 .. c0 + n - 1 of stream ``key`` (rng.h)."""
    out = np.empty(2 * n)
    lib.bss2_normal_fill(key, 2 * c0, 2 * n, ffi.from_buffer("double[]", out))
    return out[::2].copy()


def deliver(t: Tables, weights: np.ndarray, sl: slice, w: np.ndarray) -> None:
    """Adds the weight currents of entries ``sl`` to w (4, n), one after the other."""
    for e in range(sl.start, sl.stop):
        w[t.cam_type[e], t.cam_neuron[e]] += weights[e]


def run(st: Step, t: Tables, weights: np.ndarray, times, tags, chips, cores, duration: int, record=(),
        key: int = 0) -> tuple[list, np.ndarray]:
    """[(step, neuron), ...] of every spike and the (duration, k, 6) traces of the ``record`` neurons.
    ``weights``: each CAM entry's weight current (A) in the order of ``t``."""
    n = t.chips * g.NEURONS
    io = st.io
    imem, iahp, fb = np.full(n, io), np.full(n, io), np.ones(n)
    isyn = np.zeros((4, n))
    isyn[0] = io
    ref = np.zeros(n, np.int64)
    last = np.zeros(n, bool)
    spikes, fired, nxt = [], [], 0
    traces = np.zeros((duration, len(record), len(g.TRACES)))
    for step in range(duration):
        w = np.zeros((4, n))
        for i in fired:
            for d in range(g.SRAM_DESTINATIONS):
                chip = int(t.dest_chip[i, d])
                if chip < 0:
                    continue
                for core in range(g.CORES):
                    if int(t.dest_cores[i, d]) >> core & 1:
                        deliver(t, weights, receivers(t, chip, core, int(t.dest_tag[i, d])), w)
        while nxt < len(times) and times[nxt] == step:
            deliver(t, weights, receivers(t, int(chips[nxt]), int(cores[nxt]), int(tags[nxt])), w)
            nxt += 1
        charge = st.gsyn * w
        charge[0] = np.maximum(charge[0], io)       # only AMPA charges toward Io without events
        isyn = st.fdis * isyn + st.fchg * charge
        a = np.maximum(st.fdis_ahp * iahp + st.fchg_ahp * np.where(last, st.q_ahp, 0.0), io)
        iahp = a
        m = imem
        ileak = (st.itau_mem + a) + isyn[3]
        drive = (((isyn[0] + np.where(m > st.if_nmda, isyn[2], 0.0)) - isyn[1]) - ileak) + st.idc
        xi = normal_high(key, step * n, n) if st.noise else np.zeros(n)
        iin = np.maximum((drive + st.noise * xi) * (ref == 0), io)
        inf, gm = st.gmem * (iin - ileak), m + st.igain_mem
        d = (m / (st.tau_c * gm)) * ((ileak * inf + (io * fb) * gm) - m * (ileak * (1.0 + a * st.inv_itau)))
        v = np.maximum(m + d * st.dt, io)
        fb = feedback_pow(v * st.inv_io, st.fb_exp)
        last = v > st.ispkthr
        fired = np.flatnonzero(last).tolist()
        spikes += [(step, i) for i in fired]
        ref = np.where(last, st.n_ref, np.maximum(ref - 1, 0))
        imem = np.where(last, io, v)
        for k, i in enumerate(record):
            traces[step, k] = (imem[i], *isyn[:, i], iahp[i])
    return spikes, traces
