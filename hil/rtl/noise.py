"""The Python side of the RTL noise generator (``rtl_models/bss2/noise.v``).

The Verilog module ``bss2_noise`` reproduces the emulator's counter-based temporal
noise bit for bit: for a stream key and a counter it gives the two standard normal
deviates N1 (high half of the draw) and N2 (low half) that the emulator's C core
computes (``emulator/_native/rng.c``). This module

- writes the polynomial coefficients the Verilog loads with ``$readmemh``
  (:func:`write_coefficients`), taken from the emulator's C table;
- gives the emulator's own values for given keys and counters (:func:`draws`,
  :func:`deviates`), what an RTL bench compares against;
- computes the keys that make a chosen draw (:func:`key_for_draw`), so a bench can
  steer the RTL to edge patterns of the uniform bits through its real inputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from emulator._native import ffi, lib

COEFFICIENT_FILE = "noise_coefficients.hex"
"""The default ``COEF_FILE`` of ``bss2_noise`` (opened in the simulator's working directory)."""

DEGREE = 4
SEGMENTS = 32
GOLDEN = 0x9E3779B97F4A7C15
"""SplitMix64's counter step: draw c of stream key is mix64(key + c * GOLDEN)."""

_M64 = (1 << 64) - 1
_MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def coefficients() -> np.ndarray:
    """The emulator's polynomial coefficients, float32 of shape (5, 32): ``[k, o]`` is
    c_k of octave o (read from the C core, ``bss2_normal_coefficients``)."""
    out = np.empty((DEGREE + 1) * SEGMENTS, np.float32)
    lib.bss2_normal_coefficients(ffi.from_buffer("float[]", out))
    return out.reshape(DEGREE + 1, SEGMENTS)


def write_coefficients(path) -> Path:
    """Writes the ``$readmemh`` file of ``bss2_noise``'s ``COEF_FILE`` and returns its path.

    160 lines, line ``k * 32 + o`` holding c_k of octave o as the 16 hex digits of
    the float32 value widened to a double (exactly; the Verilog reads it with
    ``$bitstoreal``).
    """
    path = Path(path)
    words = coefficients().astype(np.float64).ravel().view(np.uint64)
    path.write_text("".join(f"{int(w):016x}\n" for w in words))
    return path


def _words(keys, counters) -> list[tuple[int, int]]:
    """(key, word) of the high half of each draw, for the C core's 64-bit word index.

    Word 2c addresses draw c only for c < 2^63; beyond, the same draw is reached from a
    shifted key: key + c * GOLDEN = (key + 2^63) + (c - 2^63) * GOLDEN mod 2^64, since
    2^63 * GOLDEN = 2^63 mod 2^64 (GOLDEN is odd)."""
    keys = np.asarray(keys, dtype=np.uint64).ravel()
    counters = np.asarray(counters, dtype=np.uint64).ravel()
    if keys.shape != counters.shape:
        raise ValueError(f"keys and counters differ in length: {keys.size} and {counters.size}")
    half = 1 << 63
    return [((k + half) & _M64, 2 * (c - half)) if c >= half else (k, 2 * c)
            for k, c in zip(keys.tolist(), counters.tolist())]


def draws(keys, counters) -> tuple[np.ndarray, np.ndarray]:
    """The 32-bit uniform words behind N1 and N2 of each (key, counter), by the emulator
    (``bss2_uniform_fill``: words 2c and 2c + 1 of the stream are the high and low
    half of draw c), for any 64-bit counter. Two uint32 arrays."""
    words = _words(keys, counters)
    out = np.empty((len(words), 2), np.uint32)
    for j, (key, w) in enumerate(words):
        lib.bss2_uniform_fill(key, w, 2, ffi.from_buffer("uint32_t[]", out[j]))
    return out[:, 0].copy(), out[:, 1].copy()


def deviates(keys, counters) -> tuple[np.ndarray, np.ndarray]:
    """N1 and N2 of each (key, counter) as the emulator computes them (``bss2_normal_fill``,
    the deviates its MAC readout uses, float32 widened to double): two float32 arrays."""
    words = _words(keys, counters)
    out = np.empty((len(words), 2), np.float64)
    for j, (key, w) in enumerate(words):
        lib.bss2_normal_fill(key, w, 2, ffi.from_buffer("double[]", out[j]))
    n = out.astype(np.float32)
    assert np.array_equal(n.astype(np.float64), out, equal_nan=True)  # widened float32, exactly
    return n[:, 0].copy(), n[:, 1].copy()


def octave(u) -> np.ndarray:
    """The octave o of each 32-bit uniform word u (``bss2_noise``'s oct1/oct2): clz(2t + 1)
    with t = u, or ~u when the top bit (the sign of the deviate) is set."""
    u = np.asarray(u, dtype=np.uint64)
    t = np.where(u >> np.uint64(31) == 1, ~u & np.uint64(0x7FFFFFFF), u)
    _, e = np.frexp(((t << np.uint64(1)) | np.uint64(1)).astype(np.float64))  # 2t+1 = f * 2^e exactly
    return 32 - e.astype(np.int64)


def _unxorshift(y: int, s: int) -> int:
    x = y
    for _ in range(64 // s + 1):
        x = y ^ (x >> s)
    return x


def _unmix64(bits: int) -> int:
    z = _unxorshift(bits, 31)
    z = _unxorshift((z * pow(_MIX[1], -1, 1 << 64)) & _M64, 27)
    return _unxorshift((z * pow(_MIX[0], -1, 1 << 64)) & _M64, 30)


def key_for_draw(bits: int, counter: int) -> int:
    """The stream key whose draw at ``counter`` is the 64-bit ``bits`` (mix64 is a bijection:
    key = mix64^-1(bits) - counter * GOLDEN mod 2^64)."""
    return (_unmix64(bits & _M64) - (counter & _M64) * GOLDEN) & _M64
