"""bss2 Config, Stimulus and Readout types: small frozen dataclasses of numpy arrays.

MAC mode: MacConfig, MacStimulus, MacReadout. CADC ramp mode: CadcRamp, CadcCodes.

They validate at construction (see :mod:`hil.contract.validation`) and convert to and
from named arrays plus a JSON header (:mod:`hil.contract.wire`).
"""
from dataclasses import dataclass

import numpy as np

from emulator.bss2 import geometry as g

from ..contract import validation
from ..contract.errors import InvalidValue
from ..contract.wire import wire_type

FAMILY = "bss2"


def _at_most(field: str, a: np.ndarray, most: tuple[int, ...]) -> np.ndarray:
    """``a``, refused if any of its dimensions exceeds the chip's (``most``). A device's own
    geometry (``info().geometry``) may be smaller; its backend checks the exact shape."""
    if any(n > m for n, m in zip(a.shape, most)):
        want = " x ".join(f"at most {m}" for m in most)
        raise InvalidValue(field, f"has shape {a.shape}; the chip takes {want}")
    return a


def mac_shape(geometry: dict) -> tuple[int, int]:
    """(inputs, outputs) of one MAC run on a device of this geometry (``info().geometry``):
    (128, 512) on the chip, less on a reduced RTL core."""
    return int(geometry["mac_inputs"]), int(geometry["mac_outputs"])


def neuron_index(geometry: dict) -> np.ndarray:
    """(mac_outputs,) the chip's neuron (0..511) behind each output of a MAC run on a device of
    this geometry: output j itself on the chip; a reduced core names its own (``neuron_index``)."""
    if "neuron_index" in geometry:
        return np.asarray(geometry["neuron_index"], np.int64)
    return np.arange(mac_shape(geometry)[1])


def _check_shape(field: str, a: np.ndarray, want: tuple) -> None:
    if any(w is not None and w != n for w, n in zip(want, a.shape)):
        text = "(" + ", ".join("any" if w is None else str(w) for w in want) + ")"
        raise InvalidValue(field, f"has shape {a.shape}; this device takes {text}")


@wire_type("bss2.MacConfig")
@dataclass(frozen=True, eq=False)
class MacConfig:
    """The synapse array and drivers for one MAC run."""

    weights: np.ndarray
    """(mac_inputs, mac_outputs) signed weights -63..63, the device's geometry
    (``info().geometry``; the chip's is (128, 512), an RTL core's may be smaller): on the
    chip, column j < 256 is neuron j of hemisphere 0, column 256 + j neuron j of
    hemisphere 1. Row i is logical input i (driver i)."""
    driver_offset_trim: np.ndarray | None = None
    """(hemispheres, mac_inputs) offset trim of each synapse driver, 0..63 (nominal 32);
    the chip's is (2, 128). None uses the device's own calibration."""

    def __post_init__(self):
        object.__setattr__(self, "weights", _at_most("weights", validation.integer_array(
            "weights", self.weights, lo=-g.SIGNED_WEIGHT_MAX, hi=g.SIGNED_WEIGHT_MAX,
            dtype=np.int8, ndim=2), (g.MAC_INPUTS, g.MAC_OUTPUTS)))
        if self.driver_offset_trim is not None:
            object.__setattr__(self, "driver_offset_trim", _at_most("driver_offset_trim", validation.integer_array(
                "driver_offset_trim", self.driver_offset_trim, lo=0, hi=63, dtype=np.uint8, ndim=2),
                (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE)))

    def check_shape(self, geometry: dict) -> "MacConfig":
        """Itself, if it fits a device of this geometry exactly; else an InvalidValue naming the
        field, its shape and the device's."""
        inputs, outputs = mac_shape(geometry)
        _check_shape("weights", self.weights, (inputs, outputs))
        if self.driver_offset_trim is not None:
            _check_shape("driver_offset_trim", self.driver_offset_trim, (int(geometry["hemispheres"]), inputs))
        return self


@wire_type("bss2.MacStimulus")
@dataclass(frozen=True, eq=False)
class MacStimulus:
    """A batch of input vectors for one MAC run."""

    inputs: np.ndarray
    """(batch, mac_inputs) activations 0..31 (0 sends no event); batch 1..65536; the
    chip has 128 inputs."""
    num_sends: int = 1
    """How often each vector is sent, 1..1024."""
    wait_between_events: int = 5
    """FPGA cycles (8 ns) between events, 0..4095."""

    def __post_init__(self):
        inputs = _at_most("inputs", validation.integer_array(
            "inputs", self.inputs, lo=0, hi=g.ACTIVATION_MAX, dtype=np.uint8, ndim=2), (g.MAX_BATCH, g.MAC_INPUTS))
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "num_sends", validation.integer(
            "num_sends", self.num_sends, lo=1, hi=g.NUM_SENDS_MAX))
        object.__setattr__(self, "wait_between_events", validation.integer(
            "wait_between_events", self.wait_between_events, lo=0, hi=g.WAIT_BETWEEN_EVENTS_MAX))

    @property
    def batch(self) -> int:
        return self.inputs.shape[0]

    def check_shape(self, geometry: dict) -> "MacStimulus":
        """Itself, if its vectors fit a device of this geometry; else an InvalidValue."""
        _check_shape("inputs", self.inputs, (None, mac_shape(geometry)[0]))
        if self.batch > int(geometry.get("max_batch", g.MAX_BATCH)):
            raise InvalidValue("inputs", f"batch {self.batch} is outside 1..{geometry['max_batch']} on this device")
        return self


@wire_type("bss2.MacReadout")
@dataclass(frozen=True, eq=False)
class MacReadout:
    """What the CADC read: clamp(read - baseline, -128, 127) per input vector and neuron."""

    outputs: np.ndarray
    """(batch, mac_outputs) int8 (the chip has 512 outputs)."""

    def __post_init__(self):
        object.__setattr__(self, "outputs", _at_most("outputs", validation.integer_array(
            "outputs", self.outputs, lo=g.OUTPUT_MIN, hi=g.OUTPUT_MAX, dtype=np.int8, ndim=2),
            (g.MAX_BATCH, g.MAC_OUTPUTS)))


@wire_type("bss2.CadcRamp")
@dataclass(frozen=True, eq=False)
class CadcRamp:
    """CADC ramp mode: every neuron's resting level set from CapMem, read raw by the CADC.

    A chip lab's code-density test of the ADC: each level is set on every
    neuron in turn and read ``repeats`` times. The nominal neuron rests at
    ``(level - 128) / 3`` CADC LSB, so a full ramp 0..1022 overdrives the
    8-bit CADC at both ends (docs/chip_model.md). Needs no configuration.
    """

    levels: np.ndarray
    """(n,) CapMem levels 0..1022 (10-bit cells), n >= 1."""
    repeats: int = 1
    """Reads per level, 1..65536; n * repeats <= 65536 samples."""

    def __post_init__(self):
        levels = validation.integer_array("levels", self.levels, lo=0, hi=g.CAPMEM_LEVEL_MAX,
                                          dtype=np.uint16, shape=(None,))
        object.__setattr__(self, "levels", levels)
        repeats = validation.integer("repeats", self.repeats, lo=1, hi=g.MAX_BATCH)
        if levels.size * repeats > g.MAX_BATCH:
            raise InvalidValue("repeats", f"{levels.size} levels x {repeats} repeats = "
                               f"{levels.size * repeats} samples; at most {g.MAX_BATCH} per run")
        object.__setattr__(self, "repeats", repeats)

    @property
    def samples(self) -> int:
        return self.levels.size * self.repeats


@wire_type("bss2.CadcCodes")
@dataclass(frozen=True, eq=False)
class CadcCodes:
    """Raw CADC codes of a ramp: row i was read at ``levels[i // repeats]``."""

    codes: np.ndarray
    """(samples, neurons) uint8 codes 0..255, one column per neuron (CADC channel; the chip has 512)."""

    def __post_init__(self):
        object.__setattr__(self, "codes", _at_most("codes", validation.integer_array(
            "codes", self.codes, lo=0, hi=g.CADC_CODES - 1, dtype=np.uint8, ndim=2), (g.MAX_BATCH, g.NEURONS)))


def matmul_operands(x, W, num_sends: int, wait_between_events: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The operands of a matrix product of any size on the MAC mode, checked: (batch, rows)
    uint8 activations 0..31 (a (rows,) vector becomes one row), (rows, cols) int8 weights
    -63..63 with matching rows, sends 1..1024 and wait 0..4095 FPGA cycles. Shared by
    :func:`hil.bss2.mac` and :class:`hil.bss2.MacModel`, which validate alike."""
    x = validation.integer_array("x", x, lo=0, hi=g.ACTIVATION_MAX, dtype=np.uint8, ndim=(1, 2))
    W = validation.integer_array("W", W, lo=-g.SIGNED_WEIGHT_MAX, hi=g.SIGNED_WEIGHT_MAX,
                                 dtype=np.int8, ndim=2)
    if x.ndim == 1:
        x = x.reshape(1, -1)
    if x.shape[1] != W.shape[0]:
        raise InvalidValue("x", f"has {x.shape[1]} rows per vector but W has {W.shape[0]} rows; they must match")
    num_sends = validation.integer("num_sends", num_sends, lo=1, hi=g.NUM_SENDS_MAX)
    wait_between_events = validation.integer("wait_between_events", wait_between_events,
                                             lo=0, hi=g.WAIT_BETWEEN_EVENTS_MAX)
    return x, W, num_sends, wait_between_events
