"""The numpy fused multiply-add (emulator/crossbar/arithmetic.py) rounds once, to nearest even: checked
against the exact rational result on random, cancelling, tiny, huge and tied operands."""
from fractions import Fraction

import numpy as np

from emulator.crossbar.arithmetic import fma


def _correct(a: float, b: float, c: float) -> np.float32:
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    f = np.float32(float(exact))
    candidates = [np.nextafter(f, np.float32(-np.inf)), f, np.nextafter(f, np.float32(np.inf))]
    return min(candidates, key=lambda v: (abs(Fraction(float(v)) - exact), int(np.float32(v).view(np.int32)) & 1))


def test_fma_rounds_once_to_nearest_even():
    rng = np.random.default_rng(0)
    n = 4000
    a = rng.normal(0, 1, n).astype(np.float32)
    b = rng.normal(0, 1, n).astype(np.float32)
    c = (-(a.astype(np.float64) * b) * (1 + rng.normal(0, 1e-7, n))).astype(np.float32)   # cancellation
    c[:1000] = rng.normal(0, 1e-3, 1000).astype(np.float32)
    c[1000:1500] = rng.normal(0, 1e8, 500).astype(np.float32)
    a[1500:1600] = np.float32(2.0 ** -70)                                                  # tiny products
    # ties of the float32 sum: a b a multiple of half an ulp of c
    c[1600:2000] = np.float32(1.0)
    a[1600:2000], b[1600:2000] = np.float32(2.0 ** -24), (rng.integers(1, 8, 400) * 2 - 1).astype(np.float32)
    got = fma(a, b, c)
    want = np.array([_correct(float(x), float(y), float(z)) for x, y, z in zip(a, b, c)], np.float32)
    assert np.array_equal(got, want)
    assert fma(np.float32(3.0), np.float32(-0.0), np.float32(0.0)) == 0.0
