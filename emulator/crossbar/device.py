"""The constant-step device of every cross-point (docs/crossbar.md#device), drawn once per tile from its
serial.

Device (i, j) steps by ``scale_up`` up and ``scale_down`` down, ``(1 + dw_min_std xi)`` times that with a
fresh standard normal xi per step (cycle-to-cycle), and stays within ``[w_min, w_max]``, its own bounds.
Device to device: ``gain = 1 + dw_min_dtod z1``, ``r = up_down_dtod z2``, ``scale_up = (up_bias + gain + r)
dw_min``, ``scale_down = (down_bias + gain - r) dw_min`` (``up_bias = min(up_down, 0)``, ``down_bias =
-max(up_down, 0)``), ``w_max = w_max0 (1 + w_max_dtod z3)``, ``w_min = w_min0 (1 + w_min_dtod z4)``; with
``enforce_consistency`` the scales are taken in magnitude and the bounds ordered and placed about 0 (what
aihwkit's pulsed devices do). ``z1 .. z4`` are the tile's frozen standard normals.
"""
from dataclasses import dataclass

import numpy as np

from ..identity import serial_to_seed

STREAM = 0x58424456
"""The seed stream of a tile's device deviates."""


def deviates(serial: str, shape: tuple[int, int]) -> np.ndarray:
    """The tile's frozen standard normals (4, rows, columns): same serial and shape, same tile."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([serial_to_seed(serial), STREAM])))
    return rng.standard_normal((4,) + tuple(shape))


@dataclass(frozen=True, eq=False)
class Devices:
    """Per-device parameters (rows, columns) float32, and the nominal granularity."""

    scale_up: np.ndarray
    scale_down: np.ndarray
    w_max: np.ndarray
    w_min: np.ndarray
    dw_min: float
    """The nominal step (the update management's weight granularity)."""
    dw_min_std: float

    @classmethod
    def of(cls, z: np.ndarray | None, device, shape: tuple[int, int]) -> "Devices":
        """The devices of config ``device`` (the fields of :class:`hil.crossbar.DeviceConfig`) with the
        deviates ``z`` (None: every device nominal)."""
        z = np.zeros((4,) + tuple(shape)) if z is None else z
        up_down = float(device.up_down)
        up_bias, down_bias = min(up_down, 0.0), -max(up_down, 0.0)
        gain = 1.0 + device.dw_min_dtod * z[0]
        r = device.up_down_dtod * z[1]
        up = (up_bias + gain + r) * device.dw_min
        down = (down_bias + gain - r) * device.dw_min
        w_max = device.w_max * (1.0 + device.w_max_dtod * z[2])
        w_min = device.w_min * (1.0 + device.w_min_dtod * z[3])
        if device.enforce_consistency:
            up, down = np.abs(up), np.abs(down)
            w_min, w_max = np.minimum(w_min, w_max), np.maximum(w_min, w_max)
            w_max, w_min = np.abs(w_max), -np.abs(w_min)
        else:                            # a device whose bounds cross is stuck at their middle
            mid = np.where(w_min > w_max, (w_min + w_max) / 2, np.nan)
            w_max, w_min = np.where(np.isnan(mid), w_max, mid), np.where(np.isnan(mid), w_min, mid)
        f = lambda a: np.ascontiguousarray(a, np.float32)  # noqa: E731
        return cls(f(up), f(down), f(w_max), f(w_min), float(device.dw_min), float(device.dw_min_std))
