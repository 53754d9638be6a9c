"""Non-inferiority against scipy's one-sided t-test and its confidence bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalkit.stats import bootstrap_deltas, non_inferiority, non_inferiority_from_bootstrap


def _pair(shift: float, seed: int = 0, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.6, 0.2, size=n)
    return a, a + shift + rng.normal(0, 0.1, size=n)


def _lower_bound_by_hand(d: np.ndarray, alpha: float) -> float:
    n = d.size
    return d.mean() - stats.t.ppf(1 - alpha, n - 1) * d.std(ddof=1) / math.sqrt(n)


def test_holds_when_slightly_worse_but_within_margin():
    a, b = _pair(-0.005)
    res = non_inferiority(a, b, margin=0.03)
    assert res.holds and res.lower_bound > -0.03 and res.p_value < 0.05
    assert res.lower_bound == pytest.approx(_lower_bound_by_hand(b - a, 0.05), rel=1e-12)
    scipy_ci = stats.ttest_1samp(b - a, 0.0, alternative="greater").confidence_interval(0.95)
    assert res.lower_bound == pytest.approx(scipy_ci.low, rel=1e-10)
    expected_p = stats.ttest_1samp(b - a, -0.03, alternative="greater").pvalue
    assert res.p_value == pytest.approx(expected_p, rel=1e-10)


def test_fails_when_clearly_worse():
    a, b = _pair(-0.05)
    res = non_inferiority(a, b, margin=0.03, alpha=0.10)
    assert not res.holds and res.p_value > 0.5
    assert res.lower_bound == pytest.approx(_lower_bound_by_hand(b - a, 0.10), rel=1e-12)


def test_edge_cases():
    small = non_inferiority([0.5], [0.5], margin=0.01)
    assert not small.holds and math.isnan(small.p_value)
    with pytest.raises(ValueError):
        non_inferiority([0, 1], [1, 1], margin=-0.01)


def test_from_bootstrap_agrees_with_t_version():
    a, b = _pair(-0.005, seed=1)
    stats_a, stats_b = np.column_stack([a, np.ones_like(a)]), np.column_stack([b, np.ones_like(b)])
    deltas = bootstrap_deltas(stats_a, stats_b, lambda s: s[..., 0] / s[..., 1],
                              n_resamples=3000, rng=np.random.default_rng(0))
    boot = non_inferiority_from_bootstrap(deltas, float(np.mean(b - a)), 0.03, alpha=0.05)
    t_based = non_inferiority(a, b, margin=0.03)
    se = np.std(b - a, ddof=1) / math.sqrt(a.size)
    assert boot.holds == t_based.holds
    assert boot.lower_bound == pytest.approx(t_based.lower_bound, abs=0.2 * se)
    assert (boot.p_value < 0.05) == boot.holds
