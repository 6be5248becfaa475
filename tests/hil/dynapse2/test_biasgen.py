"""hil.dynapse2.bias_current / bias_setting: the emulator's transfer, refusals as hil's InvalidValue."""
import numpy as np
import pytest

import hil
from emulator.dynapse2 import biasgen
from hil.errors import InvalidValue


def test_the_public_transfer_is_the_generators():
    assert hil.dynapse2.bias_current("Itau_mem", 3, 100) == biasgen.current("Itau_mem", 3, 100)
    c, f = hil.dynapse2.bias_setting("Igain_ampa", 2e-10)
    assert (c, f) == biasgen.setting("Igain_ampa", 2e-10)
    assert np.array_equal(hil.dynapse2.bias_current("Iw_0", [0, 5], 255), biasgen.current("Iw_0", [0, 5], 255))
    assert set(hil.dynapse2.PARAMETERS) >= {"Itau_mem", "Igain_mem", "Iref", "Ipulse", "Ispkthr", "If_nmda",
                                              "Iw_0", "Iw_3", "Itau_ampa", "Itau_nmda", "Itau_shunt"}


@pytest.mark.parametrize("call, field", [(lambda: hil.dynapse2.bias_current("Itau_mem", 6, 0), "coarse"),
                                         (lambda: hil.dynapse2.bias_setting("Ifoo", 1e-9), "parameter"),
                                         (lambda: hil.dynapse2.bias_setting("Iref", float("inf")), "current")])
def test_bad_input_is_an_invalid_value_by_name(call, field):
    with pytest.raises(InvalidValue) as e:
        call()
    assert e.value.field == field
    assert "allowed" in str(e.value) or "known" in str(e.value)
