"""The tile's converters: the input DACs and the output ADCs (docs/crossbar.md#converters).

A converter of bound ``b`` and resolution ``res`` (the step as a fraction of the range ``2 b``, ``1/res``
an even number of steps) has the levels ``-N .. N`` with ``N = 1 / (2 res)`` and the step ``b / N``. It
turns a float32 value ``v`` into the code ``rint(v * (N / b) + u)`` (``u = 0``, or a uniform deviate in
[-0.5, 0.5) with stochastic rounding), clipped to ``-N .. N``; the value it stands for is
``code * (b / N)``. ``res = 0`` is a converter without quantisation that only clips to ``[-b, b]``.

Every operation is one IEEE float32 operation, rounding to nearest even, in the order written here: the
C core (emulator/_native/crossbar/tile.c) and the Verilog blocks (rtl_models/crossbar/) compute the same
bits. These functions are the definition the RTL benches check the Verilog against.
"""
import numpy as np

F32 = np.float32


def levels(res: float) -> int:
    """``N``, the largest code of a converter of resolution ``res`` (0: no quantisation)."""
    if res == 0:
        return 0
    n = 1.0 / (2.0 * res)
    if not (n >= 1 and abs(n - round(n)) <= 1e-6 * n):
        raise ValueError(f"resolution {res!r}: 1/res must be an even number of steps")
    return int(round(n))


def step(bound: float, n: int) -> np.float32:
    """The step ``b / N`` as float32 (the bound itself without quantisation)."""
    return F32(bound / n) if n else F32(bound)


def inverse(bound: float, n: int) -> np.float32:
    """``N / b`` as float32, the factor that turns a value into steps."""
    return F32(n / bound) if n else F32(0.0)


def codes(v, inv, n: int, u=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes int32, above, below) of float32 values ``v`` for a converter of ``N = n`` levels and
    ``inv = N / b``: ``c = rint(v * inv + u)``; ``above`` / ``below`` where ``c`` was beyond ``N`` / ``-N``
    before clipping (the ADC's saturation). ``u``: float32 deviates in [-0.5, 0.5), or None."""
    t = np.asarray(v, F32) * F32(inv)
    if u is not None:
        t = t + np.asarray(u, F32)
    c = np.rint(t)
    above, below = c > n, c < -n
    return np.clip(c, -n, n).astype(np.int32), above, below


def quantise(v, bound: float, n: int, u=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values float32, above, below): what a converter of ``bound`` and ``n`` levels gives for ``v``.
    Without quantisation (``n = 0``) the values are ``v`` clipped to ``[-bound, bound]``."""
    v = np.asarray(v, F32)
    b = F32(bound)
    if n == 0:
        return np.minimum(np.maximum(v, -b), b), v > b, v < -b
    c, above, below = codes(v, inverse(bound, n), n, u)
    return c.astype(F32) * step(bound, n), above, below


def uniform(words) -> np.ndarray:
    """Stochastic rounding's deviates in [-0.5, 0.5) from 32-bit words: ``(w >> 8) 2^-24 - 0.5``, exact in
    float32."""
    return (np.asarray(words, np.uint32) >> 8).astype(F32) * F32(2.0 ** -24) - F32(0.5)


def bm_last_round(max_factor: int, max_res: float, inp_step: float) -> int:
    """The last round of the iterative bound management: round r runs with the input divided by 2^r, and
    the rounds stop after the first r whose 2^r exceeds ``max_factor`` or ``max_res / inp_step`` (the
    DAC's step; 0: no such limit), as aihwkit's tiles do."""
    for r in range(64):
        red = 2.0 ** r
        if red > max_factor or (inp_step > 0 and F32(red) > F32(F32(max_res) / F32(inp_step))):
            return r
    raise ValueError(f"max_factor {max_factor!r}: at most 2^62")


__all__ = ["bm_last_round", "codes", "inverse", "levels", "quantise", "step", "uniform"]
