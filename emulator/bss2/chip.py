"""A virtual BrainScaleS-2-like chip: identity, fixed pattern, faults, the MAC mode
and the CADC ramp mode.

The chip is the golden model of the silicon, not the analytical model. Its
mismatch is drawn once from its serial; its temporal noise comes from a
counter-based generator keyed by (chip seed, run counter, sample, neuron), so a
result never depends on the batch size or the thread count.

The tables a MAC configuration is turned into (the effective weights of each
synapse, the drivers' pulse tables) are kept and reused while the weights and
trims they were made from are the same, byte for byte: writing the same weights
again costs a hash and a compare, and a changed weight always rebuilds them.
"""
from collections import OrderedDict

import numpy as np

from . import cadc, capmem, fixed_pattern, geometry as g, lif, neuron, spiking, synapse_array, synapse_driver
from .faults import Faults
from ..identity import DEFAULT_SERIAL, serial_to_seed
from .._native import ffi, lib
from ..errors import InvalidInput

MODEL = "BSS2-EMU"
"""Model string of the virtual chip, as reported by ``*IDN?``."""

_STREAM_MAC_READOUT = 0
_STREAM_CADC_RAMP = 1
_RAMP_CHUNK_SAMPLES = 1024
"""Samples per piece of a CADC ramp run (bounds its float64 temporaries to a few MiB)."""
_WEIGHT_TABLES_KEPT = 16
"""Effective-weight tables a chip keeps (256 KiB each), least recently used dropped first:
enough for the blocks of a few layers of a network run one after the other."""
_PULSE_TABLES_KEPT = 8
"""Pulse tables of explicitly given driver trims a chip keeps (32 KiB each)."""
_POINTERS_KEPT = 64
"""C pointers to kept tables a chip's readout keeps (all dropped when full)."""
_SPIKING_STEPS_KEPT = 8
"""Integration steps whose C description of the spiking configuration a chip keeps (least
recently used dropped first; one step is the common case)."""


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
        pattern = fixed_pattern.ideal() if self.ideal else fixed_pattern.draw(self.seed)
        self.pattern = fixed_pattern.with_cadc_faults(pattern, faults.cadc_offsets, faults.cadc_slopes)
        self._spiking_pattern = None   # drawn on first use (spiking.draw_pattern)
        self._network = None           # the spiking configuration (spiking.Network)
        self._spiking_cores = OrderedDict()   # step_ns -> its lif.Core (the network at that step)
        self.run_counter = 0
        """Runs executed since the chip was opened; keys the temporal noise."""
        self._readout = self._make_readout()
        self._weights = None  # (2, 128, 256) float32 effective weights per hemisphere
        self._pulses = None   # (2, 128, 32) float32 pulse tables
        # (rows, cols, hash) of a weight block -> (its int8 bytes, its effective weights)
        self._weight_tables = OrderedDict()
        # trims bytes (b"" for the calibrated ones) -> pulse table
        self._pulse_tables = OrderedDict()
        # What the synapse memory was last written with, as written (before stuck bits):
        # ("mac", (128, 512) int8) or ("spiking", (2, 256, 256) weights, labels); None: power-on.
        self._written = None

    # -- configuration -------------------------------------------------------------

    def calibrated_driver_trims(self) -> np.ndarray:
        """(2, 128) uint8 driver offset trims that cancel this chip's driver offsets."""
        return synapse_driver.calibrated_trims(self.pattern)

    def configure_mac(self, weights: np.ndarray, driver_offset_trim: np.ndarray | None = None) -> None:
        """Writes the synapse array and the drivers for MAC mode.

        weights: (128, 512) int8, -63..63; column j < 256 is neuron j of hemisphere 0.
        driver_offset_trim: (2, 128) uint8, 0..63, or None for the calibrated trims.
        The tables made from them are reused if the same weights (or trims) were
        written before (compared byte for byte).
        """
        weights = _exact(weights, "weights", np.int8, (g.MAC_INPUTS, g.MAC_OUTPUTS))
        if driver_offset_trim is not None:
            driver_offset_trim = _strict(driver_offset_trim, "driver_offset_trim", np.uint8,
                                         (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE), 0, 63)
        self._weights = self._weight_table(weights, 0, g.MAC_INPUTS, 0, g.MAC_OUTPUTS)
        self._pulses = self._pulse_table(driver_offset_trim)
        # a copy: the caller may change its array after writing it
        self._written = ("mac", weights.copy())

    def _weight_table(self, weights: np.ndarray, r0: int, r1: int, c0: int, c1: int,
                      field: str = "weights") -> np.ndarray:
        """The (2, 128, 256) float32 effective weights of the block ``weights[r0:r1, c0:c1]``
        (at most 128 x 512 of a C-contiguous int8 array) zero-padded to 128 x 512.

        Kept by the block's content: a block equal byte for byte to one seen
        before gets its table back; any other is checked (-63..63; an error names
        ``field`` and the index in ``weights``) and computed.
        """
        rows, cols, stride = r1 - r0, c1 - c0, weights.shape[1]
        ptr = ffi.from_buffer("uint8_t[]", weights) + (r0 * stride + c0)
        key = (rows, cols, lib.hil_hash2d(ptr, rows, cols, stride))
        kept = self._weight_tables.get(key)
        if kept is not None and lib.hil_equal2d(ffi.from_buffer("uint8_t[]", kept[0]), cols, ptr, stride,
                                                rows, cols):
            self._weight_tables.move_to_end(key)
            return kept[1]
        block = np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8)
        block[:rows, :cols] = _strict(weights[r0:r1, c0:c1], field, np.int8, (rows, cols),
                                      -g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX, offset=(r0, c0))
        table = _aligned_empty((g.HEMISPHERES, g.MAC_INPUTS, g.COLUMNS_PER_HEMISPHERE))
        for h in range(g.HEMISPHERES):
            first = h * g.COLUMNS_PER_HEMISPHERE
            if self.faults.touches_synapses(h):
                n, m = g.MAC_INPUTS, g.COLUMNS_PER_HEMISPHERE   # a fault may sit in the padding
            else:
                # Only the block's corner: its padding is zero and reads as zero (+0.0, as the
                # whole array's computation gives it), which a small block of a training loop
                # would otherwise pay for on all 2 x 128 x 256 synapses at every step.
                n, m = rows, min(max(cols - first, 0), g.COLUMNS_PER_HEMISPHERE)
            if n < g.MAC_INPUTS or m < g.COLUMNS_PER_HEMISPHERE:
                table[h] = 0.0
            if m:
                syn_rows = synapse_array.signed_to_rows(block[:n, first:first + m])
                syn_rows = synapse_array.apply_stuck_bits(syn_rows, h, self.faults.stuck_bits)
                if self.faults.stuck_label_bits:
                    syn_rows = syn_rows * synapse_array.mac_label_mask(2 * n, m, h, self.faults.stuck_label_bits)
                eff = synapse_array.effective_weights(syn_rows, h, self.pattern)
                table[h, :n, :m] = synapse_array.short_columns(eff, h, self.faults.shorted_columns)
        table.setflags(write=False)
        self._weight_tables[key] = (np.ascontiguousarray(block[:rows, :cols]), table)
        if len(self._weight_tables) > _WEIGHT_TABLES_KEPT:
            _, (_, dropped) = self._weight_tables.popitem(last=False)
            self._readout.forget(dropped)
        return table

    def _pulse_table(self, trims: np.ndarray | None) -> np.ndarray:
        """The (2, 128, 32) float32 pulse tables of these (2, 128) trims (None: the calibrated ones), kept."""
        key = b"" if trims is None else trims.tobytes()
        table = self._pulse_tables.get(key)
        if table is not None:
            return table
        if trims is None:
            trims = self.calibrated_driver_trims()
        table = np.ascontiguousarray(synapse_driver.faulty(synapse_driver.pulse_table(self.pattern, trims),
                                                           self.faults.dead_drivers, self.faults.full_pulse_drivers))
        table.setflags(write=False)
        self._pulse_tables[key] = table
        if len(self._pulse_tables) > _PULSE_TABLES_KEPT:
            # the calibrated table (key b"") is the one every plain configuration uses: keep it
            old = next(k for k in self._pulse_tables if k != b"")
            self._readout.forget(self._pulse_tables.pop(old))
        return table

    @property
    def configured(self) -> bool:
        return self._weights is not None

    def synapse_memory(self) -> tuple[np.ndarray, np.ndarray]:
        """The synapse SRAM read back digitally: ((2, 256, 256) weights 0..63, (2, 256, 256) labels
        0..63), uint8, (hemisphere, row, column), as the memory holds them: the last configuration
        written (``configure_mac``, the last block of ``mac_product``, or ``configure_spiking``)
        with the stuck weight and label bits applied. A MAC write stores |w| on the row of its
        sign (row 2i for w > 0, 2i + 1 for w < 0, 0 on the other) and labels 0; the power-on
        (and reset) memory holds 0 everywhere. Reading is not a run: the run counter stays."""
        shape = (g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE)
        weights, labels = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
        if self._written is not None and self._written[0] == "mac":
            block = self._written[1]
            rows, cols = block.shape
            for h in range(g.HEMISPHERES):
                first = h * g.COLUMNS_PER_HEMISPHERE
                part = block[:, first:min(first + g.COLUMNS_PER_HEMISPHERE, cols)]
                if part.shape[1]:
                    weights[h, :2 * rows, :part.shape[1]] = synapse_array.signed_to_rows(part)
        elif self._written is not None:
            weights[...], labels[...] = self._written[1], self._written[2]
        for h in range(g.HEMISPHERES):
            weights[h] = synapse_array.apply_stuck_bits(weights[h], h, self.faults.stuck_bits)
            labels[h] = synapse_array.apply_stuck_label_bits(labels[h], h, self.faults.stuck_label_bits)
        return weights, labels

    def reset(self) -> None:
        """Back to the power-on configuration (the run counter keeps counting)."""
        self._written = None
        self._weights = None
        self._pulses = None
        self._network = None
        self._spiking_cores.clear()

    # -- the spiking mode (docs/spiking.md) ---------------------------------------------

    @property
    def spiking_pattern(self) -> "spiking.SpikingPattern":
        """The chip's spiking mismatch (drawn from its serial on first use)."""
        if self._spiking_pattern is None:
            self._spiking_pattern = spiking.ideal_pattern() if self.ideal else spiking.draw_pattern(self.seed)
        return self._spiking_pattern

    def configure_spiking(self, **arrays: np.ndarray) -> None:
        """Writes the spiking configuration: every array of ``spiking.CONFIG_FIELDS`` by name
        (what ``hil.bss2.SpikingConfig.arrays()`` gives), each of exactly its dtype and shape."""
        missing = sorted(set(spiking.CONFIG_FIELDS) - set(arrays))
        unknown = sorted(set(arrays) - set(spiking.CONFIG_FIELDS))
        if missing or unknown:
            raise InvalidInput("configuration", f"missing {missing}, unknown {unknown}; the spiking mode takes "
                               f"{sorted(spiking.CONFIG_FIELDS)}")
        checked = {name: _strict(arrays[name], name, dtype, shape, lo, hi)
                   for name, (dtype, shape, lo, hi) in spiking.CONFIG_FIELDS.items()}
        self._network = spiking.prepare(self.pattern, self.spiking_pattern, self.faults, checked)
        self._spiking_cores.clear()
        self._written = ("spiking", checked["weights"].copy(), checked["labels"].copy())

    def _spiking_core(self, step_ns: int) -> "lif.Core":
        """The C description of the spiking configuration at ``step_ns`` (made once per step, kept)."""
        c = self._spiking_cores.get(step_ns)
        if c is None:
            c = lif.core(self._network, self.pattern, self.spiking_pattern, cadc.code_map(self.faults.missing_codes),
                         step_ns)
            self._spiking_cores[step_ns] = c
            if len(self._spiking_cores) > _SPIKING_STEPS_KEPT:
                self._spiking_cores.popitem(last=False)
        else:
            self._spiking_cores.move_to_end(step_ns)
        return c

    def run_spiking(self, times: np.ndarray, labels: np.ndarray, duration: int, *, trials: np.ndarray | None = None,
                    n_trials: int = 1, step_ns: int = 100, record_cadc: bool = True,
                    cadc_period: int = g.CADC_PERIOD_DEFAULT, madc_neuron: int = -1) -> dict:
        """One spiking run (docs/spiking.md): input events at ``times`` (int64 FPGA cycles,
        0..duration-1, sorted by (trial, time)) with 16-bit ``labels`` (uint16), in
        ``n_trials`` trials (``trials``: uint16 per event, None: all in trial 0) of
        ``duration`` cycles, integrated on a grid of ``step_ns`` ns. Returns the arrays of
        ``hil.bss2.SpikingReadout``; the run counter advances by one.

        The C core (``lif``) runs it, with the values ``spiking.run_reference`` defines; it
        checks the events' values and order as it reads them (here: their types and
        lengths), and a refused run does not advance the counter."""
        if self._network is None:
            raise InvalidInput("configuration", "the chip has no spiking configuration; call configure_spiking first")
        _check_scalar("duration", duration, 1, g.SPIKING_DURATION_MAX)
        _check_scalar("n_trials", n_trials, 1, g.TRIALS_MAX)
        _check_scalar("step_ns", step_ns, 1, g.STEP_NS_MAX)
        _check_scalar("cadc_period", cadc_period, g.CADC_PERIOD_MIN, g.CADC_PERIOD_MAX)
        _check_scalar("madc_neuron", madc_neuron, -1, g.NEURONS - 1)
        steps = -(-8 * duration // step_ns)
        if steps * n_trials > g.STEPS_TIMES_TRIALS_MAX:
            raise InvalidInput("step_ns", f"{steps} steps x {n_trials} trials; at most {g.STEPS_TIMES_TRIALS_MAX}")
        cadc_bytes = n_trials * (-(-duration // cadc_period) if record_cadc else 0) * g.NEURONS
        if cadc_bytes > g.READOUT_BYTES_MAX:
            raise InvalidInput("cadc_period", f"{n_trials} trials of CADC samples = {cadc_bytes} bytes; at most "
                               f"{g.READOUT_BYTES_MAX}")
        madc_bytes = 2 * n_trials * (-(-8 * duration // g.MADC_PERIOD_NS) if madc_neuron >= 0 else 0)
        if madc_bytes > g.READOUT_BYTES_MAX:
            raise InvalidInput("madc_neuron", f"{n_trials} trials of MADC samples = {madc_bytes} bytes; at most "
                               f"{g.READOUT_BYTES_MAX}")
        if isinstance(times, np.ndarray) and times.size == 0:
            times, labels, trials = _NO_TIMES, _NO_LABELS, None
        else:
            times = _exact(times, "times", np.int64, (None,))
            if times.size > g.EVENTS_MAX:
                raise InvalidInput("times", f"{times.size} events; at most {g.EVENTS_MAX}")
            labels = _exact(labels, "labels", np.uint16, (times.size,))
            if trials is not None:
                trials = _exact(trials, "trials", np.uint16, (times.size,))
        run = self.run_counter
        out = lif.run(self._spiking_core(int(step_ns)), times, labels, trials, n_trials=int(n_trials),
                      duration=int(duration), record_cadc=bool(record_cadc), cadc_period=int(cadc_period),
                      madc_neuron=int(madc_neuron),
                      key_membrane=lib.bss2_stream_key(self.seed, run, spiking.STREAM_MEMBRANE),
                      key_madc=lib.bss2_stream_key(self.seed, run, spiking.STREAM_MADC))
        self.run_counter = run + 1
        return out

    def run_spiking_reference(self, times: np.ndarray, labels: np.ndarray, duration: int, *,
                              trials: np.ndarray | None = None, n_trials: int = 1, step_ns: int = 100,
                              record_cadc: bool = True, cadc_period: int = g.CADC_PERIOD_DEFAULT,
                              madc_neuron: int = -1, run: int | None = None) -> dict:
        """What ``run_spiking`` returns as the run ``run`` (default: the next one), from the numpy
        definition ``spiking.run_reference`` (slow: for tests). The chip is not changed;
        the arguments must be valid (as ``run_spiking`` takes them)."""
        if self._network is None:
            raise InvalidInput("configuration", "the chip has no spiking configuration; call configure_spiking first")
        run = self.run_counter if run is None else run
        times = np.asarray(times, np.int64)
        stim = dict(times=times, labels=np.asarray(labels, np.uint16),
                    trials=np.zeros(times.size, np.uint16) if trials is None else np.asarray(trials, np.uint16),
                    n_trials=int(n_trials), duration=int(duration), step_ns=int(step_ns),
                    record_cadc=bool(record_cadc), cadc_period=int(cadc_period), madc_neuron=int(madc_neuron))
        keys = (lib.bss2_stream_key(self.seed, run, spiking.STREAM_MEMBRANE),
                lib.bss2_stream_key(self.seed, run, spiking.STREAM_MADC))
        return spiking.run_reference(self._network, self.pattern, self.spiking_pattern,
                                     cadc.code_map(self.faults.missing_codes), stim, *keys)

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
        inputs = _exact(inputs, "inputs", np.uint8, (None, g.MAC_INPUTS))
        if inputs.shape[0] > g.MAX_BATCH:
            raise InvalidInput("inputs", f"batch {inputs.shape[0]} is outside 1..{g.MAX_BATCH}")

        run = self.run_counter
        self.run_counter += 1
        scale = self._readout.scale_table(self.pattern, num_sends, wait_between_events)
        key = lib.bss2_stream_key(self.seed, run, _STREAM_MAC_READOUT)
        return self._readout.run(self._weights, self._pulses, inputs, scale, key)

    def mac_product(self, x: np.ndarray, W: np.ndarray, num_sends: int = 1,
                    wait_between_events: int = 5) -> np.ndarray:
        """``x @ W`` of any size as the software stack runs it, in one call to the C core.

        x: (batch, rows) uint8 activations 0..31; W: (rows, cols) int8 weights
        -63..63. The product is cut into blocks of 128 rows x 512 columns and the
        batch into pieces of at most 65536; each (row block, column block, piece)
        in that nesting order is one MAC run, with the calibrated driver trims and
        the block zero-padded to 128 x 512, and uses up one run of the counter.
        Only the rows, neurons and hemispheres a block uses are computed, with the
        values the padded run gives. The int8 outputs of the row blocks are added
        and the sum clamped to -128..127. Returns (batch, cols) int64.

        Afterwards the chip holds the configuration of the last block, as if each
        block had been written with ``configure_mac`` and run with ``run_mac``.
        """
        _check_scalar("num_sends", num_sends, 1, g.NUM_SENDS_MAX)
        _check_scalar("wait_between_events", wait_between_events, 0, g.WAIT_BETWEEN_EVENTS_MAX)
        W = _exact(W, "W", np.int8, (None, None))
        rows, cols = W.shape
        x = _exact(x, "x", np.uint8, (None, rows))
        if rows <= g.MAC_INPUTS and cols <= g.MAC_OUTPUTS:  # one block (most calls)
            tables = [self._weight_table(W, 0, rows, 0, cols, "W")]
        else:
            tables = [self._weight_table(W, r0, min(r0 + g.MAC_INPUTS, rows), c0, min(c0 + g.MAC_OUTPUTS, cols),
                                         "W")
                      for r0 in range(0, rows, g.MAC_INPUTS) for c0 in range(0, cols, g.MAC_OUTPUTS)]
        pulses = self._pulse_table(None)
        scale = self._readout.scale_table(self.pattern, num_sends, wait_between_events)
        batch = x.shape[0]
        pieces = -(-batch // g.MAX_BATCH)
        run0 = self.run_counter
        self.run_counter += len(tables) * pieces
        self._weights, self._pulses = tables[-1], pulses
        r0, c0 = (rows - 1) // g.MAC_INPUTS * g.MAC_INPUTS, (cols - 1) // g.MAC_OUTPUTS * g.MAC_OUTPUTS
        self._written = ("mac", W[r0:r0 + g.MAC_INPUTS, c0:c0 + g.MAC_OUTPUTS].copy())
        out = np.empty((batch, cols), np.int64)
        if pieces == 1:
            self._readout.product(tables, pulses, x, W.shape, scale, self.seed, run0, 1, out)
            return out
        for k, b0 in enumerate(range(0, batch, g.MAX_BATCH)):
            b1 = min(b0 + g.MAX_BATCH, batch)
            # piece k of block j is run run0 + j * pieces + k: the blocks nest outside the pieces
            self._readout.product(tables, pulses, x[b0:b1], W.shape, scale, self.seed, run0 + k,
                                  pieces, out[b0:b1])
        return out

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
            v = capmem.membrane(self.pattern, lv)
            for cell in self.faults.stuck_capmem:     # a stuck leak cell sets its level whatever is written
                if cell.parameter == "leak":
                    v[:, cell.neuron] = capmem.membrane(self.pattern, np.array([cell.level]))[0, cell.neuron]
            synapse_array.short_neurons(v, self.faults.shorted_columns)
            v = np.where(live, v, self.pattern.baseline)
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
            setattr(s, k, _ptr("int32_t[]" if v.dtype == np.int32 else "float[]", v, v.size))
        self.struct = s
        self._scales = {}
        self._ptrs = {}  # id(table) -> (table, its C pointer): the kept tables' pointers

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
            table.setflags(write=False)
            if len(self._scales) >= 64:
                for old in self._scales.values():
                    self.forget(old)
                self._scales.clear()
            self._scales[k] = table
        return table

    def run(self, weights: np.ndarray, pulses: np.ndarray, inputs: np.ndarray, scale: np.ndarray,
            key: int, sample0: int = 0) -> np.ndarray:
        """The C run of (batch, 128) contiguous uint8 inputs -> (batch, 512) int8.

        ``weights`` (2, 128, 256) float32, 64-byte aligned (whole-vector loads in
        the C core). ``sample0`` is the index of the first input within the run:
        the noise of a sample depends on (key, sample0 + row, neuron) only, so a
        run split into pieces gives the same result as in one call.
        """
        batch = inputs.shape[0]
        out = np.empty((batch, g.MAC_OUTPUTS), np.int8)
        bad = ffi.new("int64_t[2]")
        status = lib.bss2_mac_run(
            self.struct, _ptr("float[]", weights, g.MAC_INPUTS * g.NEURONS), self._pulses_ptr(pulses),
            self._scale_ptr(scale), _ptr("uint8_t[]", inputs, batch * g.MAC_INPUTS), batch, sample0, key,
            _ptr("int8_t[]", out, batch * g.MAC_OUTPUTS), bad)
        _check_status(status, bad, "inputs", inputs)
        return out

    def product(self, tables: list, pulses: np.ndarray, x: np.ndarray, shape: tuple, scale: np.ndarray,
                seed: int, run0: int, run_stride: int, out: np.ndarray) -> None:
        """The C product (``bss2_mac_product``) of contiguous uint8 ``x`` (batch, rows) on the
        weight blocks ``tables`` (row block outer) of a (rows, cols) matrix, into the
        contiguous int64 ``out`` (batch, cols); block k is the run run0 + k * run_stride."""
        batch, (rows, cols) = x.shape[0], shape
        weights = ffi.new("float *[]", [self._table_ptr(t) for t in tables])
        bad = ffi.new("int64_t[2]")
        status = lib.bss2_mac_product(
            self.struct, weights, len(tables), self._table_ptr(pulses, self._pulses_ptr),
            self._table_ptr(scale, self._scale_ptr), _ptr("uint8_t[]", x, batch * rows), batch, rows, cols,
            seed, run0, run_stride, _ptr("int64_t[]", out, batch * cols), bad)
        if status:
            _check_status(status, bad, "x", x)

    def forget(self, table: np.ndarray) -> None:
        """Drops the pointer to a table the chip no longer keeps (so the table is freed)."""
        kept = self._ptrs.get(id(table))
        if kept is not None and kept[0] is table:
            del self._ptrs[id(table)]

    def _table_ptr(self, table: np.ndarray, make=None):
        """The C pointer to a read-only table the chip keeps (weights by default, or ``make(table)``),
        made once per table: the pointer holds the table, so its id stays its own while kept."""
        kept = self._ptrs.get(id(table))
        if kept is None or kept[0] is not table:
            if table.flags.writeable:  # pragma: no cover - every kept table is read-only
                raise RuntimeError("only read-only tables are kept")
            if len(self._ptrs) >= _POINTERS_KEPT:
                self._ptrs.clear()
            ptr = make(table) if make is not None else _ptr("float[]", table, g.MAC_INPUTS * g.NEURONS)
            kept = self._ptrs[id(table)] = (table, ptr)
        return kept[1]

    @staticmethod
    def _pulses_ptr(pulses: np.ndarray):
        return _ptr("float[]", pulses, g.HEMISPHERES * g.DRIVERS_PER_HEMISPHERE * (g.ACTIVATION_MAX + 1))

    @staticmethod
    def _scale_ptr(scale: np.ndarray):
        return _ptr("double[]", scale, g.MAC_INPUTS + 1)


_NO_TIMES = np.zeros(0, np.int64)
_NO_TIMES.setflags(write=False)
_NO_LABELS = np.zeros(0, np.uint16)
_NO_LABELS.setflags(write=False)


def _check_status(status: int, bad, field: str, x: np.ndarray) -> None:
    """Turns a status of the C core into the error it stands for (with the value C read:
    the caller's array may have changed since)."""
    if status == 1:
        b, i = divmod(int(bad[0]), x.shape[1])
        raise InvalidInput(f"{field}[{b}, {i}]", f"{int(bad[1])} is outside the allowed "
                           f"range 0..{g.ACTIVATION_MAX}")
    if status == -2:  # pragma: no cover
        raise MemoryError("the MAC run could not allocate its workspace")
    if status != 0:  # pragma: no cover - arguments are built and checked here
        raise RuntimeError(f"the C core refused its arguments (status {status})")


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


def _ptr(ctype: str, a: np.ndarray, count: int):
    """A C pointer to ``a``'s buffer, which must hold exactly ``count`` elements of ``ctype``.

    The count is what C is told (shape and batch); it is checked against the
    buffer itself, so an object that reports a shape its memory does not have
    can never make C read past it.
    """
    buf = ffi.from_buffer(ctype, a)
    if len(buf) != count:
        raise InvalidInput("buffer", f"holds {len(buf)} elements where {count} are needed")
    return buf


def _aligned_empty(shape: tuple) -> np.ndarray:
    """An uninitialised float32 array whose data start on a 64-byte boundary (whole-vector
    loads in the C core)."""
    n = int(np.prod(shape))
    buf = np.empty(n + 16, np.float32)
    start = (-buf.ctypes.data % 64) // 4
    return buf[start:start + n].reshape(shape)


def _describe(a) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return type(a).__name__


def _check_scalar(field: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise InvalidInput(field, f"{value!r} is outside the allowed range {lo}..{hi} (an integer)")


def _exact(a, field: str, dtype, shape: tuple) -> np.ndarray:
    """The strict bridge to C: an ndarray of exactly ``dtype`` and ``shape`` (None: any
    length >= 1), as the C-contiguous buffer C will read; never converts values.

    Dtype and shape are checked on that buffer, not on the object passed in (whose
    ``shape`` may say otherwise, e.g. a subclass).
    """
    if not isinstance(a, np.ndarray) or a.dtype != dtype:
        raise InvalidInput(field, f"expected a {_shape_text(shape)} {np.dtype(dtype).name} array, "
                           f"got {_describe(a)}")
    c = a if type(a) is np.ndarray and a.flags.c_contiguous else np.ascontiguousarray(a)
    if type(c) is not np.ndarray or c.dtype != dtype or not _shape_fits(shape, c.shape):
        raise InvalidInput(field, f"expected a {_shape_text(shape)} {np.dtype(dtype).name} array, "
                           f"got {_describe(c)}")
    return c


def _shape_fits(shape: tuple, actual: tuple) -> bool:
    """``actual`` has the dimensions of ``shape``, each >= 1 and equal to it where it is not None."""
    if len(actual) != len(shape):
        return False
    for s, n in zip(shape, actual):
        if n < 1 or (s is not None and s != n):
            return False
    return True


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _strict(a, field: str, dtype, shape: tuple, lo: int, hi: int, offset: tuple = ()) -> np.ndarray:
    """``_exact``, and every value in lo..hi (an error names the first index outside,
    plus ``offset``: the position of ``a`` in the array the caller knows)."""
    a = _exact(a, field, dtype, shape)
    bad = np.flatnonzero((a < lo) | (a > hi))
    if bad.size:
        idx = np.unravel_index(bad[0], a.shape)
        pos = [int(i) + (offset[k] if k < len(offset) else 0) for k, i in enumerate(idx)]
        raise InvalidInput(f"{field}[{', '.join(map(str, pos))}]",
                           f"{a[idx]} is outside the allowed range {lo}..{hi}")
    return a
