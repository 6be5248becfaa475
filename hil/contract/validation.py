"""Validation of user input, in one place.

Nothing is clipped or rounded silently: a value out of range, NaN, a
non-integer where an integer is needed or a wrong shape raises
:class:`hil.errors.InvalidValue` naming the field, the index, the value and
what is allowed.
"""
import numbers

import numpy as np

from emulator._native import ffi, lib

from .errors import InvalidValue


def _index(idx: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


# Source dtypes (native byte order) that the C core converts in one pass -> hil_narrow8's kind.
_C_SOURCES = {np.dtype(t): k for ts, k in (
    ((np.int8, np.int16, np.int32, np.int64), lib.HIL_KIND_SIGNED),
    ((np.uint8, np.uint16, np.uint32, np.uint64), lib.HIL_KIND_UNSIGNED),
    ((np.float32, np.float64), lib.HIL_KIND_FLOAT)) for t in ts}
_C_TARGETS = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255)}
_DTYPES = {t: np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16)}
"""np.dtype of the result types callers pass, looked up rather than constructed."""
"""One-byte result dtypes the C pass writes, with the values they hold."""
_FAULTS = ((lib.HIL_BAD_NOT_FINITE, 0), (lib.HIL_BAD_NOT_INTEGER, 1), (lib.HIL_BAD_RANGE, 2))
"""hil_narrow8's fault bits with their slots, in the order they are reported."""


def integer_array(field: str, value, *, lo: int, hi: int, dtype, shape=None, ndim=None) -> np.ndarray:
    """``value`` as a read-only integer array of ``dtype`` with every entry in lo..hi.

    ``shape`` entries may be None (any length). Floats are accepted only where
    they hold whole numbers (2.0, not 2.5), so torch or numpy float tensors of
    integer values pass unchanged. The result is always a new array: a frozen
    config must not change when the caller's array does.

    Checking and converting to a one-byte ``dtype`` is one pass in C
    (``hil_narrow8``, emulator/_native/arrays.h) for native integer and
    float32/float64 inputs; other inputs take numpy. Either way, NaN and
    infinities are reported first, then fractions, then values out of range, each
    at its first (C-order) index.
    """
    if type(value) is np.ndarray:  # the common case, without np.asarray's call
        a = value
    else:
        try:
            a = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(field, f"cannot be read as an array ({exc})") from None
    adtype = a.dtype
    if adtype.kind not in "iuf":  # bool, complex, strings, objects ...
        raise InvalidValue(field, f"has dtype {adtype}; expected integers {lo}..{hi}")
    if ndim is not None and a.ndim not in (ndim if isinstance(ndim, tuple) else (ndim,)):
        raise InvalidValue(field, f"has shape {a.shape}; expected {ndim} dimension(s)")
    if shape is not None:
        if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape)):
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise InvalidValue(field, f"has shape {a.shape}; expected {want}")
    if a.size == 0:
        raise InvalidValue(field, f"is empty (shape {a.shape})")
    dtype = _DTYPES.get(dtype) or np.dtype(dtype)
    kind = _C_SOURCES.get(adtype)
    holds = _C_TARGETS.get(dtype)
    if kind is not None and holds is not None and holds[0] <= lo <= hi <= holds[1]:
        src = a if a.flags.c_contiguous else np.ascontiguousarray(a)
        result = np.empty(a.shape, dtype)
        first = ffi.new("int64_t[3]")
        faults = lib.hil_narrow8(ffi.from_buffer(src), kind, adtype.itemsize, src.size, lo, hi,
                                 ffi.from_buffer("uint8_t[]", result), first)
        if faults:
            if faults < 0:  # pragma: no cover - the arguments are checked above
                raise RuntimeError(f"hil_narrow8 refused its arguments ({faults})")
            for bit, slot in _FAULTS:
                if faults & bit:
                    _refuse(field, a, bit, int(first[slot]), lo, hi)
    else:
        _check_numpy(field, a, lo, hi)
        result = np.array(a, dtype=dtype, order="C", copy=True)
    result.flags.writeable = False
    return result


def _check_numpy(field: str, a: np.ndarray, lo: int, hi: int) -> None:
    """The checks of ``integer_array`` in numpy, for the dtypes the C pass does not take."""
    if np.issubdtype(a.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            _refuse(field, a, lib.HIL_BAD_NOT_FINITE, bad[0], lo, hi)
        bad = np.flatnonzero(a != np.floor(a))
        if bad.size:
            _refuse(field, a, lib.HIL_BAD_NOT_INTEGER, bad[0], lo, hi)
    # min/max first: two fast reductions; the offending index only on failure.
    within_type = np.issubdtype(a.dtype, np.integer) and np.iinfo(a.dtype).min >= lo and np.iinfo(a.dtype).max <= hi
    if not within_type and (a.min() < lo or a.max() > hi):
        _refuse(field, a, lib.HIL_BAD_RANGE, np.flatnonzero((a < lo) | (a > hi))[0], lo, hi)


def _refuse(field: str, a: np.ndarray, fault: int, flat: int, lo: int, hi: int):
    """Raises the error of ``fault`` (a HIL_BAD_* bit) at C-order index ``flat`` of ``a``."""
    idx = np.unravel_index(flat, a.shape)
    v = a[idx]
    where = field + _index(idx)
    if fault == lib.HIL_BAD_NOT_FINITE:
        raise InvalidValue(where, f"{v} is not a number; allowed: integers {lo}..{hi}")
    if fault == lib.HIL_BAD_NOT_INTEGER:
        raise InvalidValue(where, f"{v} is not an integer; allowed: integers {lo}..{hi}")
    v = int(v) if float(v).is_integer() else v
    raise InvalidValue(where, f"{v} is outside the allowed range {lo}..{hi}")


def integer(field: str, value, *, lo: int, hi: int) -> int:
    """A whole number in lo..hi (bool refused; 3.0 accepted as 3)."""
    if type(value) is int and lo <= value <= hi:  # the common case, without the ABC checks
        return value
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


def real_array(field: str, value, *, lo: float, hi: float, shape=None, ndim=None, dtype=np.float32,
               copy: bool = True) -> np.ndarray:
    """``value`` as a new read-only float array of ``dtype`` with every entry finite and in [lo, hi]
    (``shape`` entries None: any length). Integer and float inputs are accepted; bool, complex and objects
    are not. A value out of range, NaN or infinite is named with its index (the first in C order).
    ``copy=False``: an array already of ``dtype`` and C-contiguous is taken as it is (made read-only), for
    results a device has just made."""
    if type(value) is not np.ndarray:
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(field, f"cannot be read as an array ({exc})") from None
    a = value
    if a.dtype.kind not in "iuf":
        raise InvalidValue(field, f"has dtype {a.dtype}; expected real numbers {lo:g}..{hi:g}")
    if ndim is not None and a.ndim != ndim:
        raise InvalidValue(field, f"has shape {a.shape}; expected {ndim} dimension(s)")
    if shape is not None and (a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape))):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise InvalidValue(field, f"has shape {a.shape}; expected {want}")
    if a.size == 0:
        raise InvalidValue(field, f"is empty (shape {a.shape})")
    # Two reductions, NaN failing both comparisons; the offending index only on failure.
    if not (a.min() >= lo and a.max() <= hi):
        with np.errstate(invalid="ignore"):
            flat = np.flatnonzero(~np.isfinite(a) | (a < lo) | (a > hi))[0] if a.dtype.kind == "f" else \
                np.flatnonzero((a < lo) | (a > hi))[0]
        idx = np.unravel_index(flat, a.shape)
        v = a[idx]
        if a.dtype.kind == "f" and not np.isfinite(v):
            raise InvalidValue(field + _index(idx), f"{v} is not a finite number; allowed: {lo:g}..{hi:g}")
        raise InvalidValue(field + _index(idx), f"{v} is outside the allowed range {lo:g}..{hi:g}")
    result = a if (not copy and a.dtype == dtype and a.flags.c_contiguous) else np.array(a, dtype=dtype, order="C")
    result.flags.writeable = False
    return result
