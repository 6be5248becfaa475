"""Statistical limits derived from a model's noise, and the tests behind them.

Every function here turns a stated noise level and a false-alarm probability
into a limit, so that a healthy device fails a judged metric with at most that
probability, and no limit is ever picked by hand to make a test pass.
"""
import numpy as np
from scipy import stats

FALSE_ALARM = 1e-3
"""Probability that a healthy device fails one judged statistical metric."""


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
