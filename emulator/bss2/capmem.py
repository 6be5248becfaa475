"""The capacitive memory (CapMem), and the membrane level a CapMem cell sets.

Every analog parameter of a neuron is held in a 10-bit CapMem cell, levels
0..1022. In the CADC ramp mode the resting (leak) potential of every neuron is
set from one such cell, the neuron gets no input, and its CADC channel reads
the membrane raw (no baseline subtracted). Sweeping the cell over its range is
a chip lab's code-density (histogram) test of the ADC.

The nominal map puts level 128 at the bottom of CADC code 0 and rises one code
per 3 levels, so a full ramp 0..1022 spans about -42.7..298 LSB and overdrives
the 8-bit CADC (codes 0..255) by some 43 codes at each end; the end codes then
collect the overrange and every inner code sees the same number of levels::

    membrane[n] = capmem_offset[n] + capmem_gain[n] * (level - 128) / 3     (CADC LSB)

``capmem_offset`` (about 1 LSB) and ``capmem_gain`` (about 1 %) are the
neuron's mismatch (``fixed_pattern.draw``). On the ideal chip they are 0 and 1,
and the CADC reads exactly ``clamp(floor((level - 128) / 3), 0, 255)``: the
division of an integer by 3 is correctly rounded in float64, so its floor is
exact.
"""
import numpy as np

from . import geometry as g
from .fixed_pattern import FixedPattern

LEVEL_MAX = g.CAPMEM_LEVEL_MAX
LEVEL_AT_ZERO = g.CADC_RAMP_LEVEL_AT_ZERO
LEVELS_PER_CODE = g.CADC_RAMP_LEVELS_PER_CODE


def nominal_membrane(levels: np.ndarray) -> np.ndarray:
    """The nominal neuron's resting membrane for CapMem ``levels`` (any shape), CADC LSB, float64."""
    return (np.asarray(levels, np.float64) - LEVEL_AT_ZERO) / LEVELS_PER_CODE


def membrane(pattern: FixedPattern, levels: np.ndarray) -> np.ndarray:
    """(k, 512) resting membrane of every neuron for the (k,) CapMem ``levels``, CADC LSB, float64."""
    return pattern.capmem_offset + pattern.capmem_gain * nominal_membrane(levels)[:, None]
