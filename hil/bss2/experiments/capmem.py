"""``bss2.capmem_scan``: every CapMem cell of every neuron written at two levels and seen to move what
it sets (docs/acceptance.md#bss2capmem_scan-mode-spiking).

A cell stuck at one level (``emulator.bss2.StuckCapmemCell``) answers both writes alike. For each of the
twelve neuron cells the scan writes two levels and judges what the cell sets, so that no single
level can satisfy both:

* either the two levels' bounds (the model's mismatch box at half the cell's false-alarm share,
  Bonferroni, plus the stated noise at the other half) do not overlap;
* or the judged quantity is one the model fixes whatever the mismatch: a time constant is
  ``nominal / gain`` with one gain per cell, so a response proportional to it has the ratio of the
  levels at the two writes, and a stuck cell the ratio 1.

Every neuron is judged on every cell; the judged metric is the number of neurons with some cell
outside its bounds (limit 0), each cell taking 1/12 of the false-alarm budget. On an ideal chip the
box is a point and the bounds are the model's, within the grid's and the floor's worst case.
"""
import dataclasses
import math
import warnings

import numpy as np
from scipy import linalg

from emulator.bss2 import capmem, geometry as g

from ...contract.experiment import experiment
from ...contract.result import ExperimentResult
from ..models import (DEFAULT_SPIKING_SPEC, FPGA_CYCLE_NS, LifModel, SpikingSpec, cadc_code, event_grid_index,
                      grid_index, psp_shape)
from ..types import SpikingConfig, SpikingStimulus
from .mac import index_list
from .spiking import (_count_metric, _finish, _gain_range, _grid_isi, _mean_isi, _neuron_box, _outside, _run, _spec,
                      _spike_stats, _tau_range, _z, corners, measure_threshold, resting_bounds, sample_sigma)

N = g.NEURONS
STEP = 100
"""ns: the grid of every run of the scan."""
H = STEP * 1e-9
CADC_DT = g.CADC_PERIOD_DEFAULT * FPGA_CYCLE_NS * 1e-9
"""s between CADC samples (1.84 us)."""
STAMP = FPGA_CYCLE_NS * 1e-9
"""s: a spike's timestamp is floored to the FPGA cycle."""
MAX = g.CAPMEM_LEVEL_MAX

LEVELS = {
    "leak": (368, 578), "reset": (300, 440), "threshold": (400, 700), "exp_threshold": (428, 728),
    "i_const": (0, 240), "adaptation_a": (0, MAX), "adaptation_b": (0, MAX), "exp_slope": (0, MAX),
    "tau_mem": (100, 400), "tau_syn_exc": (100, 400), "tau_syn_inh": (100, 400), "tau_adaptation": (MAX, 0),
}
"""The two levels each cell is written at (docs/acceptance.md gives their values and bounds)."""

REST_CYCLES = 2500
"""20 us: the leak test's resting runs (10 CADC samples), as ``bss2.trace_alignment``'s baseline."""
STRONG_DRIVE = 1000
"""i_const level of the reset and threshold tests: 250 LSB, v_inf 330 LSB, above every threshold the
tests write on every corner of a healthy neuron's box (and a fast approach: the reset test's neuron
spends over 80 % of its time held at reset)."""
RESET_HOLD = g.REFRACTORY_MAX
"""FPGA cycles (32.8 us) of the reset test's refractory time: the membrane is held at reset."""
RESET_CYCLES = 25000
"""200 us per trial of the reset test."""
DRIVE = 400
"""i_const level (100 LSB) of the adaptation_b test: v_inf 180 LSB, threshold 125."""
TAU_DRIVE = 600
"""i_const level (150 LSB) of the tau_mem test: v_inf 230 LSB, far enough above threshold on every corner
that the spike-time noise stays small, close enough that an interval is mostly the approach."""
ADAPT_DRIVE = 360
"""i_const level (90 LSB) of the sub-threshold adaptation tests: v_inf 170 LSB with a = 0, 110 with a = 2."""
SUB_DRIVE = 240
"""i_const level (60 LSB) of the sub-threshold tests of i_const and the exponential cells (v_inf 140 LSB)."""
SETTLED_CYCLES = 37500
"""300 us per trial of the sub-threshold tests; their mean is taken over the samples from
``SETTLED_FROM`` on, after the transient (bounded in the limits)."""
SETTLED_FROM = 25000
SPIKE_CYCLES = 37500
"""300 us per trial of the tau_mem test."""
ADAPT_CYCLES = 50000
"""400 us per trial of the adaptation_b test."""
EXP_CYCLES = 12500
"""100 us per trial of the exponential tests."""
EXP_TRIALS = 2
"""Trials of the exponential tests per ``trials``: a neuron judged 'spikes in every trial' at one
level and 'no spike in any trial' at the other."""
EXP_SLOPE_LEVEL, EXP_THRESHOLD_LEVEL = 102, 428
"""The other exponential cell while one is scanned: dT about 1 LSB, V_T 100 LSB."""
SYN_LEAK = {"exc": 158, "inh": 863}
"""Leak levels (10 and 245 LSB) of the synaptic tests: room in 0..255 for the largest healthy PSP."""
SYN_ROWS = 3
"""Rows 0..2 (drivers 0 and 1) carry weight 63 to every neuron: a current jump of 3 x 63 x 0.8 LSB."""
SYN_TAU_MEM = MAX
"""tau_mem level 1022 (1.96 us) in the synaptic tests: the area of the PSP does not depend on it."""
SYN_PHASES = 10
"""Event phases 23 cycles apart over the 230-cycle CADC period (equivalent-time sampling, 184 ns)."""
SYN_PRE = 18750
"""Cycles (150 us) of rest before each event: the baseline."""
SYN_WINDOW = 43750
"""Cycles (350 us, ten times the longest healthy tau_syn) after the event over which the PSP's area is summed."""


@dataclasses.dataclass(frozen=True)
class CellCheck:
    """One cell's test: what was measured per neuron and its bounds (rows: the judged quantities)."""

    cell: str
    levels: tuple[int, int]
    quantities: tuple[str, ...]
    """What each row of ``measured`` is, with its unit."""
    measured: np.ndarray
    """(rows, 512)"""
    low: np.ndarray
    high: np.ndarray
    note: str

    @property
    def outside(self) -> np.ndarray:
        return _outside(self.measured, self.low, self.high)


def _full(level) -> np.ndarray:
    return np.full(N, level, np.uint16)


def _quiet(duration: int, trials: int, **kw) -> SpikingStimulus:
    return SpikingStimulus(times=[], labels=[], duration=duration, n_trials=trials, step_ns=STEP, **kw)


def _zs(spec: SpikingSpec, tests: int) -> tuple[float, float]:
    """z of the mismatch (half the share) and of the noise (the other half), Bonferroni over ``tests``."""
    return _z(spec.false_alarm / 2, tests), _z(spec.false_alarm / 2, tests)


def _settled_mean(readout, start: int) -> np.ndarray:
    sel = readout.cadc_times >= start
    return readout.cadc[:, sel].astype(np.float64).mean(axis=(0, 1))


# -- potentials ------------------------------------------------------------------------------------


def _leak(backend, spec, ideal, trials) -> CellCheck:
    vals, lo, hi, notes = [], [], [], []
    for level in LEVELS["leak"]:
        r = _run(backend, SpikingConfig(leak=_full(level), reset=_full(level), threshold=_full(MAX)),
                 _quiet(REST_CYCLES, trials))
        vals.append(r.cadc.astype(np.float64).mean(axis=(0, 1)))
        a, b, note = resting_bounds(spec, float(capmem.nominal_value("leak", level)), ideal, tests=2 * N)
        lo.append(a)
        hi.append(b)
        notes.append(note)
    return CellCheck("leak", LEVELS["leak"], ("resting CADC mean at each level (LSB)",) * 2, np.stack(vals),
                     np.stack(lo), np.stack(hi), "; ".join(notes))


def _reset(backend, spec, ideal, trials) -> CellCheck:
    """The strong drive with the longest refractory time: after its first spike a neuron sits at reset for
    32.8 us of every cycle, so the lower median of its samples after that spike is a held sample."""
    z_mis, z_noise = _zs(spec, 2 * N)
    vals, lo, hi = [], [], []
    for level in LEVELS["reset"]:
        cfg = SpikingConfig(i_const=_full(STRONG_DRIVE), reset=_full(level), refractory=_full(RESET_HOLD))
        r = _run(backend, cfg, _quiet(RESET_CYCLES, trials))
        first = _spike_stats(r, STEP)["first"]
        first = np.where(first >= 0, first, np.iinfo(np.int64).max)                     # (trials, 512)
        after = r.cadc_times[None, :, None] > first[:, None, :]
        codes = np.where(after, r.cadc.astype(np.float64), np.nan).transpose(2, 0, 1).reshape(N, -1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)       # a neuron that never spiked: NaN, outside
            vals.append(np.nanquantile(codes, 0.5, axis=1, method="lower"))
        v = float(capmem.nominal_value("reset", level))
        if ideal:
            lo.append(np.full(N, float(cadc_code(np.float32(v)))))
            hi.append(lo[-1])
            continue
        sigma = math.sqrt(spec.potential_sigma(v, "voltage") ** 2 + spec.cadc_offset**2 + (spec.cadc_slope * v) ** 2)
        lo.append(np.full(N, math.floor(v - z_mis * sigma - z_noise * sample_sigma(spec))))
        hi.append(np.full(N, v + z_mis * sigma + z_noise * spec.sigma_cadc))
    # The held fraction on the slowest corner of the box (the longest approach: from the lower reset).
    box = _neuron_box(LifModel.from_levels(reset=LEVELS["reset"][0], i_const=STRONG_DRIVE), spec, z_mis)
    v_inf = box["leak"][0] + box["i_const"][0]
    approach = box["tau_mem"][1] * math.log((v_inf - box["reset"][0]) / (v_inf - box["threshold"][1]))
    held = RESET_HOLD * STAMP / (RESET_HOLD * STAMP + approach + CADC_DT)
    note = ("ideal chip: every held sample reads floor(reset)" if ideal else
            f"reset cell and CADC channel -+ {z_mis:.2f} sigma, read noise -+ {z_noise:.2f} sigma (membrane noise "
            f"too below); the held fraction of a cycle is at least {held:.0%} on the box's slowest corner")
    return CellCheck("reset", LEVELS["reset"], ("lower median CADC code after the first spike (LSB)",) * 2,
                     np.stack(vals), np.stack(lo), np.stack(hi), note)


def _threshold(backend, spec, ideal, trials) -> CellCheck:
    vals, lo, hi, notes = [], [], [], []
    for level in LEVELS["threshold"]:
        m = measure_threshold(backend, level=level, duration_us=100.0, trials=trials,
                              spec=dataclasses.replace(spec, false_alarm=spec.false_alarm / 2), drive=STRONG_DRIVE)
        vals.append(m["measured"])
        lo.append(np.broadcast_to(m["lo"], (N,)))
        hi.append(np.broadcast_to(m["hi"], (N,)))
        notes.append(m["note"])
    return CellCheck("threshold", LEVELS["threshold"], ("largest CADC code under the strong drive (LSB)",) * 2,
                     np.stack(vals), np.stack(lo), np.stack(hi), "; ".join(notes))


def _i_const(backend, spec, ideal, trials) -> CellCheck:
    """The settled membrane under the constant current, the threshold out of reach: leak + i_const."""
    z_mis, z_noise = _zs(spec, 2 * N)
    vals, lo, hi = [], [], []
    for level in LEVELS["i_const"]:
        r = _run(backend, SpikingConfig(i_const=_full(level), threshold=_full(MAX)), _quiet(SETTLED_CYCLES, trials))
        vals.append(_settled_mean(r, SETTLED_FROM))
        model = LifModel.from_levels(i_const=level, threshold=MAX)
        if ideal:
            a, b = _ideal_settled(r, model)
        else:
            leak, i = model.leak, model.i_const
            sigma = math.sqrt(spec.potential_sigma(leak, "leak") ** 2 + (spec.current_gain * i) ** 2
                              + spec.cadc_offset**2 + (spec.cadc_slope * (leak + i)) ** 2)
            tau_hi = _tau_range(model.tau_mem, spec.tau_gain, z_mis)[1]
            rest = i * _gain_range(spec.current_gain, z_mis)[1] * math.exp(-SETTLED_FROM * STAMP / tau_hi)
            half = z_mis * sigma + z_noise * sample_sigma(spec)
            a, b = leak + i - 0.5 - half - rest, leak + i - 0.5 + half
        lo.append(np.full(N, a))
        hi.append(np.full(N, b))
    note = ("ideal chip: the free membrane's codes" if ideal else
            f"leak + i_const - 1/2 (the floor) -+ {z_mis:.2f} sigma (leak cell, i_const {spec.current_gain:.0%}, CADC "
            f"offset and slope) -+ {z_noise:.2f} sigma of a sample's noise, less the transient left at "
            f"{SETTLED_FROM * STAMP * 1e6:.0f} us")
    return CellCheck("i_const", LEVELS["i_const"], ("settled CADC mean, threshold out of reach (LSB)",) * 2,
                     np.stack(vals), np.stack(lo), np.stack(hi), note)


def _ideal_settled(readout, model: LifModel) -> tuple[float, float]:
    """The ideal chip's settled mean between the codes of the free membrane -+ its float32 error."""
    sel = readout.cadc_times >= SETTLED_FROM
    k = grid_index(FPGA_CYCLE_NS * readout.cadc_times[sel], STEP)
    v = model.free_membrane(k * H, model.leak)
    eps = model.float32_error(int(k.max()) + 1, STEP)
    return float(cadc_code(v - eps).mean()), float(cadc_code(v + eps).mean())


# -- time constants: ratios --------------------------------------------------------------------------


def _tau_mem(backend, spec, ideal, trials) -> CellCheck:
    """Under the drive, an interval is hold + tau_mem F with F = ln((v_inf - reset)/(v_inf - threshold)),
    the same at both levels: T(100) = 4 T(400) whatever the neuron's mismatch; each T also within the
    grid model's box (as ``bss2.fi_curve``), so that a stuck cell's short T is not mistaken for the
    grid's error."""
    l1, l2 = LEVELS["tau_mem"]
    k = l2 / l1
    z_box, z_noise = _z(spec.false_alarm / 2, 3 * N * 5), _z(spec.false_alarm / 2, 3 * N)
    spans, margins, t_lo, t_hi = [], [], [], []
    for level in (l1, l2):
        r = _run(backend, SpikingConfig(i_const=_full(TAU_DRIVE), tau_mem=_full(level)), _quiet(SPIKE_CYCLES, trials))
        s = _spike_stats(r, STEP)
        model = LifModel.from_levels(i_const=TAU_DRIVE, tau_mem=level)
        hold = model.grid_hold(STEP)
        spans.append(_mean_isi(s["count"], s["first"], s["last"]) - hold * H)
        if ideal:
            steps = model.grid_spike_steps(STEP, SPIKE_CYCLES)
            t = float(steps[1] - steps[0])                            # hold + the steps of one approach
            margins.append(0.0)
            t_lo.append((t - hold) * H - STAMP - H)
            t_hi.append((t - hold) * H + STAMP + H)
            continue
        # Spike-time noise on the slowest corner (as bss2.fi_curve): membrane noise at the crossing over
        # the slope there, over the intervals of all trials.
        box = _neuron_box(model, spec, z_box)
        slow = LifModel(leak=box["leak"][0], reset=box["reset"][1], threshold=box["threshold"][1],
                        tau_mem=box["tau_mem"][1], i_const=box["i_const"][0])
        n = trials * max(slow.grid_spike_times(STEP, SPIKE_CYCLES).size - 1, 1)
        jitter = spec.sigma_mem * (1 + 5 * spec.sigma_mem_spread) * slow.tau_mem / (slow.v_inf - slow.threshold)
        margins.append(z_noise * jitter / math.sqrt(n))
        isi_lo, isi_hi = corners(lambda **p: _grid_isi(**p, hold_steps=hold, step_ns=STEP), box)
        t_lo.append(isi_lo - hold * H - margins[-1] - STAMP)
        t_hi.append(isi_hi - hold * H + margins[-1] + STAMP)
    d = spans[0] - k * spans[1]
    # Each crossing lands on the next grid point (+0..1 step) and each stamp is floored (-0..1 cycle);
    # on the ideal chip one more step either way for the float32 state.
    grid = (1 + k) * (H + STAMP) + ((1 + k) * H if ideal else 0.0)
    half = grid + math.hypot(margins[0], k * margins[1])
    note = (f"T({l1}) - {k:g} T({l2}) of the intervals less the hold within -+{half * 1e6:.2f} us (the grid"
            + (")" if ideal else f", {z_noise:.2f} sigma of the spike-time noise)")
            + f"; T({l1}) within {t_lo[0] * 1e6:.2f}..{t_hi[0] * 1e6:.2f} us, T({l2}) within "
              f"{t_lo[1] * 1e6:.2f}..{t_hi[1] * 1e6:.2f} us" + ("" if ideal else f" (the grid model's box at {z_box:.2f} sigma)"))
    return CellCheck("tau_mem", LEVELS["tau_mem"], (f"T({l1}) - {k:g} T({l2}) (s)", f"T({l1}) (s)", f"T({l2}) (s)"),
                     np.stack([d, spans[0], spans[1]]),
                     np.array([-half, t_lo[0], t_lo[1]])[:, None] * np.ones(N),
                     np.array([half, t_hi[0], t_hi[1]])[:, None] * np.ones(N), note)


def _syn_config(kind: str, level: int) -> SpikingConfig:
    w = np.zeros((g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE), np.uint8)
    w[:, :SYN_ROWS, :] = g.WEIGHT_MAX
    mode = np.zeros((g.HEMISPHERES, g.ROWS_PER_HEMISPHERE), np.uint8)
    mode[:, :SYN_ROWS] = 1 if kind == "exc" else 2
    tau = {"tau_syn_exc": _full(level if kind == "exc" else 200), "tau_syn_inh": _full(level if kind == "inh" else 200)}
    return SpikingConfig(weights=w, row_mode=mode, leak=_full(SYN_LEAK[kind]), reset=_full(SYN_LEAK[kind]),
                         threshold=_full(MAX), tau_mem=_full(SYN_TAU_MEM), **tau)


def _tau_syn(kind: str):
    cell = f"tau_syn_{kind}"

    def check(backend, spec, ideal, trials) -> CellCheck:
        """One event through three weight-63 rows into every neuron: the PSP's area is jump x tau_syn
        (tau_mem drops out), so A(100) = 4 A(400); each area also within its box."""
        l1, l2 = LEVELS[cell]
        k = l2 / l1
        period = g.CADC_PERIOD_DEFAULT
        offsets = SYN_PRE + (period // SYN_PHASES) * np.arange(SYN_PHASES)
        times = np.tile(offsets, trials).astype(np.int64)
        n_trials = times.size
        stim = SpikingStimulus(times=times, labels=np.zeros(n_trials, np.uint16), trials=np.arange(n_trials),
                               n_trials=n_trials, duration=int(offsets[-1] + SYN_WINDOW), step_ns=STEP)
        sign = 1.0 if kind == "exc" else -1.0
        readouts = [_run(backend, _syn_config(kind, lv), stim) for lv in (l1, l2)]
        t_s = readouts[0].cadc_times.astype(np.int64)
        pre = t_s < SYN_PRE
        # The baseline of each neuron from the rest before every event of both runs (one leak cell).
        base = np.concatenate([r.cadc[:, pre].astype(np.float64) for r in readouts], axis=1).mean(axis=(0, 1))
        ev = times[:, None]
        win = (t_s[None, :] >= ev) & (t_s[None, :] < ev + SYN_WINDOW)                     # (trials, samples)
        areas = [sign * CADC_DT * ((r.cadc.astype(np.float64) - base) * win[..., None]).sum(axis=1).mean(axis=0)
                 for r in readouts]
        n_win = int(win.sum(axis=1).max())
        jump = SYN_ROWS * g.WEIGHT_MAX * LifModel().q
        z_box, z_noise = _z(spec.false_alarm / 2, N * 3 * 7), _z(spec.false_alarm / 2, N * 3)
        tm = float(capmem.nominal_value("tau_mem", SYN_TAU_MEM))
        if ideal:
            return _ideal_areas(cell, readouts, areas, times, sign, jump, tm, base)
        gains = [_gain_range(s, z_box) for s in (spec.synapse_gain, spec.driver_gain, spec.input_gain, spec.cadc_slope)]
        j_lo, j_hi = jump * np.prod([x[0] for x in gains]), jump * np.prod([x[1] for x in gains])
        tm_lo, tm_hi = _tau_range(tm, spec.tau_gain, z_box)
        step = CADC_DT / SYN_PHASES
        w_s = SYN_WINDOW * STAMP
        # The area's noise: the samples of the window and the baseline (OU-correlated at tau_mem's largest
        # value), over the trials; the floor is dithered by the noise and drops out against the baseline.
        rho = math.exp(-CADC_DT / tm_hi)
        var1 = sample_sigma(spec) ** 2 * (1 + rho) / (1 - rho)
        m = int(pre.sum()) * n_trials * 2
        noise = z_noise * math.sqrt(var1 * n_win * CADC_DT**2 / n_trials + var1 / m * (n_win * CADC_DT) ** 2)
        bounds = []
        for level in (l1, l2):
            ts_lo, ts_hi = _tau_range(float(capmem.nominal_value(cell, level)), spec.tau_gain, z_box)
            # The phases make a rectangle rule of step 184 ns on a PSP with a kink at the event:
            # |error| <= step^2 / 12 x TV(V') <= step^2 / 12 x 4 jump / tau_mem (doubled here). The tail
            # after the window: tau_mem PSP(W) + jump tau_syn exp(-W / tau_syn).
            rect = step**2 / 6 * 4 * j_hi / tm_lo
            tail = j_hi * float(psp_shape(w_s, 1 / tm_hi, 1 / ts_hi)) + j_hi * ts_hi * math.exp(-w_s / ts_hi)
            bounds.append((j_lo * ts_lo, j_hi * ts_hi, rect + noise, rect + tail + noise))
        (a1_lo, a1_hi, up1, down1), (a2_lo, a2_hi, up2, down2) = bounds
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = areas[0] / areas[1]
        # A(l1) / A(l2) of areas off their true values (ratio exactly k) by at most their errors, relative
        # to the smallest healthy true areas.
        r1, r2 = max(up1, down1) / a1_lo, max(up2, down2) / a2_lo
        measured = np.stack([ratio, areas[0], areas[1]])
        low = np.stack([np.full(N, k * (1 - r1) / (1 + r2)), np.full(N, a1_lo - down1), np.full(N, a2_lo - down2)])
        high = np.stack([np.full(N, k * (1 + r1) / (1 - r2)), np.full(N, a1_hi + up1), np.full(N, a2_hi + up2)])
        note = (f"A({l1}) / A({l2}) = {k:g} within {low[0, 0]:.2f}..{high[0, 0]:.2f} (noise {noise * 1e6:.1f} LSB us "
                f"at {z_noise:.2f} sigma, the rectangle rule and the tail, over the smallest healthy areas), and each "
                f"area within the box of jump x tau_syn at {z_box:.2f} sigma (synapse, driver, input, CADC slope "
                f"gains; tau_syn {spec.tau_gain:.0%})")
        return CellCheck(cell, LEVELS[cell], (f"A({l1}) / A({l2})", f"PSP area at {l1} (LSB s)",
                                              f"PSP area at {l2} (LSB s)"), measured, low, high, note)
    return check


def _ideal_areas(cell, readouts, areas, times, sign, jump, tm, base) -> CellCheck:
    """The ideal chip: each area between those of the model's codes (the PSP on the grid) -+ its float32 error."""
    k_s = grid_index(FPGA_CYCLE_NS * readouts[0].cadc_times, STEP)
    k_e = event_grid_index(times, STEP)
    t_rel = (k_s[None, :] - k_e[:, None]) * H                                   # (trials, samples)
    win = (t_rel >= 0) & (t_rel < SYN_WINDOW * STAMP)
    leak = float(capmem.nominal_value("leak", SYN_LEAK["exc" if sign > 0 else "inh"]))
    lo, hi = [], []
    for level in LEVELS[cell]:
        model = LifModel(leak=leak, tau_mem=tm, tau_syn=float(capmem.nominal_value(cell, level)))
        v = leak + sign * model.psp(t_rel, jump)
        eps = model.float32_error(int(k_s.max()) + 1, STEP, scale=leak + jump)
        band = [sign * CADC_DT * ((cadc_code(v + d) - base[0]) * win).sum(axis=1).mean() for d in (-eps, eps)]
        lo.append(min(band))
        hi.append(max(band))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = areas[0] / areas[1]
    low = np.array([lo[0] / hi[1], lo[0], lo[1]])[:, None] * np.ones(N)
    high = np.array([hi[0] / lo[1], hi[0], hi[1]])[:, None] * np.ones(N)
    l1, l2 = LEVELS[cell]
    return CellCheck(cell, LEVELS[cell], (f"A({l1}) / A({l2})", f"PSP area at {l1} (LSB s)", f"PSP area at {l2} (LSB s)"),
                     np.stack([ratio, areas[0], areas[1]]), low, high,
                     "ideal chip: the areas of the model's codes (the PSP on the grid) within its float32 error")


# -- adaptation ----------------------------------------------------------------------------------------


def linear_adex(leak, i_const, a, tau_mem, tau_w, times) -> np.ndarray:
    """The sub-threshold AdEx neuron's membrane (LSB) at ``times`` (s, (k,)) from V = leak, w = 0 under
    a constant current, in closed form: x = (V - leak, w), dx/dt = A x + c with
    ``A = [[-1/tau_mem, -1/tau_mem], [a/tau_w, -1/tau_w]]``, ``c = (i_const/tau_mem, 0)``;
    ``x(t) = x_ss + expm(A t)(x(0) - x_ss)``, ``x_ss = (i/(1+a), a i/(1+a))``. The parameters broadcast
    (one neuron per element); returns (..., k)."""
    leak, i_const, a, tau_mem, tau_w = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in
                                                            (leak, i_const, a, tau_mem, tau_w)))
    times = np.asarray(times, np.float64)
    out = np.empty(leak.shape + times.shape)
    for idx in np.ndindex(leak.shape):
        A = np.array([[-1 / tau_mem[idx], -1 / tau_mem[idx]], [a[idx] / tau_w[idx], -1 / tau_w[idx]]])
        ss = np.array([i_const[idx] / (1 + a[idx]), a[idx] * i_const[idx] / (1 + a[idx])])
        lam, vec = np.linalg.eig(A)
        if np.linalg.cond(vec) < 1e8:        # e^{At} = V diag(e^{lambda t}) V^-1, for every t at once
            coef = np.linalg.solve(vec, -ss.astype(complex))
            u = (vec[0][None, :] * coef[None, :] * np.exp(np.outer(times, lam))).sum(axis=1).real
        else:                                 # (nearly) defective A: the matrix exponential itself
            u = np.array([(linalg.expm(A * t) @ -ss)[0] for t in times])
        out[idx] = leak[idx] + ss[0] + u
    return out


def _linear_gaussian(f, centre: dict, sigmas: dict) -> tuple[float, float]:
    """f at ``centre`` and its standard deviation when each parameter varies by its sigma, independently:
    the quadrature of the central-difference gradient (one Gaussian, as the resting bounds combine the
    leak cell's and the CADC channel's mismatch)."""
    value = float(f(**centre))
    var = 0.0
    for p, s in sigmas.items():
        if s:
            d = s * 1e-3
            grad = (float(f(**{**centre, p: centre[p] + d})) - float(f(**{**centre, p: centre[p] - d}))) / (2 * d)
            var += (grad * s) ** 2
    return value, math.sqrt(var)


def _adaptation(cell: str):
    def check(backend, spec, ideal, trials) -> CellCheck:
        """Sub-threshold adaptation under the constant current: V settles at leak + i / (1 + a) with the
        time constants of the linear AdEx neuron (``linear_adex``); a at 0 and 2, or tau_w at 19.6 us and
        20 ms (a = 2)."""
        z_mis, z_noise = _zs(spec, 2 * N)
        vals, lo, hi = [], [], []
        for level in LEVELS[cell]:
            a_level, tw_level = (level, MAX) if cell == "adaptation_a" else (MAX, level)
            cfg = SpikingConfig(i_const=_full(ADAPT_DRIVE), threshold=_full(MAX), adaptation_a=_full(a_level),
                                tau_adaptation=_full(tw_level), enable_adaptation=np.ones(N, np.uint8))
            r = _run(backend, cfg, _quiet(SETTLED_CYCLES, trials))
            vals.append(_settled_mean(r, SETTLED_FROM))
            sel = r.cadc_times >= SETTLED_FROM
            t = grid_index(FPGA_CYCLE_NS * r.cadc_times[sel], STEP) * H
            nom = {p: float(capmem.nominal_value(p, lv)) for p, lv in
                   (("leak", 368), ("i_const", ADAPT_DRIVE), ("adaptation_a", a_level), ("tau_mem", 200),
                    ("tau_adaptation", tw_level))}
            # Forward Euler of w within the step: the settled V - v_inf is -w (h/tau)/(1 - exp(-h/tau)),
            # within w h / tau_mem of -w, and w < i.
            if ideal:
                v = linear_adex(nom["leak"], nom["i_const"], nom["adaptation_a"], nom["tau_mem"], nom["tau_adaptation"], t)
                euler = nom["i_const"] * H / nom["tau_mem"]
                lo.append(np.full(N, cadc_code(v - euler - 1e-3).mean()))
                hi.append(np.full(N, cadc_code(v + euler + 1e-3).mean()))
                continue
            sigmas = {"leak": spec.potential_sigma(nom["leak"], "leak"), "i_const": spec.current_gain * nom["i_const"],
                      "a": spec.adaptation_gain * nom["adaptation_a"], "tau_mem": spec.tau_gain * nom["tau_mem"],
                      "tau_w": spec.tau_gain * nom["tau_adaptation"], "off": spec.cadc_offset, "slope": spec.cadc_slope}
            centre = dict(leak=nom["leak"], i_const=nom["i_const"], a=nom["adaptation_a"], tau_mem=nom["tau_mem"],
                          tau_w=nom["tau_adaptation"], off=0.0, slope=1.0)
            value, sigma = _linear_gaussian(lambda leak, i_const, a, tau_mem, tau_w, off, slope:
                                            off + slope * linear_adex(leak, i_const, a, tau_mem, tau_w, t).mean(),
                                            centre, sigmas)
            euler = nom["i_const"] * (1 + z_mis * spec.current_gain) * H / (nom["tau_mem"] / (1 + z_mis * spec.tau_gain))
            half = z_mis * sigma + z_noise * sample_sigma(spec) + euler
            lo.append(np.full(N, value - 0.5 - half))
            hi.append(np.full(N, value - 0.5 + half))
        note = ("ideal chip: the closed-form linear AdEx neuron's codes, within the Euler step of w" if ideal else
                f"the closed-form linear AdEx neuron - 1/2 (the floor) -+ {z_mis:.2f} sigma of its mismatch, one Gaussian "
                f"through its gradient (leak, i_const, a {spec.adaptation_gain:.0%}, tau_mem, tau_w, CADC offset and "
                f"slope) -+ {z_noise:.2f} sigma of a sample's noise and the Euler step of w")
        return CellCheck(cell, LEVELS[cell], ("settled CADC mean with adaptation (LSB)",) * 2, np.stack(vals),
                         np.stack(lo), np.stack(hi), note)
    return check


def _adaptation_b(backend, spec, ideal, trials) -> CellCheck:
    """Spike-triggered adaptation under the drive (a = 0, tau_w 20 ms): b = 0 is the LIF neuron (at least
    the slowest corner's spikes); with b each spike adds b to w, which decays by at most exp(-D/tau_w)
    over the trial, and a spike needs w < v_inf - threshold (plus the noise): at most
    1 + (v_inf - threshold + noise) exp(D/tau_w) / b spikes."""
    z_box, z_noise = _z(spec.false_alarm / 2, 2 * N * 7), _z(spec.false_alarm / 2, 2 * N)
    counts = []
    for level in LEVELS["adaptation_b"]:
        cfg = SpikingConfig(i_const=_full(DRIVE), adaptation_a=_full(0), adaptation_b=_full(level),
                            tau_adaptation=_full(0), enable_adaptation=np.ones(N, np.uint8))
        counts.append(_spike_stats(_run(backend, cfg, _quiet(ADAPT_CYCLES, trials)), STEP)["count"])
    model = LifModel.from_levels(i_const=DRIVE)
    sigma_mem = spec.sigma_mem * (1 + 5 * spec.sigma_mem_spread)
    if ideal:
        fewest = model.grid_spike_times(STEP, ADAPT_CYCLES).size
        box = dict(leak=(model.leak,) * 2, threshold=(model.threshold,) * 2, i_const=(model.i_const,) * 2)
        b_lo, tw_lo, noise = float(capmem.nominal_value("adaptation_b", MAX)), float(capmem.nominal_value(
            "tau_adaptation", 0)), 0.0
    else:
        box = _neuron_box(model, spec, z_box)
        slow = LifModel(leak=box["leak"][0], reset=box["reset"][1], threshold=box["threshold"][1],
                        tau_mem=box["tau_mem"][1], i_const=box["i_const"][0])
        n = slow.grid_spike_times(STEP, ADAPT_CYCLES).size
        isi = slow.refractory_s + float(slow.time_to_threshold(slow.reset))
        jitter = sigma_mem * slow.tau_mem / (slow.v_inf - slow.threshold)
        fewest = n - 1 - math.ceil(z_noise * jitter * math.sqrt(n) / isi)
        b_lo = float(capmem.nominal_value("adaptation_b", MAX)) * _gain_range(spec.adaptation_gain, z_box)[0]
        tw_lo = _tau_range(float(capmem.nominal_value("tau_adaptation", 0)), spec.tau_gain, z_box)[0]
        noise = z_noise * sigma_mem
    duration = ADAPT_CYCLES * STAMP
    room = box["leak"][1] + box["i_const"][1] - box["threshold"][0] + noise
    most = 1 + math.floor(room * math.exp(duration / tw_lo * (1 + H / tw_lo)) / b_lo)
    measured = np.stack([counts[0].min(axis=0), counts[1].max(axis=0)]).astype(np.float64)
    note = (f"b = 0: at least {fewest} spikes per trial (the LIF neuron" + (")" if ideal else
            f" on the slowest corner of its box at {z_box:.2f} sigma, less {z_noise:.2f} sigma of the spike-time noise)")
            + f"; b at level {MAX}: at most {most} (w's bound)")
    return CellCheck("adaptation_b", LEVELS["adaptation_b"], ("fewest spikes of a trial, b = 0",
                                                               f"most spikes of a trial, b level {MAX}"),
                     measured, np.array([[fewest] * N, [0] * N], np.float64),
                     np.array([[np.inf] * N, [most] * N], np.float64), note)


# -- the exponential term ------------------------------------------------------------------------------


def _exponential(cell: str):
    def check(backend, spec, ideal, trials) -> CellCheck:
        """The exponential term under the sub-threshold current, the threshold cell out of reach: the
        neuron spikes when V_T - dT lies below v_inf (runaway), and stays silent when V_T lies far above it
        (or dT = 0). Judged: spikes in every trial at the firing level, none at the silent one."""
        z_box = _z(spec.false_alarm / 2, 2 * N * 6)
        fire_level, silent_level = (MAX, 0) if cell == "exp_slope" else LEVELS[cell]
        counts = {}
        for level in LEVELS[cell]:
            slope, vt = (level, EXP_THRESHOLD_LEVEL) if cell == "exp_slope" else (EXP_SLOPE_LEVEL, level)
            cfg = SpikingConfig(i_const=_full(SUB_DRIVE), threshold=_full(MAX), exp_slope=_full(slope),
                                exp_threshold=_full(vt), enable_exponential=np.ones(N, np.uint8))
            counts[level] = _spike_stats(_run(backend, cfg, _quiet(EXP_CYCLES, EXP_TRIALS * trials)), STEP)["count"]
        measured = np.stack([counts[fire_level].min(axis=0), counts[silent_level].max(axis=0)]).astype(np.float64)
        # Why the design holds on every corner: the firing case's v_inf (lowest) above V_T (highest) plus
        # the membrane noise, the silent case's v_inf (highest) far below V_T - dT.
        model = LifModel.from_levels(i_const=SUB_DRIVE, threshold=MAX)
        box = _neuron_box(model, spec, 0.0 if ideal else z_box)
        vt_fire = float(capmem.nominal_value("exp_threshold", EXP_THRESHOLD_LEVEL))
        vt_silent = float(capmem.nominal_value("exp_threshold", LEVELS["exp_threshold"][1]))
        s = 0.0 if ideal else z_box
        note = (f"spikes in each of {EXP_TRIALS * trials} trials at level {fire_level} (v_inf >= "
                f"{box['leak'][0] + box['i_const'][0]:.1f} LSB against V_T <= "
                f"{vt_fire + s * spec.potential_sigma(vt_fire, 'voltage'):.1f}), none at level {silent_level} "
                + ("(dT = 0)" if cell == "exp_slope" else
                   f"(v_inf <= {box['leak'][1] + box['i_const'][1]:.1f} LSB against V_T >= "
                   f"{vt_silent - s * spec.potential_sigma(vt_silent, 'voltage'):.1f})"))
        return CellCheck(cell, LEVELS[cell], (f"fewest spikes of a trial at level {fire_level}",
                                              f"most spikes of a trial at level {silent_level}"),
                         measured, np.array([[1] * N, [0] * N], np.float64),
                         np.array([[np.inf] * N, [0] * N], np.float64), note)
    return check


CHECKS = {"leak": _leak, "reset": _reset, "threshold": _threshold, "exp_threshold": _exponential("exp_threshold"),
          "i_const": _i_const, "adaptation_a": _adaptation("adaptation_a"), "adaptation_b": _adaptation_b,
          "exp_slope": _exponential("exp_slope"), "tau_mem": _tau_mem, "tau_syn_exc": _tau_syn("exc"),
          "tau_syn_inh": _tau_syn("inh"), "tau_adaptation": _adaptation("tau_adaptation")}
"""One test per neuron cell of ``emulator.bss2.capmem.DEFAULT_LEVELS``."""


@experiment("bss2.capmem_scan", mode="spiking", metrics=("cell_outside_neurons",), params={"trials": (2, 16)})
def capmem_scan(backend, *, trials: int = 2, spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC,
                progress: bool = False) -> ExperimentResult:
    """Every CapMem cell of every neuron written at two levels (``LEVELS``) and seen to move what it
    sets (``CHECKS``; docs/acceptance.md#bss2capmem_scan-mode-spiking), ``trials`` trials per run.

    Judged: ``cell_outside_neurons``, the neurons with some cell's response outside its bounds
    (limit 0); its detail and the summary name the cells. Each cell takes 1/12 of the false-alarm
    budget. A cell stuck at any level is caught on a healthy neuron (the two levels' bounds admit no
    common response), except an exp_threshold cell stuck within the membrane noise of the neuron's
    own v_inf + dT, which may fire in some trials and not in others.
    """
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    share = dataclasses.replace(spec, false_alarm=spec.false_alarm / len(CHECKS))
    checks = [check(backend, share, ideal, trials) for check in CHECKS.values()]
    outside = {c.cell: c.outside for c in checks}
    failing = np.unique(np.concatenate([np.asarray(o, np.int64) for o in outside.values()]))
    per_cell = "; ".join(f"{cell} {index_list(o)}" for cell, o in outside.items() if o.size)
    source = (("ideal chip: " if ideal else "") + "model: hil.bss2.LifModel and the linear AdEx neuron; per cell: "
              + "; ".join(f"{c.cell} at {c.levels[0]} and {c.levels[1]}: {c.note}" for c in checks))
    metric = _count_metric("cell_outside_neurons", failing, source, "neurons with some cell outside its bounds")
    if per_cell:
        metric = dataclasses.replace(metric, detail=f"{metric.detail} ({per_cell})")
    raw, prediction = {}, {}
    for c in checks:
        raw[f"scan_{c.cell}"] = c.measured
        prediction[f"scan_{c.cell}_low"], prediction[f"scan_{c.cell}_high"] = c.low, c.high
    return ExperimentResult(
        experiment="bss2.capmem_scan", params=dict(trials=trials), raw=raw, prediction=prediction,
        metrics=_finish((metric,), ideal),
        stimulus={"cells": np.array(list(CHECKS)), "levels": np.array([LEVELS[c] for c in CHECKS], np.uint16)},
        model={"model": {"class": "hil.bss2.LifModel"}, "spec": spec.record()},
        summary={"outside": {cell: [int(i) for i in o[:64]] for cell, o in outside.items()},
                 "quantities": {c.cell: list(c.quantities) for c in checks}},
    )
