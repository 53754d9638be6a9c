"""Paired approximate-randomisation test: exact enumeration, null calibration, power."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from evalkit.stats import paired_permutation_test


def _ratio(s: np.ndarray) -> np.ndarray:
    return s[..., 0] / s[..., 1]


def _exact_swap_p(stats_a: np.ndarray, stats_b: np.ndarray, from_stats) -> float:
    """Enumerate all 2^n swap patterns (brute force, no vectorisation)."""
    observed = abs(from_stats(stats_b.sum(0)) - from_stats(stats_a.sum(0)))
    hits = total = 0
    for pattern in itertools.product([False, True], repeat=len(stats_a)):
        swap = np.array(pattern)
        new_a = np.where(swap[:, None] if stats_a.ndim == 2 else swap, stats_b, stats_a)
        new_b = np.where(swap[:, None] if stats_a.ndim == 2 else swap, stats_a, stats_b)
        diff = abs(from_stats(new_b.sum(0)) - from_stats(new_a.sum(0)))
        hits += diff >= observed - 1e-12
        total += 1
    return hits / total


def _mc_tolerance(p: float, b: int) -> float:
    return 4 * math.sqrt(p * (1 - p) / b) + 2 / b


def test_sign_flip_matches_exact_enumeration():
    d_rng = np.random.default_rng(11)
    a = d_rng.normal(size=12)
    b = a + 0.45 + d_rng.normal(size=12)
    exact = _exact_swap_p(a, b, lambda s: s / 12)
    assert 0.01 < exact < 0.3  # informative region
    p = paired_permutation_test(a, b, lambda s: s / 12, n_resamples=20_000,
                                rng=np.random.default_rng(0))
    assert p == pytest.approx(exact, abs=_mc_tolerance(exact, 20_000))


def test_ratio_metric_swaps_whole_rows():
    rng = np.random.default_rng(5)
    length = rng.integers(50, 500, size=10).astype(float)
    stats_a = np.column_stack([length * rng.uniform(0.6, 0.9, size=10), length])
    stats_b = np.column_stack([length * rng.uniform(0.5, 0.85, size=10), length])
    exact = _exact_swap_p(stats_a, stats_b, _ratio)
    p = paired_permutation_test(stats_a, stats_b, _ratio, n_resamples=20_000,
                                rng=np.random.default_rng(1))
    assert p == pytest.approx(exact, abs=_mc_tolerance(exact, 20_000))


def test_null_p_values_are_roughly_uniform():
    rng = np.random.default_rng(2024)
    p_values = []
    for _ in range(200):
        a, b = rng.normal(size=40), rng.normal(size=40)  # exchangeable by construction
        p_values.append(paired_permutation_test(a, b, lambda s: s / 40, n_resamples=200, rng=rng))
    p_values = np.array(p_values)
    assert 0.01 <= np.mean(p_values < 0.05) <= 0.10
    assert 0.4 <= np.mean(p_values) <= 0.6


def test_strong_effect_is_detected():
    rng = np.random.default_rng(3)
    a = rng.normal(size=40)
    stats_a = np.column_stack([a, np.ones(40)])
    stats_b = np.column_stack([a + 1.0 + rng.normal(0, 0.5, size=40), np.ones(40)])
    assert paired_permutation_test(stats_a, stats_b, _ratio, n_resamples=1000, rng=rng) < 0.01


def test_identical_systems_give_p_one():
    a = np.random.default_rng(4).normal(size=30)
    assert paired_permutation_test(a, a, lambda s: s, n_resamples=100,
                                   rng=np.random.default_rng(0)) == 1.0
