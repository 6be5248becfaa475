"""Spiking mode: current-based LIF (optionally AdEx) neurons driven through the synapse
drivers, recorded by the CADC, the MADC and the spike counter (docs/spiking.md).

Three parts:

* :class:`SpikingPattern`, the spiking mismatch of one chip (CapMem transfer curves,
  synaptic input gains, membrane and ADC noise), drawn once from its serial by
  :func:`draw_pattern` from its own random stream, so the MAC mode's pattern is unchanged;
* :func:`prepare`, a configuration turned into a :class:`Network`: every neuron's
  analog values, every synapse's efficacy, the drivers' routing;
* :func:`run_reference`, the run in numpy, step by step: the definition the C core
  (``emulator/_native/bss2/lif.c``) reproduces.

State is float32 and every step does the same float32 operations in the same order
in both, so they agree bit for bit. The one transcendental function of a step, the
AdEx exponential, is :func:`exp_f32`: a fixed sequence of float32 operations rather
than numpy's or libm's ``expf`` (which differ from each other in the last bit), so
it is bit for bit too. The short-term plasticity runs in float64 with libm's ``exp``
(``math.exp`` here), the same function the C core calls.

The noise of a run is counter-based: the membrane noise of (trial, step, neuron) is the
high half of draw ``(trial * steps + step) * 512 + neuron`` of stream 2 keyed by (chip
seed, run counter), the CADC read noise of the sample read at that step its low half;
the MADC noise of (trial, sample) is the high half of draw ``trial * madc_samples +
sample`` of stream 3.
"""
import math
from dataclasses import dataclass

import numpy as np

from . import capmem, geometry as g
from .fixed_pattern import FixedPattern
from .faults import Faults
from .synapse_array import apply_stuck_bits, apply_stuck_label_bits, short_columns, short_neurons

_H, _D, _R, _C, _N = (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE, g.ROWS_PER_HEMISPHERE,
                      g.COLUMNS_PER_HEMISPHERE, g.NEURONS)
CONFIG_FIELDS = {
    "weights": (np.uint8, (_H, _R, _C), 0, g.WEIGHT_MAX),
    "labels": (np.uint8, (_H, _R, _C), 0, (1 << g.LABEL_BITS) - 1),
    "row_mode": (np.uint8, (_H, _R), 0, g.ROW_MODES - 1),
    "driver_bus": (np.uint8, (_H, _D), 0, g.DRIVER_BUSES - 1),
    "driver_row_select": (np.uint8, (_H, _D), 0, g.ROW_SELECT_MAX),
    "driver_mask": (np.uint8, (_H, _D), 0, g.ROW_SELECT_MAX),
    "stp_enable": (np.uint8, (_H, _D), 0, 1),
    "stp_utilization": (np.uint16, (_H, _D), 0, g.CAPMEM_LEVEL_MAX),
    "stp_recovery": (np.uint16, (_H, _D), 0, g.CAPMEM_LEVEL_MAX),
    **{p: (np.uint16, (_N,), 0, g.CAPMEM_LEVEL_MAX) for p in capmem.DEFAULT_LEVELS},
    "enable_adaptation": (np.uint8, (_N,), 0, 1),
    "enable_exponential": (np.uint8, (_N,), 0, 1),
    "refractory": (np.uint16, (_N,), 0, g.REFRACTORY_MAX),
    "cadc_offset": (np.int8, (_N,), -128, 127),
}
"""Every array of a spiking configuration: (dtype, shape, lo, hi)."""

STREAM_MEMBRANE = 2
STREAM_MADC = 3

Q = 0.8
"""Synaptic current jump per weight unit of a nominal synapse, CADC LSB."""
MADC_GAIN = 4.0
"""MADC codes per CADC LSB of a nominal chip."""
EXPONENT_MAX = 20.0
"""Limit of the AdEx exponent (V - V_T) / dT: the exponential circuit saturates."""
EXPONENT_MIN = -80.0
"""Lower limit of the AdEx exponent (e**-80 ~ 2e-35 LSB: nothing), which keeps :func:`exp_f32`
away from float32 underflow."""


def _f32(text: str) -> np.float32:
    return np.float32(float.fromhex(text))


# exp_f32's constants, as float32 (hex, so numpy and C read the same bits): log2(e), ln 2 in
# two parts (Cody and Waite: the first has 9 significant bits, so n * _LN2_HI is exact) and
# Cephes' expf polynomial for e**r - 1 - r, |r| <= ln(2) / 2, highest degree first.
_LOG2E, _LN2_HI, _LN2_LO = _f32("0x1.715476p+0"), _f32("0x1.63p-1"), _f32("-0x1.bd0106p-13")
_ROUND = _f32("0x1.8p+23")   # 1.5 * 2**23: (t + _ROUND) - _ROUND rounds t to an integer (|t| < 2**22)
_EXP_POLY = tuple(_f32(c) for c in ("0x1.a0d2cep-13", "0x1.6e879cp-10", "0x1.11121p-7", "0x1.555382p-5",
                                    "0x1.555554p-3", "0x1p-1"))


def exp_f32(x: np.ndarray) -> np.ndarray:
    """e**x in float32 for x in EXPONENT_MIN..EXPONENT_MAX, by the float32 operations below in
    this order (no fused multiply-add), the same in the C core (``exp_*`` in lif.c); within
    1 ulp of e**x (measured over the range).

    n = round(x log2 e) (to even), r = (x - n ln2_hi) - n ln2_lo, then
    y = ((((((p0 r + p1) r + p2) r + p3) r + p4) r + p5) (r r) + r) + 1 and e**x = y 2**n
    (exact: y 2**n is a normal float over the range)."""
    x = np.asarray(x, np.float32)
    t = x * _LOG2E + _ROUND
    n = t - _ROUND
    r = (x - n * _LN2_HI) - n * _LN2_LO
    y = np.full_like(r, _EXP_POLY[0])
    for c in _EXP_POLY[1:]:
        y = y * r + c
    y = (y * (r * r) + r) + np.float32(1)
    return np.ldexp(y, n.astype(np.int32))


@dataclass(frozen=True, eq=False)
class SpikingPattern:
    """The spiking-mode mismatch of one chip. Arrays are read-only; (512,) unless said."""

    offset: dict
    """parameter -> (512,) offset of a potential cell's curve, LSB (reset, threshold, exp_threshold)."""
    gain: dict
    """parameter -> (512,) relative gain of a cell's curve (every neuron cell but leak)."""
    input_gain_exc: np.ndarray
    """Excitatory synaptic input gain of each neuron, relative."""
    input_gain_inh: np.ndarray
    """Inhibitory synaptic input gain of each neuron, relative."""
    stp_gain_u: np.ndarray
    """(2, 128) relative gain of each driver's utilization cell."""
    stp_gain_tau: np.ndarray
    """(2, 128) relative gain of each driver's recovery time constant."""
    sigma_mem: np.ndarray
    """Stationary membrane noise of each neuron, LSB."""
    sigma_cadc: float
    """Temporal noise of a CADC read in spiking mode, LSB."""
    madc_offset: float
    """MADC offset, codes."""
    madc_gain: float
    """MADC codes per LSB."""
    sigma_madc: float
    """Temporal noise of an MADC sample, codes."""


_SPREAD_VOLT = 2.0   # LSB, offset of a reset / threshold cell
_SPREAD_GAIN = {"reset": 0.02, "threshold": 0.02, "exp_threshold": 0.02, "tau_mem": 0.08, "tau_syn_exc": 0.08,
                "tau_syn_inh": 0.08, "tau_adaptation": 0.08, "i_const": 0.03, "adaptation_a": 0.05,
                "adaptation_b": 0.05, "exp_slope": 0.05}


def _frozen(a) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def draw_pattern(seed: int) -> SpikingPattern:
    """The spiking mismatch of the chip with this seed (its own stream: the MAC pattern is untouched)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x5350494B])))
    n = g.NEURONS
    gain = {p: _frozen(np.maximum(1.0 + s * rng.standard_normal(n), 0.5)) for p, s in _SPREAD_GAIN.items()}
    offset = {p: _frozen(_SPREAD_VOLT * rng.standard_normal(n)) for p in ("reset", "threshold", "exp_threshold")}
    d = (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE)
    return SpikingPattern(
        offset=offset, gain=gain,
        input_gain_exc=_frozen(1.0 + 0.05 * rng.standard_normal(n)),
        input_gain_inh=_frozen(1.0 + 0.05 * rng.standard_normal(n)),
        stp_gain_u=_frozen(np.maximum(1.0 + 0.03 * rng.standard_normal(d), 0.5)),
        stp_gain_tau=_frozen(np.maximum(1.0 + 0.08 * rng.standard_normal(d), 0.5)),
        sigma_mem=_frozen(0.5 * (1.0 + 0.08 * rng.standard_normal(n))),
        sigma_cadc=0.3,
        madc_offset=float(4.0 * rng.standard_normal()),
        madc_gain=float(MADC_GAIN * (1.0 + 0.01 * rng.standard_normal())),
        sigma_madc=0.6,
    )


def ideal_pattern() -> SpikingPattern:
    """No mismatch and no noise: the nominal curves of docs/spiking.md."""
    n, d = g.NEURONS, (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE)
    ones = _frozen(np.ones(n))
    return SpikingPattern(
        offset={p: _frozen(np.zeros(n)) for p in ("reset", "threshold", "exp_threshold")},
        gain={p: ones for p in _SPREAD_GAIN}, input_gain_exc=ones, input_gain_inh=ones,
        stp_gain_u=_frozen(np.ones(d)), stp_gain_tau=_frozen(np.ones(d)), sigma_mem=_frozen(np.zeros(n)),
        sigma_cadc=0.0, madc_offset=0.0, madc_gain=MADC_GAIN, sigma_madc=0.0)


def neuron_values(pattern: FixedPattern, sp: SpikingPattern, cells: dict) -> dict:
    """Every neuron's analog parameters (float64, (512,)) from its CapMem levels ``cells``:
    potentials and currents in LSB, time constants in seconds (docs/spiking.md)."""
    out = {}
    for p in capmem.DEFAULT_LEVELS:
        nominal = capmem.nominal_value(p, cells[p])
        if p == "leak":   # the leak cell is the CADC ramp mode's resting level, its mismatch that mode's
            out[p] = pattern.capmem_offset + pattern.capmem_gain * nominal
        elif p in capmem.VOLTAGES:
            out[p] = sp.offset[p] + sp.gain[p] * nominal
        elif p in capmem.TIMES:
            out[p] = nominal / sp.gain[p]   # a larger bias current: a shorter time constant
        else:
            out[p] = sp.gain[p] * nominal
    return out


@dataclass(frozen=True, eq=False)
class Network:
    """A spiking configuration as the run uses it."""

    values: dict
    """Neuron parameters (see :func:`neuron_values`), float64 (512,)."""
    refractory_cycles: np.ndarray
    """(512,) int64 refractory time, FPGA cycles."""
    adaptation: np.ndarray
    """(512,) bool: AdEx adaptation on."""
    exponential: np.ndarray
    """(512,) bool: AdEx exponential term on."""
    efficacy: np.ndarray
    """(2, 256, 256) float32 current jump of each synapse on an event at full resources, LSB
    (0 on rows that are off)."""
    labels: np.ndarray
    """(2, 256, 256) uint8 synapse labels."""
    row_mode: np.ndarray
    """(2, 256) uint8 0 off, 1 excitatory, 2 inhibitory."""
    driver_bus: np.ndarray
    driver_row_select: np.ndarray
    driver_mask: np.ndarray
    stp_enable: np.ndarray
    """(2, 128) bool."""
    stp_u: np.ndarray
    """(2, 128) float64 utilization of each driver."""
    stp_tau: np.ndarray
    """(2, 128) float64 recovery time constant of each driver, s."""
    live: np.ndarray
    """(512,) bool: False for a dead neuron."""
    sigma_mem: np.ndarray
    """(512,) membrane noise, LSB, noisy-neuron faults included."""
    cadc_offset: np.ndarray
    """(512,) int16 digital CADC offset."""


def prepare(pattern: FixedPattern, sp: SpikingPattern, faults: Faults, cfg: dict) -> Network:
    """The :class:`Network` of the configuration ``cfg`` (the arrays of ``hil.bss2.SpikingConfig``,
    already checked) on a chip with these patterns and faults."""
    if faults.stuck_capmem:    # a stuck cell holds its level whatever the configuration writes
        cfg = dict(cfg)
        for cell in faults.stuck_capmem:
            cfg[cell.parameter] = cfg[cell.parameter].copy()
            cfg[cell.parameter][cell.neuron] = cell.level
    values = neuron_values(pattern, sp, cfg)
    if faults.shorted_columns:   # the pair's membranes are one node: one set of analog values
        values = {p: short_neurons(v.copy(), faults.shorted_columns) for p, v in values.items()}
    weights = np.stack([apply_stuck_bits(cfg["weights"][h], h, faults.stuck_bits) for h in range(g.HEMISPHERES)])
    labels = np.stack([apply_stuck_label_bits(cfg["labels"][h], h, faults.stuck_label_bits)
                       for h in range(g.HEMISPHERES)])
    mode = cfg["row_mode"]
    driver = np.repeat(pattern.driver_gain, 2, axis=1)                          # (2, 256) per row
    n = g.COLUMNS_PER_HEMISPHERE
    gain_exc = sp.input_gain_exc.reshape(g.HEMISPHERES, 1, n)
    gain_inh = sp.input_gain_inh.reshape(g.HEMISPHERES, 1, n)
    column = np.where((mode == 1)[..., None], gain_exc, np.where((mode == 2)[..., None], gain_inh, 0.0))
    for h, d in faults.dead_drivers:   # no pulse on its rows (a full-pulse driver: as every driver here)
        driver[h, 2 * d:2 * d + 2] = 0.0
    efficacy = (Q * weights * pattern.synapse_gain.astype(np.float64) * driver[..., None] * column)
    for h in range(g.HEMISPHERES):
        short_columns(efficacy[h], h, faults.shorted_columns)
    sigma = np.array(sp.sigma_mem, np.float64)
    for nrn, extra in faults.noisy_neurons:
        sigma[nrn] = np.hypot(sigma[nrn], extra)
    live = np.ones(g.NEURONS, bool)
    live[list(faults.dead_neurons)] = False
    u = np.minimum(capmem.nominal_value("stp_utilization", cfg["stp_utilization"]) * sp.stp_gain_u, 1.0)
    tau = capmem.nominal_value("stp_recovery", np.maximum(cfg["stp_recovery"], 1)) / sp.stp_gain_tau
    return Network(
        values=values, refractory_cycles=cfg["refractory"].astype(np.int64),
        adaptation=cfg["enable_adaptation"].astype(bool), exponential=cfg["enable_exponential"].astype(bool),
        efficacy=_frozen(efficacy.astype(np.float32)), labels=_frozen(labels), row_mode=mode,
        driver_bus=cfg["driver_bus"], driver_row_select=cfg["driver_row_select"], driver_mask=cfg["driver_mask"],
        stp_enable=cfg["stp_enable"].astype(bool), stp_u=u, stp_tau=tau, live=live, sigma_mem=sigma,
        cadc_offset=cfg["cadc_offset"].astype(np.int16))


def propagators(net: Network, step_ns: int) -> dict:
    """The float32 per-neuron factors of one step of ``step_ns``: the exact solution of the
    linear LIF over a step (docs/spiking.md), and the Euler factors of the AdEx terms."""
    h = step_ns * 1e-9
    v = net.values
    tm, te, ti = v["tau_mem"], v["tau_syn_exc"], v["tau_syn_inh"]
    pm = np.exp(-h / tm)

    def coupling(ts):   # contribution to V after one step of a synaptic current of 1 at its start
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = h * (ts - tm) / (tm * ts)
            general = ts / (ts - tm) * pm * np.expm1(rate)
        return np.where(ts == tm, h / tm * pm, general)

    f32 = lambda a: np.ascontiguousarray(a, np.float32)  # noqa: E731
    return dict(
        pm=f32(pm), pe=f32(coupling(te)), pi=f32(coupling(ti)), se=f32(np.exp(-h / te)), si=f32(np.exp(-h / ti)),
        v_inf=f32(v["leak"] + v["i_const"]), v_leak=f32(v["leak"]), v_reset=f32(v["reset"]),
        v_th=f32(v["threshold"]), noise=f32(net.sigma_mem * np.sqrt(-np.expm1(-2.0 * h / tm))),
        h_tm=f32(h / tm), h_tw=f32(h / v["tau_adaptation"]), a=f32(v["adaptation_a"]), b=f32(v["adaptation_b"]),
        dt_exp=f32(np.maximum(v["exp_slope"], 1e-30)), v_t=f32(v["exp_threshold"]),
        hold=np.rint(8.0 * net.refractory_cycles / step_ns).astype(np.int64))


def routing(net: Network, labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each distinct event label: the (hemisphere, driver) pairs that take it, as two arrays."""
    out = {}
    for label in np.unique(labels):
        lab = int(label)
        bus, select = lab >> 14, (lab >> 6) & g.ROW_SELECT_MAX
        hit = (net.driver_bus == bus) & (((select ^ net.driver_row_select) & net.driver_mask) == 0)
        out[lab] = np.nonzero(hit)
    return out


def run_reference(net: Network, pattern: FixedPattern, sp: SpikingPattern, code_map: np.ndarray, stim: dict,
                  key_membrane: int, key_madc: int) -> dict:
    """One spiking run in numpy (the definition of the C core's run).

    ``stim``: times (int64 cycles), labels (uint16), trials (uint16), n_trials, duration
    (cycles), step_ns, record_cadc, cadc_period (cycles), madc_neuron (-1: none), all checked.
    Returns the arrays of ``hil.bss2.SpikingReadout``.
    """
    from . import reference   # the counter-based normals in numpy

    n, trials, step = g.NEURONS, int(stim["n_trials"]), int(stim["step_ns"])
    duration = int(stim["duration"])
    steps = -(-8 * duration // step)
    p = propagators(net, step)
    ideal = not (net.sigma_mem.any() or sp.sigma_cadc or sp.sigma_madc)
    cadc_times = (np.arange(-(-duration // stim["cadc_period"]), dtype=np.int64) * stim["cadc_period"]
                  if stim["record_cadc"] else np.zeros(0, np.int64))
    cadc_step = (8 * cadc_times) // step                       # the grid point each sample reads
    madc_neuron = int(stim["madc_neuron"])
    m_samples = -(-8 * duration // g.MADC_PERIOD_NS) if madc_neuron >= 0 else 0
    madc_step = (np.arange(m_samples, dtype=np.int64) * g.MADC_PERIOD_NS) // step
    event_step = -(-8 * stim["times"] // step)
    routes = routing(net, stim["labels"])
    cadc = np.zeros((trials, cadc_times.size, n), np.uint8)
    madc = np.zeros((trials, m_samples), np.uint16)
    spikes = []   # (time, neuron, trial)
    cadc_lin = (pattern.cadc_offset.astype(np.float32), pattern.cadc_slope.astype(np.float32))
    hemi_cols = g.COLUMNS_PER_HEMISPHERE
    for trial in range(trials):
        sel = np.flatnonzero(stim["trials"] == trial)
        ev_step, ev_time, ev_label = event_step[sel], stim["times"][sel], stim["labels"][sel]
        V = p["v_leak"].copy()
        V[~net.live] = p["v_reset"][~net.live]
        ie = np.zeros(n, np.float32)
        ii = np.zeros(n, np.float32)
        w = np.zeros(n, np.float32)
        hold = np.zeros(n, np.int64)
        resources = np.ones((g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE))
        last = np.full((g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE), -1, np.int64)   # cycle of the last event
        e, c, m = 0, 0, 0
        for k in range(steps):
            while e < ev_step.size and ev_step[e] == k:
                hs, ds = routes[int(ev_label[e])]
                address = int(ev_label[e]) & 63
                for hh, dd in zip(hs, ds):
                    scale = np.float32(1.0)
                    if net.stp_enable[hh, dd]:
                        if last[hh, dd] >= 0:
                            gap = (ev_time[e] - last[hh, dd]) * g.FPGA_CYCLE_S
                            resources[hh, dd] = 1.0 - (1.0 - resources[hh, dd]) * math.exp(
                                -gap / net.stp_tau[hh, dd])
                        used = net.stp_u[hh, dd] * resources[hh, dd]
                        resources[hh, dd] -= used
                        last[hh, dd] = ev_time[e]
                        scale = np.float32(used)
                    for row in (2 * dd, 2 * dd + 1):
                        mode = net.row_mode[hh, row]
                        if mode == 0:
                            continue
                        cols = np.flatnonzero(net.labels[hh, row] == address)
                        target = ie if mode == 1 else ii
                        target[hh * hemi_cols + cols] += net.efficacy[hh, row, cols] * scale
                e += 1
            if ideal:
                xi = np.zeros(n, np.float32)
                read = np.zeros(n, np.float32)
            else:
                words = ((trial * steps + k) * n + np.arange(n, dtype=np.uint64)) * 2
                xi = reference.normal_from_bits(reference.uniform_bits(key_membrane, words))
                read = reference.normal_from_bits(reference.uniform_bits(key_membrane, words + 1))
            while c < cadc_step.size and cadc_step[c] == k:
                x = np.floor(cadc_lin[0] + cadc_lin[1] * V + np.float32(sp.sigma_cadc) * read)
                raw = code_map[np.clip(x, 0, g.CADC_CODES - 1).astype(np.intp)].astype(np.int16)
                cadc[trial, c] = np.clip(raw + net.cadc_offset, 0, g.CADC_CODES - 1)
                c += 1
            while m < madc_step.size and madc_step[m] == k:
                noise = 0.0
                if not ideal:
                    word = np.array([(trial * m_samples + m) * 2], np.uint64)
                    noise = np.float32(sp.sigma_madc) * reference.normal_from_bits(
                        reference.uniform_bits(key_madc, word))[0]
                x = np.floor(np.float32(sp.madc_offset) + np.float32(sp.madc_gain) * V[madc_neuron] + np.float32(noise))
                madc[trial, m] = min(max(int(x), 0), g.MADC_CODES - 1)
                m += 1
            free = (hold == 0) & net.live
            v_new = (p["v_inf"] + (V - p["v_inf"]) * p["pm"]) + ie * p["pe"] - ii * p["pi"] + p["noise"] * xi
            if net.exponential.any() or net.adaptation.any():
                arg = np.maximum(np.minimum((V - p["v_t"]) / p["dt_exp"], np.float32(EXPONENT_MAX)),
                                 np.float32(EXPONENT_MIN))
                drive = np.where(net.exponential, p["dt_exp"] * exp_f32(arg), np.float32(0))
                drive = drive - np.where(net.adaptation, w, np.float32(0))
                v_new = v_new + p["h_tm"] * drive
                w = np.where(net.adaptation, w + p["h_tw"] * (p["a"] * (V - p["v_leak"]) - w), w)
            V = np.where(free, v_new, p["v_reset"]).astype(np.float32)
            hold = np.where(free, hold, hold - 1)
            hold[~net.live] = 0
            ie = ie * p["se"]
            ii = ii * p["si"]
            fired = free & (V >= p["v_th"])
            if fired.any():
                stamp = ((k + 1) * step) // 8
                if stamp < duration:
                    for nrn in np.flatnonzero(fired):
                        spikes.append((stamp, int(nrn), trial))
                V = np.where(fired, p["v_reset"], V)
                hold = np.where(fired, p["hold"], hold)
                w = np.where(fired & net.adaptation, w + p["b"], w)
    spikes = np.array(spikes, np.int64).reshape(-1, 3)
    return dict(spike_times=spikes[:, 0].copy(), spike_neurons=spikes[:, 1].astype(np.uint16),
                spike_trials=spikes[:, 2].astype(np.uint16), cadc_times=cadc_times, cadc=cadc, madc=madc,
                madc_neuron=madc_neuron)
