"""Named arrays plus a JSON header, packed into the payload of one binary block.

Layout (all integers little-endian)::

    b"NAR1"                      magic, 4 bytes
    uint32 header_length         bytes of the JSON header
    header (UTF-8 JSON)          {"meta": {...}, "arrays": [{"name", "dtype", "shape",
                                  "offset", "nbytes"}, ...]}
    data                         the arrays' bytes, C order, at their offsets from
                                  the start of data

Only plain little-endian numeric dtypes are allowed (no objects, no pickle):
everything is checked before a byte is interpreted.
"""
import json
import math
import re

import numpy as np

from .errors import ProtocolError

MAGIC = b"NAR1"
MAX_HEADER_BYTES = 1 << 20
MAX_ARRAYS = 64
DTYPES = ("|b1", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f4", "<f8")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _dtype_str(a: np.ndarray) -> str:
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    return dt.str


def pack_parts(meta: dict, arrays: dict[str, np.ndarray]) -> list:
    """The payload for ``meta`` (JSON-able) and ``arrays`` (name -> numeric ndarray),
    as a list of buffers to send with scatter-gather I/O (no copy of the array data)."""
    if len(arrays) > MAX_ARRAYS:
        raise ProtocolError(-223, f"{len(arrays)} arrays exceed the limit of {MAX_ARRAYS}")
    entries, chunks, offset = [], [], 0
    for name, a in arrays.items():
        if not _NAME.match(name):
            raise ProtocolError(-224, f"array name {name!r} is not an identifier of up to 64 characters")
        a = np.asarray(a)
        dt = _dtype_str(a)
        if not isinstance(dt, str) or dt not in DTYPES:
            raise ProtocolError(-224, f"array {name!r} has dtype {a.dtype}; allowed: {DTYPES}")
        # The bytes as a flat uint8 view: memoryview.cast refuses an empty array (no spikes).
        data = memoryview(np.ascontiguousarray(a, dtype=np.dtype(dt)).reshape(-1).view(np.uint8))
        entries.append({"name": name, "dtype": dt, "shape": list(a.shape), "offset": offset,
                        "nbytes": data.nbytes})
        chunks.append(data)
        offset += data.nbytes
    try:
        header = json.dumps({"meta": meta, "arrays": entries}, allow_nan=False,
                            separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise ProtocolError(-224, f"header is not plain JSON: {exc}") from None
    if len(header) > MAX_HEADER_BYTES:
        raise ProtocolError(-223, f"JSON header of {len(header)} bytes exceeds {MAX_HEADER_BYTES}")
    return [MAGIC + len(header).to_bytes(4, "little") + header, *chunks]


def pack(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """The payload for ``meta`` and ``arrays`` as one bytes object."""
    return b"".join(pack_parts(meta, arrays))


def unpack(payload: bytes | memoryview) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) from a payload; arrays are read-only views of it (no copy)."""
    view = memoryview(payload)
    if len(view) < 8 or bytes(view[:4]) != MAGIC:
        raise ProtocolError(-161, f"payload does not start with {MAGIC!r}")
    hlen = int.from_bytes(view[4:8], "little")
    if hlen > MAX_HEADER_BYTES or 8 + hlen > len(view):
        raise ProtocolError(-161, f"header length {hlen} does not fit the payload of {len(view)} bytes")
    try:
        header = json.loads(bytes(view[8:8 + hlen]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(-161, f"header is not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError(-161, "header JSON is nested too deeply") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list) \
            or not isinstance(header.get("meta", {}), dict):
        raise ProtocolError(-161, "header must be an object with 'meta' (object) and 'arrays' (list)")
    entries = header["arrays"]
    if len(entries) > MAX_ARRAYS:
        raise ProtocolError(-223, f"{len(entries)} arrays exceed the limit of {MAX_ARRAYS}")
    data = view[8 + hlen:]
    arrays: dict[str, np.ndarray] = {}
    for i, e in enumerate(entries):
        arrays_name = e.get("name") if isinstance(e, dict) else None
        if not isinstance(arrays_name, str) or not _NAME.match(arrays_name) or arrays_name in arrays:
            raise ProtocolError(-161, f"array {i}: name {arrays_name!r} is missing, invalid or repeated")
        dt, shape, off, nbytes = e.get("dtype"), e.get("shape"), e.get("offset"), e.get("nbytes")
        if not isinstance(dt, str) or dt not in DTYPES:
            raise ProtocolError(-161, f"array {arrays_name!r}: dtype {dt!r} not in {DTYPES}")
        if not isinstance(shape, list) or len(shape) > 8 or \
                not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s for s in shape):
            raise ProtocolError(-161, f"array {arrays_name!r}: shape {shape!r} is not a list of sizes")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (off, nbytes)):
            raise ProtocolError(-161, f"array {arrays_name!r}: offset/nbytes {off!r}/{nbytes!r} invalid")
        dtype = np.dtype(dt)
        expected = math.prod(shape) * dtype.itemsize     # Python ints: a huge shape cannot wrap around
        if nbytes != expected or off + nbytes > len(data):
            raise ProtocolError(-161, f"array {arrays_name!r}: {nbytes} bytes at {off} do not match "
                                      f"shape {shape} {dt} ({expected} bytes) in {len(data)} bytes of data")
        a = np.frombuffer(data[off:off + nbytes], dtype=dtype).reshape(shape)
        a.setflags(write=False)
        arrays[arrays_name] = a
    return header.get("meta", {}), arrays
