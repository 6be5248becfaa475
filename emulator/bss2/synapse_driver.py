"""Synapse drivers: each turns a 5-bit activation into a pulse length.

In MAC mode the activation rides in the low 5 bits of the event address; the
driver's DAC turns it into the length of the pulse it puts on its two rows.
Each driver has its own gain, offset and curvature; a 6-bit offset trim
(0..63, nominal 32) shifts its offset in steps of ``TRIM_STEP``.
"""
import numpy as np

from . import geometry as g
from .fixed_pattern import TRIM_NOMINAL, TRIM_STEP, FixedPattern


def pulse_table(pattern: FixedPattern, trims: np.ndarray) -> np.ndarray:
    """(2, 128, 32) float32 pulse length, activation units, of each driver for activations 0..31.

    Activation 0 sends no event, so its pulse is 0; a pulse cannot be negative.
    ``trims`` is the (2, 128) offset trim of each driver, 0..63.
    """
    a = np.arange(g.ACTIVATION_MAX + 1, dtype=np.float64)
    rel = a / g.ACTIVATION_MAX
    gain = pattern.driver_gain[..., None]
    curvature = pattern.driver_curvature[..., None]
    offset = pattern.driver_offset + (trims.astype(np.float64) - TRIM_NOMINAL) * TRIM_STEP
    pulse = a * gain * (1.0 + curvature * (rel - 1.0)) + offset[..., None]
    pulse = np.maximum(pulse, 0.0)
    pulse[..., 0] = 0.0
    return pulse.astype(np.float32)


def calibrated_trims(pattern: FixedPattern) -> np.ndarray:
    """(2, 128) uint8 trims that best cancel each driver's offset (what a calibration stores)."""
    steps = np.rint(pattern.driver_offset / TRIM_STEP)
    return np.clip(TRIM_NOMINAL - steps, 0, 63).astype(np.uint8)


def faulty(pulses: np.ndarray, dead: tuple, full: tuple) -> np.ndarray:
    """The (2, 128, 32) pulse tables of drivers with faults: a dead driver puts no pulse on its rows,
    a driver stuck at full pulse gives activation 31's pulse for every event (activation 0 still
    sends none)."""
    if not dead and not full:
        return pulses
    pulses = pulses.copy()
    for h, d in full:
        pulses[h, d, 1:] = pulses[h, d, g.ACTIVATION_MAX]
    for h, d in dead:
        pulses[h, d] = 0.0
    return pulses
