"""Exact McNemar test for paired binary outcomes (base vs fine-tune, item by item)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.stats._validate import paired_vectors


@dataclass(frozen=True)
class McNemar:
    """Discordant-pair counts and exact / mid-p two-sided McNemar p-values.

    ``fixed``: items the base got wrong and the fine-tune got right.
    ``broke``: items the base got right and the fine-tune got wrong.
    ``n``: all paired items (concordant ones included).
    """

    fixed: int
    broke: int
    n: int
    p_exact: float
    p_mid: float


def _binary(x: np.ndarray, name: str) -> np.ndarray:
    """Return ``x`` as a boolean array, raising ValueError on values other than 0/1."""
    if not np.all((x == 0) | (x == 1)):
        raise ValueError(f"{name} must contain only 0/1 values")
    return x.astype(bool)


def mcnemar(a, b) -> McNemar:
    """Exact McNemar test of base ``a`` vs fine-tune ``b`` (0/1 per item).

    Under H0 each discordant pair is equally likely to be a fix or a breakage, so
    ``fixed ~ Binomial(fixed + broke, 1/2)``. ``p_exact`` is scipy's two-sided exact
    binomial test. ``p_mid`` is the two-sided mid-p of Fagerland, Lydersen & Laake
    (2013): ``2 * P(X <= k) - P(X = k)`` with ``k = min(fixed, broke)``, capped at 1;
    it equals ``p_exact - P(X = fixed)`` except when ``fixed == broke`` (then it is 1,
    where the capped exact p minus the point mass would not be). With no discordant
    pairs both p-values are 1.
    """
    from scipy import stats

    a_arr, b_arr = paired_vectors(a, b)
    a_ok, b_ok = _binary(a_arr, "a"), _binary(b_arr, "b")
    fixed = int(np.count_nonzero(~a_ok & b_ok))
    broke = int(np.count_nonzero(a_ok & ~b_ok))
    discordant = fixed + broke
    if discordant == 0:
        return McNemar(fixed, broke, int(a_arr.size), 1.0, 1.0)
    p_exact = float(stats.binomtest(fixed, discordant, 0.5).pvalue)
    k = min(fixed, broke)
    mid = 2.0 * stats.binom.cdf(k, discordant, 0.5) - stats.binom.pmf(k, discordant, 0.5)
    return McNemar(fixed, broke, int(a_arr.size), min(p_exact, 1.0), float(min(mid, 1.0)))
