"""CADC experiments in the CADC ramp mode: the code-density (histogram) test.

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
from ..models import CadcRampModel
from ..types import CadcRamp

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

