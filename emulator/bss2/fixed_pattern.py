"""Fixed-pattern deviations of one virtual chip, drawn once from its seed.

Every number a physical chip would carry in its transistors' mismatch lives
here, in the units the rest of the emulator uses:

* activations, pulse lengths: activation units (one unit = the nominal pulse of
  activation 1);
* membrane values: CADC LSB relative to the reset (baseline) level;
* CADC: codes.

The spreads are the emulator's own choice, documented in ``docs/chip_model.md``;
they are tuned so that the seed example (input 15 on 100 rows, weight 21,
one send) reads about 55..63 on every neuron.
"""
import dataclasses
from dataclasses import dataclass

import numpy as np

from . import geometry as g

NOMINAL_GAIN = 0.0019
"""Output LSB per (activation x weight x send) of a nominal chip."""

NOMINAL_BASELINE = 128.0
"""CADC code of the membrane after reset on a nominal neuron."""

TRIM_NOMINAL = 32
TRIM_STEP = 0.1
"""Pulse-length change per driver offset-trim step, activation units."""


@dataclass(frozen=True, eq=False)
class FixedPattern:
    """The mismatch of one chip. Arrays are read-only."""

    gain: float
    """Chip gain, output LSB per (activation x weight x send)."""
    driver_gain: np.ndarray
    """(2, 128) slope of each driver's activation-to-pulse curve, relative."""
    driver_offset: np.ndarray
    """(2, 128) pulse-length offset of each driver at trim 32, activation units."""
    driver_curvature: np.ndarray
    """(2, 128) quadratic term of the pulse curve, relative at full scale."""
    synapse_gain: np.ndarray
    """(2, 256, 256) weight-DAC gain of each synapse (hemisphere, row, column), relative."""
    line_attenuation: np.ndarray
    """(2,) loss of a pulse per unit distance along a row, relative at the far end."""
    neuron_gain: np.ndarray
    """(512,) integration gain of each neuron, relative."""
    baseline: np.ndarray
    """(512,) membrane reset level, CADC LSB."""
    knee_pos: np.ndarray
    """(512,) excursion above baseline where the membrane starts to compress, LSB."""
    knee_neg: np.ndarray
    """(512,) excursion below baseline where the membrane starts to compress, LSB (< 0)."""
    rail_pos: np.ndarray
    """(512,) asymptote of the membrane above baseline, LSB."""
    rail_neg: np.ndarray
    """(512,) asymptote of the membrane below baseline, LSB (< 0)."""
    sigma_read: np.ndarray
    """(512,) temporal noise of a membrane read, LSB."""
    sigma_base: np.ndarray
    """(512,) temporal noise of a baseline read, LSB."""
    cadc_offset: np.ndarray
    """(512,) offset of each CADC channel, codes."""
    cadc_slope: np.ndarray
    """(512,) slope of each CADC channel, codes per LSB."""
    tau_leak: float
    """Residual membrane leak time constant in MAC mode, seconds (inf: no leak)."""
    capmem_offset: np.ndarray
    """(512,) offset of each neuron's CapMem-set resting level, CADC LSB (CADC ramp mode)."""
    capmem_gain: np.ndarray
    """(512,) slope of each neuron's CapMem-to-membrane map, relative (CADC ramp mode)."""


def _frozen(a) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def row_distance() -> np.ndarray:
    """(256,) distance of each column from the drivers, 0 (next to them) .. 1 (far edge).

    The drivers sit in the middle of a hemisphere, between columns 127 and 128,
    so a row's synapses are farther from its driver the closer they are to an edge.
    """
    c = np.arange(g.COLUMNS_PER_HEMISPHERE)
    centre = (g.COLUMNS_PER_HEMISPHERE - 1) / 2
    return np.abs(c - centre) / centre


def draw(seed: int) -> FixedPattern:
    """Draws the mismatch of the chip with this seed; the same seed gives the same chip."""
    rng = np.random.Generator(np.random.PCG64(seed))
    h, d, r, c, n = (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE, g.ROWS_PER_HEMISPHERE,
                     g.COLUMNS_PER_HEMISPHERE, g.NEURONS)
    attenuation = 0.04 * (1.0 + 0.2 * rng.standard_normal(h))
    # Normalise the chip gain by the mean line loss so that the average neuron
    # reads the nominal gain; the loss then shows as a spatial pattern only.
    gain = NOMINAL_GAIN * (1.0 + 0.02 * rng.standard_normal()) / (1.0 - attenuation.mean() / 2)
    knee_pos = 92.0 + 6.0 * rng.standard_normal(n)
    knee_neg = -(92.0 + 6.0 * rng.standard_normal(n))
    return FixedPattern(
        gain=float(gain),
        driver_gain=_frozen(1.0 + 0.02 * rng.standard_normal((h, d))),
        driver_offset=_frozen(0.6 * rng.standard_normal((h, d))),
        driver_curvature=_frozen(0.03 * rng.standard_normal((h, d))),
        synapse_gain=_frozen((1.0 + 0.04 * rng.standard_normal((h, r, c))).astype(np.float32)),
        line_attenuation=_frozen(attenuation),
        neuron_gain=_frozen(1.0 + 0.02 * rng.standard_normal(n)),
        baseline=_frozen(NOMINAL_BASELINE + 3.0 * rng.standard_normal(n)),
        knee_pos=_frozen(np.maximum(knee_pos, 75.0)),
        knee_neg=_frozen(np.minimum(knee_neg, -75.0)),
        rail_pos=_frozen(np.maximum(knee_pos, 75.0) + 45.0 + 6.0 * np.abs(rng.standard_normal(n))),
        rail_neg=_frozen(np.minimum(knee_neg, -75.0) - 45.0 - 6.0 * np.abs(rng.standard_normal(n))),
        sigma_read=_frozen(1.75 * (1.0 + 0.08 * rng.standard_normal(n))),
        sigma_base=_frozen(0.9 * (1.0 + 0.08 * rng.standard_normal(n))),
        cadc_offset=_frozen(1.5 * rng.standard_normal(n)),
        cadc_slope=_frozen(1.0 + 0.015 * rng.standard_normal(n)),
        tau_leak=float(4e-3 * (1.0 + 0.1 * rng.standard_normal())),
        # Drawn last, so that every earlier draw (and so every chip drawn before
        # the CADC ramp mode existed) keeps its values.
        capmem_offset=_frozen(1.0 * rng.standard_normal(n)),
        capmem_gain=_frozen(1.0 + 0.01 * rng.standard_normal(n)),
    )


def ideal() -> FixedPattern:
    """A chip without mismatch, noise or compression: only the quantization is left."""
    h, d, r, c, n = (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE, g.ROWS_PER_HEMISPHERE,
                     g.COLUMNS_PER_HEMISPHERE, g.NEURONS)
    return FixedPattern(
        gain=NOMINAL_GAIN,
        driver_gain=_frozen(np.ones((h, d))),
        driver_offset=_frozen(np.zeros((h, d))),
        driver_curvature=_frozen(np.zeros((h, d))),
        synapse_gain=_frozen(np.ones((h, r, c), np.float32)),
        line_attenuation=_frozen(np.zeros(h)),
        neuron_gain=_frozen(np.ones(n)),
        baseline=_frozen(np.full(n, NOMINAL_BASELINE)),
        knee_pos=_frozen(np.full(n, np.inf)),
        knee_neg=_frozen(np.full(n, -np.inf)),
        rail_pos=_frozen(np.full(n, np.inf)),
        rail_neg=_frozen(np.full(n, -np.inf)),
        sigma_read=_frozen(np.zeros(n)),
        sigma_base=_frozen(np.zeros(n)),
        cadc_offset=_frozen(np.zeros(n)),
        cadc_slope=_frozen(np.ones(n)),
        tau_leak=float("inf"),
        capmem_offset=_frozen(np.zeros(n)),
        capmem_gain=_frozen(np.ones(n)),
    )


def with_cadc_faults(pattern: FixedPattern, offsets: tuple, slopes: tuple) -> FixedPattern:
    """``pattern`` with CADC channels out of range: (neuron, extra offset in codes) and (neuron,
    factor on the slope) pairs (``emulator.bss2.Faults.cadc_offsets``, ``cadc_slopes``)."""
    if not offsets and not slopes:
        return pattern
    offset, slope = np.array(pattern.cadc_offset, np.float64), np.array(pattern.cadc_slope, np.float64)
    for n, extra in offsets:
        offset[n] += extra
    for n, factor in slopes:
        slope[n] *= factor
    return dataclasses.replace(pattern, cadc_offset=_frozen(offset), cadc_slope=_frozen(slope))
