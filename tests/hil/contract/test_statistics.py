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
