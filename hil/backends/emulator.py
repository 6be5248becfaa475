"""EmulatorBackend: a virtual chip in this process (the embedded default)."""
import dataclasses

import emulator
from emulator.bss2 import DEFAULT_SERIAL, MODEL, Faults, VirtualChip
from emulator.bss2 import geometry as g
from emulator.errors import InvalidInput

from ..contract.backend import VENDOR, Backend, DeviceInfo, register
from ..bss2.mac import blockwise
from ..bss2.types import (FAMILY, CadcCodes, CadcRamp, MacConfig, MacReadout, MacStimulus, SpikingConfig,
                          SpikingReadout, SpikingStimulus, SynapseMemory, SynapseRead)
from ..contract import validation
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
