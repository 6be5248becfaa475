"""The pulsed update's periphery: stochastic pulse trains and their coincidences (docs/crossbar.md#update).

A row (an error ``d_i``) or column (an input ``x_j``) fires in each of the ``BL`` slots of its train with
probability ``p``: slot ``t`` fires when its 32-bit random word is below ``floor(p 2^32)`` (``p = 1``
always fires, ``p = 0`` never). A train is a word whose bit ``t`` is slot ``t``. A device sees one
coincidence per slot in which its row and its column both fire: ``popcount(row & column)``, and steps
once per coincidence, down if ``sign(d_i) sign(x_j) > 0`` (the update is ``w -= lr d x``), else up.

These functions are the definition the C core and the Verilog coincidence counter (rtl_models/crossbar/)
are checked against.
"""
import numpy as np


def threshold(p) -> np.ndarray:
    """``floor(p 2^32)`` of float32 probabilities in [0, 1], as uint64 (2^32 for p = 1)."""
    return (np.asarray(p, np.float32).astype(np.float64) * 4294967296.0).astype(np.uint64)


def trains(words, p, bl: int) -> np.ndarray:
    """The trains (uint64) of probabilities ``p`` (shape s) from their words (shape s + (>= bl,), uint32):
    bit t set where ``words[..., t] < threshold(p)``."""
    w = np.asarray(words, np.uint64)[..., :bl]
    fire = w < threshold(p)[..., None]
    return (fire.astype(np.uint64) << np.arange(bl, dtype=np.uint64)).sum(axis=-1, dtype=np.uint64)


def popcount(a) -> np.ndarray:
    """Set bits of each uint64."""
    return np.bitwise_count(np.asarray(a, np.uint64)).astype(np.int64)


def coincidences(row_trains, column_trains) -> np.ndarray:
    """(rows, columns) coincidence counts of row and column trains."""
    return popcount(np.asarray(row_trains, np.uint64)[:, None] & np.asarray(column_trains, np.uint64)[None, :])


def scales(lr: float, x_amax, d_amax, dw_min: float, up) -> tuple[int, np.float32, np.float32]:
    """(BL, A, B) of one vector's update, float32 as aihwkit's tiles compute them: the column
    probabilities are ``B |x_j|``, the row ones ``A |d_i|`` (each at most 1), over ``BL`` slots. ``up`` has
    the fields of :class:`hil.crossbar.UpdateConfig`; BL 0: nothing to update (an all-zero x or d)."""
    f = np.float32
    lr, g, desired = f(lr), f(dw_min), int(up.desired_bl)
    if up.fixed_bl or up.update_bl_management:
        bl = desired
        a = b = np.sqrt(f(lr / f(g * f(bl))))
    elif f(g * f(desired)) < lr:
        a = b = f(1.0)
        bl = max(int(np.ceil(f(lr / g))), 1)
    else:
        bl = desired
        a = b = np.sqrt(f(lr / f(g * f(bl))))
    x_amax, d_amax = f(x_amax), f(d_amax)
    if x_amax == 0 or d_amax == 0:
        return 0, f(1.0), f(1.0)
    if up.update_management or up.update_bl_management:
        x_val, d_val = x_amax, f(f(up.um_grad_scale) * d_amax)
        k = f(f(f(lr * x_val) * d_val) / g)
        if up.update_bl_management:
            bl = min(int(np.ceil(k)), desired)
            a = b = np.sqrt(f(lr / f(g * f(bl))))
        if k > f(desired):
            d_val = f(d_val * f(f(desired) / k))
        a = f(a * np.sqrt(f(x_val / d_val)))
        b = f(b * np.sqrt(f(d_val / x_val)))
    return bl, f(a), f(b)


def probabilities(v, scale, up, sr_words=None) -> np.ndarray:
    """``min(scale |v|, 1)`` float32, quantised to ``up.res`` (rint, or stochastic rounding with the deviates
    of ``sr_words``) where ``res > 0``."""
    p = np.abs(np.asarray(v, np.float32)) * np.float32(scale)
    if up.res > 0:
        from .converters import uniform
        t = p * np.float32(1.0 / up.res)       # res_inv of the C core
        if up.sto_round and sr_words is not None:
            t = t + uniform(sr_words)
        p = np.rint(t) * np.float32(up.res)
    return np.minimum(np.maximum(p, np.float32(0.0)), np.float32(1.0))
