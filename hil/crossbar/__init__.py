"""The analog crossbar tile family (docs/crossbar.md)."""
from .configs import BOUND_MANAGEMENT, NOISE_MANAGEMENT, DeviceConfig, IOConfig, RPUConfig, UpdateConfig

__all__ = ["BOUND_MANAGEMENT", "NOISE_MANAGEMENT", "DeviceConfig", "IOConfig", "RPUConfig", "UpdateConfig"]
