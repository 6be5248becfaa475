"""Named arrays + JSON header round trips, and the backend registry."""
import json

import numpy as np
import pytest
from hil.errors import BackendClosed, InvalidValue

import hil
from hil.bss2 import MacConfig, MacReadout, MacStimulus
from hil.contract import wire


def test_types_round_trip_through_named_arrays():
    rng = np.random.default_rng(3)
    objs = [
        MacConfig(weights=rng.integers(-63, 64, (128, 512)), driver_offset_trim=rng.integers(0, 64, (2, 128))),
        MacConfig(weights=np.zeros((128, 512))),
        MacStimulus(inputs=rng.integers(0, 32, (9, 128)), num_sends=3, wait_between_events=17),
        MacReadout(outputs=rng.integers(-128, 128, (9, 512))),
    ]
    for obj in objs:
        header, arrays = wire.encode(obj)
        header = json.loads(wire.dumps_header(header))       # it really is JSON
        back = wire.decode(header, {k: v.copy() for k, v in arrays.items()})
        assert type(back) is type(obj)
        for k, v in arrays.items():
            np.testing.assert_array_equal(getattr(back, k), v)
            assert getattr(back, k).dtype == v.dtype


def test_decode_refuses_unknown_types_and_fields():
    with pytest.raises(InvalidValue, match="not a known type"):
        wire.decode({"type": "os.system"}, {})
    header, arrays = wire.encode(MacStimulus(inputs=np.zeros((1, 128))))
    header["fields"]["evil"] = 1
    with pytest.raises(InvalidValue, match=r"bss2.MacStimulus.evil: is not a field"):
        wire.decode(header, arrays)


def test_decode_validates_like_construction():
    header, arrays = wire.encode(MacStimulus(inputs=np.zeros((1, 128))))
    arrays["inputs"] = np.full((1, 128), 40, np.uint8)
    with pytest.raises(InvalidValue, match=r"inputs\[0, 0\]: 40 is outside"):
        wire.decode(header, arrays)


def test_registry_and_context_manager():
    assert "emulator" in hil.backend.available()
    with hil.backend.open("emulator", serial="EMU-CTX") as b:
        assert b.family == "bss2"
        assert b.info().serial == "EMU-CTX" and b.info().modes == ("mac", "cadc", "spiking", "memory")
    assert b.closed
    with pytest.raises(BackendClosed):
        b.configure(MacConfig(weights=np.zeros((128, 512))))


def test_emulator_backend_translates_emulator_errors():
    with pytest.raises(InvalidValue, match="serial"):
        hil.backend.open("emulator", serial="bad,serial")
