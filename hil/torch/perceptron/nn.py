"""Layers whose multiply-accumulate runs on the chip (or its mock model): drop-in
companions of ``torch.nn`` (docs/torch.md#layers).

A layer's weights are in the chip's units (-63..63) and its outputs in its int8 LSB.
``num_sends=None`` picks the sends from the mock gain and the fan-in, so that a freshly
initialised layer uses the output range well; the weights are clamped to +-63 (and a
bias to the int8 range) in place before every forward pass, so every optimiser step's
result is clamped before the chip sees it and the next step starts from it.
"""
import math
from typing import Callable

import torch

from emulator.bss2 import geometry as g

from ...contract import validation
from ...contract.errors import InvalidValue
from . import functional as F
from .mock import get_mock_parameter

RELU_SHIFT = 1
"""The ConvertingReLU shift a layer's initialisation assumes follows it (as in the seed model)."""


def clamp_weight_(weight: torch.Tensor) -> torch.Tensor:
    """The default weight transform: ``weight`` clamped in place into -63..63, returned."""
    with torch.no_grad():
        weight.clamp_(-F.WEIGHT_MAX, F.WEIGHT_MAX)
    return weight


def clamp_bias_(bias: torch.Tensor) -> torch.Tensor:
    """``bias`` (output LSB) clamped in place into the int8 range -128..127, returned."""
    with torch.no_grad():
        bias.clamp_(*F.INT8)
    return bias


class _MAC:
    """What every MAC layer has: sends, wait, mock flag, transforms, and the initialisation."""

    def _mac_options(self, num_sends, wait_between_events, mock, input_transform, weight_transform):
        self.num_sends = None if num_sends is None else validation.integer(
            "num_sends", num_sends, lo=1, hi=g.NUM_SENDS_MAX)
        self.wait_between_events = validation.integer("wait_between_events", wait_between_events,
                                                      lo=0, hi=g.WAIT_BETWEEN_EVENTS_MAX)
        self.mock = bool(mock)
        self.input_transform = input_transform
        self.weight_transform = weight_transform

    def _initialise(self) -> None:
        """He initialisation in chip units: an input of spread ``31 / sqrt(3)`` (uniform over
        0..31) gives outputs of spread about ``sqrt(2) * 2**RELU_SHIFT * 31 / sqrt(3)`` LSB
        (50 LSB), which the following ConvertingReLU brings back into 0..31.

        The product ``num_sends * weight`` needs the spread ``sqrt(2) * 2**RELU_SHIFT / (gain *
        sqrt(fan_in))``; ``num_sends`` (if None) is the fewest sends that keep the weights'
        spread within 21 (a third of 63, so that 3 sigma fit the range). The bias (LSB) is
        uniform within the output spread over ``sqrt(fan_in)``, as torch.nn scales its own.
        """
        fan_in = self.weight[0].numel()
        total = math.sqrt(2.0) * 2 ** RELU_SHIFT / (get_mock_parameter().gain * math.sqrt(fan_in))
        if self.num_sends is None:
            self.num_sends = min(max(1, math.ceil(total / (F.WEIGHT_MAX / 3))), g.NUM_SENDS_MAX)
        with torch.no_grad():
            torch.nn.init.trunc_normal_(self.weight, 0.0, total / self.num_sends, -F.WEIGHT_MAX, F.WEIGHT_MAX)
            if self.bias is not None:
                spread = math.sqrt(2.0) * 2 ** RELU_SHIFT * F.INPUT_MAX / math.sqrt(3.0)
                bound = min(spread / math.sqrt(fan_in), F.INT8[1])
                self.bias.uniform_(-bound, bound)

    def _operands(self, input):
        weight = self.weight if self.weight_transform is None else self.weight_transform(self.weight)
        if self.input_transform is not None:
            input = self.input_transform(input)
        bias = None if self.bias is None else clamp_bias_(self.bias)
        return input, weight, bias

    def _mac_repr(self) -> str:
        return f"num_sends={self.num_sends}, mock={self.mock}"


class Linear(_MAC, torch.nn.Linear):
    """``torch.nn.Linear`` on the chip: ``y = add(matmul(x, W.T), bias)``, int8.

    in_features: inputs (rows), >= 1; out_features: outputs, >= 1.
    bias: learn an additive bias in output LSB (clamped to -128..127).
    num_sends: sends per input vector, 1..1024; None chooses it from the mock gain and the fan-in.
    wait_between_events: FPGA cycles (8 ns) between events, 0..4095.
    mock: run the linear model instead of the active backend.
    avg: each output is computed on ``avg`` neurons (1..64) with the same weights and
        averaged: less noise (by sqrt(avg)), at ``avg`` times the columns.
    input_transform / weight_transform: applied to the input / weight before the chip
        sees them; the default weight transform clamps the weight in place to +-63.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, num_sends: int | None = None,
                 wait_between_events: int = 5, mock: bool = False, *, avg: int = 1,
                 input_transform: Callable | None = None, weight_transform: Callable | None = clamp_weight_):
        self._mac_options(num_sends, wait_between_events, mock, input_transform, weight_transform)
        self.avg = validation.integer("avg", avg, lo=1, hi=64)
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            validation.integer(name, n, lo=1, hi=2**24)
        torch.nn.Linear.__init__(self, in_features, out_features, bias)

    def reset_parameters(self) -> None:
        self._initialise()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        input, weight, bias = self._operands(input)
        # Leading dimensions fold into the batch, as for torch.nn.Linear.
        x = input.reshape(-1, self.in_features) if input.dim() != 2 else input
        out = F.linear(x, weight, bias, self.num_sends, self.wait_between_events, self.mock, self.avg)
        return out if input.dim() == 2 else out.reshape(*input.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, {self._mac_repr()}" + (f", avg={self.avg}" if self.avg > 1 else ""))


class _Conv(_MAC):
    """im2col on the host, ``matmul`` on the chip: each output position is one input vector.
    A subclass names its spatial dimensions (``_spatial``) and its torch layer as its second base."""

    _spatial: int

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", num_sends: int | None = None,
                 wait_between_events: int = 5, mock: bool = False, *, input_transform: Callable | None = None,
                 weight_transform: Callable | None = clamp_weight_):
        self._mac_options(num_sends, wait_between_events, mock, input_transform, weight_transform)
        self._check_conv(padding_mode, groups)
        # the torch layer behind _Conv in the subclass's bases (Conv1d or Conv2d)
        super(_MAC, self).__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                                   groups, bias, padding_mode)

    def reset_parameters(self) -> None:
        self._initialise()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self._convolve(input, self._spatial)

    def _check_conv(self, padding_mode: str, groups: int) -> None:
        if padding_mode != "zeros":
            raise InvalidValue("padding_mode", f"{padding_mode!r}; the chip's layers pad with zeros only "
                                               "(an input 0 sends no event)")
        if groups != 1:
            raise InvalidValue("groups", f"{groups}; the chip's layers support groups=1 only")

    def _convolve(self, input: torch.Tensor, spatial: int) -> torch.Tensor:
        input, weight, bias = self._operands(input)
        if input.dim() != spatial + 2:
            raise InvalidValue("input", f"has shape {tuple(input.shape)}; expected (batch, channels"
                                        f"{', length' if spatial == 1 else ', height, width'})")
        x = input if spatial == 2 else input.unsqueeze(2)
        k = self.kernel_size if spatial == 2 else (1, *self.kernel_size)
        pad = self.padding if spatial == 2 else (0, *self.padding)
        stride = self.stride if spatial == 2 else (1, *self.stride)
        dilation = self.dilation if spatial == 2 else (1, *self.dilation)
        cols = torch.nn.functional.unfold(x, k, dilation=dilation, padding=pad, stride=stride)  # (N, C*k, L)
        W = weight.reshape(self.out_channels, -1).t()
        out = F.matmul(cols.transpose(1, 2), W, num_sends=self.num_sends,
                       wait_between_events=self.wait_between_events, mock=self.mock)   # (N, L, out)
        if bias is not None:
            out = F.add(out, bias)
        size = [(x.shape[2 + d] + 2 * pad[d] - dilation[d] * (k[d] - 1) - 1) // stride[d] + 1 for d in range(2)]
        out = out.transpose(1, 2).reshape(input.shape[0], self.out_channels, *size)
        return out if spatial == 2 else out.squeeze(2)

    def extra_repr(self) -> str:
        return f"{torch.nn.modules.conv._ConvNd.extra_repr(self)}, {self._mac_repr()}"


class Conv1d(_Conv, torch.nn.Conv1d):
    """``torch.nn.Conv1d`` on the chip (zero padding, groups=1); options as :class:`Linear`."""

    _spatial = 1


class Conv2d(_Conv, torch.nn.Conv2d):
    """``torch.nn.Conv2d`` on the chip (zero padding, groups=1); options as :class:`Linear`."""

    _spatial = 2


class ReLU(torch.nn.Module):
    """:func:`hil.torch.perceptron.relu` as a layer. ``mock`` is accepted for the API users
    know; the operation is digital and the same either way."""

    def __init__(self, mock: bool = False):
        super().__init__()
        self.mock = bool(mock)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return f"mock={self.mock}"


class ConvertingReLU(ReLU):
    """:func:`hil.torch.perceptron.converting_relu` as a layer: int8 to the inputs 0..31,
    shifted right by ``shift`` bits (0..7)."""

    def __init__(self, shift: int = 2, mock: bool = False):
        super().__init__(mock)
        self.shift = validation.integer("shift", shift, lo=0, hi=7)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.converting_relu(input, self.shift)

    def extra_repr(self) -> str:
        return f"shift={self.shift}, mock={self.mock}"
