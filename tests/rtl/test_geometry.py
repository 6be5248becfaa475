"""hil.rtl.geometry: the reduced core and its map to the full chip."""
import numpy as np
import pytest

from hil.contract.errors import InvalidValue
from hil.rtl.geometry import RtlGeometry


def test_default_and_full():
    assert RtlGeometry().parameters() == {"ROWS": 32, "COLUMNS": 32, "HEMISPHERES": 1}
    assert RtlGeometry.FULL == RtlGeometry(128, 256, 2)
    assert RtlGeometry.FULL.neurons == 512
    np.testing.assert_array_equal(RtlGeometry.FULL.neuron_index(), np.arange(512))


def test_neuron_index_of_a_reduced_core():
    geo = RtlGeometry(rows=8, columns=3, hemispheres=2)
    assert geo.neurons == 6
    np.testing.assert_array_equal(geo.neuron_index(), [0, 1, 2, 256, 257, 258])


@pytest.mark.parametrize("kwargs", [dict(rows=0), dict(rows=129), dict(columns=257), dict(hemispheres=3),
                                    dict(rows=True), dict(columns=2.0)])
def test_sizes_beyond_the_chip_are_refused(kwargs):
    with pytest.raises(InvalidValue):
        RtlGeometry(**kwargs)


def test_full_arrays():
    geo = RtlGeometry(rows=2, columns=2, hemispheres=2)
    w = np.array([[1, 2, 3, 4], [-1, -2, -3, -4]], np.int8)
    full = geo.full_weights(w)
    assert full.shape == (128, 512) and full[0, 257] == 4 and full[1, 1] == -2 and np.count_nonzero(full) == 8
    x = geo.full_inputs(np.array([[5, 6]], np.uint8))
    assert x.shape == (1, 128) and x[0, :3].tolist() == [5, 6, 0]
    t = geo.full_trims(np.array([[1, 2], [3, 4]], np.uint8))
    assert t[1, 1] == 4 and t[0, 5] == 32
