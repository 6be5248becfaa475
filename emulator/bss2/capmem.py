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


# -- spiking mode: the nominal transfer curves of the neurons' CapMem cells (docs/spiking.md) --

TAU_LEVEL = 200
"""Level at which a time-constant cell gives its reference time constant."""

VOLTAGES = ("leak", "reset", "threshold", "exp_threshold")
"""Cells holding a potential: ``(level - 128) / 3`` CADC LSB, as the CADC ramp mode's leak."""
TIMES = {"tau_mem": 10e-6, "tau_syn_exc": 10e-6, "tau_syn_inh": 10e-6, "tau_adaptation": 100e-6,
         "stp_recovery": 100e-6}
"""Cells holding a time constant (a bias current): ``tau_ref * 200 / max(level, 1)`` seconds:
a cell cannot turn its bias current off, level 0 gives the smallest, as level 1."""
LINEAR = {"i_const": 0.25, "adaptation_a": 2.0 / LEVEL_MAX, "adaptation_b": 20.0 / LEVEL_MAX,
          "exp_slope": 10.0 / LEVEL_MAX, "stp_utilization": 1.0 / LEVEL_MAX}
"""Cells holding a value proportional to the level: ``scale * level`` (i_const, b, dT in LSB)."""

DEFAULT_LEVELS = {"leak": 368, "reset": 368, "threshold": 503, "tau_mem": 200, "tau_syn_exc": 200,
                  "tau_syn_inh": 200, "i_const": 0, "adaptation_a": 0, "adaptation_b": 0,
                  "tau_adaptation": 200, "exp_slope": 0, "exp_threshold": 503}
"""The neurons' cells at power-on: leak 80, reset 80, threshold 125 LSB, 10 us time constants."""


def nominal_value(parameter: str, level) -> np.ndarray:
    """The nominal analog value of a cell of ``parameter`` at ``level`` (0..1022, any shape), float64:
    CADC LSB for potentials and currents, seconds for time constants."""
    level = np.asarray(level, np.float64)
    if parameter in VOLTAGES:
        return (level - LEVEL_AT_ZERO) / LEVELS_PER_CODE
    if parameter in TIMES:
        return TIMES[parameter] * TAU_LEVEL / np.maximum(level, 1)
    if parameter in LINEAR:
        return LINEAR[parameter] * level
    raise KeyError(f"no CapMem parameter {parameter!r}; known: {sorted(VOLTAGES + tuple(TIMES) + tuple(LINEAR))}")


def nominal_level(parameter: str, value) -> np.ndarray:
    """The level (int64, any shape) whose nominal value is nearest ``value``; a ValueError names a
    value no level reaches (a potential outside -42.7..298 LSB, a time constant below
    ``tau_ref * 200 / 1022``, ...)."""
    value = np.asarray(value, np.float64)
    if parameter in VOLTAGES:
        level = value * LEVELS_PER_CODE + LEVEL_AT_ZERO
    elif parameter in TIMES:
        with np.errstate(divide="ignore", invalid="ignore"):
            level = TIMES[parameter] * TAU_LEVEL / value
    elif parameter in LINEAR:
        level = value / LINEAR[parameter]
    else:
        nominal_value(parameter, 0)   # raises the KeyError naming the known parameters
    level = np.rint(level)
    bad = ~np.isfinite(level) | (level < (1 if parameter in TIMES else 0)) | (level > LEVEL_MAX)
    if bad.any():
        first = float(np.asarray(value).flat[int(np.flatnonzero(bad)[0])])
        lo, hi = sorted(float(nominal_value(parameter, x)) for x in (0 if parameter not in TIMES else 1, LEVEL_MAX))
        raise ValueError(f"{parameter}: {first!r} is outside what a CapMem cell sets ({lo:g}..{hi:g})")
    return level.astype(np.int64)
