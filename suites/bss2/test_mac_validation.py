"""Bad input is refused with an error naming the field, the index, the value and the allowed range."""
import numpy as np
import pytest

import hil
from hil.bss2 import MacConfig, MacStimulus
from drivers.board import BoardValueError
from hil.errors import InvalidValue, UnknownBackend, Unsupported

from hil.bss2.types import mac_shape


def _raises(match, f, *args, **kwargs):
    """A ValueError naming the field: hil's InvalidValue in process, the board's refusal
    (drivers.board.BoardValueError) with the same text over the wire."""
    with pytest.raises(ValueError, match=match) as info:
        f(*args, **kwargs)
    assert isinstance(info.value, (InvalidValue, BoardValueError))
    return info.value


@pytest.mark.parametrize(
    "x, match",
    [
        (np.full(10, 32), r"x\[0\]: 32 is outside the allowed range 0\.\.31"),
        (np.array([1, 2, -1]), r"x\[2\]: -1 is outside the allowed range 0\.\.31"),
        (np.array([1.0, np.nan]), r"x\[1\]: nan is not a number"),
        (np.array([[1.0, 2.5]]), r"x\[0, 1\]: 2\.5 is not an integer"),
        (np.zeros((2, 2, 2)), r"x: has shape \(2, 2, 2\)"),
        (np.array([True, False]), r"x: has dtype bool"),
        (np.array(["a", "b"]), r"x: has dtype"),
    ],
)
def test_mac_refuses_bad_inputs(backend, x, match):
    _raises(match, hil.bss2.mac, backend, x, np.zeros((np.shape(x)[-1], 4)))


@pytest.mark.parametrize(
    "W, match",
    [
        (np.full((3, 2), 64), r"W\[0, 0\]: 64 is outside the allowed range -63\.\.63"),
        (np.array([[0, 0], [0, -70]]), r"W\[1, 1\]: -70 is outside the allowed range -63\.\.63"),
        (np.array([[0.0, np.inf]]), r"W\[0, 1\]: inf is not a number"),
        (np.zeros(3), r"W: has shape \(3,\)"),
    ],
)
def test_mac_refuses_bad_weights(backend, W, match):
    _raises(match, hil.bss2.mac, backend, np.zeros(np.shape(W)[0]), W)


def test_mac_refuses_mismatched_rows(backend):
    _raises(r"x: has 5 rows per vector but W has 4 rows", hil.bss2.mac, backend, np.zeros(5), np.zeros((4, 2)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_sends=0), r"num_sends: 0 is outside the allowed range 1\.\.1024"),
        (dict(num_sends=2.5), r"num_sends: 2\.5 is not an integer"),
        (dict(num_sends=True), r"num_sends: True is not an integer"),
        (dict(wait_between_events=-1), r"wait_between_events: -1 is outside the allowed range 0\.\.4095"),
        (dict(wait_between_events=float("nan")), r"wait_between_events: nan is not an integer"),
    ],
)
def test_mac_refuses_bad_settings(backend, kwargs, match):
    _raises(match, hil.bss2.mac, backend, np.zeros(4), np.zeros((4, 2)), **kwargs)


def test_config_refuses_wrong_shape_and_range(backend):
    inputs, outputs = mac_shape(backend.info().geometry)
    _raises(rf"weights: has shape \({inputs}, {outputs - 1}\); this device takes \({inputs}, {outputs}\)",
            backend.configure, MacConfig(weights=np.zeros((inputs, outputs - 1))))
    _raises(r"weights: has shape \(128, 513\); the chip takes at most 128 x at most 512",
            MacConfig, weights=np.zeros((128, 513)))
    w = np.zeros((inputs, outputs), np.int16)
    w[5, outputs - 3] = 100
    _raises(rf"weights\[5, {outputs - 3}\]: 100 is outside the allowed range -63\.\.63", MacConfig, weights=w)
    hemispheres = backend.info().geometry["hemispheres"]
    trims = np.full((hemispheres, inputs), 32)
    trims[-1, 7] = 64
    _raises(rf"driver_offset_trim\[{hemispheres - 1}, 7\]: 64 is outside the allowed range 0\.\.63",
            MacConfig, weights=w.clip(-63, 63), driver_offset_trim=trims)
    _raises(rf"driver_offset_trim: has shape \({hemispheres}, {inputs - 1}\); this device takes "
            rf"\({hemispheres}, {inputs}\)", backend.configure,
            MacConfig(weights=np.zeros((inputs, outputs)), driver_offset_trim=np.full((hemispheres, inputs - 1), 32)))


def test_stimulus_refuses_bad_batch(backend):
    inputs, outputs = mac_shape(backend.info().geometry)
    backend.configure(MacConfig(weights=np.zeros((inputs, outputs))))   # a board runs only behind a good CONF
    _raises(r"inputs: has shape \(0, 128\)|inputs: is empty", MacStimulus, inputs=np.zeros((0, 128)))
    _raises(r"inputs: has shape \(65537, 1\); the chip takes at most 65536 x at most 128",
            MacStimulus, inputs=np.zeros((65537, 1)))
    _raises(rf"inputs: has shape \(2, {inputs - 1}\); this device takes \(any, {inputs}\)",
            backend.run, MacStimulus(inputs=np.zeros((2, inputs - 1))))
    x = np.zeros((2, inputs))
    x[1, 10] = 31.5
    _raises(r"inputs\[1, 10\]: 31\.5 is not an integer", MacStimulus, inputs=x)


def test_nothing_is_clipped_or_wrapped(backend):
    """An int8 overflow (200 -> -56) would pass a lazy cast; the check runs on the original values."""
    _raises(r"W\[0, 0\]: 200 is outside", hil.bss2.mac, backend, np.zeros(1), np.array([[200]], np.int64))
    _raises(r"x\[0\]: 288 is outside", hil.bss2.mac, backend, np.array([288]), np.zeros((1, 1)))


def test_config_arrays_are_read_only():
    cfg = MacConfig(weights=np.zeros((128, 512), np.int8))
    with pytest.raises(ValueError):
        cfg.weights[0, 0] = 1


def test_unknown_backend_lists_the_available_ones():
    with pytest.raises(UnknownBackend, match=r"no backend 'nope'; available: \[.*'emulator'.*\]"):
        hil.backend.open("nope")


def test_backend_refuses_foreign_types(backend):
    with pytest.raises(Unsupported, match="supports the modes"):
        backend.configure(object())
    with pytest.raises(Unsupported, match="supports the modes"):
        backend.run("not a stimulus")
