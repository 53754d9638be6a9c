"""Paired bootstrap and paired approximate-randomisation tests on sufficient statistics.

Corpus metrics (BLEU, bits per byte, accuracy) are functions of SUMMED per-item
statistics, so one resample is just ``counts @ stats``: a (B, n) matrix of how
often each item is drawn times the (n, k) statistics. Both models are always
evaluated on the same resample, which is what makes the test paired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from evalkit.stats._validate import check_alpha, group_codes

FromStats = Callable[[np.ndarray], np.ndarray]

# Budget for one chunk of the (chunk, n) count/mask matrices, in bytes. Two such
# matrices (integer counts and their float copy for BLAS) live at once.
_CHUNK_BYTES = 50_000_000
# Resampled statistics that equal the observed one up to rounding must count as
# "at least as extreme"; otherwise float noise in discrete metrics makes p too small.
_TIE_RTOL = 1e-9


@dataclass(frozen=True)
class BootstrapResult:
    """Observed ``delta = metric(b) - metric(a)`` with percentile CI and bootstrap p."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n_resamples: int
    n: int
    se: float


def _chunk_rows(n: int) -> int:
    """Rows per chunk so that a (rows, n) int64 + float64 pair stays within budget."""
    return max(1, _CHUNK_BYTES // (16 * max(n, 1)))


def _row_bincount(idx: np.ndarray, size: int) -> np.ndarray:
    """Per-row histogram of integer draws ``idx`` (rows, m) over ``0..size-1``."""
    rows = idx.shape[0]
    # Offsetting each row into its own block lets one flat bincount do every row.
    flat = (idx + size * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * size).reshape(rows, size)


def resample_counts(n: int, n_resamples: int, rng: np.random.Generator, groups=None) -> np.ndarray:
    """Return a (n_resamples, n) int64 matrix of how many times each item is drawn.

    Without ``groups`` each row is a bootstrap sample of ``n`` items with replacement
    (rows sum to ``n``). With ``groups`` (one label per item) whole clusters are
    resampled: ``G`` clusters are drawn with replacement and every item of a drawn
    cluster gets that cluster's count, so items of one cluster always share a count.
    The draws consume ``rng.integers(0, m, size=(n_resamples, m))``, which is the
    same stream as ``rng.choice(m, size=(n_resamples, m))``.
    """
    if n < 0 or n_resamples < 0:
        raise ValueError("n and n_resamples must be non-negative")
    if groups is None:
        if n == 0:
            return np.zeros((n_resamples, 0), dtype=np.int64)
        return _row_bincount(rng.integers(0, n, size=(n_resamples, n)), n).astype(np.int64, copy=False)
    codes, n_groups = group_codes(groups, n)
    if n_groups == 0:
        return np.zeros((n_resamples, 0), dtype=np.int64)
    cluster_counts = _row_bincount(rng.integers(0, n_groups, size=(n_resamples, n_groups)), n_groups)
    return cluster_counts[:, codes].astype(np.int64, copy=False)


def _prepare_stats(stats_a, stats_b) -> tuple[np.ndarray, np.ndarray]:
    """Validate the per-item statistics: same shape, (n,) or (n, k), float64."""
    sa = np.asarray(stats_a, dtype=np.float64)
    sb = np.asarray(stats_b, dtype=np.float64)
    if sa.shape != sb.shape:
        raise ValueError(f"stats_a and stats_b must have the same shape, got {sa.shape} and {sb.shape}")
    if sa.ndim not in (1, 2) or sa.shape[0] == 0:
        raise ValueError(f"stats must have shape (n,) or (n, k) with n >= 1, got {sa.shape}")
    return sa, sb


def _metric(from_stats: FromStats, summed: np.ndarray) -> np.ndarray:
    """Apply ``from_stats`` and return a float64 array (scalar for a single sum)."""
    return np.asarray(from_stats(summed), dtype=np.float64)


def _observed_delta(sa: np.ndarray, sb: np.ndarray, from_stats: FromStats) -> float:
    """metric(sum of b) - metric(sum of a) on the full data."""
    return float(_metric(from_stats, sb.sum(axis=0)) - _metric(from_stats, sa.sum(axis=0)))


def bootstrap_deltas(
    stats_a, stats_b, from_stats: FromStats, *, n_resamples: int = 10_000,
    rng: np.random.Generator, groups=None,
) -> np.ndarray:
    """Return the (n_resamples,) resampled deltas ``metric(b*) - metric(a*)``.

    Each resample uses the same counts for both models. Resamples are processed in
    chunks so the (chunk, n) count matrix stays near 50 MB whatever ``n`` is.
    """
    sa, sb = _prepare_stats(stats_a, stats_b)
    n = sa.shape[0]
    out = np.empty(n_resamples, dtype=np.float64)
    step = _chunk_rows(n)
    for start in range(0, n_resamples, step):
        rows = min(step, n_resamples - start)
        counts = resample_counts(n, rows, rng, groups).astype(np.float64)
        out[start:start + rows] = _metric(from_stats, counts @ sb) - _metric(from_stats, counts @ sa)
    return out


def paired_bootstrap(
    stats_a, stats_b, from_stats: FromStats, *, n_resamples: int = 10_000,
    rng: np.random.Generator, alpha: float = 0.05, groups=None,
) -> BootstrapResult:
    """Paired bootstrap of ``delta = from_stats(sum b) - from_stats(sum a)``.

    ``stats_a``/``stats_b`` are per-item sufficient statistics, shape (n,) or (n, k);
    ``from_stats`` maps summed statistics (..., k) (or (...,)) to metric values and
    must be vectorised over the leading axes. CI: percentile interval of the
    resampled deltas. p-value (two-sided, H0: delta = 0): the resampled deltas are
    shifted to mean 0 to mimic the null, and
    ``p = (1 + #{|delta*_b - mean(delta*)| >= |delta|}) / (1 + B)``.
    ``se`` is the standard deviation (ddof=1) of the resampled deltas. ``groups``
    resamples whole clusters (see :func:`resample_counts`).
    """
    check_alpha(alpha)
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    sa, sb = _prepare_stats(stats_a, stats_b)
    delta = _observed_delta(sa, sb, from_stats)
    deltas = bootstrap_deltas(sa, sb, from_stats, n_resamples=n_resamples, rng=rng, groups=groups)
    ci_low, ci_high = np.quantile(deltas, [alpha / 2.0, 1.0 - alpha / 2.0])
    centred = np.abs(deltas - deltas.mean())
    extreme = int(np.count_nonzero(centred >= abs(delta) * (1.0 - _TIE_RTOL)))
    se = float(deltas.std(ddof=1)) if n_resamples > 1 else math.nan
    return BootstrapResult(
        delta=delta, ci_low=float(ci_low), ci_high=float(ci_high),
        p_value=(1.0 + extreme) / (1.0 + n_resamples), n_resamples=n_resamples,
        n=int(sa.shape[0]), se=se,
    )


def paired_permutation_test(
    stats_a, stats_b, from_stats: FromStats, *, n_resamples: int = 10_000,
    rng: np.random.Generator,
) -> float:
    """Two-sided paired approximate-randomisation p-value for H0: the systems are exchangeable.

    In each of ``B`` trials every item's two statistics are swapped with probability
    1/2 (a sign flip of the difference for a mean metric) and the delta recomputed:
    ``p = (1 + #{|delta_perm| >= |delta_obs|}) / (1 + B)``.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    sa, sb = _prepare_stats(stats_a, stats_b)
    n = sa.shape[0]
    threshold = abs(_observed_delta(sa, sb, from_stats)) * (1.0 - _TIE_RTOL)
    sum_a, sum_b, diff = sa.sum(axis=0), sb.sum(axis=0), sb - sa
    extreme = 0
    step = _chunk_rows(n)
    for start in range(0, n_resamples, step):
        rows = min(step, n_resamples - start)
        # Swapping item i moves diff_i from b's total to a's total.
        moved = rng.integers(0, 2, size=(rows, n)).astype(np.float64) @ diff
        perm = _metric(from_stats, sum_b - moved) - _metric(from_stats, sum_a + moved)
        extreme += int(np.count_nonzero(np.abs(perm) >= threshold))
    return (1.0 + extreme) / (1.0 + n_resamples)
