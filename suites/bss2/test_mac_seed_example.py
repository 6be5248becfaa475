"""The seed's example: input 15 on 100 rows, weight 21, one send reads about
55..63 on every neuron, with a visible spread across neurons (every output of the device:
512 on the chip; on a reduced core, the 100 rows take several runs, as hil.bss2.mac splits them)."""
import numpy as np
import pytest

import hil
from hil.bss2 import MacModel, NOMINAL_NOISE

X = np.full(100, 15)


@pytest.fixture(scope="module")
def W(mac_shape):
    return np.full((100, mac_shape[1]), 21)


def test_outputs_sit_where_the_seed_reads_them(backend, mac_shape, W):
    y = hil.bss2.mac(backend, X, W)
    model = MacModel(block_rows=mac_shape[0]).predict(X, W[:, :1])[0]            # 59 on the chip
    assert abs(np.median(y) - model) <= 3, f"median {np.median(y)} vs model {model} ({backend!r})"
    lo, hi = np.percentile(y, [5, 95])
    assert 50 <= lo and hi <= 68, f"5..95 % of neurons read {lo}..{hi} ({backend!r})"


def test_spread_across_neurons_is_visible_beyond_the_noise(backend, W):
    """Per-neuron means over 40 repeats differ by more than the noise allows.

    With noise alone, the std across neurons of a 40-sample mean would be
    about sigma / sqrt(40) = 0.32 LSB; a fixed pattern makes it several times larger.
    """
    repeats = 40
    y = hil.bss2.mac(backend, np.tile(X, (repeats, 1)), W)
    means = y.mean(axis=0)
    noise_only = np.sqrt(NOMINAL_NOISE**2 + 1 / 12) / np.sqrt(repeats)
    assert means.std() > 3 * noise_only, f"spread {means.std():.3f} LSB ({backend!r})"
