"""hil.bss2.mac as users call it: the emulator's one-call product against the
block-by-block path every backend takes, the one-pass validation in C against the
numpy checks, and the board protocol (where every CONF still configures)."""
import numpy as np
import pytest

import hil
from hil.bss2.mac import blockwise
from hil.contract import validation
from hil.errors import InvalidValue
from hil.server.process import BoardProcess


class BlockByBlock:
    """A backend without ``mac_product``: hil.bss2.mac takes the block-by-block path."""

    def __init__(self, backend):
        self._backend = backend

    def info(self):
        return self._backend.info()

    def configure_and_run(self, config, stimulus):
        return self._backend.configure_and_run(config, stimulus)

    def run(self, stimulus):
        return self._backend.run(stimulus)


@pytest.mark.parametrize("batch, rows, cols", [(1024, 128, 512), (64, 256, 1024), (350, 4, 128),
                                               (350, 128, 3), (1, 128, 512), (3, 1, 1), (9, 131, 700)])
def test_one_call_equals_block_by_block(batch, rows, cols):
    rng = np.random.default_rng([batch, rows, cols])
    x = rng.integers(0, 32, (batch, rows))            # int64, as users pass them
    W = rng.integers(-63, 64, (rows, cols))
    with hil.backend.open("emulator", serial="EMU-0100") as fast, \
            hil.backend.open("emulator", serial="EMU-0100") as slow:
        for num_sends in (1, 3):
            got = hil.bss2.mac(fast, x, W, num_sends=num_sends)
            assert np.array_equal(got, hil.bss2.mac(BlockByBlock(slow), x, W, num_sends=num_sends))
            assert got.dtype == np.int64 and got.shape == (batch, cols)
        assert fast.chip.run_counter == slow.chip.run_counter
        one = hil.bss2.mac(fast, x[0], W)               # a single vector
        assert one.shape == (cols,) and np.array_equal(one, hil.bss2.mac(BlockByBlock(slow), x[0], W))


def test_in_place_changes_between_calls_are_seen():
    rng = np.random.default_rng(12)
    x = rng.integers(0, 32, (30, 140))
    W = rng.integers(-63, 64, (140, 30))
    with hil.backend.open("emulator", serial="EMU-0101") as fast, \
            hil.backend.open("emulator", serial="EMU-0101") as slow:
        for step in range(4):
            assert np.array_equal(hil.bss2.mac(fast, x, W), blockwise(slow, x.astype(np.uint8),
                                                                      W.astype(np.int8), 1, 5)), step
            W[step * 30, step] += 1 if W[step * 30, step] < 63 else -1
            x[step, 139] = (x[step, 139] + 1) % 32


DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64]


def numpy_error(field, a, lo, hi):
    """The error of the numpy path (which takes the dtypes the C pass does not)."""
    with pytest.raises(InvalidValue) as err:
        validation._check_numpy(field, a, lo, hi)
    if a.dtype.itemsize > 1:  # and the public way there: the other byte order
        with pytest.raises(InvalidValue) as swapped:
            validation.integer_array(field, a.astype(a.dtype.newbyteorder()), lo=lo, hi=hi, dtype=np.uint8)
        assert str(swapped.value) == str(err.value)
    return str(err.value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_c_pass_accepts_and_converts_like_numpy(dtype):
    rng = np.random.default_rng(1)
    lo = -63 if np.issubdtype(dtype, np.signedinteger) or np.issubdtype(dtype, np.floating) else 0
    a = rng.integers(lo, 64, (37, 129)).astype(dtype)
    got = validation.integer_array("W", a, lo=-63, hi=63, dtype=np.int8)
    assert got.dtype == np.int8 and not got.flags.writeable
    assert np.array_equal(got, a.astype(np.int64))
    assert np.array_equal(validation.integer_array("W", a[:, ::3], lo=-63, hi=63, dtype=np.int8), a[:, ::3])
    assert validation.integer_array("x", a.astype(dtype)[:2] * 0 + 31, lo=0, hi=31, dtype=np.uint8).max() == 31


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trial", range(6))
def test_c_pass_errors_are_the_numpy_errors(dtype, trial):
    """Faults planted at random places: the same message (field, index, value, range) either way."""
    rng = np.random.default_rng([trial, np.dtype(dtype).num])
    a = rng.integers(0, 32, (5000 + trial,)).astype(dtype).reshape(-1, 1) if trial == 5 else \
        rng.integers(0, 32, (40, 250)).astype(dtype)
    flat = a.reshape(-1)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    bad = [info.max if info else 1e30, 32, (info.min if info else -1e300) if (info is None or info.min < 0) else 99]
    if info is None:
        bad += [np.nan, np.inf, -np.inf, 2.5, -0.5, 31.25, 77.5]
    for k in range(int(rng.integers(1, 5))):
        flat[int(rng.integers(0, flat.size))] = bad[int(rng.integers(0, len(bad)))]
    with pytest.raises(InvalidValue) as err:
        validation.integer_array("x", a, lo=0, hi=31, dtype=np.uint8)
    assert str(err.value) == numpy_error("x", a, 0, 31)
    assert str(err.value).startswith("x[")


@pytest.mark.parametrize("value, message", [
    (np.array([[0, 1], [2, 40]], np.int64), "x[1, 1]: 40 is outside the allowed range 0..31"),
    (np.array([3.0, np.nan, 40.0, 2.5]), "x[1]: nan is not a number; allowed: integers 0..31"),
    (np.array([3.0, 40.0, 2.5], np.float32), "x[2]: 2.5 is not an integer; allowed: integers 0..31"),
    (np.array([3.0, 40.0]), "x[1]: 40 is outside the allowed range 0..31"),
    (np.array([1, 2**63 + 5], np.uint64), f"x[1]: {2**63 + 5} is outside the allowed range 0..31"),
    (np.array([[-np.inf]]), "x[0, 0]: -inf is not a number; allowed: integers 0..31"),
    (np.array([-1], np.int8), "x[0]: -1 is outside the allowed range 0..31"),
])
def test_c_pass_error_messages(value, message):
    with pytest.raises(InvalidValue) as err:
        validation.integer_array("x", value, lo=0, hi=31, dtype=np.uint8)
    assert str(err.value) == message
    assert err.value.field == message.split(":")[0]


def test_nothing_is_clipped_near_the_type_limits():
    for v in (127.0, 128.0, -129.0, 255.5, 2.0**31, -2.0**63, 1e19):
        with pytest.raises(InvalidValue):
            validation.integer_array("W", np.array([v]), lo=-63, hi=63, dtype=np.int8)
    assert validation.integer_array("W", np.array([-0.0, 63.0, -63.0]), lo=-63, hi=63,
                                    dtype=np.int8).tolist() == [0, 63, -63]


def test_every_configuration_still_configures_over_the_board():
    """Over the protocol, W1, W2, W1 again: each CONF configures the board, and the
    results are the in-process emulator's (same serial, same sequence of runs)."""
    rng = np.random.default_rng(13)
    x = rng.integers(0, 32, (20, 130))
    W1 = rng.integers(-63, 64, (130, 40))
    W2 = W1.copy()
    W2[129, 39] = -W2[129, 39] or 5
    with BoardProcess(serial="EMU-0102") as proc, \
            hil.backend.open("board", resource=proc.resource) as board, \
            hil.backend.open("emulator", serial="EMU-0102") as local:
        for W in (W1, W2, W1, W1):
            assert np.array_equal(hil.bss2.mac(board, x, W), hil.bss2.mac(local, x, W))
