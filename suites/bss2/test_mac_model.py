"""The ideal chip equals the analytical MAC model exactly, at every size."""
import math

import numpy as np
import pytest

import hil
from hil.bss2 import MacModel


@pytest.fixture(scope="module")
def model(mac_shape):
    """An ideal chip has no noise and no leak; it splits a product into runs of its inputs."""
    return MacModel(block_rows=mac_shape[0]).ideal()


@pytest.mark.parametrize(
    "batch, rows, cols, num_sends",
    [(1, 128, 512, 1), (7, 100, 10, 1), (33, 300, 700, 3), (5, 1, 1, 20), (64, 256, 513, 2), (3, 129, 257, 7)],
)
def test_ideal_chip_equals_model_exactly(ideal_backend, model, mac_shape, batch, rows, cols, num_sends):
    """Sizes given for the chip (128 inputs, 512 outputs per run), scaled to the device's run
    (rounded up), so that a reduced core meets the same cases: one block, a partial block,
    several blocks and one row or column beyond them."""
    rng = np.random.default_rng(batch * 1000 + rows + cols + num_sends)
    rows, cols = math.ceil(rows * mac_shape[0] / 128), math.ceil(cols * mac_shape[1] / 512)
    x = rng.integers(0, 32, (batch, rows))
    W = rng.integers(-63, 64, (rows, cols))
    y = hil.bss2.mac(ideal_backend, x, W, num_sends=num_sends)
    np.testing.assert_array_equal(y, model.predict(x, W, num_sends))


def test_ideal_chip_saturates_exactly_like_the_model(ideal_backend, model):
    """Full inputs and weights drive every block into the int8 clamp; several blocks sum and clamp again."""
    x = np.full((2, 384), 31)
    x[1] = 1
    W = np.full((384, 20), 63)
    W[:, 10:] = -63
    y = hil.bss2.mac(ideal_backend, x, W, num_sends=4)
    expected = model.predict(x, W, 4)
    np.testing.assert_array_equal(y, expected)
    assert (y[0, :10] == 127).all() and (y[0, 10:] == -128).all()


def test_one_vector_gives_one_row(ideal_backend, model):
    x = np.arange(32)
    W = np.tile(np.arange(-15, 17)[:, None], (1, 3))
    y = hil.bss2.mac(ideal_backend, x, W)
    assert y.shape == (3,)
    np.testing.assert_array_equal(y, model.predict(x, W))


def test_zero_input_sends_nothing(ideal_backend, mac_shape):
    inputs, outputs = mac_shape
    y = hil.bss2.mac(ideal_backend, np.zeros((4, inputs)), np.full((inputs, outputs), 63))
    assert (y == 0).all()


def test_model_blocks_are_clamped_before_the_digital_sum():
    """Two row blocks of +195.3 and -99.2 expected: 127 + (-100) = 27, not 96."""
    model = MacModel(gain=0.1, noise_std=0.0)
    x = np.zeros(256)
    x[[0, 128]] = 31
    W = np.zeros((256, 1))
    W[0, 0] = 63
    W[128, 0] = -32
    assert model.predict(x, W)[0] == 127 - 100
