"""The emulator backends: a virtual chip in this process (the embedded default), one per family:
:class:`EmulatorBackend` (bss2), :class:`Dynapse2EmulatorBackend` (dynapse2) and
:class:`CrossbarEmulatorBackend` (crossbar)."""
import dataclasses

import numpy as np

import emulator
import emulator.crossbar as xb
import emulator.dynapse2 as d2
from emulator.bss2 import DEFAULT_SERIAL, MODEL, Faults, VirtualChip
from emulator.bss2 import geometry as g
from emulator.errors import InvalidInput

from ..contract.backend import VENDOR, Backend, DeviceInfo, register
from ..bss2.mac import blockwise
from ..bss2.types import (FAMILY, CadcCodes, CadcRamp, MacConfig, MacReadout, MacStimulus, SpikingConfig,
                          SpikingReadout, SpikingStimulus, SynapseMemory, SynapseRead)
from ..contract import validation
from ..crossbar import types as xb_types
from ..dynapse2 import types as d2_types
from ..contract.errors import InvalidValue
from ..results.jsonable import to_json_value
from ..rtl.geometry import RtlGeometry


def bss2_geometry() -> dict:
    return {
        "hemispheres": g.HEMISPHERES,
        "rows_per_hemisphere": g.ROWS_PER_HEMISPHERE,
        "columns_per_hemisphere": g.COLUMNS_PER_HEMISPHERE,
        "drivers_per_hemisphere": g.DRIVERS_PER_HEMISPHERE,
        "neurons": g.NEURONS,
        "mac_inputs": g.MAC_INPUTS,
        "mac_outputs": g.MAC_OUTPUTS,
        "max_batch": g.MAX_BATCH,
    }


@register("emulator")
class EmulatorBackend(Backend):
    """A :class:`emulator.bss2.VirtualChip` behind the Backend contract.

    serial: the chip's identity (same serial, same chip); ideal: no mismatch,
    noise or compression, so results equal the analytical model; faults:
    injected :class:`emulator.bss2.Faults`; geometry: None for the whole chip, or the
    reduced core of an RTL simulation (:class:`hil.rtl.geometry.RtlGeometry`): the same
    chip's runs, restricted to the inputs and neurons that core holds, with the values the
    whole chip gives them (what the RTL of that serial must equal).
    """

    MODES = ("mac", "cadc", "spiking", "memory")
    """'mac': MacConfig + MacStimulus -> MacReadout; 'cadc': CadcRamp -> CadcCodes (no config);
    'spiking': SpikingConfig + SpikingStimulus -> SpikingReadout (docs/spiking.md); 'memory':
    SynapseRead -> SynapseMemory, the synapse SRAM as the last MAC or spiking configuration
    wrote it (no config of its own; not a run: the run counter stays)."""

    run_counter_kind = "chip"

    def __init__(self, serial: str = DEFAULT_SERIAL, ideal: bool = False, faults: Faults = Faults(),
                 first_run: int = 0, geometry: RtlGeometry | None = None):
        super().__init__()
        if geometry is not None and not isinstance(geometry, RtlGeometry):
            raise InvalidValue("geometry", f"{geometry!r} is not an hil.rtl.geometry.RtlGeometry (or None)")
        self.core = geometry
        self._geometry = bss2_geometry() if geometry is None else geometry.as_info(max_batch=g.MAX_BATCH)
        try:
            self.chip = VirtualChip(serial, ideal=ideal, faults=faults)
        except InvalidInput as exc:
            raise InvalidValue(exc.field, exc.problem) from None
        # A chip opened at a later run counter replays the noise another copy of it drew
        # there (a board's runs, matched to the emulator at the same counter).
        self.chip.run_counter = validation.integer("first_run", first_run, lo=0, hi=2**62)

    @property
    def run_counter(self) -> int:
        """The chip's run counter: the next run's index, which keys its temporal noise."""
        return self.chip.run_counter

    def info(self) -> DeviceInfo:
        return DeviceInfo(backend="emulator", family=FAMILY, serial=self.chip.serial, model=MODEL,
                          firmware=f"emulator {emulator.__version__}", geometry=self._geometry,
                          modes=self.MODES if self.core is None else ("mac",), ideal=self.chip.ideal,
                          faults=to_json_value("faults", dataclasses.asdict(self.chip.faults)))

    def configure(self, config) -> None:
        self._check_open()
        if isinstance(config, SpikingConfig) and self.core is None:
            self.chip.configure_spiking(**config.arrays())
            return
        if not isinstance(config, MacConfig):
            raise self._unsupported(config, self.info().modes)
        config.check_shape(self._geometry)
        weights, trims = config.weights, config.driver_offset_trim
        if self.core is not None:
            weights = self.core.full_weights(weights)
            trims = None if trims is None else self.core.full_trims(trims)
        self.chip.configure_mac(weights, trims)

    def reset(self) -> None:
        """Back to the power-on configuration (``*RST`` on a virtual board)."""
        self._check_open()
        self.chip.reset()

    def identity(self) -> dict:
        """vendor, model, serial, firmware: what a virtual board of this chip answers to ``*IDN?``."""
        i = self.info()
        return {"vendor": VENDOR, "model": i.model, "serial": i.serial, "firmware": i.firmware}

    def mac_product(self, x, W, num_sends: int = 1, wait_between_events: int = 5):
        """``hil.bss2.mac``'s whole product in one call (``VirtualChip.mac_product``): the
        same runs, in the same order and with the same results, as one configuration
        and run per block. x: (batch, rows) uint8 0..31; W: (rows, cols) int8 -63..63.
        Returns (batch, cols) int64 in -128..127."""
        self._check_open()
        if self.core is not None:   # blocks of the reduced core's size, as on its RTL
            return blockwise(self, x, W, num_sends, wait_between_events)
        try:
            return self.chip.mac_product(x, W, num_sends, wait_between_events)
        except InvalidInput as exc:
            raise InvalidValue(exc.field, exc.problem) from None

    def run(self, stimulus) -> MacReadout | CadcCodes | SpikingReadout | SynapseMemory:
        self._check_open()
        try:
            if isinstance(stimulus, MacStimulus):
                stimulus.check_shape(self._geometry)
                if self.core is None:
                    return MacReadout(outputs=self.chip.run_mac(
                        stimulus.inputs, stimulus.num_sends, stimulus.wait_between_events))
                out = self.chip.run_mac(self.core.full_inputs(stimulus.inputs), stimulus.num_sends,
                                        stimulus.wait_between_events)
                return MacReadout(outputs=out[:, self.core.neuron_index()])
            if isinstance(stimulus, SpikingStimulus) and self.core is None:
                return SpikingReadout(**self.chip.run_spiking(
                    stimulus.times, stimulus.labels, stimulus.duration, trials=stimulus.trials,
                    n_trials=stimulus.n_trials, step_ns=stimulus.step_ns, record_cadc=stimulus.record_cadc,
                    cadc_period=stimulus.cadc_period, madc_neuron=stimulus.madc_neuron))
            if isinstance(stimulus, SynapseRead) and self.core is None:
                weights, labels = self.chip.synapse_memory()
                return SynapseMemory(weights=weights, labels=labels)
            if isinstance(stimulus, CadcRamp) and self.core is None:
                return CadcCodes(codes=self.chip.read_cadc_ramp(stimulus.levels, stimulus.repeats))
        except InvalidInput as exc:
            raise InvalidValue(exc.field, exc.problem) from None
        raise self._unsupported(stimulus, self.info().modes)


@register("emulator", family="dynapse2")
class Dynapse2EmulatorBackend(Backend):
    """A :class:`emulator.dynapse2.VirtualBoard` behind the Backend contract (docs/dynapse2.md).

    serial: the board's identity (same serial, same chips); ideal: no mismatch and no temporal noise;
    mesh: (width, height) chips, 1..4 each (default 2 x 2); first_run: the run counter to start at.
    """

    MODES = ("spiking", "traces", "routing")
    """'spiking': Config + Stimulus -> Readout; 'traces': a Stimulus's ``record`` is honoured (the state of
    chosen neurons at every step, which a real board cannot give); 'routing': Config + RouteProbe ->
    RouteLog, the router alone (not a run: the run counter stays)."""

    run_counter_kind = "chip"

    def __init__(self, serial: str = d2.DEFAULT_SERIAL, ideal: bool = False, mesh=d2.geometry.MESH_DEFAULT,
                 first_run: int = 0):
        super().__init__()
        try:
            if not (isinstance(mesh, (tuple, list)) and len(mesh) == 2):
                raise InvalidInput("mesh", f"{mesh!r} is not a (width, height) pair")
            mesh = tuple(validation.integer(f"mesh[{i}]", m, lo=1, hi=d2.geometry.MESH_MAX) for i, m in enumerate(mesh))
            self.board = d2.VirtualBoard(serial, mesh=mesh, ideal=ideal)
        except InvalidInput as exc:
            raise InvalidValue(exc.field, exc.problem) from None
        self.board.run_counter = validation.integer("first_run", first_run, lo=0, hi=2**62)
        self._geometry = d2_types.geometry(mesh)

    @property
    def run_counter(self) -> int:
        return self.board.run_counter

    def info(self) -> DeviceInfo:
        return DeviceInfo(backend="emulator", family=d2_types.FAMILY, serial=self.board.serial, model=d2.MODEL,
                          firmware=f"emulator {emulator.__version__}", geometry=self._geometry, modes=self.MODES,
                          ideal=self.board.ideal, faults={})

    def identity(self) -> dict:
        i = self.info()
        return {"vendor": VENDOR, "model": i.model, "serial": i.serial, "firmware": i.firmware}

    def reset(self) -> None:
        self._check_open()
        self.board.reset()

    def configure(self, config) -> None:
        self._check_open()
        if not isinstance(config, d2_types.Config):
            raise self._unsupported(config, self.MODES)
        config.check_shape(self._geometry)
        self.board.configure(config.arrays())

    def run(self, stimulus):
        self._check_open()
        try:
            if isinstance(stimulus, d2_types.Stimulus):
                stimulus.check_shape(self._geometry)
                out = self.board.run(stimulus.times, stimulus.tags, stimulus.chips, stimulus.cores,
                                     duration=stimulus.duration, dt=stimulus.dt, record=stimulus.record)
                return d2_types.Readout.of_neurons(out["times"], out["neurons"], dt=stimulus.dt,
                                                   traces=out["traces"], record=stimulus.record)
            if isinstance(stimulus, d2_types.RouteProbe):
                stimulus.check_shape(self._geometry)
                spikes = stimulus.spike_chips.astype(np.int32) * d2.geometry.NEURONS + stimulus.spike_neurons
                return d2_types.RouteLog.of_router(self.board.route(spikes, stimulus.input_tags, stimulus.input_chips,
                                                                    stimulus.input_cores))
        except InvalidInput as exc:
            raise InvalidValue(exc.field, exc.problem) from None
        raise self._unsupported(stimulus, self.MODES)


@register("emulator", family="crossbar")
class CrossbarEmulatorBackend(Backend):
    """A :class:`emulator.crossbar.VirtualTile` behind the Backend contract (docs/crossbar.md).

    serial: the tile's identity (same serial and shape, same devices); shape: (rows, columns), each
    1..4096 (default 512 x 128); ideal: a perfect tile (exact products, the exact update, no bounds);
    first_run: the run counter to start at.
    """

    MODES = ("forward", "backward", "update", "readback")
    """'forward' / 'backward' / 'update': Config + Stimulus of that direction -> Readout; 'readback':
    WeightRead -> Weights, what the devices hold (not a run: the run counter stays)."""

    run_counter_kind = "chip"

    def __init__(self, serial: str = xb.DEFAULT_SERIAL, shape=xb.geometry.SHAPE_DEFAULT, ideal: bool = False,
                 first_run: int = 0):
        super().__init__()
        try:
            if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
                raise InvalidInput("shape", f"{shape!r} is not a (rows, columns) pair")
            shape = tuple(validation.integer(f"shape[{i}]", s, lo=1, hi=xb.geometry.SIZE_MAX)
                          for i, s in enumerate(shape))
            self.tile = xb.VirtualTile(serial, shape=shape, ideal=ideal)
        except InvalidInput as exc:
            raise InvalidValue(exc.field, exc.problem) from None
        self.tile.run_counter = validation.integer("first_run", first_run, lo=0, hi=2**62)
        self._geometry = xb_types.geometry(shape)
        self.config = xb_types.Config(np.zeros(shape, np.float32))
        self.tile.configure(self.config.weights, self.config.rpu_config.device)

    @property
    def run_counter(self) -> int:
        return self.tile.run_counter

    def info(self) -> DeviceInfo:
        return DeviceInfo(backend="emulator", family=xb_types.FAMILY, serial=self.tile.serial, model=xb.MODEL,
                          firmware=f"emulator {emulator.__version__}", geometry=self._geometry, modes=self.MODES,
                          ideal=self.tile.ideal, faults={})

    def identity(self) -> dict:
        i = self.info()
        return {"vendor": VENDOR, "model": i.model, "serial": i.serial, "firmware": i.firmware}

    def reset(self) -> None:
        self._check_open()
        self.config = xb_types.Config(np.zeros(self.tile.shape, np.float32))
        self.tile.configure(self.config.weights, self.config.rpu_config.device)

    def configure(self, config) -> None:
        self._check_open()
        if not isinstance(config, xb_types.Config):
            raise self._unsupported(config, self.MODES)
        config.check_shape(self._geometry, ideal=self.tile.ideal)
        self.tile.configure(config.weights, config.rpu_config.device)
        self.config = config

    def run(self, stimulus):
        self._check_open()
        rpu = self.config.rpu_config
        try:
            if isinstance(stimulus, xb_types.Stimulus):
                stimulus.check_shape(self._geometry)
                if stimulus.direction == "update":
                    bl, pulses = self.tile.update(stimulus.inputs, stimulus.errors, stimulus.learning_rate, rpu.update)
                    return xb_types.Readout(bl=bl, pulses=pulses)
                run = self.tile.forward if stimulus.direction == "forward" else self.tile.backward
                y, rounds = run(stimulus.inputs, rpu.forward if stimulus.direction == "forward" else rpu.backward)
                return xb_types.Readout(outputs=y, rounds=rounds)
            if isinstance(stimulus, xb_types.WeightRead):
                return xb_types.Weights(self.tile.weights)
        except InvalidInput as exc:
            raise InvalidValue(exc.field, exc.problem) from None
        raise self._unsupported(stimulus, self.MODES)
