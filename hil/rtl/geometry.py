"""The reduced MAC core the RTL top level (``rtl_models/bss2/chip.v``) wires, and its map
to the full chip: the one Python place that knows it."""
from dataclasses import dataclass

import numpy as np

from emulator.bss2 import geometry as g
from ..contract.errors import InvalidValue


@dataclass(frozen=True)
class RtlGeometry:
    """A reduced core: ``rows`` drivers (MAC inputs) x ``columns`` neurons per hemisphere
    x ``hemispheres``.

    Input i is the chip's driver (MAC input) i, in every hemisphere; output j is
    hemisphere ``j // columns``, column ``j % columns``, i.e. the full chip's neuron
    ``(j // columns) * 256 + j % columns``. ``RtlGeometry.FULL`` (128 x 256 x 2) is the
    whole chip. The sizes are the Verilog parameters ROWS, COLUMNS, HEMISPHERES.
    """

    rows: int = 32
    """MAC inputs = synapse drivers per hemisphere, 1..128."""
    columns: int = 32
    """Neurons per hemisphere, 1..256 (the columns next to hemisphere column 0)."""
    hemispheres: int = 1
    """1 or 2."""

    def __post_init__(self):
        for name, hi in (("rows", g.DRIVERS_PER_HEMISPHERE), ("columns", g.COLUMNS_PER_HEMISPHERE),
                         ("hemispheres", g.HEMISPHERES)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
                raise InvalidValue(f"geometry.{name}", f"{value!r} is outside the chip's range 1..{hi}")

    @property
    def neurons(self) -> int:
        """Outputs of a run: hemispheres x columns."""
        return self.hemispheres * self.columns

    def neuron_index(self) -> np.ndarray:
        """(neurons,) int64: the full chip's neuron (0..511) of each output j."""
        j = np.arange(self.neurons, dtype=np.int64)
        return (j // self.columns) * g.COLUMNS_PER_HEMISPHERE + j % self.columns

    def as_dict(self) -> dict:
        """rows, columns, hemispheres (``RtlGeometry(**d)`` gives it back)."""
        return {"rows": self.rows, "columns": self.columns, "hemispheres": self.hemispheres}

    def as_info(self, *, max_batch: int) -> dict:
        """The core as :attr:`hil.backend.DeviceInfo.geometry` states it (the keys the chip's
        geometry has, for this core), with ``neuron_index``: the chip's neuron of each output."""
        return {"hemispheres": self.hemispheres, "rows_per_hemisphere": 2 * self.rows,
                "columns_per_hemisphere": self.columns, "drivers_per_hemisphere": self.rows,
                "neurons": self.neurons, "mac_inputs": self.rows, "mac_outputs": self.neurons,
                "max_batch": int(max_batch), "core": self.as_dict(),
                "neuron_index": [int(n) for n in self.neuron_index()]}

    @classmethod
    def from_info(cls, geometry: dict | None) -> "RtlGeometry | None":
        """The core a device's geometry names (``as_info``); None for the whole chip's."""
        core = (geometry or {}).get("core")
        return cls(**core) if core is not None else None

    def parameters(self) -> dict:
        """The Verilog parameters of ``bss2_chip`` for this geometry."""
        return {"ROWS": self.rows, "COLUMNS": self.columns, "HEMISPHERES": self.hemispheres}

    def full_weights(self, weights: np.ndarray) -> np.ndarray:
        """(rows, neurons) int8 weights -> the full chip's (128, 512) int8, zero elsewhere."""
        w = np.asarray(weights)
        if w.shape != (self.rows, self.neurons):
            raise InvalidValue("weights", f"expected shape {(self.rows, self.neurons)}, got {w.shape}")
        full = np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8)
        full[:self.rows, self.neuron_index()] = w
        return full

    def full_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """(batch, rows) uint8 activations -> the full chip's (batch, 128) uint8, 0 elsewhere
        (a zero activation sends no event, so the full chip's run is the reduced one's)."""
        x = np.asarray(inputs)
        if x.ndim != 2 or x.shape[1] != self.rows:
            raise InvalidValue("inputs", f"expected shape (batch, {self.rows}), got {x.shape}")
        full = np.zeros((x.shape[0], g.MAC_INPUTS), np.uint8)
        full[:, :self.rows] = x
        return full

    def full_trims(self, trims: np.ndarray) -> np.ndarray:
        """(hemispheres, rows) uint8 trims -> a (2, 128) uint8 array, nominal 32 elsewhere."""
        t = np.asarray(trims)
        if t.shape != (self.hemispheres, self.rows):
            raise InvalidValue("driver_offset_trim",
                               f"expected shape {(self.hemispheres, self.rows)}, got {t.shape}")
        full = np.full((g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE), 32, np.uint8)
        full[:self.hemispheres, :self.rows] = t
        return full


RtlGeometry.FULL = RtlGeometry(g.DRIVERS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE, g.HEMISPHERES)
