"""A virtual BrainScaleS-2-like chip: identity, fixed pattern, faults, the MAC mode
and the CADC ramp mode.

The chip is the golden model of the silicon, not the analytical model. Its
mismatch is drawn once from its serial; its temporal noise comes from a
counter-based generator keyed by (chip seed, run counter, sample, neuron), so a
result never depends on the batch size or the thread count.
"""
import numpy as np

from . import cadc, capmem, fixed_pattern, geometry as g, neuron, synapse_array, synapse_driver
from .faults import Faults
from .identity import DEFAULT_SERIAL, serial_to_seed
from .._native import ffi, lib
from ..errors import InvalidInput

MODEL = "BSS2-EMU"
"""Model string of the virtual chip, as reported by ``*IDN?``."""

_STREAM_MAC_READOUT = 0
_STREAM_CADC_RAMP = 1
_RAMP_CHUNK_SAMPLES = 1024
"""Samples per piece of a CADC ramp run (bounds its float64 temporaries to a few MiB)."""


class VirtualChip:
    """One virtual chip.

    >>> chip = VirtualChip("EMU-0007")
    >>> chip.configure_mac(weights)        # (128, 512) int8, -63..63
    >>> out = chip.run_mac(inputs)         # (batch, 128) uint8, 0..31 -> (batch, 512) int8
    >>> codes = chip.read_cadc_ramp(np.arange(1023, dtype=np.uint16), repeats=4)  # raw CADC codes
    """

    def __init__(self, serial: str = DEFAULT_SERIAL, *, ideal: bool = False,
                 faults: Faults = Faults()):
        self.serial = serial
        self.seed = serial_to_seed(serial)
        self.ideal = bool(ideal)
        if not isinstance(faults, Faults):
            raise InvalidInput("faults", f"{faults!r} is not an emulator.bss2.Faults")
        self.faults = faults
        self.pattern = fixed_pattern.ideal() if self.ideal else fixed_pattern.draw(self.seed)
        self.run_counter = 0
        """Runs executed since the chip was opened; keys the temporal noise."""
        self._readout = self._make_readout()
        self._weights = None  # (2, 128, 256) float32 effective weights per hemisphere
        self._pulses = None   # (2, 128, 32) float32 pulse tables

    # -- configuration -------------------------------------------------------------

    def calibrated_driver_trims(self) -> np.ndarray:
        """(2, 128) uint8 driver offset trims that cancel this chip's driver offsets."""
        return synapse_driver.calibrated_trims(self.pattern)

    def configure_mac(self, weights: np.ndarray, driver_offset_trim: np.ndarray | None = None) -> None:
        """Writes the synapse array and the drivers for MAC mode.

        weights: (128, 512) int8, -63..63; column j < 256 is neuron j of hemisphere 0.
        driver_offset_trim: (2, 128) uint8, 0..63, or None for the calibrated trims.
        """
        weights = _strict(weights, "weights", np.int8, (g.MAC_INPUTS, g.MAC_OUTPUTS),
                          -g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX)
        if driver_offset_trim is None:
            trims = self.calibrated_driver_trims()
        else:
            trims = _strict(driver_offset_trim, "driver_offset_trim", np.uint8,
                            (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE), 0, 63)
        w = np.empty((g.HEMISPHERES, g.MAC_INPUTS, g.COLUMNS_PER_HEMISPHERE), np.float32)
        for h in range(g.HEMISPHERES):
            cols = weights[:, h * g.COLUMNS_PER_HEMISPHERE:(h + 1) * g.COLUMNS_PER_HEMISPHERE]
            rows = synapse_array.signed_to_rows(cols)
            rows = synapse_array.apply_stuck_bits(rows, h, self.faults.stuck_bits)
            w[h] = synapse_array.effective_weights(rows, h, self.pattern)
        self._weights = w
        self._pulses = np.ascontiguousarray(synapse_driver.pulse_table(self.pattern, trims))

    @property
    def configured(self) -> bool:
        return self._weights is not None

    def reset(self) -> None:
        """Back to the power-on configuration (the run counter keeps counting)."""
        self._weights = None
        self._pulses = None

    # -- the MAC run -------------------------------------------------------------------

    def run_mac(self, inputs: np.ndarray, num_sends: int = 1, wait_between_events: int = 5) -> np.ndarray:
        """One MAC run: (batch, 128) uint8 activations 0..31 -> (batch, 512) int8 outputs.

        Every input vector is sent ``num_sends`` times (1..1024), its events
        ``wait_between_events`` FPGA cycles (0..4095) apart. The result is
        ``clamp(read - baseline, -128, 127)`` per neuron.
        """
        if not self.configured:
            raise InvalidInput("configuration", "the chip has no MAC configuration; call configure_mac first")
        _check_scalar("num_sends", num_sends, 1, g.NUM_SENDS_MAX)
        _check_scalar("wait_between_events", wait_between_events, 0, g.WAIT_BETWEEN_EVENTS_MAX)
        if not isinstance(inputs, np.ndarray) or inputs.dtype != np.uint8 or inputs.ndim != 2 \
                or inputs.shape[1] != g.MAC_INPUTS:
            raise InvalidInput("inputs", f"expected a (batch, {g.MAC_INPUTS}) uint8 array, got "
                               f"{_describe(inputs)}")
        batch = inputs.shape[0]
        if not 1 <= batch <= g.MAX_BATCH:
            raise InvalidInput("inputs", f"batch {batch} is outside 1..{g.MAX_BATCH}")
        inputs = np.ascontiguousarray(inputs)

        run = self.run_counter
        self.run_counter += 1
        scale = self._readout.scale_table(self.pattern, num_sends, wait_between_events)
        key = lib.bss2_stream_key(self.seed, run, _STREAM_MAC_READOUT)
        return self._readout.run(self._weights, self._pulses, inputs, scale, key)

    # -- the CADC ramp mode ------------------------------------------------------------

    def read_cadc_ramp(self, levels: np.ndarray, repeats: int = 1) -> np.ndarray:
        """CADC ramp mode: every neuron's resting level set from CapMem, read raw.

        levels: (n,) uint16 CapMem levels 0..1022, set in turn on every neuron;
        each is read ``repeats`` times (1..65536), n * repeats <= 65536 samples.
        Returns (n * repeats, 512) uint8 raw CADC codes; row i is a read at
        ``levels[i // repeats]``. See ``capmem`` for the map from level to
        membrane; a dead neuron stays at its reset level whatever the CapMem
        holds. Temporal noise: ``sigma_read`` (noisy-neuron faults included), from
        the high half of the counter-based draw at (sample * 512 + neuron) of
        stream 1 keyed by (chip seed, run counter), as in the MAC mode; the run
        counter advances by one. Needs no MAC configuration.
        """
        if not isinstance(levels, np.ndarray) or levels.dtype != np.uint16 or levels.ndim != 1:
            raise InvalidInput("levels", f"expected an (n,) uint16 array, got {_describe(levels)}")
        if not 1 <= levels.size <= g.MAX_BATCH:
            raise InvalidInput("levels", f"{levels.size} levels is outside 1..{g.MAX_BATCH}")
        bad = np.flatnonzero(levels > capmem.LEVEL_MAX)
        if bad.size:
            raise InvalidInput(f"levels[{bad[0]}]", f"{int(levels[bad[0]])} is outside the allowed "
                               f"range 0..{capmem.LEVEL_MAX}")
        _check_scalar("repeats", repeats, 1, g.MAX_BATCH)
        samples = levels.size * int(repeats)
        if samples > g.MAX_BATCH:
            raise InvalidInput("repeats", f"{levels.size} levels x {repeats} repeats = {samples} samples; "
                               f"at most {g.MAX_BATCH} per run")
        run = self.run_counter
        self.run_counter += 1
        key = lib.bss2_stream_key(self.seed, run, _STREAM_CADC_RAMP)
        sample_levels = np.repeat(levels, int(repeats))
        sigma = self._sigma_read()
        noisy = bool((sigma != 0).any())
        live = np.ones(g.NEURONS, bool)
        live[list(self.faults.dead_neurons)] = False
        code_map = cadc.code_map(self.faults.missing_codes)
        out = np.empty((samples, g.NEURONS), np.uint8)
        for s0 in range(0, samples, _RAMP_CHUNK_SAMPLES):
            lv = sample_levels[s0:s0 + _RAMP_CHUNK_SAMPLES]
            v = np.where(live, capmem.membrane(self.pattern, lv), self.pattern.baseline)
            if noisy:
                v = v + sigma * _read_noise(key, s0, lv.size)
            out[s0:s0 + lv.size] = cadc.read_raw(self.pattern, v, code_map)
        return out

    def _sigma_read(self) -> np.ndarray:
        """(512,) temporal noise of a membrane read, LSB, with the noisy-neuron faults added."""
        sigma_read = np.array(self.pattern.sigma_read, np.float64)
        for n, extra in self.faults.noisy_neurons:
            sigma_read[n] = np.hypot(sigma_read[n], extra)
        return sigma_read

    def _make_readout(self):
        p, f = self.pattern, self.faults
        whole, frac = cadc.baseline_code_split(p)
        dead = np.zeros(g.NEURONS, np.uint8)
        dead[list(f.dead_neurons)] = 1
        sigma_read = self._sigma_read()
        arrays = dict(knee_pos=p.knee_pos, knee_neg=p.knee_neg, rail_pos=p.rail_pos,
                      rail_neg=p.rail_neg, sigma_read=sigma_read, sigma_base=p.sigma_base,
                      adc_frac=frac, cadc_slope=p.cadc_slope)
        code_map = cadc.code_map(f.missing_codes)
        return _Readout(not self.ideal, arrays, whole, dead, code_map)

    def __repr__(self) -> str:
        kind = "ideal" if self.ideal else "mismatched"
        faults = "" if self.faults.healthy else f", faults={self.faults}"
        return f"VirtualChip({self.serial!r}, {kind}{faults}, runs={self.run_counter})"


class _Readout:
    """The C description of the chip's MAC mode (``bss2_mac``), with the arrays it points to.

    The readout runs in float32 (see ``emulator/_native/bss2/mac.h``), so the
    per-neuron parameters are kept as float32; ``emulator.bss2.reference`` does
    the same in numpy.
    """

    def __init__(self, compress: bool, arrays: dict, adc_int: np.ndarray, dead: np.ndarray,
                 code_map: np.ndarray):
        self._keep = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
        self._keep["live"] = np.ascontiguousarray(dead == 0, dtype=np.float32)
        self._keep["adc_int"] = np.ascontiguousarray(adc_int, dtype=np.int32)
        self._keep["code_map"] = np.ascontiguousarray(code_map, dtype=np.int32)
        s = ffi.new("bss2_mac *")
        s.n_in = g.MAC_INPUTS
        s.n_hemi = g.HEMISPHERES
        s.n_col = g.COLUMNS_PER_HEMISPHERE
        s.compress = int(compress)
        for k, v in self._keep.items():
            setattr(s, k, _ptr("int32_t[]" if v.dtype == np.int32 else "float[]", v))
        self.struct = s
        self._scales = {}
        self._weights_src = None
        self._weights = None

    def scale_table(self, pattern, num_sends: int, wait_between_events: int) -> np.ndarray:
        """(129,) LSB per weight unit of a sample with 0..128 events in one send.

        ``gain * sends`` is evaluated in this order in the analytical model too,
        so the ideal chip reproduces it bit for bit.
        """
        k = (int(num_sends), int(wait_between_events))
        table = self._scales.get(k)
        if table is None:
            events = np.arange(g.MAC_INPUTS + 1)
            sends = neuron.effective_sends(events, num_sends, wait_between_events, pattern.tau_leak)
            table = np.ascontiguousarray(pattern.gain * sends, dtype=np.float64)
            if len(self._scales) >= 64:
                self._scales.clear()
            self._scales[k] = table
        return table

    def _aligned(self, weights: np.ndarray) -> np.ndarray:
        """The weights in a 64-byte aligned copy (whole-vector loads in the C core), cached."""
        if weights is not self._weights_src:
            buf = np.empty(weights.size + 16, np.float32)
            start = (-buf.ctypes.data % 64) // 4
            w = buf[start:start + weights.size].reshape(weights.shape)
            w[...] = weights
            self._weights_src, self._weights = weights, w
        return self._weights

    def run(self, weights: np.ndarray, pulses: np.ndarray, inputs: np.ndarray, scale: np.ndarray,
            key: int, sample0: int = 0) -> np.ndarray:
        """The C run of (batch, 128) contiguous uint8 inputs -> (batch, 512) int8.

        ``sample0`` is the index of the first input within the run: the noise of
        a sample depends on (key, sample0 + row, neuron) only, so a run split into
        pieces gives the same result as in one call.
        """
        batch = inputs.shape[0]
        out = np.empty((batch, g.MAC_OUTPUTS), np.int8)
        bad = ffi.new("int64_t *")
        status = lib.bss2_mac_run(
            self.struct, _ptr("float[]", self._aligned(weights)), _ptr("float[]", pulses),
            _ptr("double[]", scale), _ptr("uint8_t[]", inputs), batch, sample0, key,
            _ptr("int8_t[]", out), bad)
        if status == 1:
            b, i = divmod(int(bad[0]), g.MAC_INPUTS)
            raise InvalidInput(f"inputs[{b}, {i}]", f"{int(inputs[b, i])} is outside the allowed "
                               f"range 0..{g.ACTIVATION_MAX}")
        if status == -2:  # pragma: no cover
            raise MemoryError("bss2_mac_run could not allocate its workspace")
        if status != 0:  # pragma: no cover - arguments are built above
            raise RuntimeError(f"bss2_mac_run refused its arguments (status {status})")
        return out


def _read_noise(key: int, sample0: int, samples: int) -> np.ndarray:
    """(samples, 512) standard normal deviates of samples sample0.. of stream ``key``.

    The deviate of (sample, neuron) is made from the high half of the C core's
    counter-based draw at counter sample * 512 + neuron (32-bit word 2 * counter),
    so it depends only on (key, sample, neuron), never on how a run is split.
    """
    words = 2 * samples * g.NEURONS
    buf = np.empty(words, np.float64)
    lib.bss2_normal_fill(key, 2 * sample0 * g.NEURONS, words, ffi.from_buffer("double[]", buf))
    return buf[::2].reshape(samples, g.NEURONS)


def _ptr(ctype: str, a: np.ndarray):
    return ffi.from_buffer(ctype, a)


def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return type(a).__name__


def _check_scalar(field: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise InvalidInput(field, f"{value!r} is outside the allowed range {lo}..{hi} (an integer)")


def _strict(a, field: str, dtype, shape: tuple, lo: int, hi: int) -> np.ndarray:
    """The strict bridge to C: exact dtype and shape, values in range; never converts."""
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.shape != shape:
        raise InvalidInput(field, f"expected a {shape} {np.dtype(dtype).name} array, got {_describe(a)}")
    bad = np.flatnonzero((a < lo) | (a > hi))
    if bad.size:
        idx = np.unravel_index(bad[0], shape)
        raise InvalidInput(f"{field}[{', '.join(map(str, idx))}]",
                           f"{a[idx]} is outside the allowed range {lo}..{hi}")
    return np.ascontiguousarray(a)
