"""Statistical limits derived from a model's noise, the tests behind them, and the 95 %
confidence intervals of metrics.

Limits: every limit function turns a stated noise level and a false-alarm probability
into a limit, so that a healthy device fails a judged metric with at most that
probability, and no limit is ever picked by hand to make a test pass.

Intervals (:class:`hil.contract.result.Interval`, each in the unit of the value it belongs to)
cover a metric's expected value on the device it was measured on: the mean of the values the
same experiment would give over the device's temporal noise. The device itself (its fixed
pattern, its neurons and channels) is what is measured, not a sample of devices. This is the
quantity a fidelity report holds against the model, whose value is the same experiment's mean
over runs of the model (docs/fidelity.md#intervals). For a statistic the noise biases, such as
the largest of 512 neurons' noise or a spread of 512 noisy means, it is not the noise-free
quantity (the model's value carries the same bias). Each kind of metric has its own statistics:

* counts of units or events (:func:`count_interval`): Clopper-Pearson;
* standard deviations of Gaussian samples (:func:`std_interval`): chi-square;
* every other statistic of repeated samples, extremes and spreads included (:func:`bootstrap`):
  the value -+ t(n - 1) standard errors from a bootstrap over the n repeats (a fixed seed);
* means, medians and fitted parameters: 1.96 standard errors (:func:`mean_half_width`).
"""
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
"""Resamples of a bootstrap (a statistic that is cheap to recompute): its standard errors are then
within about 1 / sqrt(2 x 999) = 2 % of their own, and a bootstrap of a MAC experiment takes a
small part of a second on 2 cores."""
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


def std_interval(std: float, dof: int) -> Interval | str:
    """95 % chi-square interval of a Gaussian standard deviation sigma from an estimate ``std`` with
    ``dof`` degrees of freedom (``std**2 * dof / sigma**2`` follows chi2(dof)), in std's unit."""
    if not (dof >= 1 and math.isfinite(std)):
        return f"undefined: a standard deviation of {dof} degrees of freedom"
    a = (1.0 - CONFIDENCE) / 2
    return Interval(std * math.sqrt(dof / stats.chi2.isf(a, dof)), std * math.sqrt(dof / stats.chi2.ppf(a, dof)),
                    f"chi-square, {dof} degrees of freedom")


def resampled_mean(data: np.ndarray, indices: np.ndarray, axis: int = 0) -> np.ndarray:
    """Means of ``data`` over ``axis`` for each row of ``indices`` ((batch, n) indices into that
    axis, as :func:`bootstrap` gives them): (batch, *the other axes), in data's unit and, for
    floating-point data, precision (float64 for integers). Computed from the counts of each index
    as one product, without copying the resampled data (fastest for C-contiguous data resampled
    along axis 0)."""
    indices = np.atleast_2d(indices)
    batch, n = indices.shape
    data = np.moveaxis(np.asarray(data), axis, 0)
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    size = data.shape[0]
    counts = np.bincount((indices + size * np.arange(batch)[:, None]).ravel(),
                         minlength=batch * size).reshape(batch, size).astype(data.dtype)
    flat = data.reshape(size, -1)
    # Over a few repeats einsum's loops beat a threaded BLAS on a shared machine; over many, BLAS.
    total = counts @ flat if size >= 32 else np.einsum("bs,sk->bk", counts, flat)
    return (total / data.dtype.type(n)).reshape((batch,) + data.shape[1:])


def resampled_group_means(data: np.ndarray, indices: Sequence[np.ndarray]) -> np.ndarray:
    """Means over each group's resampled repeats: ``data`` (groups, n, ...), ``indices`` one
    (batch, n) array per group (as :func:`bootstrap` gives them for groups resampled apart);
    returns (batch, groups, ...) in data's floating-point precision (float64 for integers)."""
    idx = np.stack([np.atleast_2d(i) for i in indices], axis=1)               # (batch, groups, n)
    batch, groups, n = idx.shape
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    cell = idx + n * (np.arange(groups)[:, None] + groups * np.arange(batch)[:, None, None])
    counts = np.bincount(cell.ravel(), minlength=batch * groups * n).reshape(batch, groups, n).astype(data.dtype)
    flat = data.reshape(groups, n, -1)
    return (np.einsum("bgs,gsk->bgk", counts, flat) / data.dtype.type(n)).reshape((batch, groups) + data.shape[2:])


class Bootstrap:
    """The result of :func:`bootstrap`: the standard error of each output of the statistic, in the
    output's unit, and the intervals made of them. Without a bootstrap (too few repeats),
    ``reason`` says why, and every interval asked for is that reason."""

    def __init__(self, standard_error=(), sizes: Sequence[int] = (2,), units: str = "repeats",
                 n_resamples: int = 0, seed: int = BOOTSTRAP_SEED, reason: str = "", samples: str = "runs"):
        n = min(sizes)
        # The bootstrap's spread is the plug-in one, sqrt((n - 1) / n) of the sampling spread.
        self.standard_error = np.atleast_1d(np.asarray(standard_error, np.float64)) * np.sqrt(n / (n - 1))
        self.dof = n - 1
        self.reason = reason
        over = (f"the {sizes[0]} {units}" if len(sizes) == 1 else
                f"the {sizes[0]} {units} of each of {len(sizes)} {samples}" if len(set(sizes)) == 1 else
                f"the {' and '.join(str(s) for s in sizes)} {units} of {len(sizes)} {samples}")
        self.quantile = float(stats.t.ppf(0.5 + CONFIDENCE / 2, self.dof))
        self.method = (f"the value -+ {self.quantile:.3g} standard errors (t({self.dof})), from a bootstrap over "
                       f"{over}{', resampled apart' if len(sizes) > 1 else ''} ({n_resamples} resamples, "
                       f"seed {seed})")

    def interval(self, value: float, i: int = 0, within: tuple[float, float] = (-math.inf, math.inf)) \
            -> Interval | str:
        """95 % interval of output ``i``'s expected value: ``value`` (the metric, in its unit) -+
        t(n - 1) standard errors, clipped to the values the statistic can take (``within``: an RMS
        >= 0, an R^2 <= 1). An 'undefined: ...' reason where either is not finite."""
        if self.reason:
            return self.reason
        se = float(self.standard_error[i])
        if not (math.isfinite(value) and math.isfinite(se)):
            return "undefined: the value or its bootstrap standard error is not finite"
        lo, hi = (float(np.clip(v, *within)) for v in (value - self.quantile * se, value + self.quantile * se))
        return Interval(lo, hi, self.method)


def bootstrap(statistic: Callable[..., np.ndarray], sizes: Sequence[int], units: str = "repeats",
              n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, samples: str = "runs") -> Bootstrap:
    """Standard errors of ``statistic`` from a bootstrap over independent samples of ``sizes[i]``
    repeats each (``scipy.stats.bootstrap``, ``n_resamples`` resamples from a fixed seed).

    statistic(*indices): one (batch, sizes[i]) integer array per sample, the repeats each
    resample draws (with replacement); returns (batch,) or (batch, k) values (k outputs).
    Resampling indices, not data, lets a statistic resample several arrays of the same repeats
    alike, and average them without copies (:func:`resampled_mean`, and :func:`resampled_group_means`
    for many samples of the same size: ``samples`` names them in the method).

    The intervals (:meth:`Bootstrap.interval`) are the value -+ t(n - 1) of these errors (n: the
    fewest repeats), the errors scaled by sqrt(n / (n - 1)) from the bootstrap's plug-in spread:
    for the mean of normal samples that is the t-interval. They cover the statistic's expected
    value, where its value would lie on average over the noise, also for an extreme over many
    units, whose spread the bootstrap overstates if anything (in a simulation of the largest of
    512 neurons' noise, 8 to 200 repeats, it held the expected value 98-100 % of the time).
    Percentile and BCa intervals are not used: they are centred on the resamples, which the
    statistic's noise bias moves off the value once more (for the largest noise of 512 neurons
    the BCa correction degenerates). When a sample has fewer than :data:`BOOTSTRAP_MIN_SAMPLES`
    repeats there is no bootstrap, and the result's intervals are an 'undefined: ...' reason.
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
                              batch=_BOOTSTRAP_BATCH, vectorized=True, paired=False, method="percentile",
                              confidence_level=CONFIDENCE, rng=np.random.default_rng(seed))
    return Bootstrap(res.standard_error, sizes, units, n_resamples, seed, samples=samples)
