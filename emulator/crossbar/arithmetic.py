"""The tile's float32 arithmetic in numpy: the fused multiply-add of its products (docs/crossbar.md#forward).

The C core sums each output's terms in input order with one fused multiply-add per term, ``acc = fma(x_k,
w_k, acc)`` (one rounding of ``x_k w_k + acc`` to float32, the hardware's FMA). numpy has no FMA;
:func:`fma` computes the same bits: the product of two float32 is exact in float64, the sum's rounding
error comes exactly from TwoSum, and rounding the exact result first to float64 *to odd* then to float32
gives float32's correct rounding (53 >= 24 + 2 bits; Boldo and Melquiond, "Emulation of FMA and
correctly rounded sums: proved algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008).
"""
import numpy as np

_POS, _NEG = np.float64(np.inf), np.float64(-np.inf)


def fma(a, b, c) -> np.ndarray:
    """``a b + c`` of float32 arrays (broadcast), rounded once to float32 (to nearest, ties to even)."""
    p = np.asarray(a, np.float32).astype(np.float64) * np.asarray(b, np.float32).astype(np.float64)
    c = np.asarray(c, np.float32).astype(np.float64)
    s = p + c
    bb = s - p
    e = (p - (s - bb)) + (c - bb)                  # s + e is p + c exactly
    even = (s.view(np.int64) & 1) == 0
    toward = np.where(e > 0, _POS, _NEG)
    odd = np.where((e != 0) & even, np.nextafter(s, toward), s)
    return odd.astype(np.float32)
