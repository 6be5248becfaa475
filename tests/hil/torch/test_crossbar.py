"""hil.torch.crossbar: AnalogLinear's passes are the tile's runs, AnalogSGD's step is the tile's pulsed
update (plain SGD's step on a perfect tile, -lr d x in expectation on the default device), refusals, and
examples/crossbar_mlp.py."""
import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import hil
from hil.contract.backend import Backend
from hil.crossbar import RPUConfig
from hil.crossbar.types import Config, Stimulus
from hil.errors import InvalidValue, Unsupported
from hil.torch.crossbar import AnalogContext, AnalogLinear, AnalogSGD
from tests.support import REPO

U = 2.0 ** -24
"""float32's unit roundoff: a rounding to nearest moves a value by at most U times its magnitude."""


def tile(shape, serial="EMU-XB-T001", ideal=False):
    return hil.backend.open("emulator", family="crossbar", shape=shape, serial=serial, ideal=ideal)


class Limited(Backend):
    """A tile that says it takes at most ``batch_max`` vectors a run (and, optionally, no readback);
    it records the batch of every run it passes on."""

    name = "limited"

    def __init__(self, inner, batch_max=None, readback=True):
        super().__init__()
        self.inner, self.batch_max, self.readback, self.batches = inner, batch_max, readback, []

    def info(self):
        i = self.inner.info()
        geometry = dict(i.geometry, **({} if self.batch_max is None else {"batch_max": self.batch_max}))
        modes = i.modes if self.readback else tuple(m for m in i.modes if m != "readback")
        return dataclasses.replace(i, geometry=geometry, modes=modes)

    def configure(self, config):
        self.inner.configure(config)

    def run(self, stimulus):
        self.batches.append(getattr(stimulus, "batch", None))
        return self.inner.run(stimulus)


# -- initialisation, forward and backward ------------------------------------------------------------------

def test_weights_start_as_torch_linear_and_live_on_the_tile():
    torch.manual_seed(3)
    layer = AnalogLinear(5, 3, backend=tile((3, 5), ideal=True))
    torch.manual_seed(3)
    reference = torch.nn.Linear(5, 3)
    weight, bias = layer.get_weights()
    assert torch.equal(weight, reference.weight.detach()) and torch.equal(bias, reference.bias.detach())
    names = [n for n, _ in layer.named_parameters()]
    assert names == ["analog_ctx", "bias"] and isinstance(layer.analog_ctx, AnalogContext)
    assert layer.analog_ctx.layer is layer
    # Its own tile: the default RPUConfig, the tile of exactly (out, in), the stable default serial.
    own = AnalogLinear(5, 3)
    assert own.rpu_config == RPUConfig() and own.backend.info().geometry["rows"] == 3
    assert own.backend.info().serial == "EMU-XB-0001" and not own.backend.info().ideal
    assert AnalogLinear(2, 3, bias=False).bias is None


def test_forward_and_backward_are_the_tiles_runs():
    """The layer and a twin tile of the same serial, shape and weights, at the same run counter: the
    forward pass is Stimulus.forward exactly (leading dimensions folded into the batch), the input's
    gradient Stimulus.backward of the output's gradient exactly, the bias added after the tile."""
    torch.manual_seed(1)
    layer = AnalogLinear(6, 4, backend=tile((4, 6), "EMU-XB-T002"))
    twin = tile((4, 6), "EMU-XB-T002")
    weight, bias = layer.get_weights()
    twin.configure(Config(weight.numpy(), RPUConfig()))
    x = torch.rand(2, 5, 6, requires_grad=True)
    d = torch.randn(2, 5, 4) * 0.1
    assert layer.backend.run_counter == twin.run_counter == 0
    y = layer(x)
    tile_y = torch.tensor(twin.run(Stimulus.forward(x.detach().reshape(10, 6).numpy())).outputs)
    assert y.shape == (2, 5, 4) and torch.equal(y, (tile_y + bias).reshape(2, 5, 4))
    y.backward(d)
    tile_dx = twin.run(Stimulus.backward(d.reshape(10, 4).numpy())).outputs
    assert torch.equal(x.grad, torch.tensor(tile_dx).reshape(2, 5, 6))
    assert layer.backend.run_counter == twin.run_counter == 2
    # An input that needs no gradient (a first layer) costs no backward run.
    layer(torch.rand(3, 6)).sum().backward()
    assert layer.backend.run_counter == 3


def test_a_layer_on_part_of_a_larger_tile_with_split_batches():
    """A 3 x 5 layer on a 6 x 8 tile that takes 4 vectors a run: each pass is the runs of the zero-padded
    chunks of 4, in order, cut to the layer's block; the rest of the tile holds 0."""
    torch.manual_seed(2)
    board = Limited(tile((6, 8), "EMU-XB-T003"), batch_max=4)
    layer = AnalogLinear(5, 3, bias=False, backend=board)
    twin = tile((6, 8), "EMU-XB-T003")
    full = board.inner.run(hil.crossbar.types.WeightRead()).weights
    assert not full[3:].any() and not full[:, 5:].any()
    twin.configure(Config(full, RPUConfig()))
    x = torch.rand(10, 5, requires_grad=True)
    y = layer(x)
    assert board.batches == [4, 4, 2]
    pad = np.zeros((10, 8), np.float32)
    pad[:, :5] = x.detach().numpy()
    want = np.concatenate([twin.run(Stimulus.forward(pad[i:i + 4])).outputs[:, :3] for i in (0, 4, 8)])
    assert torch.equal(y, torch.tensor(want))
    d = torch.randn(10, 3)
    y.backward(d)
    dpad = np.zeros((10, 6), np.float32)
    dpad[:, :3] = d.numpy()
    want = np.concatenate([twin.run(Stimulus.backward(dpad[i:i + 4])).outputs[:, :5] for i in (0, 4, 8)])
    assert torch.equal(x.grad, torch.tensor(want))


# -- the update ----------------------------------------------------------------------------------------------

def _sgd_bounds(w0, x, d, lr):
    """The exact step (float64) and the float32 rounding bounds of both ways to take it.

    The tile (ideal) takes ``w -= (lr d_b) x_b`` vector after vector in float32: each of the B products
    rounds twice (2 U |t_b|, t_b = lr d_b x_b) and each of the B subtractions once (U |w| <= U (|w0| + S),
    S = sum_b |t_b|), so it is within U (2 S + B (|w0| + S)) of the exact step. torch's SGD forms
    ``g = d^T x`` in float32 (any summation order: within B U sum |d x| of exact), scales it by lr
    (U |lr g|) and subtracts (U |w1|): within U ((B + 1) S + |w1|). Each bound is widened by 1 % for the
    second-order terms."""
    w0, x, d = (np.asarray(a, np.float64) for a in (w0, x, d))
    exact = w0 - lr * d.T @ x
    s = lr * np.abs(d).T @ np.abs(x)
    b = x.shape[0]
    return exact, 1.01 * U * (2 * s + b * (np.abs(w0) + s)), 1.01 * U * ((b + 1) * s + np.abs(exact) + s)


def test_on_a_perfect_tile_the_step_is_plain_sgd():
    torch.manual_seed(4)
    layer = AnalogLinear(6, 4, backend=tile((4, 6), ideal=True))
    w0, b0 = layer.get_weights()
    reference = torch.nn.Linear(6, 4)
    with torch.no_grad():
        reference.weight.copy_(w0)
        reference.bias.copy_(b0)
    x = torch.rand(16, 6, requires_grad=True)
    d = torch.randn(16, 4)
    lr = 0.25
    analog, plain = AnalogSGD(layer.parameters(), lr=lr), torch.optim.SGD(reference.parameters(), lr=lr)
    analog.zero_grad()
    plain.zero_grad()
    y = layer(x)
    y.backward(d)
    grad_x = x.grad.clone()
    x.grad = None
    reference(x).backward(d)
    # The backward pass: W^T d summed in float32 either way, within U n sum |W| |d| (n = 4 terms).
    bound = 1.01 * U * 4 * (d.abs() @ w0.abs()).double()
    assert ((grad_x - x.grad).abs().double() <= 2 * bound).all()
    analog.step()
    plain.step()
    exact, tile_bound, torch_bound = _sgd_bounds(w0, x.detach(), d, lr)
    w1 = layer.get_weights()[0].double().numpy()
    assert (np.abs(w1 - exact) <= tile_bound).all()
    assert (np.abs(reference.weight.detach().double().numpy() - exact) <= torch_bound).all()
    # The digital bias: plain SGD on the gradient d summed over the batch, each sum within 16 U sum |d|
    # of exact, each step rounding once more.
    bound = 1.01 * (lr * 2 * 16 * U * d.abs().sum(0) + 2 * U * reference.bias.detach().abs())
    assert ((layer.bias.detach() - reference.bias.detach()).abs() <= bound).all()


def test_backward_passes_add_up_and_zero_grad_clears_them():
    """Two backward passes before a step update with both batches, vector after vector (exactly one
    update of the two batches in turn); a zero_grad after a backward pass, the optimiser's or the
    module's, leaves nothing to update."""
    torch.manual_seed(5)
    x1, x2, d1, d2 = torch.rand(3, 4), torch.rand(5, 4), torch.randn(3, 2), torch.randn(5, 2)
    a = AnalogLinear(4, 2, bias=False, backend=tile((2, 4), ideal=True))
    b = AnalogLinear(4, 2, bias=False, backend=tile((2, 4), ideal=True))
    b.set_weights(a.get_weights()[0])
    opt_a, opt_b = AnalogSGD(a.parameters(), lr=0.1), AnalogSGD(b.parameters(), lr=0.1)
    a(x1).backward(d1)
    a(x2).backward(d2)
    opt_a.step()
    b(torch.cat([x1, x2])).backward(torch.cat([d1, d2]))
    opt_b.step()
    assert torch.equal(a.get_weights()[0], b.get_weights()[0])
    w = a.get_weights()[0]
    opt_a.step()                                      # the stash was used up
    assert torch.equal(a.get_weights()[0], w)
    a(x1).backward(d1)
    opt_a.zero_grad()
    opt_a.step()
    assert torch.equal(a.get_weights()[0], w)
    a(x1).backward(d1)
    a.zero_grad()                                     # the module's own
    a(x2).backward(d2)
    opt_a.step()
    b.set_weights(w)
    b(x2).backward(d2)
    opt_b.step()
    assert torch.equal(a.get_weights()[0], b.get_weights()[0])
    with torch.no_grad():                             # evaluation stashes nothing
        a(x1)
    assert a._pending == []


def test_digital_parameters_get_plain_sgd():
    torch.manual_seed(6)
    net = torch.nn.Sequential(AnalogLinear(3, 5, backend=tile((5, 3), ideal=True)), torch.nn.Tanh(),
                              torch.nn.Linear(5, 2))
    digital = [net[0].bias.detach().clone(), net[2].weight.detach().clone(), net[2].bias.detach().clone()]
    opt = AnalogSGD(net.parameters(), lr=0.3)
    loss = torch.nn.functional.cross_entropy(net(torch.rand(8, 3)), torch.randint(0, 2, (8,)))
    loss.backward()
    grads = [net[0].bias.grad.clone(), net[2].weight.grad.clone(), net[2].bias.grad.clone()]
    assert torch.equal(net[0].analog_ctx.grad, torch.zeros(1))      # no weight gradient, none counted
    opt.step()
    copies = [torch.nn.Parameter(p) for p in digital]
    for c, g in zip(copies, grads):
        c.grad = g
    torch.optim.SGD(copies, lr=0.3).step()
    for c, p in zip(copies, (net[0].bias, net[2].weight, net[2].bias)):
        assert torch.equal(p.detach(), c.detach())


def test_on_the_default_device_the_mean_step_is_minus_lr_d_x():
    """R = 16 steps from W = 0, each over the same K = 256 samples (fresh pulse trains each time), on a
    16 x 16 tile of the default device: the mean change is -lr d x within its sampling error.

    Every sample asks for ``k = lr max|x| max|d| / dw_min = 0.2`` < desired_bl steps, so the update
    management takes BL = 1 and no probability reaches 1: a device's coincidences have the mean
    ``lr |d_i x_j| / dw_min`` and (binomial) at most that variance; each of its steps is ``dw_min g (1 +
    dw_min_std xi)``, with its gain ``g = 1 + dw_min_dtod z`` (+- ``up_down_dtod z'`` up or down). Every
    device here steps one way only (x > 0, one sign per row of d), so from W = 0 its change has the mean
    ``g E`` (E = -lr sum_b d_b x_b) and, over R steps, the variance at most
    ``(dw_min_dtod^2 + up_down_dtod^2) E^2 + dw_min (1 + dw_min_dtod^2) (1 + dw_min_std^2) |E| / R``;
    |E| <= 0.03 is inside a device's bound unless that lies 3.2 spreads below the nominal 0.6 (one device
    in about 1300; the bound's spread is 30 %). Devices of one row or column share
    its trains, so their pulse noise correlates: the fit's bound takes each row's and each column's
    devices as fully correlated (the sum of both), the device spreads as independent."""
    dev = RPUConfig().device
    layer = AnalogLinear(16, 16, bias=False, backend=tile((16, 16), "EMU-XB-STAT"))
    opt = AnalogSGD(layer.parameters(), lr=2e-4)
    rng = np.random.default_rng(11)
    k, r = 256, 16
    col = rng.uniform(0.4, 1.0, 16)
    row = rng.uniform(0.4, 1.0, 16) * rng.choice([-1.0, 1.0], 16)
    x = (col * rng.uniform(0.5, 1.0, (k, 16))).astype(np.float32)
    d = (row * rng.uniform(0.5, 1.0, (k, 16))).astype(np.float32)
    lr = 2e-4
    asked = lr * np.abs(x).max(1) * np.abs(d).max(1) / dev.dw_min
    assert asked.max() <= RPUConfig().update.desired_bl
    expected = -lr * d.astype(np.float64).T @ x.astype(np.float64)
    assert np.abs(expected).max() <= 0.03
    changes = []
    for _ in range(r):
        layer.set_weights(torch.zeros(16, 16))
        opt.zero_grad()
        layer(torch.tensor(x)).backward(torch.tensor(d))
        opt.step()
        changes.append(layer.get_weights()[0].double().numpy())
    mean = np.mean(changes, axis=0)
    spread = dev.dw_min_dtod ** 2 + dev.up_down_dtod ** 2
    pulses = dev.dw_min * (1 + dev.dw_min_dtod ** 2) * (1 + dev.dw_min_std ** 2) * np.abs(expected) / r
    z = (mean - expected) / np.sqrt(spread * expected ** 2 + pulses)
    assert np.abs(z).max() <= 5, np.abs(z).max()
    # The fit of the mean change to E: slope 1 within 5 of its standard deviations.
    sigma = np.sqrt(pulses)
    var = spread * (expected ** 4).sum() + ((np.abs(expected) * sigma).sum(1) ** 2).sum() + \
        ((np.abs(expected) * sigma).sum(0) ** 2).sum()
    slope = (mean * expected).sum() / (expected ** 2).sum()
    assert abs(slope - 1) <= 5 * np.sqrt(var) / (expected ** 2).sum(), (slope, np.sqrt(var) / (expected ** 2).sum())


# -- weights, state, refusals ----------------------------------------------------------------------------

def test_weights_state_dict_and_copies():
    a = AnalogLinear(4, 3, backend=tile((3, 4), ideal=True))
    b = AnalogLinear(4, 3, backend=tile((3, 4), "EMU-XB-T004", ideal=True))
    w = torch.linspace(-0.5, 0.5, 12).reshape(3, 4)
    a.set_weights(w, torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(a.get_weights()[0], w) and torch.equal(a.bias.detach(), torch.tensor([1.0, 2.0, 3.0]))
    b.load_state_dict(a.state_dict())
    assert torch.equal(b.get_weights()[0], w) and torch.equal(b.bias.detach(), a.bias.detach())
    with pytest.raises(Unsupported):
        import copy
        copy.deepcopy(torch.nn.Sequential(a))
    # A mismatched tile holds what its devices can: within their own bounds.
    c = AnalogLinear(4, 3)
    c.set_weights(torch.full((3, 4), 0.55))
    held = c.get_weights()[0]
    assert (held <= 0.55).all() and (held > 0).all()
    blind = AnalogLinear(4, 3, backend=Limited(tile((3, 4)), readback=False))
    with pytest.raises(Unsupported, match="readback"):
        blind.get_weights()
    assert blind.state_dict()["_extra_state"] == {"weight": None}


@pytest.mark.parametrize("make, field", [
    (lambda: torch.rand(2, 4), "input"),                           # in_features is 5
    (lambda: torch.rand(2, 5).index_put_((torch.tensor(1), torch.tensor(2)), torch.tensor(float("nan"))),
     "input[1, 2]"),
    (lambda: torch.ones(2, 5, dtype=torch.int64), "input"),
    (lambda: [[0.0] * 5], "input"),
    (lambda: torch.full((2, 5), 2e6), "input[0, 0]"),
])
def test_bad_inputs_are_refused(make, field):
    layer = AnalogLinear(5, 3)
    with pytest.raises(InvalidValue) as info:
        layer(make())
    assert info.value.field == field


def test_bad_construction_weights_and_learning_rates_are_refused():
    cases = [
        (lambda: AnalogLinear(0, 3), "in_features"),
        (lambda: AnalogLinear(4, 3, rpu_config="default"), "rpu_config"),
        (lambda: AnalogLinear(4, 3, backend=hil.backend.open("emulator")), "backend"),      # a bss2 chip
        (lambda: AnalogLinear(4, 3, backend=tile((2, 4))), "backend"),                     # too small
        (lambda: AnalogLinear(4, 3, backend=tile((3, 4)), serial="EMU-XB-9"), "serial"),
        (lambda: AnalogLinear(4, 3).set_weights(torch.zeros(4, 3)), "weight"),
        (lambda: AnalogLinear(4, 3).set_weights(torch.full((3, 4), 0.7)), "weight[0, 0]"),  # beyond 0.6
        (lambda: AnalogLinear(4, 3, bias=False).set_weights(torch.zeros(3, 4), torch.zeros(3)), "bias"),
        (lambda: AnalogSGD(AnalogLinear(4, 3).parameters(), lr=0), "lr"),
        (lambda: AnalogSGD(AnalogLinear(4, 3).parameters(), lr=float("nan")), "lr"),
    ]
    for make, field in cases:
        with pytest.raises(InvalidValue) as info:
            make()
        assert info.value.field == field
    layer = AnalogLinear(4, 3)
    with pytest.raises(InvalidValue) as info:
        layer(torch.rand(2, 4)).backward(torch.tensor([[0.0, float("nan"), 0.0], [0.0] * 3]))
    assert info.value.field == "grad_output[0, 1]"


# -- the example ---------------------------------------------------------------------------------------------

def test_the_example_runs_quick_and_learns():
    """``--quick``: 1000 training and 500 test samples, 12 epochs (93.4 % on perfect tiles and in float
    torch, 85.8 % on the default device where this was written). The perfect tile computes float torch's
    numbers up to float32 rounding, so it learns what float torch learns: both above 0.8, 22 standard
    deviations of chance's accuracy on 500 samples (sqrt(1/3 2/3 / 500) = 0.021) above 1/3 and clear of
    the 0.6 or so a network reaches that tells only yin from yang, and within 15 test samples (0.03) of
    each other (rounding can flip a few decisions). The default device, with its noise, 7- and 9-bit
    converters and 30 % spreads, learns too: above 0.6, 13 standard deviations above chance."""
    done = subprocess.run([sys.executable, str(REPO / "examples" / "crossbar_mlp.py"), "--quick"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    acc = {k: float(v) / 100 for k, v in re.findall(r"^\s*(.+?): test accuracy\s+([\d.]+) %", done.stdout, re.M)}
    assert set(acc) == {"perfect tile", "default device", "float torch"}, done.stdout
    assert acc["perfect tile"] > 0.8 and acc["float torch"] > 0.8, acc
    assert abs(acc["perfect tile"] - acc["float torch"]) <= 0.03, acc
    assert acc["default device"] > 0.6, acc


# -- over the board protocol --------------------------------------------------------------------------------

def test_a_training_step_over_a_board_is_the_emulated_tiles():
    """A 4 x 6 layer on a virtual board's 5 x 8 tile (``hil serve --family crossbar --shape 5x8``, over
    TCP) and on an emulated tile of the same serial and shape: the same forward, input gradient and
    weights after a step, exactly (the board carries float32 both ways), at the same run counter."""
    from hil.server.process import BoardProcess

    with BoardProcess(family="crossbar", serial="EMU-XB-B001", extra_args=("--shape", "5x8")) as proc, \
            hil.backend.open("board", resource=proc.resource, family="crossbar") as board:
        results = []
        for backend in (board, tile((5, 8), "EMU-XB-B001")):
            torch.manual_seed(8)
            layer = AnalogLinear(6, 4, backend=backend)
            opt = AnalogSGD(layer.parameters(), lr=0.1)
            x = torch.rand(7, 6, requires_grad=True)
            y = layer(x)
            torch.nn.functional.mse_loss(y, torch.zeros(7, 4)).backward()
            opt.step()
            results.append((y.detach(), x.grad, *layer.get_weights(), backend.run_counter))
        assert results[0][-1] == results[1][-1] == 3
        for ours, emulated in zip(results[0][:-1], results[1][:-1]):
            assert torch.equal(ours, emulated)
