"""Configurations named after the aihwkit ones they mirror (docs/crossbar.md#presets), so that a lab moving
between aihwkit and this rig finds the same names and defaults:

* :func:`SingleRPUConfig` - a pulsed tile of one device type (aihwkit's ``SingleRPUConfig``): the default
  forward and backward periphery (``IOParameters``), the default pulsed update (``UpdateParameters``) and a
  :func:`ConstantStepDevice`; :class:`hil.crossbar.RPUConfig`'s defaults;
* :func:`ConstantStepDevice` - aihwkit's ``ConstantStepDevice`` and its defaults (dw_min 0.001, spreads
  0.3, bounds +-0.6 with spreads 0.3);
* :func:`InferenceRPUConfig` - aihwkit's ``InferenceRPUConfig`` periphery: the default forward (output noise
  0.06, 7-bit DAC, 9-bit ADC, abs-max noise management, iterative bound management) and a perfect backward;
  aihwkit's update there is floating point, this rig's tile keeps its pulsed update (a perfect tile,
  ``ideal=True``, updates exactly);
* :func:`FloatingPointRPUConfig` - a periphery without converters or noise (``is_perfect``) in both
  directions (the pulsed update stays the device's);
* :func:`PresetIOParameters` and :func:`StandardIOParameters` - aihwkit's preset peripheries (out_bound 20,
  output noise 0.1; 8-bit DAC and ADC, out_bound 10, output noise 0.04);
* :func:`GokmenVlasovPresetDevice` / :func:`GokmenVlasovPreset` and :func:`IdealizedPresetDevice` /
  :func:`IdealizedPreset` - aihwkit's constant-step presets (dw_min 0.0016, bounds +-1; dw_min 0.0002,
  no asymmetry spread, bounds +-1) with the preset periphery in both directions.
"""
from .configs import DeviceConfig, IOConfig, RPUConfig, UpdateConfig


def ConstantStepDevice(**changes) -> DeviceConfig:  # noqa: N802 - aihwkit's name
    return DeviceConfig(**changes)


def SingleRPUConfig(device: DeviceConfig | None = None, forward: IOConfig | None = None,  # noqa: N802
                    backward: IOConfig | None = None, update: UpdateConfig | None = None) -> RPUConfig:
    base = RPUConfig()
    return RPUConfig(forward=forward or base.forward, backward=backward or base.backward,
                     update=update or base.update, device=device or base.device)


def InferenceRPUConfig(forward: IOConfig | None = None) -> RPUConfig:  # noqa: N802 - aihwkit's name
    return SingleRPUConfig(forward=forward or IOConfig(), backward=IOConfig(is_perfect=True, bound_management="none"))


def FloatingPointRPUConfig() -> RPUConfig:  # noqa: N802 - aihwkit's name
    return SingleRPUConfig(forward=IOConfig(is_perfect=True), backward=IOConfig(is_perfect=True,
                                                                               bound_management="none"))


def PresetIOParameters(**changes) -> IOConfig:  # noqa: N802 - aihwkit's name
    return IOConfig(**{"out_bound": 20.0, "out_noise": 0.1, **changes})


def StandardIOParameters(**changes) -> IOConfig:  # noqa: N802 - aihwkit's name
    return IOConfig(**{"inp_res": 1 / 254, "out_res": 1 / 254, "out_bound": 10.0, "out_noise": 0.04, **changes})


def GokmenVlasovPresetDevice(**changes) -> DeviceConfig:  # noqa: N802 - aihwkit's name
    return DeviceConfig(**{"dw_min": 0.0016, "w_max": 1.0, "w_min": -1.0, **changes})


def IdealizedPresetDevice(**changes) -> DeviceConfig:  # noqa: N802 - aihwkit's name
    return DeviceConfig(**{"dw_min": 0.0002, "up_down_dtod": 0.0, "w_max": 1.0, "w_min": -1.0, **changes})


def _preset(device: DeviceConfig) -> RPUConfig:
    return SingleRPUConfig(device=device, forward=PresetIOParameters(),
                           backward=PresetIOParameters(bound_management="none"))


def GokmenVlasovPreset() -> RPUConfig:  # noqa: N802 - aihwkit's name
    return _preset(GokmenVlasovPresetDevice())


def IdealizedPreset() -> RPUConfig:  # noqa: N802 - aihwkit's name
    return _preset(IdealizedPresetDevice())
