"""hil.torch.perceptron's operations against their formulas (docs/torch.md#operations)."""
import math

import numpy as np
import pytest
import torch

import hil
from hil.errors import InvalidValue
from hil.torch import perceptron
from hil.torch.perceptron import MockParameter


def mock_formula(x: torch.Tensor, W: torch.Tensor, num_sends: int, p: MockParameter, seed: int) -> torch.Tensor:
    """The mock model written out: per 128-row block floor(x.W * num_sends * gain + N(0, noise_std)),
    clamped to int8, summed, clamped; the noise one (batch, cols) draw per block, in block order."""
    gen = torch.manual_seed(seed)
    total = torch.zeros(x.shape[0], W.shape[1], dtype=torch.float64)
    for r0 in range(0, x.shape[1], 128):
        block = x[:, r0:r0 + 128].double().round() @ W[r0:r0 + 128].double().round()
        noise = torch.normal(0.0, p.noise_std, (x.shape[0], W.shape[1]), generator=gen).double()
        total += torch.clamp(torch.floor(block * num_sends * p.gain + noise), -128, 127)
    return torch.clamp(total, -128, 127)


def operands(batch: int, rows: int, cols: int, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 32, (batch, rows), generator=gen).float()
    W = torch.randint(-63, 64, (rows, cols), generator=gen).float()
    return x, W


@pytest.mark.parametrize("rows", [100, 128, 300])
@pytest.mark.parametrize("noise_std", [0.0, 2.0])
def test_mock_forward_equals_the_formula(rows, noise_std):
    p = MockParameter(noise_std=noise_std, gain=0.002)
    perceptron.set_mock_parameter(p)
    x, W = operands(40, rows, 70)
    torch.manual_seed(7)
    y = perceptron.matmul(x, W, num_sends=5, mock=True)
    expected = mock_formula(x, W, 5, p, seed=7)
    assert y.dtype == torch.float32 and y.shape == (40, 70)
    assert torch.equal(y.double(), expected)
    assert (y >= -128).all() and (y <= 127).all() and (y == y.round()).all()


def test_mock_rounds_its_operands_and_folds_leading_dimensions():
    perceptron.set_mock_parameter(MockParameter(noise_std=0.0))
    x, W = operands(12, 50, 9)
    jitter = torch.rand(x.shape) * 0.8 - 0.4          # rounds back to x
    y = perceptron.matmul((x + jitter).reshape(3, 4, 50), W + 0.3, num_sends=20, mock=True)
    assert y.shape == (3, 4, 9)
    assert torch.equal(y.reshape(12, 9), perceptron.matmul(x, W, num_sends=20, mock=True))
    v = perceptron.matmul(x[0], W[:, 0], num_sends=20, mock=True)      # 1-D input and other
    assert v.shape == () and v == y[0, 0, 0]


@pytest.mark.parametrize("mock", [True, False])
@pytest.mark.parametrize("num_sends", [1, 7])
def test_gradient_is_torchs_times_gain_and_sends(mock, num_sends):
    perceptron.set_mock_parameter(MockParameter(noise_std=2.0, gain=0.003))
    x, W = operands(16, 140, 20)
    x.requires_grad_()
    W.requires_grad_()
    grad = torch.randn(16, 20)
    perceptron.matmul(x, W, num_sends=num_sends, mock=mock).backward(grad)
    xt, Wt = x.detach().clone().requires_grad_(), W.detach().clone().requires_grad_()
    (xt @ Wt).backward(grad)
    scale = 0.003 * num_sends
    torch.testing.assert_close(x.grad, xt.grad * scale)
    torch.testing.assert_close(W.grad, Wt.grad * scale)


def test_chip_forward_is_hil_bss2_mac_on_the_active_backend():
    x, W = operands(30, 200, 40)
    with hil.backend.open("emulator", serial="EMU-0031") as a, hil.backend.open("emulator", serial="EMU-0031") as b:
        with perceptron.init(a):
            y = perceptron.matmul(x, W, num_sends=3)
        expected = hil.bss2.mac(b, x.numpy(), W.numpy(), num_sends=3)
    assert torch.equal(y, torch.from_numpy(expected).float())


def test_several_backends_share_the_blocks_and_sum_as_one_chip_does():
    """On ideal chips (no noise) the result does not depend on how the blocks are dealt out."""
    x, W = operands(20, 300, 600)       # 3 row blocks x 3 column blocks
    devices = [hil.backend.open("emulator", ideal=True, serial=f"EMU-00{i}") for i in range(4)]
    try:
        expected = hil.bss2.mac(devices[0], x.numpy(), W.numpy(), num_sends=2)
        for n in (2, 3, 4):
            with perceptron.init(*devices[:n]):
                assert torch.equal(perceptron.matmul(x, W, num_sends=2), torch.from_numpy(expected).float()), n
        assert all(not d.closed for d in devices)      # given devices stay the caller's
    finally:
        for d in devices:
            d.close()


def test_the_default_is_the_embedded_emulated_chip_and_release_closes_what_it_opened():
    session = perceptron.init()
    (device,) = session.backends
    assert device.info().backend == "emulator"
    perceptron.release()
    assert device.closed
    with perceptron.init("emulator") as s:
        assert s.backends[0].info().backend == "emulator"
    assert s.backends[0].closed


@pytest.mark.parametrize("field,x,W,problem", [
    ("input[0, 2]", torch.tensor([[1.0, 2.0, 32.0]]), torch.ones(3, 2), "32 is outside the allowed range 0..31"),
    ("input[0, 1]", torch.tensor([[1.0, -0.7, 3.0]]), torch.ones(3, 2), "rounds to -1"),
    ("input[0, 0]", torch.tensor([[math.nan, 1.0, 1.0]]), torch.ones(3, 2), "nan is not a finite number"),
    ("other[1, 0]", torch.ones(1, 3), torch.tensor([[1.0, 1.0], [63.6, 0.0], [0.0, 0.0]]), "rounds to 64"),
    ("other[2, 1]", torch.ones(1, 3), torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, -math.inf]]),
     "-inf is not a finite number"),
])
@pytest.mark.parametrize("mock", [True, False])
def test_bad_operands_raise_naming_field_value_and_range(field, x, W, problem, mock):
    with pytest.raises(InvalidValue) as info:
        perceptron.matmul(x, W, mock=mock)
    assert info.value.field == field and problem in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("kwargs,field", [({"num_sends": 0}, "num_sends"), ({"num_sends": 1025}, "num_sends"),
                                          ({"wait_between_events": -1}, "wait_between_events"),
                                          ({"num_sends": 2.5}, "num_sends")])
def test_bad_options_raise(kwargs, field):
    with pytest.raises(InvalidValue) as info:
        perceptron.matmul(torch.ones(1, 3), torch.ones(3, 2), mock=True, **kwargs)
    assert info.value.field == field


def test_bad_shapes_raise():
    with pytest.raises(InvalidValue, match="must match"):
        perceptron.matmul(torch.ones(2, 3), torch.ones(4, 2))
    with pytest.raises(InvalidValue, match="1 or 2 dimensions"):
        perceptron.matmul(torch.ones(2, 3), torch.ones(3, 2, 1))
    with pytest.raises(InvalidValue, match="torch.Tensor"):
        perceptron.matmul(np.ones((2, 3)), torch.ones(3, 2))


def test_mock_parameter_defaults_and_refusals():
    assert perceptron.get_mock_parameter() == MockParameter(noise_std=2.0, gain=0.002)
    for gain in (0.0, -0.001, 1.5, math.nan):
        with pytest.raises(InvalidValue) as info:
            perceptron.set_mock_parameter(MockParameter(gain=gain))
        assert info.value.field == "gain"
    with pytest.raises(InvalidValue):
        MockParameter(noise_std=-1.0)
    with pytest.raises(InvalidValue):
        perceptron.set_mock_parameter((2.0, 0.002))
    perceptron.set_mock_parameter(MockParameter(noise_std=1.0, gain=1.0))
    assert perceptron.get_mock_parameter().gain == 1.0


def test_relu_and_converting_relu():
    x = torch.tensor([-128.0, -3.0, 0.0, 0.4, 1.0, 5.0, 62.0, 63.0, 64.0, 127.0], requires_grad=True)
    assert perceptron.relu(x).tolist() == [0, 0, 0, 0, 1, 5, 62, 63, 64, 127]
    y = perceptron.converting_relu(x, shift=1)
    assert y.tolist() == [0, 0, 0, 0, 0, 2, 31, 31, 31, 31]
    y.backward(torch.ones(10))
    assert x.grad.tolist() == [0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]   # straight through the shift
    x.grad = None
    perceptron.relu(x).backward(torch.ones(10))
    assert x.grad.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    with pytest.raises(InvalidValue, match=r"input\[0\]: 128 is outside the allowed range -128..127"):
        perceptron.relu(torch.tensor([128.0]))
    with pytest.raises(InvalidValue) as info:
        perceptron.converting_relu(x, shift=8)
    assert info.value.field == "shift"


def test_add_saturates_and_passes_the_gradient_through():
    a = torch.tensor([[100.0, -100.0, 3.0], [0.0, 1.0, 2.0]], requires_grad=True)
    b = torch.tensor([50.0, -50.0, 0.6], requires_grad=True)
    y = perceptron.add(a, b)
    assert y.tolist() == [[127, -128, 4], [50, -49, 3]]
    y.backward(torch.ones(2, 3))
    assert a.grad.tolist() == [[1, 1, 1], [1, 1, 1]] and b.grad.tolist() == [2, 2, 2]
    with pytest.raises(InvalidValue) as info:
        perceptron.add(a, torch.tensor([200.0, 0.0, 0.0]))
    assert info.value.field == "other[0]"


def test_argmax_takes_the_first_of_equal_int8_values():
    x = torch.tensor([[3.0, 7.2, 7.0, -1.0], [-128.0, -128.0, -128.0, -128.0]])
    assert perceptron.argmax(x, dim=1).tolist() == [1, 0]
    assert int(perceptron.argmax(x)) == 1
    with pytest.raises(InvalidValue):
        perceptron.argmax(torch.tensor([math.nan]))
