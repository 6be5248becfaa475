"""Bad input is refused with an error naming the field, the index, the value and the allowed range."""
import numpy as np
import pytest

import hil
from hil.bss2 import MacConfig, MacStimulus
from hil.errors import InvalidValue, UnknownBackend, Unsupported

W_OK = np.zeros((128, 512), np.int8)
X_OK = np.zeros((2, 128), np.uint8)


def _raises(match, f, *args, **kwargs):
    with pytest.raises(InvalidValue, match=match) as info:
        f(*args, **kwargs)
    assert isinstance(info.value, ValueError)
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


def test_config_refuses_wrong_shape_and_range():
    _raises(r"weights: has shape \(128, 256\); expected \(128, 512\)", MacConfig, weights=np.zeros((128, 256)))
    w = W_OK.astype(np.int16)
    w[5, 300] = 100
    _raises(r"weights\[5, 300\]: 100 is outside the allowed range -63\.\.63", MacConfig, weights=w)
    trims = np.full((2, 128), 32)
    trims[1, 7] = 64
    _raises(r"driver_offset_trim\[1, 7\]: 64 is outside the allowed range 0\.\.63",
            MacConfig, weights=W_OK, driver_offset_trim=trims)


def test_stimulus_refuses_bad_batch():
    _raises(r"inputs: has shape \(0, 128\)|inputs: is empty", MacStimulus, inputs=np.zeros((0, 128)))
    _raises(r"inputs: has shape \(2, 127\); expected \(any, 128\)", MacStimulus, inputs=np.zeros((2, 127)))
    x = X_OK.astype(float)
    x[1, 100] = 31.5
    _raises(r"inputs\[1, 100\]: 31\.5 is not an integer", MacStimulus, inputs=x)


def test_nothing_is_clipped_or_wrapped(backend):
    """An int8 overflow (200 -> -56) would pass a lazy cast; the check runs on the original values."""
    _raises(r"W\[0, 0\]: 200 is outside", hil.bss2.mac, backend, np.zeros(1), np.array([[200]], np.int64))
    _raises(r"x\[0\]: 288 is outside", hil.bss2.mac, backend, np.array([288]), np.zeros((1, 1)))


def test_config_arrays_are_read_only():
    cfg = MacConfig(weights=W_OK)
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
