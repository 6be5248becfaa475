"""Analytical models of the bss2 chip, and the specification they are judged with.

The MAC model is the linear model the hxtorch stack uses for the backward pass
and its "mock mode":

    y = clamp(floor(gain * num_sends * x . W + noise), -128, 127)

per 128-row block; blocks are summed digitally and clamped to int8 again.
"""
from dataclasses import dataclass

import numpy as np

from emulator.bss2 import geometry as g

from ..contract import validation

NOMINAL_GAIN = 0.0019
"""Output LSB per (activation x weight x send); hxtorch's default is 0.002, and the
seed example (15 x 21 x 100 rows, one send) reads 55..63, mean 58.6, i.e. 0.00186
(docs/chip_model.md#numbers-and-their-sources, row nominal gain)."""
NOMINAL_NOISE = 2.0
"""Temporal noise at the output, LSB: hxtorch's default, 2 LSB
(docs/chip_model.md#numbers-and-their-sources, row temporal noise)."""


@dataclass(frozen=True)
class MacModel:
    """The linear MAC model with its two parameters."""

    gain: float = NOMINAL_GAIN
    """Output LSB per (activation x weight x send), > 0."""
    noise_std: float = NOMINAL_NOISE
    """Standard deviation of the Gaussian output noise, LSB, >= 0."""

    def __post_init__(self):
        validation.real("gain", self.gain, lo=1e-9, hi=1.0)
        validation.real("noise_std", self.noise_std, lo=0.0, hi=1000.0)

    def expectation(self, x, W, num_sends: int = 1) -> np.ndarray:
        """Noiseless, unquantized output ``gain * num_sends * x . W`` per 128-row block.

        Returns (blocks, batch, cols) float64, before floor and clamp.
        """
        x, W = np.atleast_2d(np.asarray(x, np.float64)), np.asarray(W, np.float64)
        blocks = []
        for r0 in range(0, W.shape[0], g.MAC_INPUTS):
            acc = x[:, r0:r0 + g.MAC_INPUTS] @ W[r0:r0 + g.MAC_INPUTS]
            # (gain * num_sends) first: the emulator evaluates the same product in
            # the same order, so the ideal chip matches bit for bit.
            blocks.append((self.gain * num_sends) * acc)
        return np.stack(blocks)

    def predict(self, x, W, num_sends: int = 1, rng: np.random.Generator | None = None) -> np.ndarray:
        """The model's int output for inputs x ((rows,) or (batch, rows)) and weights W (rows, cols).

        Without ``rng`` the noise term is zero (the ideal chip's exact output);
        with it, Gaussian noise of ``noise_std`` is added per block.
        """
        x_arr = np.asarray(x)
        y = self.expectation(x_arr, W, num_sends)
        if rng is not None and self.noise_std > 0:
            y = y + rng.normal(0.0, self.noise_std, y.shape)
        blocks = np.clip(np.floor(y), g.OUTPUT_MIN, g.OUTPUT_MAX)
        out = np.clip(blocks.sum(axis=0), g.OUTPUT_MIN, g.OUTPUT_MAX).astype(np.int64)
        return out[0] if x_arr.ndim == 1 else out

    def output_variance(self) -> float:
        """Variance of one output around its expectation: noise plus the floor's quantization."""
        return self.noise_std**2 + 1.0 / 12.0


@dataclass(frozen=True)
class MacSpec:
    """What a healthy chip must meet in MAC mode; each number says where it comes from.

    Each field's public source, or the reasoning for a project choice, is the row
    of its name in docs/chip_model.md#numbers-and-their-sources.

    These are the judged limits of the MAC experiments where the limit is a
    specification rather than a statistical consequence of the model's noise.
    """

    model: MacModel = MacModel()
    gain_tolerance: float = 0.10
    """Allowed relative deviation of the chip gain from the model gain (chip-to-chip
    spread after calibration)."""
    noise_tolerance: float = 0.25
    """Allowed relative deviation of the chip's mean noise from the model noise."""
    noise_max: float = 3.5
    """No neuron may be noisier than this, LSB."""
    neuron_spread_max: float = 0.06
    """Largest allowed relative spread (std / mean) of the neurons' outputs at one input."""
    row_spread_max: float = 0.06
    """Largest allowed relative spread of the rows' (drivers') contributions."""
    linear_range: float = 80.0
    """Output must be linear within +-this many LSB: roughly linear between -80 and +80 in the
    MAC tutorial (docs/chip_model.md#numbers-and-their-sources, row linear range)."""
    distance_slope_max: float = 0.10
    """Largest allowed relative output change from next to the drivers to the far edge."""
    input_inl_max: float = 0.03
    """Largest allowed deviation from linearity over the input sweep, relative to full scale."""
    dead_neurons_max: int = 0
    """A healthy chip has no dead neuron (one that does not integrate)."""


DEFAULT_SPEC = MacSpec()


@dataclass(frozen=True)
class CadcRampModel:
    """The CADC as an ideal ramp ADC, read in the CADC ramp mode.

    A neuron at rest on CapMem level l (0..1022) reads
    ``clamp(floor((l - 128) / 3), 0, 255)``: one code per 3 levels, and a full
    ramp overdrives both ends of the 8-bit range (docs/chip_model.md).
    """

    def codes(self, levels) -> np.ndarray:
        """The ideal code of each CapMem level (int64, same shape)."""
        lv = np.asarray(levels, np.int64)
        return np.clip((lv - g.CADC_RAMP_LEVEL_AT_ZERO) // g.CADC_RAMP_LEVELS_PER_CODE, 0, g.CADC_CODES - 1)

    def histogram(self, levels, repeats: int = 1) -> np.ndarray:
        """(256,) hits per code of one channel over ``levels``, each read ``repeats`` times."""
        return np.bincount(self.codes(levels).ravel(), minlength=g.CADC_CODES) * int(repeats)
