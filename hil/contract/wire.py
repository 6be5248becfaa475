"""Named arrays plus a JSON header: the one form in which rig types are stored
and cross the wire. Never pickle.

A type registers under a stable name (``"bss2.MacConfig"``); its array fields
travel as named arrays and its scalar fields in the header. A field holding another
registered type without arrays (a crossbar tile's ``RPUConfig``) travels in the header as
``{"$type": name, "fields": {...}}``.
"""
import dataclasses
import json

import numpy as np

from .errors import InvalidValue

_TYPES: dict[str, type] = {}


class UnknownWire(InvalidValue):
    """The header names no registered type, or fields its type does not have
    (the board protocol answers it with -161, invalid block data)."""


def wire_type(name: str):
    """Class decorator: registers a frozen dataclass under ``name`` for decoding."""

    def register(cls):
        if name in _TYPES and _TYPES[name] is not cls:
            raise ValueError(f"wire type {name!r} is registered twice")
        cls.wire_name = name
        _TYPES[name] = cls
        return cls

    return register


def encode(obj) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of a registered dataclass instance; None fields are left out."""
    header = {"type": obj.wire_name, "fields": {}}
    arrays = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            continue
        if isinstance(v, np.ndarray):
            arrays[f.name] = v
        else:
            header["fields"][f.name] = _nested(v)
    return header, arrays


def _nested(v):
    """A registered type inside a header, as JSON (its fields scalars or registered types themselves)."""
    if dataclasses.is_dataclass(v) and hasattr(v, "wire_name"):
        return {"$type": v.wire_name, "fields": {f.name: _nested(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    return v


def _unnested(field: str, v):
    """The registered type a header's ``{"$type": ..., "fields": ...}`` describes (others as they are)."""
    if not (isinstance(v, dict) and "$type" in v):
        return v
    cls = _TYPES.get(v["$type"])
    fields = v.get("fields")
    if cls is None or not isinstance(fields, dict):
        raise UnknownWire(field, f"{v.get('$type')!r} is not a known type with fields; known: {sorted(_TYPES)}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise UnknownWire(f"{field}.{unknown[0]}", f"is not a field of {v['$type']}; fields: {sorted(names)}")
    return cls(**{k: _unnested(f"{field}.{k}", x) for k, x in fields.items()})


def decode(header: dict, arrays: dict[str, np.ndarray]):
    """The instance described by ``header`` and ``arrays``; its own validation runs."""
    name = header.get("type") if isinstance(header, dict) else None
    cls = _TYPES.get(name)
    if cls is None:
        raise UnknownWire("type", f"{name!r} is not a known type; known: {sorted(_TYPES)}")
    names = {f.name for f in dataclasses.fields(cls)}
    scalars = header.get("fields", {})
    if not isinstance(scalars, dict):
        raise UnknownWire(f"{name}.fields", f"is a {type(scalars).__name__}; expected an object of fields")
    fields = {k: _unnested(f"{name}.{k}", v) for k, v in scalars.items()}
    fields.update(arrays)
    unknown = sorted(set(fields) - names)
    if unknown:
        raise UnknownWire(f"{name}.{unknown[0]}", f"is not a field of {name}; fields: {sorted(names)}")
    return cls(**fields)


def dumps_header(header: dict) -> str:
    return json.dumps(header, sort_keys=True, allow_nan=False)
