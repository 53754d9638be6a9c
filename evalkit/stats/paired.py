"""Paired mean difference between a base model (``a``) and its fine-tune (``b``).

The difference is always ``b - a``: positive means the fine-tune scores higher.
Both estimators use the t distribution: with ``n - 1`` degrees of freedom for
independent items, with ``G - 1`` for cluster-robust standard errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evalkit.stats._validate import check_alpha, group_codes, paired_vectors


@dataclass(frozen=True)
class PairedDiff:
    """Mean of ``b - a`` with its standard error, two-sided CI and two-sided p-value."""

    delta: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    p_value: float


def _t_summary(delta: float, se: float, df: int, n: int, alpha: float) -> PairedDiff:
    """Build a PairedDiff from an estimate, its SE and the t degrees of freedom."""
    from scipy import stats

    if df < 1 or not math.isfinite(se):
        return PairedDiff(delta, math.nan, math.nan, math.nan, n, math.nan)
    if se == 0.0:
        # Every difference identical: no sampling noise is visible. The t statistic is
        # 0/0 (p = 1) when they are all zero, and +-inf (p = 0) otherwise.
        p = 1.0 if delta == 0.0 else 0.0
        return PairedDiff(delta, 0.0, delta, delta, n, p)
    t_crit = float(stats.t.ppf(1.0 - alpha / 2.0, df))
    p = float(2.0 * stats.t.sf(abs(delta) / se, df))
    return PairedDiff(delta, se, delta - t_crit * se, delta + t_crit * se, n, min(p, 1.0))


def paired_difference(a, b, *, alpha: float = 0.05) -> PairedDiff:
    """Paired t analysis of ``d = b - a``.

    ``se = sd(d, ddof=1) / sqrt(n)``; the CI and the two-sided p-value use the t
    distribution with ``n - 1`` df. With ``n < 2`` the SE, CI and p are NaN
    (``delta`` is NaN too when ``n == 0``).
    """
    check_alpha(alpha)
    a_arr, b_arr = paired_vectors(a, b)
    d = b_arr - a_arr
    n = int(d.size)
    if n == 0:
        return PairedDiff(math.nan, math.nan, math.nan, math.nan, 0, math.nan)
    delta = float(d.mean())
    if n < 2:
        return PairedDiff(delta, math.nan, math.nan, math.nan, n, math.nan)
    se = float(d.std(ddof=1) / math.sqrt(n))
    return _t_summary(delta, se, n - 1, n, alpha)


def clustered_difference(a, b, groups, *, alpha: float = 0.05) -> PairedDiff:
    """Mean of ``d = b - a`` with a cluster-robust (CR1) standard error.

    Items sharing a ``groups`` label (e.g. several questions about one passage) are
    not independent. With residuals ``e = d - mean(d)`` and per-cluster sums ``S_g``:

        se^2 = G / (G - 1) * sum_g S_g^2 / n^2,   t with G - 1 df.

    Convention: the only small-sample factor is ``G / (G - 1)`` (no ``(n-1)/(n-k)``
    term, which is 1 here because the model has a single parameter). With every
    item in its own group this is exactly ``sd(d, ddof=1)^2 / n``, so the result
    equals :func:`paired_difference` (same SE, same df). ``G < 2`` gives NaN SE/p.
    """
    check_alpha(alpha)
    a_arr, b_arr = paired_vectors(a, b)
    d = b_arr - a_arr
    n = int(d.size)
    codes, n_groups = group_codes(groups, n)
    if n == 0:
        return PairedDiff(math.nan, math.nan, math.nan, math.nan, 0, math.nan)
    delta = float(d.mean())
    if n_groups < 2:
        return PairedDiff(delta, math.nan, math.nan, math.nan, n, math.nan)
    cluster_sums = np.bincount(codes, weights=d - delta, minlength=n_groups)
    variance = n_groups / (n_groups - 1) * float(np.sum(cluster_sums**2)) / n**2
    return _t_summary(delta, math.sqrt(variance), n_groups - 1, n, alpha)
