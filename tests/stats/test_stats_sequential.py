"""Confidence sequences stay valid when a gate looks after every chunk of items."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalkit.stats.sequential import ConfidenceSequence, best_rho2, margin


def _paired_binary(rng, n, p_base, drop):
    """Per-item differences ft - base for 0/1 scores where the fine-tune breaks items so that
    its mean accuracy is lower by exactly ``drop``."""
    p = rng.beta(2.0 * p_base / (1 - p_base), 2.0, size=n)
    a = (rng.random(n) < p).astype(float)
    b = (rng.random(n) < np.clip(p - drop * p / p.mean(), 0, 1)).astype(float)
    return b - a


def _looks(n_total, k):
    return [round(n_total * (j + 1) / k) for j in range(k)]


def test_margin_matches_the_closed_form_and_shrinks_with_n():
    rho2 = best_rho2(1000, 0.05)
    t, sd = 400, 0.7
    expected = sd * math.sqrt(2 * (t * rho2 + 1) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1) / 0.05))
    assert margin(t, sd, 0.05, rho2) == pytest.approx(expected, rel=1e-12)
    widths = [margin(t, 1.0, 0.05, rho2) for t in (10, 100, 1000, 10_000)]
    assert widths == sorted(widths, reverse=True)
    # The price of looking at will: wider than the fixed-n interval at the same n.
    assert margin(1000, 1.0, 0.05, rho2) > stats.norm.ppf(0.975) / math.sqrt(1000)


def test_zero_spread_never_gives_a_zero_width_interval():
    cs = ConfidenceSequence(alpha=0.05, planned_n=100, value_range=2.0)
    bound = cs.update(np.zeros(10))
    assert bound.low < -0.1 and bound.high > 0.1
    unbounded = ConfidenceSequence(alpha=0.05, planned_n=100, value_range=None)
    assert math.isinf(unbounded.update(np.zeros(10)).low)


def test_non_inferiority_with_ten_looks_keeps_the_false_pass_rate():
    """True drop equals the margin; a PASS at any of 10 looks is a false PASS. The naive
    fixed-n t bound, looked at the same way, is shown to fail, so the test can tell."""
    rng = np.random.default_rng(20261201)
    margin_, n_total, sims, alpha = 0.05, 600, 400, 0.05
    cs_pass = naive_pass = 0
    for _ in range(sims):
        d = _paired_binary(rng, n_total, 0.7, margin_)
        cs = ConfidenceSequence(alpha=alpha, planned_n=n_total, value_range=2.0)
        passed_cs = passed_naive = False
        for n in _looks(n_total, 10):
            bound = cs.update(d[:n])
            passed_cs |= bound.low > -margin_
            se = d[:n].std(ddof=1) / math.sqrt(n)
            passed_naive |= d[:n].mean() - stats.t.ppf(1 - alpha, n - 1) * se > -margin_
        cs_pass += passed_cs
        naive_pass += passed_naive
    assert cs_pass / sims <= 0.05
    assert naive_pass / sims > cs_pass / sims


def test_a_a_with_ten_looks_rarely_claims_a_difference():
    rng = np.random.default_rng(7)
    sims, n_total, hits = 400, 500, 0
    for _ in range(sims):
        d = _paired_binary(rng, n_total, 0.6, 0.0)
        cs = ConfidenceSequence(alpha=0.05, planned_n=n_total, value_range=2.0)
        bounds = [cs.update(d[:n]) for n in _looks(n_total, 10)]
        hits += any(b.low > 0 or b.high < 0 for b in bounds)
    assert hits / sims <= 0.05


def test_a_real_gain_is_found_before_the_end():
    rng = np.random.default_rng(3)
    d = -_paired_binary(rng, 2000, 0.5, 0.15)  # the fine-tune is 15 points better
    cs = ConfidenceSequence(alpha=0.05, planned_n=2000, value_range=2.0)
    stopped = next(n for n in _looks(2000, 10) if cs.update(d[:n]).low > 0)
    assert stopped < 2000
