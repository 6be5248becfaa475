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
    """(128, 256) signed weights of one hemisphere -> (256, 256) uint8 row weights 0..63."""
    rows = np.zeros((g.ROWS_PER_HEMISPHERE, weights.shape[1]), np.uint8)
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
    """(128, 256) float32 charge per unit pulse of each logical input on each neuron.

    Combines the synapses' DAC gain, the loss along the row with distance from
    the driver, and the neuron's integration gain; in units of weight LSB.
    """
    syn = pattern.synapse_gain[hemisphere] * rows.astype(np.float32)
    signed = syn[0::2] - syn[1::2]
    neurons = slice(hemisphere * g.COLUMNS_PER_HEMISPHERE, (hemisphere + 1) * g.COLUMNS_PER_HEMISPHERE)
    column = (1.0 - pattern.line_attenuation[hemisphere] * row_distance()) * pattern.neuron_gain[neurons]
    return np.ascontiguousarray(signed * column.astype(np.float32), dtype=np.float32)
