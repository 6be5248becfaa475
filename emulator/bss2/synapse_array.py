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
    """The row weights (or labels: any cell with ``bit`` and ``value``) as the faulty synapse memory
    reads them back."""
    rows = rows.copy()
    for s in stuck:
        if s.hemisphere != hemisphere:
            continue
        mask = np.uint8(1 << s.bit)
        rows[s.row, s.column] = (rows[s.row, s.column] & ~mask) | (mask if s.value else 0)
    return rows


def apply_stuck_label_bits(labels: np.ndarray, hemisphere: int, stuck: tuple) -> np.ndarray:
    """The (rows, columns) synapse labels as the faulty label memory reads them back
    (``emulator.bss2.faults.StuckLabelBit``)."""
    return apply_stuck_bits(labels, hemisphere, stuck)


def mac_label_mask(n_rows: int, n_cols: int, hemisphere: int, stuck: tuple) -> np.ndarray:
    """(n_rows, n_cols) 1 where a synapse answers MAC-mode events, 0 where a label bit stuck at 1
    makes its label differ from the 0 that every MAC event carries."""
    labels = apply_stuck_label_bits(np.zeros((n_rows, n_cols), np.uint8), hemisphere,
                                    tuple(s for s in stuck if s.row < n_rows and s.column < n_cols))
    return (labels == 0).astype(np.uint8)


def short_columns(table: np.ndarray, hemisphere: int, shorted: tuple[int, ...]) -> np.ndarray:
    """``table`` (..., columns) with each shorted pair of this hemisphere's columns (n, n + 1;
    neuron numbers) replaced by their mean: the two membranes share one node."""
    cols = g.COLUMNS_PER_HEMISPHERE
    for n in shorted:
        if n // cols == hemisphere and n % cols + 1 < table.shape[-1]:
            c = n % cols
            mean = (table[..., c] + table[..., c + 1]) / 2
            table[..., c] = mean
            table[..., c + 1] = mean
    return table


def short_neurons(values: np.ndarray, shorted: tuple[int, ...]) -> np.ndarray:
    """``values`` (..., 512), one per neuron, with each shorted pair replaced by its mean, in place."""
    cols = g.COLUMNS_PER_HEMISPHERE
    for h in range(g.HEMISPHERES):
        short_columns(values[..., h * cols:(h + 1) * cols], h, shorted)
    return values


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
