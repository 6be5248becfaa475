"""hil.torch.perceptron on the device under test: the same tests on the emulator, a virtual
board (``--backend board``) and the RTL core (``--backend rtl``), where its geometry allows.

Limits come from the published model and the specification (docs/chip_model.md#numbers-and-their-sources):
the nominal gain and noise, and ``MacSpec``'s gain tolerance and worst-case noise.
"""
import math

import pytest
import torch

from hil.bss2 import DEFAULT_SPEC, NOMINAL_GAIN, NOMINAL_NOISE
from hil.errors import InvalidValue
from hil.torch import perceptron

SIGMAS = 6
"""Noise bounds are judged at 6 sigma: a healthy neuron exceeds one with probability 2e-9,
so a test over 16 000 outputs fails by chance with probability below 1e-4."""


@pytest.fixture
def chip(backend):
    """The perceptron API on the device under test, with the default mock parameters."""
    before = perceptron.get_mock_parameter()
    torch.manual_seed(0)
    with perceptron.init(backend) as session:
        yield session
    perceptron.set_mock_parameter(before)


@pytest.fixture(scope="module")
def measured(backend, mac_shape):
    if mac_shape[0] < 128:
        pytest.skip(f"the measurement's blocks of 128 rows (the mock model's) do not fit a run of "
                    f"{mac_shape[0]} inputs on {backend!r}")
    torch.manual_seed(1)
    with perceptron.init(backend):
        return perceptron.measure_mock_parameter()


def test_measured_gain_is_within_25_percent_of_nominal(measured, backend):
    assert abs(measured.gain / NOMINAL_GAIN - 1) <= 0.25, f"{measured} on {backend!r}"


def test_measured_noise_is_at_most_twice_nominal(measured, backend):
    assert 0 < measured.noise_std <= 2 * NOMINAL_NOISE, f"{measured} on {backend!r}"


def test_diagonal_gives_a_clearly_signed_output_on_the_diagonal_only(chip, backend, mac_shape):
    """Input 31 on row i only, weight +-63 at (i, i) and 0 elsewhere, 40 sends.

    The diagonal reads at least ``gain_low * 40 * 31 * 63`` (133 LSB at the lowest gain the
    specification allows; clamped at the int8 rail) less 6 sigma of the worst-case noise;
    elsewhere only noise: within 6 sigma of it, plus the floor's 1 LSB.
    """
    n = min(128, *mac_shape)
    signs = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
    y = perceptron.matmul(torch.eye(n) * 31, torch.diag(signs * 63), num_sends=40)
    noise = DEFAULT_SPEC.noise_max
    low_gain = NOMINAL_GAIN * (1 - DEFAULT_SPEC.gain_tolerance)
    least = min(127.0, math.floor(low_gain * 40 * 31 * 63)) - SIGMAS * noise
    diagonal = torch.diagonal(y) * signs
    assert diagonal.min() >= least, f"diagonal {torch.diagonal(y).tolist()} on {backend!r}"
    off = y[~torch.eye(n, dtype=torch.bool)]
    assert off.abs().max() <= SIGMAS * noise + 1, f"off-diagonal up to {off.abs().max()} on {backend!r}"


def test_gradient_is_the_linear_models(chip):
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(0, 32, (8, 40), generator=gen).float().requires_grad_()
    W = torch.randint(-63, 64, (40, 24), generator=gen).float().requires_grad_()
    grad = torch.randn(8, 24, generator=gen)
    perceptron.matmul(x, W, num_sends=10).backward(grad)
    scale = perceptron.get_mock_parameter().gain * 10
    torch.testing.assert_close(x.grad, grad @ W.detach().t() * scale)
    torch.testing.assert_close(W.grad, x.detach().t() @ grad * scale)


def quadrants(size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of the unit square (x, y, 1 - x, 1 - y), labelled by quadrant 0..3."""
    p = torch.rand(size, 2, generator=gen)
    label = (p[:, 0] > 0.5).long() + 2 * (p[:, 1] > 0.5).long()
    return torch.cat([p, 1 - p], dim=1), label


def test_layers_train_in_the_loop(chip, backend, mac_shape):
    """A small network learns the quadrants on the device: the loss falls and the held-out
    accuracy reaches 85 % (chance: 25 %). Over 12 emulated chips and run counters it
    reached 91-93 %, and 88.6 % on a virtual board whose run counter other suites had
    advanced: the int8 network's points near the quadrant borders vary with the noise,
    so 90 % was not a bound a healthy chip keeps."""
    hidden = min(16, mac_shape[1])
    model = torch.nn.Sequential(perceptron.nn.Linear(4, hidden), perceptron.nn.ConvertingReLU(shift=1),
                                perceptron.nn.Linear(hidden, 4))
    gen = torch.Generator().manual_seed(5)
    x, labels = quadrants(2000, gen)
    test_x, test_labels = quadrants(500, gen)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    losses = []
    for step in range(60):
        idx = torch.randint(0, len(x), (100,), generator=gen)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[idx] * 31), labels[idx])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        acc = float((perceptron.argmax(model(test_x * 31), dim=1) == test_labels).float().mean())
    assert sum(losses[-10:]) < sum(losses[:10]), f"losses {losses[:10]} ... {losses[-10:]} on {backend!r}"
    assert acc >= 0.85, f"accuracy {acc:.3f} on {backend!r}"


def test_bad_inputs_raise_before_the_device_runs(chip, backend):
    counter = backend.run_counter
    with pytest.raises(InvalidValue) as info:
        perceptron.matmul(torch.tensor([[3.0, 31.6]]), torch.ones(2, 4))
    assert info.value.field == "input[0, 1]" and "0..31" in str(info.value)
    with pytest.raises(InvalidValue) as info:
        perceptron.matmul(torch.ones(1, 2), torch.tensor([[0.0], [float("nan")]]))
    assert info.value.field == "other[1, 0]"
    assert backend.run_counter == counter
