"""Statistical limits derived from a model's noise, the tests behind them, and the 95 %
confidence intervals of metrics.

Limits: every limit function turns a stated noise level and a false-alarm probability
into a limit, so that a healthy device fails a judged metric with at most that
probability, and no limit is ever picked by hand to make a test pass.

Intervals (:class:`hil.contract.result.Interval`, each in the unit of the value it belongs to)
cover the sampling uncertainty of a measurement, its temporal noise: the device itself (its fixed
pattern, its neurons and channels) is what is measured, not a sample. Each kind of metric has its
own statistics, and docs/fidelity.md#intervals lists which metric has which:

* counts of units or events (:func:`count_interval`): Clopper-Pearson;
* standard deviations (:func:`std_interval`) and their extremes over units
  (:func:`std_extreme_interval`): chi-square;
* extremes over units of other statistics (:func:`extreme_interval`): simultaneous (Bonferroni)
  intervals of every unit from standard errors (:func:`bootstrap`'s, or a closed form);
* other statistics of repeated samples, such as spreads (:func:`bootstrap`): the basic
  (reverse-percentile) bootstrap over the repeats, with a fixed seed. Percentile and BCa
  intervals are not used: a spread or a correlation over 512 neurons is biased by the noise in
  each neuron's mean, every resample adds that bias once more, and both put the interval on the
  biased side (the percentile bootstrap covered the noise-free spread in 0 of 300 simulated runs,
  BCa degenerates); the basic interval takes the bias off once (98-100 % there).
"""
import dataclasses
import math
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from .result import Interval

FALSE_ALARM = 1e-3
"""Probability that a healthy device fails one judged statistical metric."""

CONFIDENCE = 0.95
"""Confidence level of every metric's interval."""
BOOTSTRAP_RESAMPLES = 999
"""Resamples of every bootstrap: the 2.5 % and 97.5 % quantiles are then the 25th value from
either end, and a bootstrap of a MAC experiment takes well under a second on 2 cores."""
BOOTSTRAP_SEED = 0
"""Seed of every bootstrap's resampling: the same data give the same interval."""
BOOTSTRAP_MIN_SAMPLES = 8
"""Fewest repeats a bootstrap interval is computed from; with fewer, a metric that needs one has
none (its ``no_interval`` says so)."""
_BOOTSTRAP_BATCH = 50
"""Resamples computed at once (bounds the memory of a vectorized statistic)."""


def rms_limit(variance: float, dof: int, n_tests: int = 1, alpha: float = FALSE_ALARM) -> float:
    """Upper bound on the RMS of ``dof`` residuals of the given variance.

    The sum of squares follows variance * chi2(dof); the bound is the
    (1 - alpha / n_tests) quantile (Bonferroni over n_tests independent tests).
    """
    q = stats.chi2.ppf(1.0 - alpha / n_tests, dof)
    return float(np.sqrt(variance * q / dof))


def deviation_limit(std: float, n_tests: int = 1, alpha: float = FALSE_ALARM) -> float:
    """Two-sided bound on one Gaussian deviation of ``std``, Bonferroni over n_tests."""
    return float(std * stats.norm.isf(alpha / (2 * n_tests)))


def binomial_limit(n: int, p: float, alpha: float = FALSE_ALARM) -> int:
    """Largest count k of n Bernoulli(p) trials with P(count > k) <= alpha."""
    return int(stats.binom.isf(alpha, n, p))


def discretized_normal_gof(samples: np.ndarray, min_expected: float = 5.0) -> float:
    """p-value of a chi-square test that integer samples are floor(N(mu, s^2)).

    mu and s are fitted (with Sheppard's correction for the floor); cells are
    the integers, tail cells merged until each expects ``min_expected``
    samples. Returns NaN when the samples have no spread (nothing to test).
    """
    x = np.asarray(samples, np.float64)
    n = x.size
    sd = x.std(ddof=1)
    if not np.isfinite(sd) or sd == 0.0:
        return float("nan")
    mu = x.mean() + 0.5                      # floor() shifts the mean by -1/2
    s = np.sqrt(max(sd**2 - 1.0 / 12.0, 1e-6))
    lo, hi = int(x.min()), int(x.max())
    edges = np.arange(lo, hi + 2, dtype=np.float64)
    cdf = stats.norm.cdf((edges - mu) / s)
    cdf[0], cdf[-1] = 0.0, 1.0               # the outer cells take the tails
    expected = np.diff(cdf) * n
    observed = np.bincount((x - lo).astype(np.int64), minlength=hi - lo + 1).astype(np.float64)
    exp_cells, obs_cells = [], []
    e_acc = o_acc = 0.0
    for e, o in zip(expected, observed):
        e_acc += e
        o_acc += o
        if e_acc >= min_expected:
            exp_cells.append(e_acc)
            obs_cells.append(o_acc)
            e_acc = o_acc = 0.0
    if exp_cells:
        exp_cells[-1] += e_acc
        obs_cells[-1] += o_acc
    dof = len(exp_cells) - 3
    if dof < 1:
        return float("nan")
    e, o = np.array(exp_cells), np.array(obs_cells)
    chi2 = float(((o - e) ** 2 / e).sum())
    return float(stats.chi2.sf(chi2, dof))


# --- intervals ------------------------------------------------------------------------


def mean_half_width(values: np.ndarray) -> float:
    """95 % half-width of the mean of ``values``, in their unit: 1.96 standard errors (a normal
    approximation), NaN for fewer than two values."""
    values = np.asarray(values, np.float64)
    return float(1.96 * values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")


def median_half_width(values: np.ndarray) -> float:
    """95 % half-width of the median of ``values``: sqrt(pi / 2) times the mean's (for a normal
    spread), in their unit."""
    return float(np.sqrt(np.pi / 2)) * mean_half_width(values)


def relative(interval: Interval | str, reference: float) -> Interval | str:
    """The interval of ``value / reference - 1`` (a relative error, unitless) from the interval of
    ``value``; a reason for none passes through."""
    return interval.map(lambda v: v / reference - 1.0) if isinstance(interval, Interval) else interval


def count_interval(k: int, n: int, what: str = "events") -> Interval | str:
    """95 % Clopper-Pearson (exact binomial) interval of the expected count of which ``k`` of ``n``
    trials were seen: n times the interval of the per-trial probability, whose ends are beta
    quantiles (``scipy.stats.beta``; the interval of ``binomtest(k, n).proportion_ci()``).

    In the count's unit. For trials of unequal probabilities (neurons of one chip) the count is
    Poisson-binomial, whose tails are thinner than the binomial's of the same mean (Hoeffding
    1956), so the interval is conservative. ``what`` names the trials in the method. An
    'undefined: ...' reason for n == 0.
    """
    k, n = int(k), int(n)
    if n <= 0:
        return "undefined: no trials to count"
    if not 0 <= k <= n:
        raise ValueError(f"count_interval: {k} of {n} is not a count")
    a = (1.0 - CONFIDENCE) / 2
    low = float(stats.beta.ppf(a, k, n - k + 1)) if k > 0 else 0.0
    high = float(stats.beta.isf(a, k + 1, n - k)) if k < n else 1.0
    return Interval(n * low, n * high,
                    f"Clopper-Pearson (binomial): the expected count, {n} x the rate of {k} of {n} {what}")


def _std_bounds(std, dof, n_tests: int = 1) -> tuple[np.ndarray, np.ndarray]:
    a = (1.0 - CONFIDENCE) / (2 * n_tests)
    std = np.asarray(std, np.float64)
    return std * np.sqrt(dof / stats.chi2.isf(a, dof)), std * np.sqrt(dof / stats.chi2.ppf(a, dof))


def std_interval(std: float, dof: int) -> Interval | str:
    """95 % chi-square interval of a Gaussian standard deviation sigma from an estimate ``std`` with
    ``dof`` degrees of freedom (``std**2 * dof / sigma**2`` follows chi2(dof)), in std's unit."""
    if not (dof >= 1 and math.isfinite(std)):
        return f"undefined: a standard deviation of {dof} degrees of freedom"
    lo, hi = _std_bounds(std, dof)
    return Interval(lo, hi, f"chi-square, {dof} degrees of freedom")


def _extreme(lo: np.ndarray, hi: np.ndarray, kind: str, method: str) -> Interval | str:
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return "undefined: no unit with a finite value"
    pick = {"max": np.max, "min": np.min}[kind]
    return Interval(pick(lo[ok]), pick(hi[ok]), method)


def std_extreme_interval(stds: np.ndarray, dof: int, kind: str, units: str = "neurons") -> Interval | str:
    """95 % interval of the largest (``kind`` 'max') or smallest ('min') of the standard deviations
    of several units, from estimates ``stds`` with ``dof`` degrees of freedom each, in their unit.

    Each unit's chi-square interval at 1 - 0.05 / units (Bonferroni) holds for all at once with
    probability >= 95 %; then the extreme of the true sigmas lies between the extremes of the
    units' lower and of their upper ends. This covers the true extreme, which the extreme of noisy
    estimates overshoots (a bootstrap over the repeats, percentile or BCa, covered it in none of
    100 simulated runs); the price is width.
    """
    stds = np.asarray(stds, np.float64)
    if dof < 1 or stds.size == 0:
        return f"undefined: standard deviations of {dof} degrees of freedom"
    lo, hi = _std_bounds(stds, dof, stds.size)
    return _extreme(lo, hi, kind, f"the {kind} of {stds.size} {units}' chi-square intervals ({dof} degrees of "
                                  f"freedom each), simultaneous (Bonferroni)")


def extreme_interval(estimates: np.ndarray, standard_errors: np.ndarray, dof: int, kind: str,
                     units: str = "neurons", absolute: bool = False,
                     within: tuple[float, float] = (-math.inf, math.inf)) -> Interval | str:
    """95 % interval of the largest (``kind`` 'max') or smallest ('min') of several units' values,
    from each unit's estimate and standard error (in their unit), the errors estimated with
    ``dof`` degrees of freedom (repeats - 1); ``absolute``: of the largest or smallest |value|;
    ``within``: the values' possible range (an RMS >= 0, an R^2 <= 1), the ends are clipped to it.

    Each unit's interval is estimate -+ t(dof) quantile at 1 - 0.025 / units times its standard
    error (Bonferroni: all hold at once with probability >= 95 %); the extreme of the true values
    lies between the extremes of the lower and of the upper ends. Units with a non-finite
    estimate or error are left out, as ``nanmax`` leaves them out of the value.
    """
    est = np.asarray(estimates, np.float64).ravel()
    se = np.asarray(standard_errors, np.float64).ravel()
    ok = np.isfinite(est) & np.isfinite(se)
    n = int(ok.sum())
    if dof < 1 or n == 0:
        return f"undefined: {n} units with a finite value and error, {dof} degrees of freedom"
    q = float(stats.t.isf((1.0 - CONFIDENCE) / (2 * n), dof))
    lo, hi = est[ok] - q * se[ok], est[ok] + q * se[ok]
    if absolute:
        lo, hi = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(abs(lo), abs(hi))), np.maximum(abs(lo), abs(hi))
    lo, hi = np.clip(lo, *within), np.clip(hi, *within)
    return _extreme(lo, hi, kind, f"the {kind}{' |value|' if absolute else ''} of {n} {units}' intervals "
                                  f"(estimate -+ {q:.2f} standard errors: t({dof}), simultaneous, Bonferroni)")


def resampled_mean(data: np.ndarray, indices: np.ndarray, axis: int = 0) -> np.ndarray:
    """Means of ``data`` over ``axis`` for each row of ``indices`` ((batch, n) indices into that
    axis, as :func:`bootstrap` gives them): (batch, *the other axes), in data's unit and, for
    floating-point data, precision (float64 for integers). Computed from the counts of each index
    as one product (``einsum``: with a few repeats, faster than a threaded BLAS on a shared
    machine), without copying the resampled data (fastest for C-contiguous data resampled along
    axis 0)."""
    indices = np.atleast_2d(indices)
    batch, n = indices.shape
    data = np.moveaxis(np.asarray(data), axis, 0)
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    size = data.shape[0]
    counts = np.bincount((indices + size * np.arange(batch)[:, None]).ravel(),
                         minlength=batch * size).reshape(batch, size).astype(data.dtype)
    mean = np.einsum("bs,sk->bk", counts, data.reshape(size, -1)) / data.dtype.type(n)
    return mean.reshape((batch,) + data.shape[1:])


class Bootstrap:
    """The result of :func:`bootstrap`: per output of the statistic its basic 95 % interval and its
    standard error, in the output's unit; ``method`` describes it. Without a bootstrap (too few
    repeats), ``reason`` says why, and every interval asked for is that reason."""

    def __init__(self, low=(), high=(), standard_error=(), sizes: Sequence[int] = (2,), units: str = "repeats",
                 n_resamples: int = 0, seed: int = BOOTSTRAP_SEED, reason: str = ""):
        self.low, self.high = np.atleast_1d(low), np.atleast_1d(high)
        n = min(sizes)
        # The bootstrap's spread is the plug-in one, sqrt((n - 1) / n) of the sampling spread.
        self.standard_error = np.atleast_1d(standard_error) * np.sqrt(n / (n - 1))
        self.dof = n - 1
        self.reason = reason
        self.method = (f"basic bootstrap over the {' and '.join(str(s) for s in sizes)} {units} "
                       f"({n_resamples} resamples, seed {seed})")

    def interval(self, i: int = 0) -> Interval | str:
        """Output ``i``'s basic bootstrap interval (an 'undefined: ...' reason if it is not finite)."""
        if self.reason:
            return self.reason
        lo, hi = float(self.low[i]), float(self.high[i])
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return "undefined: the statistic is not finite on some resamples"
        return Interval(min(lo, hi), max(lo, hi), self.method)

    def extreme(self, estimates: np.ndarray, outputs: slice, kind: str, units: str = "neurons",
                absolute: bool = False, within: tuple[float, float] = (-math.inf, math.inf)) -> Interval | str:
        """:func:`extreme_interval` of ``estimates`` with the standard errors of ``outputs``."""
        if self.reason:
            return self.reason
        ci = extreme_interval(estimates, self.standard_error[outputs], self.dof, kind, units, absolute, within)
        return dataclasses.replace(ci, method=f"{ci.method}; standard errors from a {self.method}") \
            if isinstance(ci, Interval) else ci


def bootstrap(statistic: Callable[..., np.ndarray], sizes: Sequence[int], units: str = "repeats",
              n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Bootstrap:
    """Bootstraps ``statistic`` over independent samples of ``sizes[i]`` repeats each
    (``scipy.stats.bootstrap``, basic intervals, ``n_resamples`` resamples from a fixed seed).

    statistic(*indices): one (batch, sizes[i]) integer array per sample, the repeats each
    resample draws (with replacement); returns (batch,) or (batch, k) values (k outputs).
    Resampling indices, not data, lets a statistic resample several arrays of the same repeats
    alike, and average them without copies (:func:`resampled_mean`). When a sample has fewer than
    :data:`BOOTSTRAP_MIN_SAMPLES` repeats there is no bootstrap, and the result's intervals are an
    'undefined: ...' reason.
    """
    sizes = [int(s) for s in sizes]
    if min(sizes) < BOOTSTRAP_MIN_SAMPLES:
        return Bootstrap(reason=f"undefined: {min(sizes)} {units}; a bootstrap interval needs at least "
                                f"{BOOTSTRAP_MIN_SAMPLES}")

    def vectorized(*indices, axis=-1):
        single = indices[0].ndim == 1
        out = np.asarray(statistic(*(np.atleast_2d(i) for i in indices)), np.float64)
        out = out.reshape(out.shape[0], -1).T                  # (k, batch), as scipy wants it
        return out[:, 0] if single else out

    with np.errstate(invalid="ignore", divide="ignore"):
        res = stats.bootstrap(tuple(np.arange(s) for s in sizes), vectorized, n_resamples=n_resamples,
                              batch=_BOOTSTRAP_BATCH, vectorized=True, paired=False, method="basic",
                              confidence_level=CONFIDENCE, rng=np.random.default_rng(seed))
    return Bootstrap(res.confidence_interval.low, res.confidence_interval.high, res.standard_error, sizes,
                     units, n_resamples, seed)
