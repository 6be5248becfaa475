"""A virtual Dynap-SE2-like board: chips on a mesh, their mismatch drawn from the board's serial, the C
core's runs (docs/dynapse2.md).

>>> board = VirtualBoard("EMU-D2-0001")
>>> board.configure(arrays, mesh_width=2)          # the arrays of a hil.dynapse2.Config
>>> out = board.run(times, tags, chips, cores, duration=1000, dt=1e-3)
"""
import numpy as np

from emulator._native import ffi, lib

from ..errors import InvalidInput
from ..identity import check_serial, serial_to_seed
from . import biasgen, circuit, geometry as g
from .routing import Tables, tables

DEFAULT_SERIAL = "EMU-D2-0001"
MODEL = "Dynap-SE2-like virtual board"
NOISE_STREAM = 0x44594E31
"""The run's stream of temporal noise (rng.h's stream index)."""
CHIPS_MAX = g.MESH_MAX ** 2
_BAD = {lib.DYN_BAD_TIME: "times", lib.DYN_BAD_ORDER: "times", lib.DYN_BAD_TAG: "tags", lib.DYN_BAD_CHIP: "chips",
        lib.DYN_BAD_CORE: "cores", lib.DYN_BAD_NEURON: "spike_neurons", lib.DYN_BAD_EVENTS: "events",
        lib.DYN_BAD_DURATION: "duration", lib.DYN_BAD_RECORD: "record"}


def _mismatch(seed: int, stream: int, shape: tuple) -> np.ndarray:
    """Frozen relative deviations ``max(1 + sigma N(0, 1), 0.5)`` of one kind, drawn from the serial."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream])))
    return np.maximum(1.0 + circuit.NEURON_MISMATCH_SIGMA * rng.standard_normal(shape), 0.5)


class VirtualBoard:
    """``mesh`` (width, height) chips of 4 cores x 256 DPI neurons. ``ideal``: no mismatch and no temporal
    noise (every generator, neuron and synapse nominal). A chip is the same chip on any mesh: its
    deviations are drawn for 16 chips and the board takes the first."""

    def __init__(self, serial: str = DEFAULT_SERIAL, mesh: tuple[int, int] = g.MESH_DEFAULT, ideal: bool = False):
        self.serial = check_serial(serial)
        w, h = mesh
        if not (1 <= w <= g.MESH_MAX and 1 <= h <= g.MESH_MAX):
            raise InvalidInput("mesh", f"{mesh!r}: width and height must be 1..{g.MESH_MAX}")
        self.mesh = (int(w), int(h))
        self.chips = w * h
        self.ideal = bool(ideal)
        self.seed = serial_to_seed(serial)
        self.run_counter = 0
        n = self.chips * g.NEURONS
        if ideal:
            self.generator_gains = None
            self.neuron_gains = np.ones((len(biasgen.PARAMETERS), n))
            self.synapse_gains = np.ones((n, g.CAM_ENTRIES))
        else:
            self.generator_gains = biasgen.generator_gains(serial, CHIPS_MAX, g.CORES)[: self.chips]
            self.neuron_gains = _mismatch(self.seed, 0x4E455552, (len(biasgen.PARAMETERS), CHIPS_MAX * g.NEURONS))[:, :n]
            self.synapse_gains = _mismatch(self.seed, 0x53594E41, (CHIPS_MAX * g.NEURONS, g.CAM_ENTRIES))[:n]
        self._tables: Tables | None = None
        self._steps: dict = {}
        self.configure(self._power_on())

    def _power_on(self) -> dict:
        n, chips = g.NEURONS, self.chips
        biases = np.zeros((chips, g.CORES, len(biasgen.PARAMETERS), 2), np.uint8)
        for p, name in enumerate(biasgen.PARAMETERS):
            biases[:, :, p] = circuit.DEFAULT_BIASES[name]
        z4, z64 = np.zeros((chips, n, g.SRAM_DESTINATIONS), np.int8), np.zeros((chips, n, g.CAM_ENTRIES), np.uint8)
        return {"biases": biases, "sram_tag": z4, "sram_cores": z4, "sram_dx": z4, "sram_dy": z4,
                "cam_tag": z64, "cam_type": z64, "cam_weights": z64}

    def reset(self) -> None:
        self.configure(self._power_on())

    def configure(self, cfg: dict) -> None:
        """Writes the arrays of a ``hil.dynapse2.Config`` (checked by it) to the board."""
        if cfg["cam_tag"].shape[0] != self.chips:
            raise InvalidInput("cam_tag", f"is for {cfg['cam_tag'].shape[0]} chips; this board has {self.chips}")
        self.config = cfg
        self._tables = tables(cfg, self.mesh[0])
        currents = circuit.core_currents(cfg["biases"], self.generator_gains)       # (chips, cores, P)
        per_neuron = np.repeat(currents.reshape(-1, currents.shape[2]), g.NEURONS_PER_CORE, axis=0).T
        self.currents = per_neuron * self.neuron_gains                              # (P, n)
        t = self._tables
        core_of = t.cam_neuron // g.NEURONS_PER_CORE                                # global core index
        base = currents.reshape(-1, currents.shape[2])[:, [biasgen.PARAMETERS.index(p)
                                                            for p in circuit.WEIGHT_PARAMETERS]]
        bits = (t.cam_mask[:, None] >> np.arange(g.WEIGHT_CURRENTS)) & 1
        summed = np.zeros(len(t.cam_mask))
        for k in range(g.WEIGHT_CURRENTS):      # in order Iw_0 .. Iw_3: one defined sum
            summed = summed + np.where(bits[:, k] == 1, base[core_of, k], 0.0)
        self.weights = summed * self.synapse_gains[t.cam_neuron, t.cam_entry]
        self._steps.clear()

    def step(self, dt: float) -> circuit.Step:
        if dt not in self._steps:
            self._steps = {dt: circuit.step_factors(self.currents, dt, noisy=not self.ideal)}
        return self._steps[dt]

    def _net(self, st: circuit.Step, keep: list):
        t = self._tables
        net = ffi.new("dyn_net *")
        net.chips, net.noisy = self.chips, int(st.noise != 0.0)

        def ptr(kind, a):
            a = np.ascontiguousarray(a)
            keep.append(a)
            return ffi.from_buffer(kind, a)
        for name in ("fdis", "fchg", "gsyn", "fdis_ahp", "fchg_ahp", "q_ahp", "itau_mem", "inv_itau", "igain_mem", "gmem", "idc",
                     "if_nmda", "ispkthr"):
            setattr(net, name, ptr("double[]", np.asarray(getattr(st, name), np.float64)))
        net.n_ref = ptr("int32_t[]", st.n_ref)
        net.tau_c, net.io, net.inv_io, net.fb_exp, net.dt, net.noise = (st.tau_c, st.io, st.inv_io, st.fb_exp, st.dt,
                                                                          st.noise)
        net.dest_chip = ptr("int32_t[]", t.dest_chip)
        net.dest_cores = ptr("uint8_t[]", t.dest_cores)
        net.dest_tag = ptr("uint16_t[]", t.dest_tag)
        net.cam_offsets = ptr("int64_t[]", t.cam_offsets)
        net.cam_neuron = ptr("int32_t[]", t.cam_neuron)
        net.cam_entry = ptr("uint8_t[]", t.cam_entry)
        net.cam_type = ptr("uint8_t[]", t.cam_type)
        net.cam_mask = ptr("uint8_t[]", t.cam_mask)
        net.cam_weight = ptr("double[]", self.weights)
        net.cam_count = len(t.cam_neuron)
        return net

    def _refused(self, status: int, bad, what: str):
        if status == 1:
            field = _BAD.get(int(bad[0]), "input")
            at = f"[{int(bad[1])}]" if bad[1] >= 0 else ""
            raise InvalidInput(f"{field}{at}", f"{int(bad[2])} is not allowed on this board ({what})")
        if status == -2:
            raise MemoryError(f"the C core ran out of memory ({what})")
        if status == -3:
            raise InvalidInput("run", f"gave more than {g.SPIKES_MAX} spikes or deliveries; make it shorter")
        raise RuntimeError(f"the C core refused its arguments ({what}: {status})")

    def run(self, times, tags, chips, cores, *, duration: int, dt: float, record=None) -> dict:
        """One run of ``duration`` steps of ``dt`` s with the input events (validated by hil.dynapse2.Stimulus).
        Returns {"times": (m,) int64 steps, "neurons": (m,) int32 global, "traces": (duration, k, 6) or None}."""
        st = self.step(float(dt))
        keep: list = []
        net = self._net(st, keep)
        stim = ffi.new("dyn_stim *")
        ev = [np.ascontiguousarray(a, d) for a, d in ((times, np.int64), (tags, np.uint16), (chips, np.uint8),
                                                      (cores, np.uint8))]
        keep += ev
        stim.n_events, stim.duration = len(ev[0]), int(duration)
        if len(ev[0]):
            stim.times, stim.tags = ffi.from_buffer("int64_t[]", ev[0]), ffi.from_buffer("uint16_t[]", ev[1])
            stim.chips, stim.cores = ffi.from_buffer("uint8_t[]", ev[2]), ffi.from_buffer("uint8_t[]", ev[3])
        rec = np.zeros(0, np.int32) if record is None else np.ascontiguousarray(record, np.int32)
        traces = np.zeros((int(duration), len(rec), len(g.TRACES))) if len(rec) else None
        stim.n_record = len(rec)
        if len(rec):
            keep.append(rec)
            stim.record = ffi.from_buffer("int32_t[]", rec)
        stim.key = lib.bss2_stream_key(self.seed, self.run_counter, NOISE_STREAM)
        out, bad = ffi.new("dyn_spikes **"), ffi.new("int64_t[3]")
        status = lib.dyn_run(net, stim, ffi.NULL if traces is None else ffi.from_buffer("double[]", traces),
                             0 if traces is None else traces.size, out, bad)
        if status:
            self._refused(status, bad, "run")
        self.run_counter += 1
        try:
            m = lib.dyn_spike_count(out[0])
            t_out, n_out = np.empty(m, np.int64), np.empty(m, np.int32)
            if lib.dyn_spikes_take(out[0], m, ffi.from_buffer("int64_t[]", t_out), ffi.from_buffer("int32_t[]", n_out)):
                raise RuntimeError("dyn_spikes_take refused its arguments")
        finally:
            lib.dyn_spikes_free(out[0])
        return {"times": t_out, "neurons": n_out, "traces": traces}

    def route(self, spike_neurons, in_tags, in_chips, in_cores) -> dict:
        """The router alone (routing mode): the deliveries of spikes of ``spike_neurons`` (global) and of input
        events, in the router's order. Not a run: the run counter stays."""
        keep: list = []
        net = self._net(self.step(1e-3), keep)
        arrays = [np.ascontiguousarray(a, d) for a, d in ((spike_neurons, np.int32), (in_tags, np.uint16),
                                                          (in_chips, np.uint8), (in_cores, np.uint8))]
        log, bad = ffi.new("dyn_log **"), ffi.new("int64_t[3]")
        buf = [ffi.from_buffer(k, a) if len(a) else ffi.NULL
               for k, a in zip(("int32_t[]", "uint16_t[]", "uint8_t[]", "uint8_t[]"), arrays)]
        status = lib.dyn_route(net, buf[0], len(arrays[0]), buf[1], buf[2], buf[3], len(arrays[1]), log, bad)
        if status:
            self._refused(status, bad, "route")
        try:
            r = lib.dyn_log_count(log[0])
            out = {"sources": np.empty(r, np.int64), "neurons": np.empty(r, np.int32), "entries": np.empty(r, np.uint8),
                   "types": np.empty(r, np.uint8), "weights": np.empty(r, np.uint8)}
            if lib.dyn_log_take(log[0], r, *(ffi.from_buffer(k, out[f]) for k, f in (
                    ("int64_t[]", "sources"), ("int32_t[]", "neurons"), ("uint8_t[]", "entries"),
                    ("uint8_t[]", "types"), ("uint8_t[]", "weights")))):
                raise RuntimeError("dyn_log_take refused its arguments")
        finally:
            lib.dyn_log_free(log[0])
        return out
