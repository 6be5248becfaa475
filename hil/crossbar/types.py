"""The crossbar tile family's Config, Stimulus and Readout types (docs/crossbar.md#types).

A tile of ``rows`` x ``columns`` devices holds a weight matrix W (rows, columns). :class:`Config` writes
W and the :class:`hil.crossbar.RPUConfig` that makes the tile behave; a :class:`Stimulus` is a batch of
forward vectors x (batch, columns) -> y = W x, backward vectors d (batch, rows) -> W^T d, or an update
(x, d, learning rate) -> W -= lr d x^T by pulses; the answer is a :class:`Readout`. :class:`WeightRead`
asks a tile that says ``"readback"`` in ``info().modes`` for the weights its devices hold
(:class:`Weights`).

Every type validates at construction: NaN, infinities, values out of range and wrong shapes raise
:class:`hil.errors.InvalidValue` naming the field, the index, the value and what is allowed. They cross the
wire as named arrays plus a JSON header (:mod:`hil.contract.wire`).
"""
from dataclasses import dataclass, field

import numpy as np

from emulator.crossbar import geometry as g

from ..contract import validation
from ..contract.errors import InvalidValue
from ..contract.wire import wire_type
from .configs import RPUConfig

FAMILY = "crossbar"
DIRECTIONS = ("forward", "backward", "update")
WEIGHT_MAX = 1e3
"""|w| at most, in weight units (a tile's devices hold less: their bounds, DeviceConfig.w_min/w_max)."""
VALUE_MAX = 1e6
"""|x| and |d| at most."""
LEARNING_RATE_MAX = 1e3


def geometry(shape: tuple[int, int]) -> dict:
    """``info().geometry`` of a tile of ``shape`` (rows, columns)."""
    return {"rows": int(shape[0]), "columns": int(shape[1]), "batch_max": g.BATCH_MAX,
            "elements_max": g.ELEMENTS_MAX, "bl_max": g.BL_MAX}


def _shape_of(geometry: dict) -> tuple[int, int]:
    return int(geometry["rows"]), int(geometry["columns"])


@wire_type("crossbar.Config")
@dataclass(frozen=True, eq=False)
class Config:
    """The tile's weights (rows, columns) float32, each in [-1e3, 1e3] (a device holds at most its bounds:
    a mismatched tile refuses weights beyond the nominal ``device.w_min .. w_max``), and its RPUConfig."""

    weights: np.ndarray
    rpu_config: RPUConfig = field(default_factory=RPUConfig)

    def __post_init__(self):
        w = validation.real_array("weights", self.weights, lo=-WEIGHT_MAX, hi=WEIGHT_MAX, ndim=2)
        if w.shape[0] > g.SIZE_MAX or w.shape[1] > g.SIZE_MAX:
            raise InvalidValue("weights", f"has shape {w.shape}; a tile has at most {g.SIZE_MAX} rows and columns")
        object.__setattr__(self, "weights", w)
        rpu = self.rpu_config
        if isinstance(rpu, dict):
            rpu = RPUConfig(**rpu)
        if not isinstance(rpu, RPUConfig):
            raise InvalidValue("rpu_config", f"{rpu!r} is not an hil.crossbar.RPUConfig")
        object.__setattr__(self, "rpu_config", rpu)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.weights.shape)

    def with_weights(self, weights) -> "Config":
        return Config(weights=weights, rpu_config=self.rpu_config)

    def with_rpu_config(self, rpu_config: RPUConfig) -> "Config":
        return Config(weights=self.weights, rpu_config=rpu_config)

    def check_shape(self, geometry: dict, *, ideal: bool = False) -> "Config":
        """Refuses weights of another shape than the tile's, and (``ideal`` False) beyond the nominal
        device bounds."""
        shape = _shape_of(geometry)
        if self.weights.shape != shape:
            raise InvalidValue("weights", f"has shape {self.weights.shape}; this tile is {shape} (rows, columns)")
        if not ideal:
            dev = self.rpu_config.device
            bad = np.flatnonzero((self.weights < dev.w_min) | (self.weights > dev.w_max))
            if bad.size:
                idx = np.unravel_index(bad[0], shape)
                raise InvalidValue(f"weights[{idx[0]}, {idx[1]}]", f"{str(self.weights[idx])} is outside the devices' "
                                                                   f"range {dev.w_min:g}..{dev.w_max:g} (DeviceConfig)")
        return self


@wire_type("crossbar.Stimulus")
@dataclass(frozen=True, eq=False)
class Stimulus:
    """A batch of vectors in one ``direction``:

    * ``"forward"``: ``inputs`` x (batch, columns) -> Readout.outputs y (batch, rows);
    * ``"backward"``: ``inputs`` d (batch, rows) -> Readout.outputs (batch, columns), through W^T;
    * ``"update"``: ``inputs`` x (batch, columns), ``errors`` d (batch, rows) and ``learning_rate`` lr
      (0 < lr <= 1e3): W -= lr d x^T by pulse trains, vector after vector.

    Values finite with magnitude at most 1e6 (float32 on the tile); batch 1..65536, and batch x (rows +
    columns) at most 2^25 values.
    """

    direction: str
    inputs: np.ndarray
    errors: np.ndarray | None = None
    learning_rate: float | None = None

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise InvalidValue("direction", f"{self.direction!r} is not one of {list(DIRECTIONS)}")
        x = validation.real_array("inputs", self.inputs, lo=-VALUE_MAX, hi=VALUE_MAX, ndim=2)
        object.__setattr__(self, "inputs", x)
        if self.direction == "update":
            if self.errors is None or self.learning_rate is None:
                raise InvalidValue("errors" if self.errors is None else "learning_rate",
                                   "is missing; an update needs inputs, errors and learning_rate")
            d = validation.real_array("errors", self.errors, lo=-VALUE_MAX, hi=VALUE_MAX, ndim=2)
            if d.shape[0] != x.shape[0]:
                raise InvalidValue("errors", f"has {d.shape[0]} vectors; inputs has {x.shape[0]}")
            object.__setattr__(self, "errors", d)
            lr = validation.real("learning_rate", self.learning_rate, lo=0.0, hi=LEARNING_RATE_MAX)
            if lr <= 0:
                raise InvalidValue("learning_rate", f"{lr} is not positive; allowed: 0 < lr <= {LEARNING_RATE_MAX:g}")
            object.__setattr__(self, "learning_rate", lr)
        elif self.errors is not None or self.learning_rate is not None:
            raise InvalidValue("errors" if self.errors is not None else "learning_rate",
                               f"is only for an update, not a {self.direction} batch")
        if x.shape[0] > g.BATCH_MAX:
            raise InvalidValue("inputs", f"has {x.shape[0]} vectors; at most {g.BATCH_MAX} in one run")

    @classmethod
    def forward(cls, x) -> "Stimulus":
        return cls("forward", x)

    @classmethod
    def backward(cls, d) -> "Stimulus":
        return cls("backward", d)

    @classmethod
    def update(cls, x, d, learning_rate: float) -> "Stimulus":
        return cls("update", x, d, learning_rate)

    @property
    def batch(self) -> int:
        return int(self.inputs.shape[0])

    def check_shape(self, geometry: dict) -> "Stimulus":
        rows, cols = _shape_of(geometry)
        want = rows if self.direction == "backward" else cols
        if self.inputs.shape[1] != want:
            raise InvalidValue("inputs", f"has {self.inputs.shape[1]} values per vector; a {self.direction} "
                                         f"vector of this tile has {want}")
        if self.errors is not None and self.errors.shape[1] != rows:
            raise InvalidValue("errors", f"has {self.errors.shape[1]} values per vector; this tile has {rows} rows")
        if self.batch * (rows + cols) > g.ELEMENTS_MAX:
            raise InvalidValue("inputs", f"{self.batch} vectors x {rows + cols} values is more than "
                                         f"{g.ELEMENTS_MAX} in one run; split the batch")
        return self


@wire_type("crossbar.Readout")
@dataclass(frozen=True, eq=False)
class Readout:
    """What a run gives: ``outputs`` (batch, n) float32 and ``rounds`` (batch,) int8 (the iterative bound
    management's last round: the input was divided by 2^rounds) of a forward or backward batch; ``bl``
    (batch,) int32 (the train length) and ``pulses`` (batch, 2) int64 (row and column pulses fired) of an
    update. A float32 ``outputs`` array is taken as it is (made read-only), not copied."""

    outputs: np.ndarray | None = None
    rounds: np.ndarray | None = None
    bl: np.ndarray | None = None
    pulses: np.ndarray | None = None

    def __post_init__(self):
        for name, dtype, ndim in (("outputs", np.float32, 2), ("rounds", np.int8, 1), ("bl", np.int32, 1),
                                  ("pulses", np.int64, 2)):
            v = getattr(self, name)
            if v is None:
                continue
            a = np.asarray(v)
            if a.ndim != ndim:
                raise InvalidValue(name, f"has shape {a.shape}; expected {ndim} dimension(s)")
            if name == "outputs":     # a device's fresh array: checked, taken as it is
                a = validation.real_array(name, a, lo=-np.inf, hi=np.inf, copy=False) if a.size else a.astype(dtype)
            else:
                a = np.array(a, dtype)
                a.flags.writeable = False
            object.__setattr__(self, name, a)


@wire_type("crossbar.WeightRead")
@dataclass(frozen=True)
class WeightRead:
    """Asks for the weights the tile's devices hold (mode ``readback``; not a run: the run counter stays)."""


@wire_type("crossbar.Weights")
@dataclass(frozen=True, eq=False)
class Weights:
    """The weights (rows, columns) float32 the tile's devices hold."""

    weights: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "weights", validation.real_array("weights", self.weights, lo=-np.inf, hi=np.inf,
                                                                  ndim=2))

