"""The synapse array: 6-bit weights on excitatory and inhibitory rows.

In MAC mode, logical input i of a hemisphere is driver i, which feeds row 2i
(excitatory) and row 2i+1 (inhibitory); a signed weight w in -63..63 is stored
as |w| on the row of its sign and 0 on the other.
"""
import numpy as np

from . import geometry as g
from .faults import StuckBit
from .fixed_pattern import FixedPattern, row_distance


def signed_to_rows(weights: np.ndarray) -> np.ndarray:
    """(n, m) signed weights of a hemisphere's first n drivers and m columns (all of them:
    (128, 256)) -> (2n, m) uint8 row weights 0..63."""
    rows = np.zeros((2 * weights.shape[0], weights.shape[1]), np.uint8)
    rows[0::2] = np.maximum(weights, 0)
    rows[1::2] = np.maximum(-weights.astype(np.int16), 0)
    return rows


def apply_stuck_bits(rows: np.ndarray, hemisphere: int, stuck: tuple[StuckBit, ...]) -> np.ndarray:
    """The row weights as the faulty synapse memory reads them back."""
    rows = rows.copy()
    for s in stuck:
        if s.hemisphere != hemisphere:
            continue
        mask = np.uint8(1 << s.bit)
        rows[s.row, s.column] = (rows[s.row, s.column] & ~mask) | (mask if s.value else 0)
    return rows


def effective_weights(rows: np.ndarray, hemisphere: int, pattern: FixedPattern) -> np.ndarray:
    """(n, m) float32 charge per unit pulse of each logical input on each neuron, from the
    (2n, m) row weights of the hemisphere's first 2n rows and m columns (all: (256, 256)).

    Combines the synapses' DAC gain, the loss along the row with distance from
    the driver, and the neuron's integration gain; in units of weight LSB. Each entry
    depends on its own synapses only, so a corner of the array gets the values the
    whole array has there, bit for bit.
    """
    n2, m = rows.shape
    syn = pattern.synapse_gain[hemisphere][:n2, :m] * rows.astype(np.float32)
    signed = syn[0::2] - syn[1::2]
    first = hemisphere * g.COLUMNS_PER_HEMISPHERE
    column = (1.0 - pattern.line_attenuation[hemisphere] * row_distance()[:m]) * pattern.neuron_gain[first:first + m]
    return np.ascontiguousarray(signed * column.astype(np.float32), dtype=np.float32)
