"""The mock parameters: the linear model of the chip's MAC that the backward pass
(always) and the mock mode (``mock=True``) use.

    y = clamp(floor(gain * num_sends * x . W + N(0, noise_std)), -128, 127)

per block of 128 rows; the blocks' int8 results are summed and clamped to int8
again (docs/torch.md#mock-mode). The defaults are the published ones
(docs/chip_model.md#numbers-and-their-sources, rows nominal gain and temporal noise).
"""
import math
import threading
from dataclasses import dataclass

import torch

from emulator.bss2 import geometry as g

from ...contract import validation
from ...contract.errors import InvalidValue

BLOCK_ROWS = g.MAC_INPUTS
"""Rows of one block of the model (and of one chip run): 128 logical inputs."""


@dataclass(frozen=True)
class MockParameter:
    """Gain and noise of the linear model of the MAC."""

    noise_std: float = 2.0
    """Standard deviation of the Gaussian noise added to each block's output, LSB, >= 0
    (the published default, 2 LSB)."""
    gain: float = 0.002
    """Output LSB per (activation x weight x send), in (0, 1] (the published default, 0.002)."""

    def __post_init__(self):
        validation.real("noise_std", self.noise_std, lo=0.0, hi=1000.0)
        # Open at 0: a gain of 0 would make every gradient vanish.
        if not 0.0 < validation.real("gain", self.gain, lo=-math.inf, hi=math.inf) <= 1.0:
            raise InvalidValue("gain", f"{self.gain!r} is outside the allowed range (0, 1]")


_lock = threading.Lock()
_parameter = MockParameter()


def get_mock_parameter() -> MockParameter:
    """The mock parameters in use (for the mock mode and every backward pass)."""
    return _parameter


def set_mock_parameter(parameter: MockParameter) -> None:
    """Uses ``parameter`` from now on; refuses anything but a :class:`MockParameter`
    (whose gain lies in (0, 1] by construction)."""
    global _parameter
    if not isinstance(parameter, MockParameter):
        raise InvalidValue("parameter", f"{parameter!r} is not a hil.torch.perceptron.MockParameter")
    with _lock:
        _parameter = parameter


def mock_product(x: torch.Tensor, W: torch.Tensor, num_sends: int, parameter: MockParameter) -> torch.Tensor:
    """The model's output for checked, rounded operands: x (batch, rows) 0..31, W (rows, cols)
    -63..63, float32. Returns (batch, cols) float32, integers -128..127.

    The noise is one ``torch.normal`` draw of shape (batch, cols) per block, in block order,
    from torch's default generator: ``torch.manual_seed`` makes it reproducible.
    """
    scale = float(num_sends) * parameter.gain
    total = None
    for r0 in range(0, x.shape[1], BLOCK_ROWS):
        y = (x[:, r0:r0 + BLOCK_ROWS] @ W[r0:r0 + BLOCK_ROWS]).mul_(scale)
        if parameter.noise_std > 0:
            y.add_(torch.normal(0.0, parameter.noise_std, y.shape))
        y.floor_().clamp_(g.OUTPUT_MIN, g.OUTPUT_MAX)
        total = y if total is None else total.add_(y)
    return total.clamp_(g.OUTPUT_MIN, g.OUTPUT_MAX)
