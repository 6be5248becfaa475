"""The statistical limits hold their stated false-alarm rates."""
import numpy as np
import pytest

from hil.contract import statistics


def test_rms_limit_false_alarm_rate():
    rng = np.random.default_rng(11)
    var, dof, alpha = 4.0, 30, 0.01
    limit = statistics.rms_limit(var, dof, alpha=alpha)
    rms = np.sqrt((rng.normal(0, 2, (200_000, dof)) ** 2).mean(axis=1))
    rate = (rms > limit).mean()
    # 200k trials at p=0.01: binomial std 2.2e-4; 5 sigma either way.
    assert abs(rate - alpha) < 5 * np.sqrt(alpha * (1 - alpha) / 200_000)


def test_deviation_limit_is_two_sided_bonferroni():
    assert statistics.deviation_limit(1.0, n_tests=1, alpha=0.05) == pytest.approx(1.959964, rel=1e-6)
    assert statistics.deviation_limit(2.0, n_tests=10, alpha=0.05) == pytest.approx(2 * 2.807034, rel=1e-6)


def test_binomial_limit():
    k = statistics.binomial_limit(512, 1e-3, alpha=1e-3)
    from scipy import stats
    assert stats.binom.sf(k, 512, 1e-3) <= 1e-3 < stats.binom.sf(k - 1, 512, 1e-3)


def test_gof_accepts_quantized_normal_noise_at_its_rate():
    rng = np.random.default_rng(12)
    p = np.array([statistics.discretized_normal_gof(np.floor(rng.normal(40.3, 2.0, 200))) for _ in range(2000)])
    # A valid test rejects about alpha of true nulls; chi-square is approximate, so allow 3x.
    assert (p < 0.01).mean() < 0.03


def test_gof_rejects_uniform_noise():
    rng = np.random.default_rng(13)
    p = [statistics.discretized_normal_gof(np.floor(rng.uniform(30, 42, 500))) for _ in range(50)]
    assert np.mean(np.array(p) < 1e-3) > 0.9


def test_gof_of_constant_samples_is_nan():
    assert np.isnan(statistics.discretized_normal_gof(np.full(100, 7)))


# --- intervals ------------------------------------------------------------------------
# A coverage check counts how often an interval holds the true value over T simulated draws:
# for an interval of coverage c that count is binomial(T, c), so its rate lies within
# 3 * sqrt(c (1 - c) / T) of c but for a 0.3 % chance (each check has a fixed seed).


def three_sigma(c: float, trials: int) -> float:
    return 3 * np.sqrt(c * (1 - c) / trials)


def test_count_interval_ends_are_the_beta_quantiles():
    from scipy import stats
    for k, n in ((0, 512), (3, 512), (250, 512), (512, 512), (1, 2)):
        ci, ref = statistics.count_interval(k, n), stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert (ci.low, ci.high) == (pytest.approx(n * ref.low, rel=1e-9, abs=1e-12), pytest.approx(n * ref.high))
    ci = statistics.count_interval(0, 512, "neurons")
    assert (ci.low, ci.high) == (0.0, pytest.approx(512 * (1 - 0.025 ** (1 / 512)), rel=1e-9))
    ci = statistics.count_interval(7, 40)
    assert ci.low == pytest.approx(40 * stats.beta.ppf(0.025, 7, 34), rel=1e-9)
    assert ci.high == pytest.approx(40 * stats.beta.ppf(0.975, 8, 33), rel=1e-9)
    ci = statistics.count_interval(40, 40)
    assert (ci.low, ci.high) == (pytest.approx(40 * 0.025 ** (1 / 40), rel=1e-9), 40.0)
    assert "Clopper-Pearson" in ci.method and statistics.count_interval(0, 0).startswith("undefined:")
    with pytest.raises(ValueError):
        statistics.count_interval(5, 4)


@pytest.mark.parametrize("case", ["binomial p=0.3", "binomial p=0.004", "unequal p"])
def test_count_interval_covers_the_expected_count(case):
    rng = np.random.default_rng(21)
    n, trials = 512, 2000
    p = {"binomial p=0.3": np.full(n, 0.3), "binomial p=0.004": np.full(n, 0.004),
         "unequal p": rng.uniform(0, 0.05, n)}[case]
    counts = (rng.random((trials, n)) < p).sum(axis=1)
    intervals = {k: statistics.count_interval(k, n) for k in np.unique(counts)}
    held = [intervals[k].low <= p.sum() <= intervals[k].high for k in counts]
    # Clopper-Pearson covers at least 95 % for every p (more for a count near 0, and for unequal p).
    assert np.mean(held) >= 0.95 - three_sigma(0.95, trials)


def test_std_interval_ends_are_the_chi2_table_values():
    ci = statistics.std_interval(1.0, 10)
    # chi2(10): 3.247 and 20.483 hold 2.5 % of it below and above (any table).
    assert (ci.low, ci.high) == (pytest.approx((10 / 20.483) ** 0.5, rel=1e-4),
                                 pytest.approx((10 / 3.247) ** 0.5, rel=1e-4))
    assert statistics.std_interval(float("nan"), 10).startswith("undefined:")


def test_std_interval_covers_a_gaussian_sigma_at_95_percent():
    rng = np.random.default_rng(22)
    trials, n, sigma = 3000, 20, 2.0
    s = rng.normal(5.0, sigma, (trials, n)).std(axis=1, ddof=1)
    intervals = [statistics.std_interval(v, n - 1) for v in s]
    held = np.mean([ci.low <= sigma <= ci.high for ci in intervals])
    assert abs(held - 0.95) <= three_sigma(0.95, trials)      # exact for Gaussian samples


def test_bootstrap_interval_is_the_value_and_t_standard_errors():
    from scipy import stats
    rng = np.random.default_rng(28)
    x = rng.normal(5.0, 2.0, 20)
    b = statistics.bootstrap(lambda i: x[i].mean(axis=-1), [20])
    ci = b.interval(x.mean())
    # The mean's standard error is s / sqrt(n); the bootstrap's, from 999 resamples, within about
    # 3 x 1 / sqrt(2 x 999) = 7 % of it.
    half = stats.t.ppf(0.975, 19) * x.std(ddof=1) / np.sqrt(20)
    assert (ci.high - ci.low) / 2 == pytest.approx(half, rel=0.07) and (ci.low + ci.high) / 2 == pytest.approx(x.mean())
    assert b.interval(0.1, within=(0.0, np.inf)).low == 0.0               # clipped to the values' range
    assert statistics.bootstrap(lambda i: x[i].mean(axis=-1), [20]).interval(x.mean()) == ci     # seeded
    assert b.interval(float("nan")).startswith("undefined:")


def test_bootstrap_of_a_constant_statistic_is_a_point_and_too_few_repeats_are_said_so():
    b = statistics.bootstrap(lambda i: np.full(i.shape[0], 4.0), [20])
    assert (b.interval(4.0).low, b.interval(4.0).high, b.standard_error[0]) == (4.0, 4.0, 0.0)
    assert statistics.bootstrap(lambda i: i.mean(axis=-1), [7]).interval(1.0).startswith("undefined: 7 repeats")


def test_resampled_mean_is_the_mean_of_the_drawn_repeats():
    rng = np.random.default_rng(24)
    data = rng.normal(size=(3, 10, 4))
    idx = rng.integers(0, 10, (6, 10))
    np.testing.assert_allclose(statistics.resampled_mean(data, idx, axis=1),
                               np.stack([data[:, i, :].mean(axis=1) for i in idx]), rtol=1e-12)


@pytest.mark.parametrize("n", [10, 100])
def test_bootstrap_interval_of_a_mean_covers_at_95_percent(n):
    """With the bootstrap's plug-in error scaled by sqrt(n / (n - 1)) and t(n - 1), the interval of
    a normal mean is about the t-interval: 95 %, also for few repeats (with 1.96 plug-in errors,
    10 repeats would hold it 90 % of the time)."""
    rng = np.random.default_rng(25)
    trials = 600
    held = []
    for _ in range(trials):
        x = rng.normal(5.0, 2.0, n)
        ci = statistics.bootstrap(lambda i: x[i].mean(axis=-1), [n]).interval(x.mean())
        held.append(ci.low <= 5.0 <= ci.high)
    assert abs(np.mean(held) - 0.95) <= three_sigma(0.95, trials)


def _expected(statistic, mu: np.ndarray, n: int, draws: int = 20000, seed: int = 40) -> float:
    """The expected value of ``statistic`` of the units' means of n unit-variance repeats, by simulation."""
    means = mu + np.random.default_rng(seed).standard_normal((draws, mu.size)) / np.sqrt(n)
    return float(statistic(means).mean())


def test_bootstrap_interval_of_an_extreme_covers_its_expected_value():
    """The largest of 64 units' means overshoots the largest true mean; its expected value is
    what the interval covers (the bootstrap overstates the spread of an extreme, if anything)."""
    rng = np.random.default_rng(27)
    units, n, trials = 64, 20, 300
    mu = rng.normal(0, 0.3, units)
    expected = _expected(lambda m: m.max(axis=1), mu, n)
    held = []
    for _ in range(trials):
        x = mu + rng.standard_normal((n, units))
        ci = statistics.bootstrap(lambda i: statistics.resampled_mean(x, i).max(axis=1), [n],
                                  n_resamples=199).interval(x.mean(axis=0).max())
        held.append(ci.low <= expected <= ci.high)
    assert np.mean(held) >= 0.95 - three_sigma(0.95, trials)


def test_bootstrap_interval_of_a_noise_biased_spread_covers_its_expected_value():
    rng = np.random.default_rng(26)
    units, n, trials = 128, 8, 200
    mu = 60 * (1 + 0.03 * rng.standard_normal(units))

    def spread(m):
        return m.std(axis=-1) / m.mean(axis=-1)
    expected = _expected(spread, mu / 2.0, n)                  # the noise below is 2: scale it to 1
    held = []
    for _ in range(trials):
        x = mu + 2.0 * rng.standard_normal((n, units))
        ci = statistics.bootstrap(lambda i: spread(statistics.resampled_mean(x, i)), [n]).interval(spread(x.mean(axis=0)))
        held.append(ci.low <= expected <= ci.high)
    assert np.mean(held) >= 0.95 - three_sigma(0.95, trials)


def test_relative_maps_an_interval_and_passes_a_reason():
    from hil.contract.result import Interval
    ci = statistics.relative(Interval(1.8, 2.2, "m"), 2.0)
    assert (ci.low, ci.high, ci.method) == (pytest.approx(-0.1), pytest.approx(0.1), "m")
    assert statistics.relative("exact: x", 2.0) == "exact: x"


def test_resampled_group_means_resample_each_group_apart():
    rng = np.random.default_rng(29)
    data = rng.normal(size=(3, 10, 4))                         # 3 groups of 10 repeats
    idx = [rng.integers(0, 10, (6, 10)) for _ in range(3)]
    expected = np.stack([np.stack([data[g, idx[g][b]].mean(axis=0) for g in range(3)]) for b in range(6)])
    np.testing.assert_allclose(statistics.resampled_group_means(data, idx), expected, rtol=1e-12)
