"""The family's configs and types: every bad value refused with the field, the index, the value and what is
allowed; the wire round trip; the presets."""
import numpy as np
import pytest

from hil.contract import wire
from hil.contract.errors import InvalidValue
from hil.crossbar import DeviceConfig, IOConfig, RPUConfig, UpdateConfig, presets
from hil.crossbar.types import Config, Readout, Stimulus, WeightRead, Weights, geometry

GEOMETRY = geometry((8, 4))


@pytest.mark.parametrize("make, match", [
    (lambda: IOConfig(inp_res=1 / 127), r"IOConfig.inp_res: .*not an even number"),
    (lambda: IOConfig(out_res=1e-7), r"IOConfig.out_res: .*finer than"),
    (lambda: IOConfig(out_noise=float("nan")), r"IOConfig.out_noise: nan is not a finite number"),
    (lambda: IOConfig(noise_management="abs"), r"IOConfig.noise_management: 'abs' is not one of"),
    (lambda: IOConfig(max_bm_factor=2.5), r"IOConfig.max_bm_factor: 2.5 is not an integer"),
    (lambda: IOConfig(inp_sto_round=1), r"IOConfig.inp_sto_round: 1 is not a bool"),
    (lambda: IOConfig(out_bound=0), r"IOConfig.out_bound: 0 is outside the allowed range"),
    (lambda: UpdateConfig(desired_bl=65), r"UpdateConfig.desired_bl: 65 is outside the allowed range 1..64"),
    (lambda: DeviceConfig(w_min=0.1), r"DeviceConfig.w_min: 0.1 is outside the allowed range"),
    (lambda: DeviceConfig(dw_min=-1e-3), r"DeviceConfig.dw_min: -0.001 is outside"),
    (lambda: RPUConfig(forward=3), r"RPUConfig.forward: 3 is not a IOConfig"),
])
def test_configs_refuse_bad_values(make, match):
    with pytest.raises(InvalidValue, match=match):
        make()


def test_stimuli_and_configs_refuse_bad_values():
    with pytest.raises(InvalidValue, match=r"inputs\[1, 0\]: nan is not a finite number"):
        Stimulus.forward([[0.0, 1.0], [np.nan, 0.0]])
    with pytest.raises(InvalidValue, match=r"inputs\[0, 1\]: 2000000.0 is outside the allowed range"):
        Stimulus.forward([[0.0, 2e6]])
    with pytest.raises(InvalidValue, match="inputs: has dtype bool"):
        Stimulus.forward(np.ones((2, 4), bool))
    with pytest.raises(InvalidValue, match="inputs: has shape"):
        Stimulus.forward(np.ones(4))
    with pytest.raises(InvalidValue, match="errors: is missing"):
        Stimulus("update", np.ones((1, 4)))
    with pytest.raises(InvalidValue, match="learning_rate: 0.0 is not positive"):
        Stimulus.update(np.ones((1, 4)), np.ones((1, 8)), 0.0)
    with pytest.raises(InvalidValue, match="errors: has 2 vectors; inputs has 1"):
        Stimulus.update(np.ones((1, 4)), np.ones((2, 8)), 0.1)
    with pytest.raises(InvalidValue, match="learning_rate: is only for an update"):
        Stimulus("forward", np.ones((1, 4)), learning_rate=0.1)
    with pytest.raises(InvalidValue, match="direction: 'sideways'"):
        Stimulus("sideways", np.ones((1, 4)))
    with pytest.raises(InvalidValue, match="inputs: has 5 values per vector; a forward vector of this tile has 4"):
        Stimulus.forward(np.ones((1, 5))).check_shape(GEOMETRY)
    with pytest.raises(InvalidValue, match="inputs: has 4 values per vector; a backward vector of this tile has 8"):
        Stimulus.backward(np.ones((1, 4))).check_shape(GEOMETRY)
    with pytest.raises(InvalidValue, match=r"weights\[0, 3\]: 0.7 is outside the devices' range -0.6..0.6"):
        w = np.zeros((8, 4))
        w[0, 3] = 0.7
        Config(w).check_shape(GEOMETRY)
    Config(np.full((8, 4), 0.7)).check_shape(GEOMETRY, ideal=True)     # a perfect tile has no bounds
    with pytest.raises(InvalidValue, match="weights: has shape"):
        Config(np.zeros((4, 8))).check_shape(GEOMETRY)


def test_a_frozen_type_does_not_change_with_the_callers_array():
    x = np.ones((2, 4))
    s = Stimulus.forward(x)
    x[0, 0] = 5
    assert s.inputs[0, 0] == 1 and s.inputs.dtype == np.float32 and not s.inputs.flags.writeable


@pytest.mark.parametrize("obj", [
    Config(np.full((8, 4), 0.25), RPUConfig(forward=IOConfig(out_noise=0.1, noise_management="max"),
                                            update=UpdateConfig(desired_bl=10), device=DeviceConfig(dw_min=0.002))),
    Stimulus.update(np.ones((3, 4)), np.ones((3, 8)), 0.01),
    Stimulus.backward(np.ones((3, 8))),
    Readout(outputs=np.ones((2, 8), np.float32), rounds=np.zeros(2, np.int8)),
    Readout(bl=np.ones(2, np.int32), pulses=np.ones((2, 2), np.int64)),
    WeightRead(),
    Weights(np.zeros((8, 4))),
])
def test_types_cross_the_wire_unchanged(obj):
    header, arrays = wire.encode(obj)
    back = wire.decode(header, arrays)
    for name in obj.__dataclass_fields__:
        a, b = getattr(obj, name), getattr(back, name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
        else:
            assert a == b


def test_a_nested_type_on_the_wire_is_checked_like_any_other():
    header, arrays = wire.encode(Config(np.zeros((8, 4))))
    header["fields"]["rpu_config"]["fields"]["forward"]["fields"]["out_res"] = 1 / 3
    with pytest.raises(InvalidValue, match="IOConfig.out_res"):
        wire.decode(header, arrays)
    header["fields"]["rpu_config"]["fields"]["forward"] = {"$type": "crossbar.Nope", "fields": {}}
    with pytest.raises(wire.UnknownWire, match="crossbar.Nope"):
        wire.decode(header, arrays)


def test_presets_mirror_aihwkits_names():
    assert presets.SingleRPUConfig() == RPUConfig()
    assert presets.SingleRPUConfig(device=presets.ConstantStepDevice(dw_min=0.01)).device.dw_min == 0.01
    assert presets.FloatingPointRPUConfig().forward.is_perfect
    inference = presets.InferenceRPUConfig()
    assert inference.forward.out_noise == 0.06 and inference.forward.inp_res == 1 / 126
    assert inference.backward.is_perfect
    assert presets.GokmenVlasovPreset().device.dw_min == 0.0016 and presets.IdealizedPreset().forward.out_bound == 20
    assert presets.StandardIOParameters().out_levels == 127
