"""The spiking mode's C core (``emulator/_native/bss2/lif.c``) seen from Python.

:func:`core` turns a configuration (a :class:`spiking.Network`) into the C description
of it at one integration step, ``bss2_lif``: the float32 factors of a step per neuron
(:func:`spiking.propagators`), the synapses, and the routing of every event label. A
chip makes it once per (configuration, step) and keeps it, so a run only hands over
its events. :func:`run` is one run: the values :func:`spiking.run_reference` defines,
bit for bit (``tests/emulator/bss2/test_spiking.py``).

The C core reads every input once and checks it as it reads it (the event times,
trials and their order, the scalars); what it refuses comes back here as an
:class:`InvalidInput` naming the field, the index, the value read and the range.
"""
from dataclasses import dataclass

import numpy as np

from . import geometry as g, spiking
from .fixed_pattern import FixedPattern
from .._native import ffi, lib
from ..errors import InvalidInput

ROUTES = lib.BSS2_LIF_ROUTES
"""(bus, row select) pairs of an event label, route = bus * 32 + row select: all a driver
compares (the address, bits 0-5, is the synapses' business)."""


def route_table(net: spiking.Network) -> np.ndarray:
    """(2, 128, 2) uint64: bit d % 64 of word d // 64 of [h, route] is set if driver (h, d)
    takes the events of that route (the rule of :func:`spiking.routing`, for every label at once)."""
    route = np.arange(ROUTES)
    bus, select = (route >> 5)[None, :, None], (route & g.ROW_SELECT_MAX)[None, :, None]
    hit = ((net.driver_bus[:, None, :] == bus)
           & (((select ^ net.driver_row_select[:, None, :]) & net.driver_mask[:, None, :]) == 0))
    bits = np.packbits(hit, axis=2, bitorder="little")          # (2, 128, 16) bytes, driver d at bit d
    return np.ascontiguousarray(bits.view(np.dtype("<u8")), dtype=np.uint64)


@dataclass(frozen=True, eq=False)
class Core:
    """A configuration at one step as the C core reads it."""

    step_ns: int
    struct: object
    """The ``bss2_lif *`` (cffi)."""
    arrays: dict
    """The arrays ``struct`` points into (kept alive with it), read-only."""


_FLOAT_FIELDS = ("pm", "pe", "pi", "se", "si", "v_inf", "v_leak", "v_reset", "v_th", "noise", "h_tm", "h_tw",
                 "a", "b", "dt_exp", "v_t")


def core(net: spiking.Network, pattern: FixedPattern, sp: spiking.SpikingPattern, code_map: np.ndarray,
         step_ns: int) -> Core:
    """The C description of ``net`` on a chip with these patterns and CADC ``code_map`` at ``step_ns``."""
    p = spiking.propagators(net, step_ns)
    # Copies of their own (a network may share arrays with the caller's configuration), frozen.
    own = lambda a, dtype: np.array(a, dtype, order="C", copy=True)  # noqa: E731
    arrays = {k: own(p[k], np.float32) for k in _FLOAT_FIELDS}
    arrays.update(
        hold=own(p["hold"], np.int32), live=own(net.live, np.uint8), adaptation=own(net.adaptation, np.uint8),
        exponential=own(net.exponential, np.uint8), efficacy=own(net.efficacy, np.float32),
        labels=own(net.labels, np.uint8), row_mode=own(net.row_mode, np.uint8),
        row_active=own((net.row_mode != 0) & (net.efficacy != 0).any(axis=2), np.uint8), routes=route_table(net),
        stp_enable=own(net.stp_enable, np.uint8), stp_u=own(net.stp_u, np.float64),
        stp_tau=own(net.stp_tau, np.float64), cadc_offset_chip=own(pattern.cadc_offset, np.float32),
        cadc_slope=own(pattern.cadc_slope, np.float32), code_map=own(code_map, np.int32),
        cadc_offset=own(net.cadc_offset, np.int16))
    sizes = {"efficacy": g.HEMISPHERES * g.ROWS_PER_HEMISPHERE * g.COLUMNS_PER_HEMISPHERE, "row_mode": 2 * 256,
             "routes": g.HEMISPHERES * ROUTES * 2, "code_map": g.CADC_CODES, "row_active": 2 * 256}
    sizes["labels"] = sizes["efficacy"]
    for k in ("stp_enable", "stp_u", "stp_tau"):
        sizes[k] = g.HEMISPHERES * g.DRIVERS_PER_HEMISPHERE
    s = ffi.new("bss2_lif *")
    s.step_ns = step_ns
    # the reference's test: a chip without any temporal noise draws none
    s.noisy = int(bool(net.sigma_mem.any() or sp.sigma_cadc or sp.sigma_madc))
    ctypes = {np.float32: "float[]", np.float64: "double[]", np.int32: "int32_t[]", np.int16: "int16_t[]",
              np.uint8: "uint8_t[]", np.uint64: "uint64_t[]"}
    pointers = {}
    for name, a in arrays.items():
        a.setflags(write=False)
        pointers[name] = _ptr(ctypes[a.dtype.type], a, sizes.get(name, g.NEURONS))
        setattr(s, name, pointers[name])
    s.sigma_cadc = sp.sigma_cadc
    s.madc_offset = sp.madc_offset
    s.madc_gain = sp.madc_gain
    s.sigma_madc = sp.sigma_madc
    arrays["_pointers"] = pointers
    return Core(step_ns=int(step_ns), struct=s, arrays=arrays)


def run(c: Core, times: np.ndarray, labels: np.ndarray, trials: np.ndarray | None, *, n_trials: int, duration: int,
        record_cadc: bool, cadc_period: int, madc_neuron: int, key_membrane: int, key_madc: int,
        trial0: int = 0) -> dict:
    """One run of the C core: the arrays of ``hil.bss2.SpikingReadout`` (as ``run_reference``).

    ``times`` (int64), ``labels`` and ``trials`` (uint16, or None: all in trial 0) are
    contiguous 1-D arrays of one length; their values, and the scalars, are checked by
    the core. The trials are the run's trials ``trial0 .. trial0 + n_trials - 1`` (their
    noise is keyed by that index; the spikes carry it), so a run cut into batches of
    trials gives the values of the whole run.
    """
    _vector(times, "times", np.int64, None)
    n = times.size
    _vector(labels, "labels", np.uint16, n)
    if trials is not None:
        _vector(trials, "trials", np.uint16, n)
    n_trials, duration, cadc_period, madc_neuron, trial0 = (
        _integer(v, name) for v, name in ((n_trials, "n_trials"), (duration, "duration"),
                                          (cadc_period, "cadc_period"), (madc_neuron, "madc_neuron"),
                                          (trial0, "trial0")))
    cadc_period = cadc_period if record_cadc else 0
    # Output sizes from scalars the core will accept (it refuses the others, by name, before
    # it looks at the sizes; then the outputs are not needed).
    plausible = (1 <= duration <= g.SPIKING_DURATION_MAX and 1 <= n_trials <= g.TRIALS_MAX
                 and -(-8 * duration // c.step_ns) * n_trials <= g.STEPS_TIMES_TRIALS_MAX
                 and (cadc_period == 0 or g.CADC_PERIOD_MIN <= cadc_period <= g.CADC_PERIOD_MAX))
    cadc_samples = -(-duration // cadc_period) if plausible and cadc_period else 0
    madc_samples = -(-8 * duration // g.MADC_PERIOD_NS) if plausible and 0 <= madc_neuron < g.NEURONS else 0
    trials_out = n_trials if plausible else 0
    cadc = np.empty((trials_out, cadc_samples, g.NEURONS), np.uint8)
    madc = np.empty((trials_out, madc_samples), np.uint16)

    st = ffi.new("bss2_lif_stim *")
    ev = [_ptr(t, a, n) if n else ffi.NULL for t, a in (("int64_t[]", times), ("uint16_t[]", labels))]
    tr = _ptr("uint16_t[]", trials, n) if n and trials is not None else ffi.NULL
    st.times, st.labels, st.trials = ev[0], ev[1], tr
    st.n_events, st.n_trials, st.trial0, st.duration = n, n_trials, trial0, duration
    st.cadc_period, st.madc_neuron = cadc_period, madc_neuron
    st.key_membrane, st.key_madc = key_membrane, key_madc
    handle = ffi.new("bss2_lif_spikes **")
    bad = ffi.new("int64_t[3]")
    status = lib.bss2_lif_run(c.struct, st, _ptr("uint8_t[]", cadc, cadc.size) if cadc.size else ffi.NULL, cadc.size,
                              _ptr("uint16_t[]", madc, madc.size) if madc.size else ffi.NULL, madc.size, handle, bad)
    try:
        if status == 1:
            raise _refusal(int(bad[0]), int(bad[1]), int(bad[2]), n_trials, duration, c.step_ns)
        if status == -3:
            raise InvalidInput("spikes", f"the run recorded more than {lib.BSS2_LIF_SPIKES_MAX} spikes, the spike "
                                         f"recorder's capacity; a shorter run, fewer trials or lower rates")
        if status == -2:  # pragma: no cover
            raise MemoryError("the spiking run could not allocate its workspace")
        if status != 0:  # pragma: no cover - arguments are built and checked here
            raise RuntimeError(f"the C core refused its arguments (status {status})")
        count = lib.bss2_lif_spike_count(handle[0])
        spike_times = np.empty(count, np.int64)
        spike_neurons = np.empty(count, np.uint16)
        spike_trials = np.empty(count, np.uint16)
        if count and lib.bss2_lif_spikes_take(handle[0], count, _ptr("int64_t[]", spike_times, count),
                                              _ptr("uint16_t[]", spike_neurons, count),
                                              _ptr("uint16_t[]", spike_trials, count)) != 0:  # pragma: no cover
            raise RuntimeError("the C core refused to hand over the spikes of its run")
    finally:
        lib.bss2_lif_spikes_free(handle[0])
    cadc_times = np.arange(cadc_samples, dtype=np.int64) * cadc_period
    return dict(spike_times=spike_times, spike_neurons=spike_neurons, spike_trials=spike_trials,
                cadc_times=cadc_times, cadc=cadc, madc=madc, madc_neuron=madc_neuron)


def _refusal(field: int, index: int, value: int, n_trials: int, duration: int, step_ns: int) -> InvalidInput:
    """The error of what the core refused (with the value it read)."""
    if field == lib.BSS2_LIF_BAD_TIME:
        return InvalidInput(f"times[{index}]", f"{value} is outside the allowed range 0..{duration - 1}")
    if field == lib.BSS2_LIF_BAD_TRIAL:
        return InvalidInput(f"trials[{index}]", f"{value} is outside the allowed range 0..{n_trials - 1}")
    if field == lib.BSS2_LIF_BAD_ORDER:
        return InvalidInput(f"times[{index}]", f"{value} comes before the event before it; events must be "
                            f"sorted by (trial, time)")
    if field == lib.BSS2_LIF_BAD_STEPS:
        steps = -(-8 * duration // step_ns)
        return InvalidInput("step_ns", f"{steps} steps x {n_trials} trials = {value}; at most "
                            f"{g.STEPS_TIMES_TRIALS_MAX} per run")
    name, allowed = {
        lib.BSS2_LIF_BAD_EVENTS: ("times", f"0..{g.EVENTS_MAX} events"),
        lib.BSS2_LIF_BAD_DURATION: ("duration", f"1..{g.SPIKING_DURATION_MAX}"),
        lib.BSS2_LIF_BAD_N_TRIALS: ("n_trials", f"1..{g.TRIALS_MAX}"),
        lib.BSS2_LIF_BAD_TRIAL0: ("trial0", f"0..{g.TRIALS_MAX - n_trials}"),
        lib.BSS2_LIF_BAD_STEP_NS: ("step_ns", f"1..{g.STEP_NS_MAX}"),
        lib.BSS2_LIF_BAD_CADC_PERIOD: ("cadc_period", f"{g.CADC_PERIOD_MIN}..{g.CADC_PERIOD_MAX}"),
        lib.BSS2_LIF_BAD_MADC_NEURON: ("madc_neuron", f"-1..{g.NEURONS - 1}"),
    }.get(field, (f"field {field}", "?"))
    return InvalidInput(name, f"{value} is outside the allowed range {allowed}")


def _vector(a, field: str, dtype, n: int | None) -> None:
    if not (type(a) is np.ndarray and a.dtype == dtype and a.ndim == 1 and a.flags.c_contiguous
            and (n is None or a.size == n)):
        what = f"{a.dtype} array of shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        length = "events" if n is None else str(n)
        raise InvalidInput(field, f"expected a contiguous ({length},) {np.dtype(dtype).name} array, got {what}")


def _integer(v, field: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise InvalidInput(field, f"{v!r} is not an integer")
    v = int(v)
    if not -2**62 <= v <= 2**62:
        raise InvalidInput(field, f"{v} is outside the allowed range of a 64-bit count")
    return v


def _ptr(ctype: str, a: np.ndarray, count: int):
    """A C pointer to ``a``'s buffer, which must hold exactly ``count`` elements (checked on the
    buffer itself, so an object whose shape says otherwise never makes C read past it)."""
    buf = ffi.from_buffer(ctype, a)
    if len(buf) != count:
        raise InvalidInput("buffer", f"holds {len(buf)} elements where {count} are needed")
    return buf
