"""Proportion intervals and power calculations against published numbers and scipy."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from evalkit.stats import exact_interval, minimum_detectable_effect, n_needed, wilson_interval


def test_wilson_known_answer():
    low, high = wilson_interval(137, 164)
    assert (round(low, 4), round(high, 4)) == (0.7711, 0.8843)
    ci = stats.binomtest(137, 164).proportion_ci(method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), rel=1e-10)


@pytest.mark.parametrize("k,n", [(137, 164), (0, 20), (20, 20), (3, 7), (1, 1000)])
def test_exact_interval_matches_scipy(k, n):
    for alpha in (0.05, 0.10):
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=1 - alpha, method="exact")
        assert exact_interval(k, n, alpha=alpha) == pytest.approx((ci.low, ci.high), rel=1e-9, abs=1e-12)


def test_interval_edge_cases():
    assert wilson_interval(0, 0) == (0.0, 1.0) and exact_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_mde_hand_formula():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.80)
    assert minimum_detectable_effect(0.3, 400) == pytest.approx(z * 0.3 / 20, rel=1e-12)
    z_one = stats.norm.ppf(0.95) + stats.norm.ppf(0.90)
    assert minimum_detectable_effect(0.3, 400, power=0.9, sided=1) == pytest.approx(z_one * 0.3 / 20)
    # Well-known constant: (1.96 + 0.8416)^2 = 7.849 items per (sd / effect)^2.
    assert n_needed(1.0, 1.0) == math.ceil(z**2) == 8


@pytest.mark.parametrize("n", [2, 10, 37, 100, 400, 2500, 10_000])
@pytest.mark.parametrize("sd", [0.05, 0.31, 2.0])
def test_round_trip(n, sd):
    assert abs(n_needed(sd, minimum_detectable_effect(sd, n)) - n) <= 1


def test_power_edge_cases():
    assert n_needed(0.3, 0.0) == math.inf and n_needed(0.3, -0.1) == math.inf
    assert n_needed(0.0, 0.05) == 1
    assert minimum_detectable_effect(0.3, 0) == math.inf
    with pytest.raises(ValueError):
        n_needed(0.3, 0.1, sided=3)
