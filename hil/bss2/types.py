"""bss2 Config, Stimulus and Readout types: small frozen dataclasses of numpy arrays.

MAC mode: MacConfig, MacStimulus, MacReadout. CADC ramp mode: CadcRamp, CadcCodes. Memory
mode: SynapseRead, SynapseMemory (the synapse SRAM read back). Spiking mode: SpikingConfig,
SpikingStimulus, SpikingReadout.

They validate at construction (see :mod:`hil.contract.validation`) and convert to and
from named arrays plus a JSON header (:mod:`hil.contract.wire`).
"""
from dataclasses import dataclass

import numpy as np

from emulator.bss2 import capmem, geometry as g

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


@wire_type("bss2.SynapseRead")
@dataclass(frozen=True, eq=False)
class SynapseRead:
    """Memory mode: read the synapse SRAM back, digitally (docs/protocol.md#the-memory-mode).

    Needs no configuration of its own: it reads what the last MAC or spiking configuration wrote
    (the power-on memory holds 0). Has no fields."""


@wire_type("bss2.SynapseMemory")
@dataclass(frozen=True, eq=False)
class SynapseMemory:
    """The synapse SRAM as it holds its words: what was last written, with any stuck bit as it is
    stuck. A MAC configuration writes |w| on the row of its sign (row 2i for w > 0, 2i + 1 for
    w < 0, 0 on the other) and every label 0."""

    weights: np.ndarray
    """(2, 256, 256) uint8 6-bit weights 0..63, (hemisphere, row, column)."""
    labels: np.ndarray
    """(2, 256, 256) uint8 6-bit labels 0..63, (hemisphere, row, column)."""

    def __post_init__(self):
        shape = (g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE)
        object.__setattr__(self, "weights", validation.integer_array(
            "weights", self.weights, lo=0, hi=g.WEIGHT_MAX, dtype=np.uint8, shape=shape))
        object.__setattr__(self, "labels", validation.integer_array(
            "labels", self.labels, lo=0, hi=(1 << g.LABEL_BITS) - 1, dtype=np.uint8, shape=shape))


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


# -- spiking mode (docs/spiking.md) --------------------------------------------------

NEURON_CELLS = tuple(capmem.DEFAULT_LEVELS)
"""The per-neuron CapMem cells of :class:`SpikingConfig`, each (512,) levels 0..1022."""


def _levels(field: str, value, default: int, shape: tuple) -> np.ndarray:
    if value is None:
        value = np.full(shape, default, np.uint16)
    return validation.integer_array(field, value, lo=0, hi=g.CAPMEM_LEVEL_MAX, dtype=np.uint16, shape=shape)


def _flags(field: str, value, shape: tuple) -> np.ndarray:
    if value is None:
        value = np.zeros(shape, np.uint8)
    elif isinstance(value, np.ndarray) and value.dtype == bool:
        value = value.astype(np.uint8)
    return validation.integer_array(field, value, lo=0, hi=1, dtype=np.uint8, shape=shape)


def _small(field: str, value, hi: int, shape: tuple, default: int = 0) -> np.ndarray:
    if value is None:
        value = np.full(shape, default, np.uint8)
    return validation.integer_array(field, value, lo=0, hi=hi, dtype=np.uint8, shape=shape)


@wire_type("bss2.SpikingConfig")
@dataclass(frozen=True, eq=False)
class SpikingConfig:
    """The whole chip in spiking mode: synapses, drivers and neurons (docs/spiking.md).

    Every field may be left out (None): it then takes its power-on value, so
    ``SpikingConfig()`` is a chip with nominal neurons (leak 80, reset 80, threshold
    125 LSB, 10 us time constants, 2 us refractory) and nothing connected. The
    stored config holds every value explicitly.
    """

    weights: np.ndarray | None = None
    """(2, 256, 256) synapse weights 0..63 (hemisphere, row, column); default 0."""
    labels: np.ndarray | None = None
    """(2, 256, 256) synapse labels 0..63: a synapse responds to events whose address equals it; default 0."""
    row_mode: np.ndarray | None = None
    """(2, 256) mode of each synapse row: 0 off, 1 excitatory, 2 inhibitory; driver d feeds rows
    2d and 2d + 1. Default 0 (off)."""
    driver_bus: np.ndarray | None = None
    """(2, 128) the bus 0..3 each synapse driver listens to; default 0."""
    driver_row_select: np.ndarray | None = None
    """(2, 128) row select 0..31 each driver compares an event's bits 6-10 with; default 0."""
    driver_mask: np.ndarray | None = None
    """(2, 128) 5-bit compare mask 0..31: the row-select bits that must match; default 31 (all)."""
    stp_enable: np.ndarray | None = None
    """(2, 128) 0/1 short-term plasticity of each driver; default 0 (off)."""
    stp_utilization: np.ndarray | None = None
    """(2, 128) CapMem level 0..1022 of each driver's utilization U (nominal L / 1022); default 0."""
    stp_recovery: np.ndarray | None = None
    """(2, 128) CapMem level 0..1022 of each driver's recovery time constant (nominal
    100 us * 200 / L); default 200."""
    leak: np.ndarray | None = None
    """(512,) CapMem level of the leak potential, nominal (L - 128) / 3 LSB; default 368 (80 LSB)."""
    reset: np.ndarray | None = None
    """(512,) CapMem level of the reset potential (as ``leak``); default 368 (80 LSB)."""
    threshold: np.ndarray | None = None
    """(512,) CapMem level of the spike threshold (as ``leak``); default 503 (125 LSB)."""
    tau_mem: np.ndarray | None = None
    """(512,) CapMem level of the membrane time constant, nominal 10 us * 200 / max(L, 1); default 200."""
    tau_syn_exc: np.ndarray | None = None
    """(512,) CapMem level of the excitatory synaptic time constant (as ``tau_mem``); default 200."""
    tau_syn_inh: np.ndarray | None = None
    """(512,) CapMem level of the inhibitory synaptic time constant (as ``tau_mem``); default 200."""
    i_const: np.ndarray | None = None
    """(512,) CapMem level of a constant input current, nominal 0.25 L LSB; default 0 (off)."""
    adaptation_a: np.ndarray | None = None
    """(512,) CapMem level of the AdEx subthreshold adaptation a, nominal 2 L / 1022; default 0."""
    adaptation_b: np.ndarray | None = None
    """(512,) CapMem level of the AdEx spike-triggered adaptation b, nominal 20 L / 1022 LSB; default 0."""
    tau_adaptation: np.ndarray | None = None
    """(512,) CapMem level of the adaptation time constant, nominal 100 us * 200 / L; default 200."""
    exp_slope: np.ndarray | None = None
    """(512,) CapMem level of the AdEx slope dT, nominal 10 L / 1022 LSB; default 0."""
    exp_threshold: np.ndarray | None = None
    """(512,) CapMem level of the AdEx threshold V_T (as ``leak``); default 503 (125 LSB)."""
    enable_adaptation: np.ndarray | None = None
    """(512,) 0/1 the AdEx adaptation current w; default 0."""
    enable_exponential: np.ndarray | None = None
    """(512,) 0/1 the AdEx exponential term; default 0."""
    refractory: np.ndarray | None = None
    """(512,) refractory time, FPGA cycles 0..4095 (digital); default 250 (2 us)."""
    cadc_offset: np.ndarray | None = None
    """(512,) digital offset -128..127 added to each CADC channel's code; default 0."""

    def __post_init__(self):
        h, r, c, d, n = (g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE,
                         g.DRIVERS_PER_HEMISPHERE, g.NEURONS)
        put = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731 - frozen dataclass
        put("weights", _small("weights", self.weights, g.WEIGHT_MAX, (h, r, c)))
        put("labels", _small("labels", self.labels, (1 << g.LABEL_BITS) - 1, (h, r, c)))
        put("row_mode", _small("row_mode", self.row_mode, g.ROW_MODES - 1, (h, r)))
        put("driver_bus", _small("driver_bus", self.driver_bus, g.DRIVER_BUSES - 1, (h, d)))
        put("driver_row_select", _small("driver_row_select", self.driver_row_select, g.ROW_SELECT_MAX, (h, d)))
        put("driver_mask", _small("driver_mask", self.driver_mask, g.ROW_SELECT_MAX, (h, d), g.ROW_SELECT_MAX))
        put("stp_enable", _flags("stp_enable", self.stp_enable, (h, d)))
        put("stp_utilization", _levels("stp_utilization", self.stp_utilization, 0, (h, d)))
        put("stp_recovery", _levels("stp_recovery", self.stp_recovery, capmem.TAU_LEVEL, (h, d)))
        for name in NEURON_CELLS:
            put(name, _levels(name, getattr(self, name), capmem.DEFAULT_LEVELS[name], (n,)))
        put("enable_adaptation", _flags("enable_adaptation", self.enable_adaptation, (n,)))
        put("enable_exponential", _flags("enable_exponential", self.enable_exponential, (n,)))
        refractory = np.full(n, 250, np.uint16) if self.refractory is None else self.refractory
        put("refractory", validation.integer_array("refractory", refractory, lo=0, hi=g.REFRACTORY_MAX,
                                                   dtype=np.uint16, shape=(n,)))
        offset = np.zeros(n, np.int8) if self.cadc_offset is None else self.cadc_offset
        put("cadc_offset", validation.integer_array("cadc_offset", offset, lo=-128, hi=127, dtype=np.int8,
                                                    shape=(n,)))

    def arrays(self) -> dict[str, np.ndarray]:
        """Every field by name (what ``VirtualChip.configure_spiking`` takes)."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def _events(field: str, value, dtype, lo: int, hi: int) -> np.ndarray:
    a = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if a.ndim != 1:
        raise InvalidValue(field, f"has shape {a.shape}; expected (events,)")
    if a.size == 0:
        out = np.zeros(0, dtype)
        out.flags.writeable = False
        return out
    return validation.integer_array(field, a, lo=lo, hi=hi, dtype=dtype, shape=(None,))


@wire_type("bss2.SpikingStimulus")
@dataclass(frozen=True, eq=False)
class SpikingStimulus:
    """Timed input events of one spiking run, and what to record (docs/spiking.md).

    The events of each trial are sorted by time; with several trials, by (trial, time).
    """

    times: np.ndarray
    """(events,) FPGA cycles 0..duration-1 of each input event; events <= 2**21 (may be empty)."""
    labels: np.ndarray
    """(events,) 16-bit event labels 0..65535: bus (bits 14-15), row select (6-10), address (0-5)."""
    duration: int
    """Length of each trial, FPGA cycles (8 ns) 1..1,250,000 (10 ms)."""
    trials: np.ndarray | None = None
    """(events,) trial 0..n_trials-1 of each event; None: every event in trial 0."""
    n_trials: int = 1
    """Trials in the run, 1..1024, each from the power-on state."""
    step_ns: int = 100
    """The emulator's integration step, ns 1..1000; steps x trials <= 2**22."""
    record_cadc: bool = True
    """Sample every neuron with the CADC."""
    cadc_period: int = g.CADC_PERIOD_DEFAULT
    """FPGA cycles between CADC samples, 213..65535 (1.7 us .. 0.5 ms)."""
    madc_neuron: int = -1
    """The neuron 0..511 the MADC records, or -1 for none."""

    def __post_init__(self):
        put = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731 - frozen dataclass
        put("duration", validation.integer("duration", self.duration, lo=1, hi=g.SPIKING_DURATION_MAX))
        put("n_trials", validation.integer("n_trials", self.n_trials, lo=1, hi=g.TRIALS_MAX))
        put("step_ns", validation.integer("step_ns", self.step_ns, lo=1, hi=g.STEP_NS_MAX))
        if not isinstance(self.record_cadc, (bool, np.bool_)):
            raise InvalidValue("record_cadc", f"{self.record_cadc!r} is not a bool")
        put("record_cadc", bool(self.record_cadc))
        put("cadc_period", validation.integer("cadc_period", self.cadc_period, lo=g.CADC_PERIOD_MIN,
                                              hi=g.CADC_PERIOD_MAX))
        put("madc_neuron", validation.integer("madc_neuron", self.madc_neuron, lo=-1, hi=g.NEURONS - 1))
        times = _events("times", self.times, np.int64, 0, self.duration - 1)
        labels = _events("labels", self.labels, np.uint16, 0, g.LABEL_MAX)
        if labels.size != times.size:
            raise InvalidValue("labels", f"has {labels.size} events; times has {times.size}")
        if times.size > g.EVENTS_MAX:
            raise InvalidValue("times", f"{times.size} events; at most {g.EVENTS_MAX} per run")
        trials = self.trials
        if trials is not None:
            trials = _events("trials", trials, np.uint16, 0, self.n_trials - 1)
            if trials.size != times.size:
                raise InvalidValue("trials", f"has {trials.size} events; times has {times.size}")
            order = trials.astype(np.int64) * (g.SPIKING_DURATION_MAX + 1) + times
        else:
            order = times
        bad = np.flatnonzero(np.diff(order) < 0)
        if bad.size:
            i = int(bad[0]) + 1
            what = "(trial, time)" if trials is not None else "time"
            raise InvalidValue(f"times[{i}]", f"{int(times[i])} comes before times[{i - 1}] = "
                               f"{int(times[i - 1])}; events must be sorted by {what}")
        put("times", times)
        put("labels", labels)
        put("trials", trials)
        steps = self.steps
        if steps * self.n_trials > g.STEPS_TIMES_TRIALS_MAX:
            raise InvalidValue("step_ns", f"{steps} steps x {self.n_trials} trials = {steps * self.n_trials}; "
                               f"at most {g.STEPS_TIMES_TRIALS_MAX} per run (a longer step or fewer trials)")
        cadc_bytes = self.n_trials * self.cadc_samples * g.NEURONS
        if cadc_bytes > g.READOUT_BYTES_MAX:
            raise InvalidValue("cadc_period", f"{self.n_trials} trials x {self.cadc_samples} samples x "
                               f"{g.NEURONS} neurons = {cadc_bytes} bytes; at most {g.READOUT_BYTES_MAX}")
        madc_bytes = 2 * self.n_trials * self.madc_samples
        if madc_bytes > g.READOUT_BYTES_MAX:
            raise InvalidValue("madc_neuron", f"{self.n_trials} trials x {self.madc_samples} MADC samples x 2 = "
                               f"{madc_bytes} bytes; at most {g.READOUT_BYTES_MAX}")

    @property
    def steps(self) -> int:
        """Integration steps of one trial: ceil(8 * duration / step_ns)."""
        return -(-8 * self.duration // self.step_ns)

    @property
    def cadc_samples(self) -> int:
        """CADC samples per trial (at cycles 0, cadc_period, ... < duration); 0 when not recorded."""
        return -(-self.duration // self.cadc_period) if self.record_cadc else 0

    @property
    def madc_samples(self) -> int:
        """MADC samples per trial (at 0, 34, 68 ... ns < 8 * duration); 0 without an MADC neuron."""
        return -(-8 * self.duration // g.MADC_PERIOD_NS) if self.madc_neuron >= 0 else 0

    def trial_of_events(self) -> np.ndarray:
        """(events,) uint16 trial of each event (zeros without ``trials``)."""
        return self.trials if self.trials is not None else np.zeros(self.times.size, np.uint16)


@wire_type("bss2.SpikingReadout")
@dataclass(frozen=True, eq=False)
class SpikingReadout:
    """What a spiking run recorded: spikes, CADC samples and the MADC trace."""

    spike_times: np.ndarray
    """(spikes,) int64 FPGA cycles of each spike (the FPGA's timestamp of the grid point)."""
    spike_neurons: np.ndarray
    """(spikes,) uint16 neuron 0..511 of each spike."""
    spike_trials: np.ndarray
    """(spikes,) uint16 trial of each spike; spikes sorted by (trial, grid point, neuron), at most 2**21."""
    cadc_times: np.ndarray
    """(samples,) int64 FPGA cycles of each CADC sample (the same in every trial)."""
    cadc: np.ndarray
    """(trials, samples, 512) uint8 CADC codes (samples 0 when not recorded)."""
    madc: np.ndarray
    """(trials, madc_samples) uint16 MADC codes 0..1023 of ``madc_neuron``, one per 34 ns."""
    madc_neuron: int = -1
    """The neuron the MADC recorded (-1: none)."""

    def __post_init__(self):
        put = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731 - frozen dataclass
        times = _events("spike_times", self.spike_times, np.int64, 0, 2**62)
        for name, hi in (("spike_neurons", g.NEURONS - 1), ("spike_trials", g.TRIALS_MAX - 1)):
            a = _events(name, getattr(self, name), np.uint16, 0, hi)
            if a.size != times.size:
                raise InvalidValue(name, f"has {a.size} spikes; spike_times has {times.size}")
            put(name, a)
        put("spike_times", times)
        put("cadc_times", _events("cadc_times", self.cadc_times, np.int64, 0, 2**62))
        cadc = np.asarray(self.cadc)
        if cadc.ndim != 3 or cadc.shape[1] != self.cadc_times.size or cadc.shape[2] > g.NEURONS:
            raise InvalidValue("cadc", f"has shape {cadc.shape}; expected (trials, {self.cadc_times.size}, neurons)")
        put("cadc", cadc.astype(np.uint8) if cadc.size == 0 else validation.integer_array(
            "cadc", cadc, lo=0, hi=g.CADC_CODES - 1, dtype=np.uint8, ndim=3))
        madc = np.asarray(self.madc)
        if madc.ndim != 2 or madc.shape[0] != cadc.shape[0]:
            raise InvalidValue("madc", f"has shape {madc.shape}; expected ({cadc.shape[0]}, samples)")
        put("madc", madc.astype(np.uint16) if madc.size == 0 else validation.integer_array(
            "madc", madc, lo=0, hi=g.MADC_CODES - 1, dtype=np.uint16, ndim=2))
        put("madc_neuron", validation.integer("madc_neuron", self.madc_neuron, lo=-1, hi=g.NEURONS - 1))

    @property
    def n_trials(self) -> int:
        return self.cadc.shape[0]

    @property
    def madc_times_ns(self) -> np.ndarray:
        """(madc_samples,) int64 ns of each MADC sample: 34 ns apart from 0."""
        return np.arange(self.madc.shape[1], dtype=np.int64) * g.MADC_PERIOD_NS
