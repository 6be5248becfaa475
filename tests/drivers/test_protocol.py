"""The board protocol's codec: blocks, named arrays, the error queue."""

import numpy as np
import pytest

from drivers import named_arrays, protocol
from drivers.blocks import encode_block, parse_block_header
from drivers.errors import ProtocolError

# --- codec --------------------------------------------------------------------------

def test_block_round_trip_and_limits():
    assert encode_block(b"hello") == b"#15hello"
    assert parse_block_header(b"#3123") == (5, 123)
    with pytest.raises(ProtocolError) as e:
        encode_block(b"x" * 11, limit=10)
    assert e.value.code == -223
    for bad in (b"#0", b"#a12", b"x12", b"#312"):
        with pytest.raises(ProtocolError) as e:
            parse_block_header(bad)
        assert e.value.code == -161


def test_named_arrays_round_trip_all_dtypes():
    arrays = {f"a{i}": np.arange(6, dtype=dt).reshape(2, 3)
              for i, dt in enumerate([np.uint8, np.int8, np.int16, np.uint32, np.int64, np.float32, np.float64])}
    arrays["flag"] = np.array([True, False])
    meta, back = named_arrays.unpack(named_arrays.pack({"type": "x", "fields": {"n": 3}}, arrays))
    assert meta == {"type": "x", "fields": {"n": 3}}
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype


@pytest.mark.parametrize("mutate, match", [
    (lambda p: b"XXXX" + p[4:], "does not start"),
    (lambda p: p[:9] + b"]" + p[10:], "not UTF-8 JSON"),
    (lambda p: p[:-1], "do not match"),
])
def test_named_arrays_refuse_corrupt_payloads(mutate, match):
    p = named_arrays.pack({}, {"w": np.zeros((4, 4), np.int8)})
    with pytest.raises(ProtocolError, match=match):
        named_arrays.unpack(mutate(p))


def test_named_arrays_refuse_objects_and_bad_names():
    with pytest.raises(ProtocolError, match="dtype object"):
        named_arrays.pack({}, {"x": np.array([object()])})
    with pytest.raises(ProtocolError, match="not an identifier"):
        named_arrays.pack({}, {"bad name": np.zeros(1)})


def test_error_queue_overflow_and_format():
    q = protocol.ErrorQueue(length=2)
    for i in range(5):
        q.push(-222, f"e{i}")
    assert q.pop() == (-222, "e0")
    assert q.pop() == (-350, "Queue overflow")
    assert q.pop() == (0, "No error")
    assert protocol.parse_error(protocol.format_error(-222, 'x "quoted"')) == (-222, "x ''quoted''")
