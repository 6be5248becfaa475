"""``measure_mock_parameter``: the gain and noise of the active backend, for the mock
model and the backward pass (docs/torch.md#measuring-the-mock-parameters)."""
import math

import torch

from emulator.bss2 import geometry as g

from . import backend
from .functional import INPUT_MAX, WEIGHT_MAX, matmul
from .mock import BLOCK_ROWS, MockParameter

ROWS, COLS = 256, 128
"""The measurement's matrix: 256 inputs (two blocks of 128 rows) x 128 outputs."""
WEIGHT = WEIGHT_MAX // 3
"""21: every weight, a third of the range."""
INPUT = INPUT_MAX // 2
"""15: every input that is not masked, half the range."""
TARGET = g.OUTPUT_MAX / 2
"""63.5 LSB: mid-range of the positive outputs, inside the linear range (+-80 LSB)."""
MASKING = 0.85
"""Each step of the density search keeps 0.85 times the previous step's inputs."""
STEPS = 20
"""Densities 0.85**0 .. 0.85**19 (1 .. 0.045) searched."""
BATCH = 50
"""Random input vectors at the chosen density: the samples of each output's noise."""


def measure_mock_parameter() -> MockParameter:
    """The gain and noise of the active backend, measured as the seed tutorials describe.

    Weights 21 on 256 inputs x 128 outputs; inputs 15, each kept with probability
    0.85**i (i = 0..19), one vector per density; the density whose median output is
    nearest 63.5 LSB is then used for 50 random vectors. The gain is the median ratio of
    the chip's outputs to the plain product; the noise the median over the outputs of
    their standard deviation around ``gain x plain product``, converted to the mock
    model's per-block noise: the 256 rows are two blocks, each with its own noise and
    floor, so ``noise_std**2 = sigma**2 / 2 - 1/12``.

    The masks come from torch's default generator (``torch.manual_seed``).
    """
    W = torch.full((ROWS, COLS), float(WEIGHT))
    density = MASKING ** torch.arange(STEPS, dtype=torch.float32)
    search = (torch.rand(STEPS, ROWS) < density[:, None]).to(torch.float32) * INPUT
    medians = matmul(search, W).median(dim=1).values
    best = int((medians - TARGET).abs().argmin())
    x = (torch.rand(BATCH, ROWS) < density[best]).to(torch.float32) * INPUT
    plain = x @ W
    measured = matmul(x, W)
    sent = plain > 0     # a vector with every input masked says nothing of the gain
    gain = float((measured[sent] / plain[sent]).median())
    sigma = float((measured - gain * plain).std(dim=0).median())
    blocks = math.ceil(ROWS / min(BLOCK_ROWS, *_device_rows()))
    noise = math.sqrt(max(sigma ** 2 / blocks - 1.0 / 12.0, 0.0))
    return MockParameter(noise_std=noise, gain=gain)


def _device_rows() -> list[int]:
    """Inputs per run of each active device (128 on the chip, fewer on a reduced RTL core)."""
    return [int(b.info().geometry["mac_inputs"]) for b in backend.active().backends]
