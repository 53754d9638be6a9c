"""Known-answer tests for one_sample_estimate (min_score gates)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalkit.metrics.classification import Accuracy
from evalkit.metrics.perplexity import BitsPerByte
from evalkit.stats import one_sample_estimate, wilson_interval


def _acc(x):
    return np.c_[x, np.ones_like(x)].astype(float)


@pytest.mark.parametrize("k,n", [(0, 10), (10, 10), (7, 10), (1, 1), (332, 400)])
def test_wilson_matches_the_hand_formula(k, n):
    x = np.array([1] * k + [0] * (n - k))
    est = one_sample_estimate(_acc(x), Accuracy().from_stats, binary=True)
    assert est.method == "wilson" and est.n == n and est.value == pytest.approx(k / n)
    assert est.ci(0.05) == pytest.approx(wilson_interval(k, n, alpha=0.05), abs=1e-12)
    assert est.lower_bound(0.05) == pytest.approx(wilson_interval(k, n, alpha=0.10)[0], abs=1e-12)
    assert est.upper_bound(0.05) == pytest.approx(wilson_interval(k, n, alpha=0.10)[1], abs=1e-12)


def test_wilson_tests_invert_to_its_bounds():
    est = one_sample_estimate(_acc(np.array([1] * 332 + [0] * 68)), Accuracy().from_stats, binary=True)
    lb, ub = est.lower_bound(0.05), est.upper_bound(0.05)
    assert est.p_greater(lb) == pytest.approx(0.05, rel=1e-8)
    assert est.p_less(ub) == pytest.approx(0.05, rel=1e-8)
    assert est.p_greater(0.0) == 0.0 and est.p_less(1.0) == 0.0


def test_one_sample_t_equals_scipy():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 25)
    est = one_sample_estimate(_acc(x), Accuracy().from_stats, binary=False)
    assert est.method == "t" and est.value == pytest.approx(x.mean())
    assert est.p_greater(0.4) == pytest.approx(stats.ttest_1samp(x, 0.4, alternative="greater").pvalue, rel=1e-10)
    ci = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
    assert est.ci(0.05) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_one_sample_delta_method_bits_per_byte():
    rng = np.random.default_rng(1)
    n_bytes = rng.integers(50, 800, 100).astype(float)
    s = np.c_[n_bytes * rng.gamma(20, 0.05, 100), n_bytes]
    est = one_sample_estimate(s, BitsPerByte().from_stats, binary=False)
    r = s[:, 0].sum() / s[:, 1].sum()
    lin = (s[:, 0] - r * s[:, 1]) / s[:, 1].mean() / math.log(2)
    assert est.method == "delta-method-t" and est.value == pytest.approx(r / math.log(2), rel=1e-12)
    assert est.se == pytest.approx(lin.std(ddof=1) / 10, rel=1e-6)


def test_one_sample_grouped_cr1_equals_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(14), 5)
    x = (rng.random(70) < rng.uniform(0.3, 0.9, 14)[groups]).astype(float)
    est = one_sample_estimate(_acc(x), Accuracy().from_stats, binary=True, groups=groups)
    fit = sm.OLS(x, np.ones(70)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert est.method == "cr1-t" and est.se == pytest.approx(float(fit.bse[0]), rel=1e-10)


def test_one_sample_unusable_cases():
    assert not one_sample_estimate(np.zeros((0, 2)), Accuracy().from_stats, binary=True).usable
    bad = np.array([[1.0, 1.0], [np.nan, 1.0]])
    est = one_sample_estimate(bad, Accuracy().from_stats, binary=False)
    assert not est.usable and "non-finite" in est.reason and math.isnan(est.lower_bound(0.05))
    flat = one_sample_estimate(np.full(5, 0.5), None, binary=False)
    assert not flat.usable and flat.reason.startswith("no spread")


def test_unusable_one_sample_still_reports_its_value():
    est = one_sample_estimate(np.array([0.8]), None, binary=False, value_range=(0.0, 1.0))
    assert not est.usable and est.value == pytest.approx(0.8) and math.isnan(est.ci(0.05)[0])
