"""Neurons in MAC mode: charge integration over repeated sends, compression.

The membrane integrates the synaptic charge of every send of an input vector.
A residual leak lets earlier sends decay while later ones arrive, so the
effective number of sends falls short of ``num_sends`` when the sends are long
(many events, long waits); and the membrane compresses toward its rails at
neuron-specific points.
"""
import math

import numpy as np

from . import geometry as g


def effective_sends(n_events: np.ndarray, num_sends: int, wait_between_events: int,
                    tau_leak: float) -> np.ndarray:
    """Effective number of sends per sample, given the events in one send.

    One send of a sample lasts ``n_events * (wait_between_events + 1)`` FPGA
    cycles; the charge of send k has decayed by lambda**(num_sends - 1 - k) at
    the read, lambda = exp(-send duration / tau_leak).
    """
    if not np.isfinite(tau_leak):
        return np.full(n_events.shape, float(num_sends))
    # One value per event count 0..max, with libm's exp and pow (math.exp, math.pow), as the
    # RTL's $exp and $pow compute them: numpy's vectorised exp may differ in the last bit.
    n_events = np.asarray(n_events)
    table = np.empty(int(n_events.max(initial=0)) + 1)
    for n in range(table.size):
        lam = math.exp(-(float(n) * (wait_between_events + 1) * g.FPGA_CYCLE_S) / tau_leak)
        table[n] = (1.0 - math.pow(lam, num_sends)) / (1.0 - lam) if lam < 1.0 else float(num_sends)
    return table[n_events]


def compress(v: np.ndarray, knee_pos, knee_neg, rail_pos, rail_neg) -> np.ndarray:
    """Membrane compression: linear between the knees, tanh toward the rails beyond them.

    Reference of the C core's ``compress``; all values in LSB relative to the baseline.
    """
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        up = knee_pos + (rail_pos - knee_pos) * np.tanh((v - knee_pos) / (rail_pos - knee_pos))
        down = knee_neg + (rail_neg - knee_neg) * np.tanh((v - knee_neg) / (rail_neg - knee_neg))
    return np.where(v > knee_pos, up, np.where(v < knee_neg, down, v))
