"""Validation of user input, in one place.

Nothing is clipped or rounded silently: a value out of range, NaN, a
non-integer where an integer is needed or a wrong shape raises
:class:`hil.errors.InvalidValue` naming the field, the index, the value and
what is allowed.
"""
import numbers

import numpy as np

from .errors import InvalidValue


def _index(idx: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def integer_array(field: str, value, *, lo: int, hi: int, dtype, shape=None, ndim=None) -> np.ndarray:
    """``value`` as a read-only integer array of ``dtype`` with every entry in lo..hi.

    ``shape`` entries may be None (any length). Floats are accepted only where
    they hold whole numbers (2.0, not 2.5), so torch or numpy float tensors of
    integer values pass unchanged.
    """
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(field, f"cannot be read as an array ({exc})") from None
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InvalidValue(field, f"has dtype {a.dtype}; expected integers {lo}..{hi}")
    if ndim is not None and a.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise InvalidValue(field, f"has shape {a.shape}; expected {ndim} dimension(s)")
    if shape is not None:
        if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise InvalidValue(field, f"has shape {a.shape}; expected {want}")
    if a.size == 0:
        raise InvalidValue(field, f"is empty (shape {a.shape})")
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
        if bad.any():
            idx = np.unravel_index(np.flatnonzero(bad)[0], a.shape)
            raise InvalidValue(field + _index(idx), f"{a[idx]} is not a number; allowed: integers {lo}..{hi}")
        frac = a != np.floor(a)
        if frac.any():
            idx = np.unravel_index(np.flatnonzero(frac)[0], a.shape)
            raise InvalidValue(field + _index(idx), f"{a[idx]} is not an integer; allowed: integers {lo}..{hi}")
    # min/max first: two fast reductions; the offending index only on failure.
    within_type = np.issubdtype(a.dtype, np.integer) and np.iinfo(a.dtype).min >= lo and np.iinfo(a.dtype).max <= hi
    if not within_type and (a.min() < lo or a.max() > hi):
        idx = np.unravel_index(np.flatnonzero((a < lo) | (a > hi))[0], a.shape)
        v = a[idx]
        v = int(v) if float(v).is_integer() else v
        raise InvalidValue(field + _index(idx), f"{v} is outside the allowed range {lo}..{hi}")
    # Always a copy: a frozen config must not change when the caller's array does.
    result = np.array(a, dtype=dtype, order="C", copy=True)
    result.setflags(write=False)
    return result


def integer(field: str, value, *, lo: int, hi: int) -> int:
    """A whole number in lo..hi (bool refused; 3.0 accepted as 3)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValue(field, f"{value!r} is not an integer; allowed: {lo}..{hi}")
    if isinstance(value, numbers.Integral):
        v = int(value)
    else:
        f = float(value)
        if not np.isfinite(f) or not f.is_integer():
            raise InvalidValue(field, f"{value!r} is not an integer; allowed: {lo}..{hi}")
        v = int(f)
    if not lo <= v <= hi:
        raise InvalidValue(field, f"{v} is outside the allowed range {lo}..{hi}")
    return v


def real(field: str, value, *, lo: float, hi: float) -> float:
    """A finite real number in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise InvalidValue(field, f"{value!r} is not a finite number; allowed: {lo}..{hi}")
    if not lo <= float(value) <= hi:
        raise InvalidValue(field, f"{value} is outside the allowed range {lo}..{hi}")
    return float(value)
