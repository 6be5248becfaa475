"""Configurations named after the aihwkit ones they mirror (docs/crossbar.md#presets), so that a lab moving
between aihwkit and this rig finds the same names and defaults:

* :func:`SingleRPUConfig` - a pulsed tile of one device type (aihwkit's ``SingleRPUConfig``): the default
  forward and backward periphery (``IOParameters``), the default pulsed update (``UpdateParameters``) and a
  :func:`ConstantStepDevice`; :class:`hil.crossbar.RPUConfig`'s defaults;
* :func:`ConstantStepDevice` - aihwkit's ``ConstantStepDevice`` and its defaults (dw_min 0.001, spreads
  0.3, bounds +-0.6 with spreads 0.3);
* :func:`InferenceRPUConfig` - the forward periphery of aihwkit's ``InferenceRPUConfig`` (output noise 0.06,
  7-bit DAC, 9-bit ADC, abs-max noise management, iterative bound management), on this rig's pulsed tile;
* :func:`FloatingPointRPUConfig` - a periphery without converters or noise (``is_perfect``) in both
  directions (the pulsed update stays the device's: a perfect tile is ``ideal=True``).
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
    return SingleRPUConfig(forward=forward or IOConfig())


def FloatingPointRPUConfig() -> RPUConfig:  # noqa: N802 - aihwkit's name
    return SingleRPUConfig(forward=IOConfig(is_perfect=True), backward=IOConfig(is_perfect=True,
                                                                               bound_management="none"))
