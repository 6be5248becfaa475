"""hil.dynapse2's types: every bad value is refused with the field, the index, the value and what is
allowed; a configuration and a stimulus cross the wire unchanged."""
import numpy as np
import pytest

from hil.contract import wire
from hil.dynapse2 import types as T
from hil.errors import InvalidValue

C = T.Config.default()


def _with(**arrays):
    a = C.arrays()
    a.update(arrays)
    return lambda: T.Config(**a)


def _set(name, index, value):
    a = C.arrays()[name].astype(np.int64)
    a[index] = value
    return _with(**{name: a})


@pytest.mark.parametrize("make, field, text", [
    (_set("biases", (0, 1, 2, 0), 6), "biases[0, 1, 2, 0]", "coarse 6 of Igain_ahp is outside the allowed range 0..5"),
    (_set("biases", (1, 0, 0, 1), 256), "biases[1, 0, 0, 1]", "256 is outside the allowed range 0..255"),
    (_set("cam_tag", (0, 3, 7), 2048), "cam_tag[0, 3, 7]", "2048 is outside the allowed range 0..2047"),
    (_set("sram_tag", (2, 5, 1), 4096), "sram_tag[2, 5, 1]", "4096 is outside the allowed range 0..2047"),
    (_with(cam_tag=np.zeros((4, 1024, 65))), "cam_tag", "expected (4, 1024, 64)"),
    (_set("cam_type", (0, 0, 0), 4), "cam_type[0, 0, 0]", "outside the allowed range 0..3"),
    (_set("sram_dx", (3, 9, 2), 8), "sram_dx[3, 9, 2]", "outside the allowed range -7..7"),
])
def test_bad_configurations_are_refused_by_name(make, field, text):
    with pytest.raises(InvalidValue) as e:
        make()
    assert e.value.field == field and text in str(e.value)


def test_a_hop_off_the_mesh_is_refused_and_an_unused_destination_is_not_judged():
    with pytest.raises(InvalidValue, match=r"sram_dx, sram_dy\[1, 5, 0\].*hop \(1, 0\) from chip 1 at \(1, 0\) leaves"):
        C.with_destination(1, 5, 0, tag=7, cores=3, dx=1)
    C.with_destination(1, 5, 0, tag=7, cores=0, dx=1)          # off: its hop goes nowhere
    C.with_destination(1, 5, 0, tag=7, cores=1, dx=-1, dy=1)   # chip 1 at (1, 0) -> chip 2 at (0, 1)


def test_event_times_must_be_in_order_and_inside_the_run():
    with pytest.raises(InvalidValue, match=r"times\[2\]: 3 comes before times\[1\] = 5"):
        T.Stimulus(times=[1, 5, 3], tags=[0, 0, 0], chips=[0, 0, 0], cores=[0, 0, 0])
    with pytest.raises(InvalidValue, match=r"times\[0\]: 10 is outside the allowed range 0..9"):
        T.Stimulus(times=[10], tags=[0], chips=[0], cores=[0], duration=10)
    with pytest.raises(InvalidValue, match=r"tags\[0\]: 2048"):
        T.Stimulus(times=[0], tags=[2048], chips=[0], cores=[0])
    with pytest.raises(InvalidValue, match="have lengths"):
        T.Stimulus(times=[0, 1], tags=[0], chips=[0], cores=[0])
    with pytest.raises(InvalidValue, match=r"dt: nan"):
        T.Stimulus.empty(dt=float("nan"))
    with pytest.raises(InvalidValue, match=r"record: names 65 neurons"):
        T.Stimulus.empty(record=np.arange(65))
    with pytest.raises(InvalidValue, match=r"chips\[0\]: 3 is outside this board's 0..0"):
        T.Stimulus(times=[0], tags=[0], chips=[3], cores=[0]).check_shape(T.geometry((1, 1)))


def test_the_helpers_refuse_bad_values_by_name():
    with pytest.raises(InvalidValue, match="parameter: 'Itau_foo'"):
        C.with_bias("Itau_foo", 1, 1)
    with pytest.raises(InvalidValue, match="coarse: 6"):
        C.with_bias("Itau_mem", 6, 1)
    with pytest.raises(InvalidValue, match="synapse: 'AMPX'"):
        C.with_cam(0, 0, 0, tag=1, synapse="AMPX", weights=1)
    with pytest.raises(InvalidValue, match="entry: 64"):
        C.with_cam(0, 0, 64, tag=1, synapse="AMPA", weights=1)
    with pytest.raises(InvalidValue, match="weights: 16"):
        C.with_cam(0, 0, 0, tag=1, synapse="AMPA", weights=16)


def test_config_and_stimulus_cross_the_wire_unchanged():
    cfg = C.with_bias("Itau_mem", 2, 77, chip=1, core=3).with_cam(3, 1000, 63, tag=2047, synapse="SHUNT", weights=9)
    back = wire.decode(*wire.encode(cfg))
    for name, a in cfg.arrays().items():
        np.testing.assert_array_equal(getattr(back, name), a)
    assert back.bias("Itau_mem")[1, 3].tolist() == [2, 77] and back.cam_type[3, 1000, 63] == 3
    st = T.Stimulus(times=[0, 0, 9], tags=[1, 2, 3], chips=[0, 1, 2], cores=[3, 2, 1], duration=10, dt=1e-4,
                    record=[5, 4000])
    got = wire.decode(*wire.encode(st))
    assert got.dt == 1e-4 and got.duration == 10 and got.record.tolist() == [5, 4000]
    assert got.cores.tolist() == [3, 2, 1]
