"""Quick seeded A/A simulations: with no true difference, how often does each estimator
call one? (The full table lives in benchmarks/calibration.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.metrics.classification import Accuracy
from evalkit.metrics.perplexity import BitsPerByte
from evalkit.stats import paired_estimate

REPS = 2000
N = 30


def _alarm_rate(draw, from_stats, rng, binary=False, groups=None):
    alarms = 0
    for _ in range(REPS):
        sa, sb = draw(rng)
        est = paired_estimate(sa, sb, from_stats, binary=binary, groups=groups,
                              value_range=(0.0, 1.0) if binary else None)
        alarms += est.p_two_sided() < 0.05
    return alarms / REPS


def test_paired_t_aa_false_alarms():
    def draw(rng):
        item = rng.beta(2, 2, N)  # item difficulty shared by both models
        a = np.clip(item + rng.normal(0, 0.2, N), 0, 1)
        b = np.clip(item + rng.normal(0, 0.2, N), 0, 1)
        return np.c_[a, np.ones(N)], np.c_[b, np.ones(N)]

    rate = _alarm_rate(draw, Accuracy().from_stats, np.random.default_rng(100))
    assert 0.02 <= rate <= 0.06, rate


def test_delta_method_aa_false_alarms():
    def draw(rng):
        n_bytes = rng.integers(20, 2000, N).astype(float)  # very unequal item sizes
        hard = rng.gamma(4, 0.25, N)
        nll = lambda: n_bytes * hard * rng.gamma(10, 0.1, N)  # noqa: E731
        return np.c_[nll(), n_bytes], np.c_[nll(), n_bytes]

    rate = _alarm_rate(draw, BitsPerByte().from_stats, np.random.default_rng(101))
    assert 0.02 <= rate <= 0.065, rate


def test_tango_mcnemar_aa_false_alarms():
    def draw(rng):
        p = rng.beta(2, 2, N)
        return (rng.random(N) < p).astype(float), (rng.random(N) < p).astype(float)

    rate = _alarm_rate(draw, None, np.random.default_rng(102), binary=True)
    assert rate <= 0.06, rate


def test_cr1_aa_false_alarms_with_20_clusters():
    groups = np.repeat(np.arange(20), 10)

    def draw(rng):
        shared = rng.normal(0, 0.3, 20)[groups]
        a = shared + rng.normal(0, 0.3, 200) + rng.normal(0, 0.2, 20)[groups]
        b = shared + rng.normal(0, 0.3, 200) + rng.normal(0, 0.2, 20)[groups]
        return a, b

    rate = _alarm_rate(draw, None, np.random.default_rng(103), groups=groups)
    assert rate <= 0.065, rate
