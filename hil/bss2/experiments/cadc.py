"""CADC experiments in the CADC ramp mode: the code-density (histogram) test, and every channel's
transfer (``bss2.cadc_transfer``, judged against the stated CADC and CapMem spreads).

In MAC mode a missing CADC code cannot be seen: the output is the read minus
the baseline read, and the baseline's own spread fills the hole. The ramp mode
reads raw codes, so a chip lab's code-density test finds it: sweep every
neuron's CapMem-set resting level over its whole range, read each level
``repeats`` times, and count the hits of every code per channel.

The full ramp overdrives the CADC by about 43 codes at each end (see
``CadcRampModel``), so each channel's lowest and highest hit codes collect the
overrange and are left out; every code strictly between them is "covered".
With temporal noise of a few LSB, many levels land on each covered code and
its expected count is the same for all of them: 3 x repeats on the nominal
channel.

A ramp reads every level once per pass, ``repeats`` passes in all; the passes are independent
repeats of the whole ramp, and the metrics' intervals come from a bootstrap over them
(docs/fidelity.md#intervals).
"""
import math

import numpy as np
from scipy import stats

from emulator.bss2 import geometry as g

from ...contract import statistics
from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric, with_intervals
from .mac import IDEAL_EXACT, index_list
from ..models import DEFAULT_SPIKING_SPEC, CadcRampModel, SpikingSpec
from ..types import CadcRamp
from .spiking import _count_metric, _finish, _spec, _z

N = g.NEURONS
CODES = g.CADC_CODES
INNER_CODES = CODES - 2
"""Codes a full ramp can judge on one channel: all but the two that collect the overrange."""
LEVELS = np.arange(g.CAPMEM_LEVEL_MAX + 1, dtype=np.uint16)
MAX_REPEATS = g.MAX_BATCH // LEVELS.size
"""A full ramp of 1023 levels fits 64 reads per level into one run of at most 65536 samples."""


def min_repeats(alpha: float = statistics.FALSE_ALARM) -> int:
    """Fewest reads per level for which a healthy chip shows a missing code by chance
    with probability <= alpha.

    A covered code of a healthy channel expects E = 3 x repeats hits; its count is
    a sum of independent reads, so P(0 hits) <= exp(-E). Over 512 channels x 254
    codes (Bonferroni) that must stay <= alpha.
    """
    expected = math.log(N * INNER_CODES / alpha)
    return math.ceil(expected / g.CADC_RAMP_LEVELS_PER_CODE)


def dnl_limit(expected: float, n_tests: int, alpha: float = statistics.FALSE_ALARM) -> float:
    """Bound on |count / expected - 1| of one code, two-sided, Bonferroni over n_tests codes.

    The count of a code is a sum of independent reads, each landing on it with
    some probability p_i: its variance sum p_i (1 - p_i) is below the Poisson
    variance of the same mean, so the Poisson quantiles bound it (the margin
    also covers a channel whose expected count is a few % below nominal).
    """
    a = alpha / (2 * n_tests)
    hi = stats.poisson.isf(a, expected)
    lo = stats.poisson.ppf(a, expected)
    return float(max(hi / expected - 1.0, 1.0 - lo / expected))


CADC_RESAMPLES = 199
"""Resamples of the code-density bootstrap, fewer than :data:`hil.statistics.BOOTSTRAP_RESAMPLES`:
each rebuilds the (256, 512) histogram from the passes; its standard errors are within about
1 / sqrt(2 x 199) = 5 % of their own."""


def _intervals(metrics, passes, covered, missing_codes, missing_channels, short) -> dict:
    """The code-density metrics' intervals: Clopper-Pearson for the counts; for the largest |DNL|
    and |INL| and the code-width spread a bootstrap over the ramp's passes (each channel's
    covered codes held as measured)."""
    # Per pass, in single precision: its hits, its covered hits summed along the codes (the INL's
    # numerator, so that a resample's INL needs no cumulative sum), and its covered hits per channel.
    repeats = passes.shape[0]
    hits = passes.reshape(repeats, -1).astype(np.float32)
    covered_hits = passes * covered
    below = np.cumsum(covered_hits, axis=1, dtype=np.float32).reshape(repeats, -1)
    totals = covered_hits.sum(axis=1, dtype=np.float64)                         # (repeats, 512)
    n_covered = covered.sum(axis=0)
    covered_below = np.cumsum(covered, axis=0, dtype=np.float32)
    value = {m.name: m.value for m in metrics}

    def per_resample(idx):
        mean_hits = statistics.resampled_mean(totals, idx) / n_covered          # (batch, 512)
        per_hit = (1.0 / mean_hits).astype(np.float32)[:, None, :]
        h = statistics.resampled_mean(hits, idx).reshape(-1, CODES, N)
        c = statistics.resampled_mean(below, idx).reshape(-1, CODES, N)
        dnl = np.where(covered, h * per_hit - 1.0, 0.0)
        return np.stack([np.abs(dnl).max(axis=(1, 2)), np.abs(c * per_hit - covered_below).max(axis=(1, 2)),
                         mean_hits.std(axis=1) / mean_hits.mean(axis=1)], axis=1)

    counts = {
        "missing_codes": statistics.count_interval(missing_codes.size, int(covered.any(axis=1).sum()),
                                                   "codes covered by some channel"),
        "missing_code_channels": statistics.count_interval(missing_channels.size, N, "channels"),
        "span_short_channels": statistics.count_interval(short.size, N, "channels"),
    }
    names = ("dnl_max", "inl_max", "code_width_spread")
    if not (n_covered > 0).all():
        return counts | dict.fromkeys(names, "undefined: a channel covers no code, so its DNL and INL are not finite")
    boot = statistics.bootstrap(per_resample, [passes.shape[0]], "ramp passes", n_resamples=CADC_RESAMPLES)
    return counts | {name: boot.interval(value[name], i, (0.0, np.inf)) for i, name in enumerate(names)}


def histogram(codes: np.ndarray) -> np.ndarray:
    """(256, channels) hits of each code per channel of (samples, channels) uint8 codes."""
    codes = np.asarray(codes)
    channels = codes.shape[1]
    flat = codes.astype(np.int64) + CODES * np.arange(channels, dtype=np.int64)
    return np.bincount(flat.ravel(), minlength=CODES * channels).reshape(channels, CODES).T


def pass_histograms(codes: np.ndarray, repeats: int) -> np.ndarray:
    """(repeats, 256, channels) int32: the histogram of each ramp pass r, the reads ``r::repeats``
    (one of every level; row i of a ramp is read at level i // repeats). Their sum is the ramp's
    histogram (computed pass by pass, it needs no 8-byte copy of every code)."""
    return np.stack([histogram(codes[r::repeats]).astype(np.int32) for r in range(repeats)])


@experiment("bss2.cadc_code_density", mode="cadc", metrics=(
    "missing_codes", "dnl_max", "span_short_channels", "missing_code_channels", "inl_max",
    "code_width_spread"),
    params={
        "repeats": (min_repeats(), MAX_REPEATS)})
def cadc_code_density(backend, *, repeats: int = MAX_REPEATS, progress: bool = False) -> ExperimentResult:
    """Code-density (histogram) test of every CADC channel over a full CapMem ramp 0..1022.

    Per channel: hits per code; missing codes (no hit on a covered code), DNL
    (|hits / the channel's mean hits per covered code - 1|), INL (the DNL summed
    along the codes), and whether the ramp spans all 256 codes. The stored raw
    data is the (256, 512) histogram, the codes' sufficient statistic here, not
    the up to 32 MiB of raw codes.
    """
    model = CadcRampModel()
    codes = backend.run(CadcRamp(levels=LEVELS, repeats=repeats)).codes
    if codes.shape != (LEVELS.size * repeats, N):
        raise ValueError(f"the CADC ramp returned codes of shape {codes.shape}; expected "
                         f"{(LEVELS.size * repeats, N)}")
    passes = pass_histograms(codes, repeats)                            # (repeats, 256, 512)
    hist = passes.sum(axis=0, dtype=np.int64)                           # (256, 512)

    code = np.arange(CODES)[:, None]
    hit = hist > 0
    lowest = np.argmax(hit, axis=0)
    highest = CODES - 1 - np.argmax(hit[::-1], axis=0)
    covered = (code > lowest) & (code < highest)                        # (256, 512)
    n_covered = covered.sum(axis=0)
    missing = covered & ~hit
    missing_channels = np.flatnonzero(missing.any(axis=0))
    missing_codes = np.flatnonzero(missing.any(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_hits = np.where(n_covered > 0, (hist * covered).sum(axis=0) / n_covered, np.nan)
        dnl = np.where(covered, hist / mean_hits - 1.0, 0.0)
    inl = np.cumsum(dnl, axis=0)
    # A channel with nothing covered has no usable histogram: count it as the worst DNL.
    dnl_max = float(np.abs(dnl).max()) if (n_covered > 0).all() else float("inf")
    short = np.flatnonzero((lowest > 0) | (highest < CODES - 1))

    predicted = model.histogram(LEVELS, repeats)                        # (256,)
    expected = float(g.CADC_RAMP_LEVELS_PER_CODE * repeats)
    n_tests = N * INNER_CODES
    model_src = (f"model: ideal ramp ADC, {expected:g} hits per code; Poisson {1 - statistics.FALSE_ALARM:.1%} "
                 f"bound over {N} channels x {INNER_CODES} codes")
    widths = mean_hits / expected
    metrics = (
        Metric("missing_codes", missing_codes.size, 0, "<=",
               f"model: an ideal ramp ADC has no missing code; a healthy code misses all of its "
               f"{expected:g} expected hits with probability < {statistics.FALSE_ALARM:g} over {n_tests} codes",
               "codes", detail="codes with no hit on some channel that covers them"
                               + (f": {index_list(missing_codes)} on {missing_channels.size} channels"
                                  if missing_codes.size else "")),
        Metric("dnl_max", dnl_max, dnl_limit(expected, n_tests), "<=", model_src, "LSB",
               detail="largest |hits / mean hits per covered code - 1| over channels and covered codes"),
        Metric("span_short_channels", short.size, 0, "<=",
               "model: the full ramp overdrives every channel by about 43 codes at each end", "channels",
               detail="channels whose codes do not reach both 0 and 255 over the ramp"
                      + (f": {index_list(short)}" if short.size else "")),
        Metric("missing_code_channels", missing_channels.size, unit="channels",
               detail="channels with at least one missing code"),
        Metric("inl_max", float(np.abs(inl).max()) if np.isfinite(dnl_max) else float("inf"), unit="LSB",
               detail="largest |INL| (DNL summed from the lowest covered code) over channels"),
        Metric("code_width_spread", float(np.nanstd(widths) / np.nanmean(widths)),
               detail="std / mean over channels of the mean hits per code (the channels' gain spread)"),
    )
    ideal = backend.info().ideal
    metrics = with_intervals(metrics, {} if ideal else _intervals(
        metrics, passes, covered, missing_codes, missing_channels, short),
        exact=IDEAL_EXACT if ideal else "")
    return ExperimentResult(
        experiment="bss2.cadc_code_density", params=dict(repeats=repeats),
        raw={"code_histogram": hist.astype(np.int32), "dnl": dnl.astype(np.float32),
             "lowest_code": lowest.astype(np.int16), "highest_code": highest.astype(np.int16)},
        prediction={"code_histogram": predicted},
        metrics=metrics,
        stimulus={"levels": LEVELS},
        model={"model": {"class": "hil.bss2.CadcRampModel"}},
        summary={"missing_codes": [int(c) for c in missing_codes],
                 "missing_code_channels": [int(c) for c in missing_channels[:64]],
                 "expected_hits_per_code": expected,
                 "mean_hits_per_code_median": float(np.nanmedian(mean_hits))},
    )


# -- the transfer of every channel (docs/acceptance.md#bss2cadc_transfer-mode-cadc) ---------------------

# -- the CADC transfer ----------------------------------------------------------------------------------

RAMP_SIGMA_READ = 1.75
"""LSB: the CADC ramp mode's temporal read noise per sample, +-8 % per neuron (docs/chip_model.md,
temporal noise: read 1.75 LSB; the ramp mode reads no baseline)."""
RAMP_SIGMA_SPREAD = 0.08
TRANSFER_LEVELS = np.arange(g.CAPMEM_LEVEL_MAX + 1, dtype=np.uint16)
TRANSFER_MARGIN = 12.0
"""Codes: a level is fitted on a channel only where its mean code over the repeats lies this far
inside 0..255, so that neither end clips its noise (over 6 sigma of the ramp's read noise)."""
IDEAL_FIT = 1e-9
"""On an ideal chip the fit equals the model's fit of the ideal codes up to float64 rounding."""


def _line_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Least squares y = a + b x per channel with 0/1 weights ``w`` ((levels, channels)); x (levels,).
    Returns intercept a (at x = 0), slope b, the residual RMS and the map's variance factors
    (var(a), var(b) per unit sample variance) per channel."""
    sw = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = (w * x[:, None]).sum(axis=0) / sw
        ym = (w * y).sum(axis=0) / sw
        dx = x[:, None] - xm
        sxx = (w * dx * dx).sum(axis=0)
        b = (w * dx * (y - ym)).sum(axis=0) / sxx
        a = ym - b * xm
        res = np.where(w > 0, y - a - b * x[:, None], 0.0)
        rms = np.sqrt((res**2).sum(axis=0) / np.maximum(sw - 2, 1))
        return a, b, rms, 1.0 / sw + xm**2 / sxx, 1.0 / sxx


@experiment("bss2.cadc_transfer", mode="cadc", metrics=(
    "offset_outside_channels", "slope_outside_channels", "offset_abs_max", "slope_error_abs_max",
    "fit_residual_rms_max"),
    params={"repeats": (4, 64)})
def cadc_transfer(backend, *, repeats: int = 16, spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC,
                  progress: bool = False) -> ExperimentResult:
    """Each CADC channel's transfer from a full CapMem ramp 0..1022, ``repeats`` reads per level.

    Per channel, the mean code of each level is fitted (least squares) against the nominal
    membrane x = (level - 128) / 3 LSB over the levels whose mean lies ``TRANSFER_MARGIN`` codes
    inside 0..255: the intercept at x = 0 is the channel's offset (codes; the model's
    ``floor(offset + slope V)`` read through noise is offset - 1/2 on average), the slope its
    gain (codes per LSB). Judged per channel: the offset within -1/2 -+ z x (CADC offset
    1.5 codes, CapMem offset 1 LSB in quadrature) and the slope within 1 -+ z x (CADC slope
    1.5 %, CapMem gain 1 % in quadrature), z Bonferroni over 512 channels x 2 at half the
    false-alarm budget, plus the fit's noise at the other half. On an ideal chip both equal the
    model's fit of ``CadcRampModel.codes`` within float64 rounding.
    """
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    levels = TRANSFER_LEVELS
    codes = backend.run(CadcRamp(levels=levels, repeats=repeats)).codes
    if codes.shape != (levels.size * repeats, N):
        raise ValueError(f"the CADC ramp returned codes of shape {codes.shape}; expected "
                         f"{(levels.size * repeats, N)}")
    mean = codes.reshape(levels.size, repeats, N).mean(axis=1, dtype=np.float64)          # (levels, 512)
    x = (levels.astype(np.float64) - g.CADC_RAMP_LEVEL_AT_ZERO) / g.CADC_RAMP_LEVELS_PER_CODE
    inside = (mean >= TRANSFER_MARGIN) & (mean <= g.CADC_CODES - 1 - TRANSFER_MARGIN)
    offset, slope, rms, var_a, var_b = _line_fit(x, mean, inside.astype(np.float64))
    used = inside.sum(axis=0)

    model_codes = CadcRampModel().codes(levels).astype(np.float64)
    m_in = (model_codes >= TRANSFER_MARGIN) & (model_codes <= g.CADC_CODES - 1 - TRANSFER_MARGIN)
    m_off, m_slope, *_ = (float(v[0]) for v in _line_fit(x, model_codes[:, None], m_in[:, None].astype(float)))
    if ideal:
        off_lo = off_hi = np.full(N, m_off)
        sl_lo = sl_hi = np.full(N, m_slope)
        off_lo, off_hi = off_lo - IDEAL_FIT, off_hi + IDEAL_FIT
        sl_lo, sl_hi = sl_lo - IDEAL_FIT, sl_hi + IDEAL_FIT
        note = (f"ideal chip: the model's fit of its ideal codes (offset {m_off:.6f} codes, slope {m_slope:.6f}) "
                f"within {IDEAL_FIT:g}")
        off_center, sl_center = m_off, m_slope
    else:
        z_mis = _z(spec.false_alarm / 2, N * 2)
        z_noise = _z(spec.false_alarm / 2, N * 2)
        sigma_off = math.hypot(spec.cadc_offset, spec.leak_offset)
        sigma_slope = math.hypot(spec.cadc_slope, spec.leak_gain)
        # A level's mean of `repeats` reads: the read noise (the neuron's, at most z sigma above
        # nominal) and the floor dithered by it (1/12 code^2), over the repeats.
        sigma_read = RAMP_SIGMA_READ * (1.0 + z_mis * RAMP_SIGMA_SPREAD)
        var_mean = (sigma_read**2 + 1.0 / 12.0) / repeats
        off_center, sl_center = -0.5, 1.0
        half_off = z_mis * sigma_off + z_noise * np.sqrt(var_mean * var_a)
        half_sl = z_mis * sigma_slope + z_noise * np.sqrt(var_mean * var_b)
        off_lo, off_hi = off_center - half_off, off_center + half_off
        sl_lo, sl_hi = sl_center - half_sl, sl_center + half_sl
        note = (f"offset -1/2 (the floor) -+ {z_mis:.2f} x {sigma_off:.2f} codes (CADC offset {spec.cadc_offset}, "
                f"CapMem offset {spec.leak_offset} LSB), slope 1 -+ {z_mis:.2f} x {sigma_slope:.4f} (CADC slope "
                f"{spec.cadc_slope:.1%}, CapMem gain {spec.leak_gain:.0%}), each -+ {z_noise:.2f} sigma of the fit "
                f"(read noise {sigma_read:.2f} LSB, floor, {repeats} repeats)")
    few = used < 3        # a channel with (nearly) nothing inside the range has no transfer: outside
    off_out = np.flatnonzero(few | ~((offset >= off_lo) & (offset <= off_hi)))
    sl_out = np.flatnonzero(few | ~((slope >= sl_lo) & (slope <= sl_hi)))
    src = "model: hil.bss2.CadcRampModel: " + note
    off_err = np.where(np.isfinite(offset), offset - off_center, np.inf)
    sl_err = np.where(np.isfinite(slope), slope - sl_center, np.inf)
    worst_o, worst_s = int(np.argmax(np.abs(off_err))), int(np.argmax(np.abs(sl_err)))
    rms_f = np.where(np.isfinite(rms), rms, -np.inf)
    worst_r = int(np.argmax(rms_f))
    metrics = (
        _count_metric("offset_outside_channels", off_out, src, "channels whose fitted offset (codes) lies outside "
                      "its bounds", units="channels"),
        _count_metric("slope_outside_channels", sl_out, src, "channels whose fitted slope lies outside its bounds",
                      units="channels"),
        Metric("offset_abs_max", float(np.abs(off_err[worst_o])), unit="codes",
               detail=f"largest |fitted offset - {off_center:.4g}| (channel {worst_o}: {offset[worst_o]:.3f})"),
        Metric("slope_error_abs_max", float(np.abs(sl_err[worst_s])),
               detail=f"largest |fitted slope - {sl_center:.4g}| (channel {worst_s}: {slope[worst_s]:.5f})"),
        Metric("fit_residual_rms_max", float(rms_f[worst_r]) if np.isfinite(rms_f[worst_r]) else float("inf"),
               unit="codes", detail=f"largest RMS residual of a channel's level means about its line (channel "
                                    f"{worst_r})"),
    )
    # The worst channel's estimate, from its own residuals: 1.96 standard errors of its fitted offset and
    # slope (the residual RMS through the fit's variance factors), chi-square for its residual RMS.
    intervals = {}
    for name, worst, err, factor in (("offset_abs_max", worst_o, off_err, var_a), ("slope_error_abs_max", worst_s,
                                                                                  sl_err, var_b)):
        se = float(rms[worst] * math.sqrt(factor[worst])) if np.isfinite(err[worst]) else float("nan")
        value = float(abs(err[worst]))
        intervals[name] = (statistics.Interval(max(value - 1.96 * se, 0.0), value + 1.96 * se,
                                               "normal: 1.96 standard errors of the worst channel's fit, from its "
                                               "residuals") if math.isfinite(se) else
                           "undefined: the worst channel has no transfer inside the range")
    intervals["fit_residual_rms_max"] = statistics.std_interval(float(rms_f[worst_r]), int(used[worst_r]) - 2)
    return ExperimentResult(
        experiment="bss2.cadc_transfer", params=dict(repeats=repeats),
        raw={"transfer_offset": offset, "transfer_slope": slope, "transfer_levels_used": used.astype(np.int32),
             "transfer_residual_rms": rms},
        prediction={"transfer_offset_low": np.broadcast_to(off_lo, (N,)).copy(),
                    "transfer_offset_high": np.broadcast_to(off_hi, (N,)).copy(),
                    "transfer_slope_low": np.broadcast_to(sl_lo, (N,)).copy(),
                    "transfer_slope_high": np.broadcast_to(sl_hi, (N,)).copy()},
        metrics=_finish(metrics, ideal, intervals=intervals),
        stimulus={"levels": levels},
        model={"model": {"class": "hil.bss2.CadcRampModel"}, "spec": spec.record()},
        summary={"offset_outside": [int(i) for i in off_out[:64]], "slope_outside": [int(i) for i in sl_out[:64]],
                 "offset_limit_codes": float(np.max(off_hi - off_center)),
                 "slope_limit": float(np.max(sl_hi - sl_center)),
                 "offset_median": float(np.nanmedian(offset)), "slope_median": float(np.nanmedian(slope))},
    )
