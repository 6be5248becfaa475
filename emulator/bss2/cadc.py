"""The column ADC (CADC): one 8-bit ramp ADC channel per neuron.

Channel n reports ``floor(cadc_offset[n] + cadc_slope[n] * V)`` for a membrane
at V (CADC LSB, absolute), limited to 0..255. The code map models missing
codes: a missing code is reported as the nearest present code below it.
"""
import numpy as np

from . import geometry as g
from .fixed_pattern import FixedPattern


def code_map(missing_codes: tuple[int, ...]) -> np.ndarray:
    """(256,) uint8: the code reported for each true code."""
    m = np.arange(g.CADC_CODES, dtype=np.uint8)
    for code in sorted(missing_codes):   # ascending, so a run of missing codes falls to the code below it
        m[code] = m[code - 1]
    return m


def baseline_code_split(pattern: FixedPattern) -> tuple[np.ndarray, np.ndarray]:
    """The CADC input at the baseline, offset + slope * baseline, as integer and fraction.

    Kept apart so the C core adds the fraction to the membrane excursion before
    the floor: for the ideal chip (integer baseline, slope 1) the result is then
    exactly ``baseline + floor(excursion)``.
    """
    level = pattern.cadc_offset + pattern.cadc_slope * pattern.baseline
    whole = np.floor(level)
    return whole, level - whole


def read_raw(pattern: FixedPattern, membrane: np.ndarray, code_map: np.ndarray) -> np.ndarray:
    """Raw codes of a read of ``membrane`` ((k, 512), CADC LSB, absolute, noise included).

    ``code_map[clip(floor(cadc_offset + cadc_slope * membrane), 0, 255)]`` as uint8,
    in float64 (the CADC ramp mode is numpy, not the C core).
    """
    x = np.floor(pattern.cadc_offset + pattern.cadc_slope * membrane)
    codes = np.clip(x, 0, g.CADC_CODES - 1).astype(np.intp)
    return np.asarray(code_map, np.uint8)[codes]
