"""The analog crossbar tile family (docs/crossbar.md): configs (:mod:`.configs`, presets named after
aihwkit's in :mod:`.presets`), the Config / Stimulus / Readout types (:mod:`.types`), the analytical models
(:mod:`.models`) and the experiments (:mod:`.experiments`, registered on first use).

>>> tile = hil.backend.open("emulator", family="crossbar", shape=(512, 128))
>>> tile.configure(hil.crossbar.Config(weights))
>>> y = tile.run(hil.crossbar.Stimulus.forward(x)).outputs
"""
from . import models, presets
from .configs import BOUND_MANAGEMENT, NOISE_MANAGEMENT, DeviceConfig, IOConfig, RPUConfig, UpdateConfig
from .types import FAMILY, Config, Readout, Stimulus, WeightRead, Weights

__all__ = ["BOUND_MANAGEMENT", "FAMILY", "NOISE_MANAGEMENT", "Config", "DeviceConfig", "IOConfig", "RPUConfig",
           "Readout", "Stimulus", "UpdateConfig", "WeightRead", "Weights", "models", "presets"]
