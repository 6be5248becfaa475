"""hil.torch.perceptron.nn: the layers' options, initialisation, formulas and training."""
import math

import pytest
import torch

from hil.errors import InvalidValue
from hil.torch import perceptron
from hil.torch.perceptron import MockParameter, nn


def test_reprs_show_sends_and_mock():
    model = torch.nn.Sequential(nn.Linear(4, 128, mock=True), nn.ConvertingReLU(shift=1),
                                nn.Linear(128, 3, avg=5, mock=True), nn.ReLU())
    text = repr(model)
    assert "Linear(in_features=4, out_features=128, bias=True, num_sends=34, mock=True)" in text
    assert "Linear(in_features=128, out_features=3, bias=True, num_sends=6, mock=True, avg=5)" in text
    assert "ConvertingReLU(shift=1, mock=False)" in text and "ReLU(mock=False)" in text
    assert "num_sends=" in repr(nn.Conv2d(2, 3, 3)) and "mock=False" in repr(nn.Conv1d(2, 3, 3))


def test_sends_follow_from_gain_and_fan_in():
    """ceil(sqrt(2) * 2 / (gain * sqrt(fan_in)) / 21): at the seed's measured gain (about 0.0035)
    the seed's model gets the seed's 20 and 4 sends."""
    perceptron.set_mock_parameter(MockParameter(gain=0.0035))
    assert nn.Linear(4, 128).num_sends == 20
    assert nn.Linear(128, 3, avg=5).num_sends == 4
    perceptron.set_mock_parameter(MockParameter(gain=0.002))
    assert nn.Linear(4, 128).num_sends == math.ceil(math.sqrt(2) * 2 / (0.002 * 2) / 21) == 34
    assert nn.Linear(4, 128, num_sends=3).num_sends == 3
    layer = nn.Linear(64, 1000)
    assert layer.weight.abs().max() <= 63 and layer.weight.std() < 21 * 1.1
    assert layer.bias.abs().max() <= math.sqrt(2) * 2 * 31 / math.sqrt(3) / 8


def test_linear_in_mock_mode_is_matmul_then_bias():
    perceptron.set_mock_parameter(MockParameter(noise_std=0.0))
    layer = nn.Linear(200, 7, mock=True)
    x = torch.randint(0, 32, (9, 200)).float()
    expected = perceptron.add(perceptron.matmul(x, layer.weight.t(), num_sends=layer.num_sends, mock=True),
                              layer.bias)
    assert torch.equal(layer(x), expected)


@pytest.mark.parametrize("avg", [1, 3])
def test_linear_is_matmul_mean_and_add_with_their_gradient(avg):
    """The layer's one autograd node equals the composed operations, forward and backward."""
    perceptron.set_mock_parameter(MockParameter(noise_std=0.0, gain=0.002))
    layer = nn.Linear(150, 4, mock=True, avg=avg, num_sends=9)
    x = torch.randint(0, 32, (6, 150)).float().requires_grad_()
    grad = torch.randn(6, 4)
    layer(x).backward(grad)
    xc = x.detach().clone().requires_grad_()
    Wc = layer.weight.detach().clone().requires_grad_()
    bc = layer.bias.detach().clone().requires_grad_()
    y = perceptron.matmul(xc, Wc.t().repeat_interleave(avg, dim=1), num_sends=9, mock=True)
    y = perceptron.add(y.unflatten(-1, (4, avg)).mean(dim=-1), bc)
    y.backward(grad)
    assert torch.equal(layer(x), y)
    for got, want in ((x.grad, xc.grad), (layer.weight.grad, Wc.grad), (layer.bias.grad, bc.grad)):
        torch.testing.assert_close(got, want)
    assert layer(x[0]).shape == (4,) and layer(x.reshape(2, 3, 150)).shape == (2, 3, 4)


def test_avg_averages_the_noise_of_k_neurons():
    """avg=k: the mean of k outputs with independent noise, whose variance is (noise_std**2 + 1/12) / k
    (the floor's quantization included); judged at 5 standard errors of the measured std."""
    perceptron.set_mock_parameter(MockParameter(noise_std=2.0))
    layer = nn.Linear(100, 1, bias=False, mock=True, avg=16, num_sends=1)
    with torch.no_grad():
        layer.weight.fill_(20.0)
        y = layer(torch.full((4000, 100), 10.0)).squeeze(1)      # mean 40 LSB
    expected = math.sqrt((2.0**2 + 1 / 12) / 16)
    assert abs(float(y.std()) - expected) < 5 * expected / math.sqrt(2 * 4000)
    assert abs(float(y.mean()) - (40 - 0.5)) < 5 * expected / math.sqrt(4000)


def test_weights_and_bias_are_clamped_in_place_before_each_forward():
    layer = nn.Linear(3, 2, mock=True)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[100.0, -70.0, 5.0], [0.0, 1.0, 63.4]]))
        layer.bias.copy_(torch.tensor([300.0, -1.0]))
    layer(torch.ones(1, 3))
    assert layer.weight.tolist() == [[63.0, -63.0, 5.0], [0.0, 1.0, pytest.approx(63.0)]]
    assert layer.bias.tolist() == [127.0, -1.0]


def test_layer_options_are_checked():
    for kwargs, field in (({"avg": 0}, "avg"), ({"num_sends": 0}, "num_sends"),
                          ({"wait_between_events": 5000}, "wait_between_events")):
        with pytest.raises(InvalidValue) as info:
            nn.Linear(3, 2, **kwargs)
        assert info.value.field == field
    with pytest.raises(InvalidValue) as info:
        nn.Conv2d(2, 4, 3, groups=2)
    assert info.value.field == "groups"
    with pytest.raises(InvalidValue) as info:
        nn.Conv1d(2, 4, 3, padding_mode="reflect")
    assert info.value.field == "padding_mode"
    with pytest.raises(InvalidValue):
        nn.Linear(3, 2, mock=True)(torch.full((1, 3), 40.0))      # inputs beyond 31 are refused


@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 1}, {"dilation": 2}])
def test_conv2d_is_im2col_then_matmul(kwargs):
    """With the noise off, one block: clamp(floor(conv2d(x, W) * sends * gain), int8) + bias."""
    perceptron.set_mock_parameter(MockParameter(noise_std=0.0, gain=0.002))
    layer = nn.Conv2d(3, 5, (3, 2), mock=True, num_sends=40, **kwargs)
    x = torch.randint(0, 32, (4, 3, 9, 8)).float()
    W = layer.weight.detach().round()
    plain = torch.nn.functional.conv2d(x, W, **kwargs).double()
    expected = torch.clamp(torch.clamp(torch.floor(plain * (40 * 0.002)), -128, 127)
                           + layer.bias.detach().round().double()[None, :, None, None], -128, 127)
    assert torch.equal(layer(x).double(), expected)


def test_conv1d_is_im2col_then_matmul():
    perceptron.set_mock_parameter(MockParameter(noise_std=0.0, gain=0.002))
    layer = nn.Conv1d(2, 4, 5, stride=2, padding=2, bias=False, mock=True, num_sends=30)
    x = torch.randint(0, 32, (3, 2, 17)).float()
    plain = torch.nn.functional.conv1d(x, layer.weight.detach().round(), stride=2, padding=2).double()
    assert torch.equal(layer(x).double(), torch.clamp(torch.floor(plain * (30 * 0.002)), -128, 127))
    with pytest.raises(InvalidValue) as info:
        layer(torch.zeros(2, 17))
    assert info.value.field == "input"


def test_conv_gradient_is_the_linear_models():
    perceptron.set_mock_parameter(MockParameter(gain=0.002))
    layer = nn.Conv2d(2, 3, 3, bias=False, mock=True, num_sends=10)
    x = torch.randint(0, 32, (2, 2, 6, 6)).float().requires_grad_()
    grad = torch.randn(2, 3, 4, 4)
    layer(x).backward(grad)
    xt = x.detach().clone().requires_grad_()
    Wt = layer.weight.detach().clone().requires_grad_()
    torch.nn.functional.conv2d(xt, Wt).backward(grad)
    torch.testing.assert_close(x.grad, xt.grad * 0.02)
    torch.testing.assert_close(layer.weight.grad, Wt.grad * 0.02)
