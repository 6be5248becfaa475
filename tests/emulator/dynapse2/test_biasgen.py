"""The bias generators (emulator/dynapse2/biasgen.py, docs/dynapse2.md#bias-generators): the measured
table as published, each parameter's scale factor and transistor type, the inverse, the refusals, and
a virtual board's generator gains."""
import numpy as np
import pytest

from emulator.dynapse2 import biasgen
from emulator.errors import InvalidInput


def test_the_table_is_the_published_measurement():
    t = biasgen.table()
    assert t.shape == (2, 6, 256) and (t > 0).all() and not t.flags.writeable
    # Spot values of the published table (type, coarse, fine): amperes as SynSense measured them.
    assert t[0, 0, 0] == 4.936110919490739e-13 and t[0, 0, 255] == 7.176552812743837e-11
    assert t[0, 1, 1] == 2.686814117128497e-12
    # Each coarse range spans about 8x the one below it, and its fine steps rise except at 7 carries.
    assert (t[:, 1:, -1] / t[:, :-1, -1] > 7).all() and (t[:, 1:, -1] / t[:, :-1, -1] < 9).all()
    falls = (np.diff(t, axis=2) < 0).sum(axis=2)
    assert (falls <= 7).all()


@pytest.mark.parametrize("parameter", biasgen.PARAMETERS)
def test_a_parameter_is_its_transistor_type_times_its_scale(parameter):
    device = biasgen.DEVICE_NAMES[parameter]
    kind = biasgen.TYPES.index(device[-1])
    coarse, fine = np.meshgrid(np.arange(6), np.arange(256), indexing="ij")
    assert np.array_equal(biasgen.current(parameter, coarse, fine), biasgen.table()[kind] * biasgen.SCALE[device])


@pytest.mark.parametrize("parameter", biasgen.PARAMETERS)
def test_the_setting_of_a_table_current_gives_that_current_back(parameter):
    coarse, fine = np.meshgrid(np.arange(6), np.arange(256), indexing="ij")
    currents = biasgen.current(parameter, coarse, fine).reshape(-1)
    back = np.array([biasgen.current(parameter, *biasgen.setting(parameter, float(i))) for i in currents])
    assert np.array_equal(back, currents)


def test_the_setting_is_the_nearest_current():
    rng = np.random.default_rng(3)
    for parameter in ("Itau_mem", "Igain_ampa", "Iw_3", "Ispkthr"):
        grid = biasgen.current(parameter, *np.meshgrid(np.arange(6), np.arange(256), indexing="ij"))
        for target in 10.0 ** rng.uniform(-13, -5.5, 50):
            c, f = biasgen.setting(parameter, target)
            assert abs(grid[c, f] - target) == np.abs(grid - target).min()
    assert biasgen.setting("Itau_mem", 0.0) == tuple(int(x) for x in np.unravel_index(
        np.argmin(biasgen.table()[0]), (6, 256)))
    assert biasgen.setting("Itau_mem", 1.0) == (5, int(np.argmax(biasgen.table()[0, 5])))


@pytest.mark.parametrize("call, field", [
    (lambda: biasgen.current("Itau_mem", 6, 0), "coarse"),
    (lambda: biasgen.current("Itau_mem", 0, 256), "fine"),
    (lambda: biasgen.current("Itau_mem", 0, -1), "fine"),
    (lambda: biasgen.current("Itau_mem", [0, 7], 3), "coarse[1]"),
    (lambda: biasgen.current("Itau_mem", 0, 1.5), "fine"),
    (lambda: biasgen.current("Itau_mem", True, 1), "coarse"),
    (lambda: biasgen.current("I_unknown", 0, 0), "parameter"),
    (lambda: biasgen.setting("Itau_mem", float("nan")), "current"),
    (lambda: biasgen.setting("Itau_mem", -1e-9), "current"),
    (lambda: biasgen.setting("Itau_mem", "5 nA"), "current"),
])
def test_bad_settings_are_refused_by_name(call, field):
    with pytest.raises(InvalidInput) as e:
        call()
    assert e.value.field == field


def test_a_virtual_boards_generator_gains_are_its_own():
    a = biasgen.generator_gains("EMU-0001", 4, 4)
    assert a.shape == (4, 4, len(biasgen.PARAMETERS))
    assert np.array_equal(a, biasgen.generator_gains("EMU-0001", 4, 4))
    assert not np.array_equal(a, biasgen.generator_gains("EMU-0002", 4, 4))
    # 368 draws of sigma 0.10: the sample's spread within its 99.9 % chi-square interval (0.085..0.117).
    assert 0.085 < a.std(ddof=1) < 0.117 and abs(a.mean() - 1) < 4 * 0.10 / np.sqrt(a.size)
