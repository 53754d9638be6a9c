"""Tests for the paired bootstrap: mean metric vs the t analysis, ratios, clusters, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.stats import bootstrap_deltas, paired_bootstrap, paired_difference, resample_counts
from evalkit.stats import bootstrap as bootstrap_module


def _mean_metric(s: np.ndarray) -> np.ndarray:
    return s[..., 0] / s[..., 1]


def _bits_per_byte(s: np.ndarray) -> np.ndarray:
    return s[..., 0] / s[..., 1] / math.log(2)


def _mean_stats(scores: np.ndarray) -> np.ndarray:
    return np.column_stack([scores, np.ones_like(scores)])


def _scores(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.5, 0.2, size=n)
    return a, a + 0.02 + rng.normal(0, 0.1, size=n)


def test_bits_per_byte_is_a_ratio_of_sums():
    nats_a = np.array([100.0, 300.0, 600.0])  # 1000 nats
    bytes_a = np.array([500.0, 500.0, 1000.0])  # 2000 bytes
    nats_b = np.array([90.0, 270.0, 540.0])  # 900 nats
    sa, sb = np.column_stack([nats_a, bytes_a]), np.column_stack([nats_b, bytes_a])
    assert round(float(_bits_per_byte(sa.sum(axis=0))), 4) == 0.7213
    res = paired_bootstrap(sa, sb, _bits_per_byte, n_resamples=200, rng=np.random.default_rng(0))
    assert res.delta == pytest.approx((900 - 1000) / 2000 / math.log(2), rel=1e-12)
    # The mean of per-item ratios would be a different (wrong) number here.
    assert float(np.mean(nats_a / bytes_a) / math.log(2)) != pytest.approx(0.7213, abs=1e-3)


def test_mean_metric_ci_matches_t_interval():
    a, b = _scores()
    res = paired_bootstrap(_mean_stats(a), _mean_stats(b), _mean_metric,
                           n_resamples=4000, rng=np.random.default_rng(42))
    t = paired_difference(a, b)
    assert res.delta == pytest.approx(t.delta, rel=1e-12)
    # Monte-Carlo error of a 2.5 % quantile with B = 4000 is about 0.04 SE; the
    # bootstrap also differs from the t interval by O(1/n). 0.2 SE covers both.
    assert res.ci_low == pytest.approx(t.delta - 1.96 * t.se, abs=0.2 * t.se)
    assert res.ci_high == pytest.approx(t.delta + 1.96 * t.se, abs=0.2 * t.se)
    assert res.se == pytest.approx(t.se, rel=0.06)
    assert res.n == 300 and res.n_resamples == 4000
    assert 0.0 < res.p_value < 0.05 and t.p_value < 0.05


def test_no_difference_gives_p_one():
    a, _ = _scores()
    res = paired_bootstrap(_mean_stats(a), _mean_stats(a), _mean_metric,
                           n_resamples=100, rng=np.random.default_rng(0))
    assert res.delta == 0.0 and res.p_value == 1.0


def test_reproducible_with_seed_and_different_with_another():
    a, b = _scores()
    sa, sb = _mean_stats(a), _mean_stats(b)
    run = lambda seed: paired_bootstrap(sa, sb, _mean_metric, n_resamples=500,  # noqa: E731
                                        rng=np.random.default_rng(seed))
    assert run(7) == run(7)
    assert run(7).ci_low != run(8).ci_low


def test_one_dimensional_stats():
    a, b = _scores(n=100)
    res = paired_bootstrap(a, b, lambda s: s / 100, n_resamples=300, rng=np.random.default_rng(0))
    assert res.delta == pytest.approx(float(np.mean(b - a)), rel=1e-12)


def test_chunking_does_not_change_the_result(monkeypatch):
    a, b = _scores(n=200)
    sa, sb = _mean_stats(a), _mean_stats(b)
    whole = bootstrap_deltas(sa, sb, _mean_metric, n_resamples=300, rng=np.random.default_rng(5))
    monkeypatch.setattr(bootstrap_module, "_CHUNK_BYTES", 16 * 200 * 7)  # 7 rows per chunk
    chunked = bootstrap_deltas(sa, sb, _mean_metric, n_resamples=300, rng=np.random.default_rng(5))
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)


def test_resample_counts_iid():
    counts = resample_counts(50, 400, np.random.default_rng(0))
    assert counts.shape == (400, 50) and counts.dtype == np.int64
    assert np.all(counts.sum(axis=1) == 50)
    assert counts.mean() == pytest.approx(1.0, abs=0.05)


def test_resample_counts_keep_clusters_whole():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 7, size=20)
    labels = np.repeat([f"doc{i}" for i in range(20)], sizes)
    labels = labels[rng.permutation(labels.size)]  # clusters need not be contiguous
    counts = resample_counts(labels.size, 300, np.random.default_rng(1), groups=labels)
    assert counts.shape == (300, labels.size)
    cluster_totals = np.zeros(300, dtype=np.int64)
    for label in np.unique(labels):
        block = counts[:, labels == label]
        assert np.all(block == block[:, :1])  # every item of a cluster shares the count
        cluster_totals += block[:, 0]
    assert np.all(cluster_totals == 20)  # G clusters are drawn per resample
    # Item totals vary with which clusters were drawn, unlike iid resampling.
    assert len(set(counts.sum(axis=1).tolist())) > 1


def test_cluster_bootstrap_se_tracks_cluster_robust_se():
    from evalkit.stats import clustered_difference

    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(40), 5)
    a = rng.normal(size=200)
    b = a + 0.1 + rng.normal(0, 0.4, size=40)[groups] + rng.normal(0, 0.2, size=200)
    res = paired_bootstrap(_mean_stats(a), _mean_stats(b), _mean_metric, n_resamples=3000,
                           rng=np.random.default_rng(4), groups=groups)
    iid = paired_bootstrap(_mean_stats(a), _mean_stats(b), _mean_metric, n_resamples=3000,
                           rng=np.random.default_rng(4))
    cr1 = clustered_difference(a, b, groups)
    # The cluster bootstrap variance lacks CR1's G/(G-1) factor.
    assert res.se == pytest.approx(cr1.se * math.sqrt(39 / 40), rel=0.08)
    assert res.se > 1.5 * iid.se
