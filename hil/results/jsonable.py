"""Turning params, summaries and contexts into plain JSON values.

Experiments hand back numpy scalars, small arrays and tuples in their params
and summaries; the store and the reports write them as JSON. Nothing here
pickles: what JSON cannot hold is refused (or, where a record must be kept
whatever happens, written as its repr).
"""
import math
import os

import numpy as np

from ..contract.errors import InvalidValue


def to_json_value(field: str, value, *, strict: bool = True, finite: bool = False):
    """``value`` with numpy scalars and arrays, tuples and paths turned into JSON types.

    field: what ``value`` is, for the error message ('params', 'summary[...]').
    strict: refuse what JSON cannot hold with :class:`InvalidValue` naming the
        field; otherwise write its repr.
    finite: write NaN and infinities as the strings 'nan', 'inf', '-inf' (as
        :meth:`hil.result.Metric.to_json` does), so that the output is strict JSON.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if finite and not math.isfinite(value):
            return str(value)
        return float(value)
    if isinstance(value, np.generic):
        return to_json_value(field, value.item(), strict=strict, finite=finite)
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return to_json_value(field, value.tolist(), strict=strict, finite=finite)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                if strict:
                    raise InvalidValue(f"{field}[{k!r}]", "has a key that is not a string; JSON keys are strings")
                k = repr(k)
            out[k] = to_json_value(f"{field}[{k!r}]", v, strict=strict, finite=finite)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json_value(f"{field}[{i}]", v, strict=strict, finite=finite) for i, v in enumerate(value)]
    if strict:
        raise InvalidValue(field, f"{value!r} ({type(value).__name__}) cannot be written as JSON; "
                           "allowed: None, bool, int, float, str, lists, dicts, numpy scalars and arrays")
    return repr(value)
