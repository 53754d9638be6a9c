"""Non-inferiority: is the fine-tune no worse than the base by more than a margin?

H0: mean(b - a) <= -margin (the fine-tune is worse by at least ``margin``).
H1: mean(b - a) > -margin. Rejecting H0 at level alpha is the same as the
one-sided (1 - alpha) lower confidence bound lying above ``-margin``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evalkit.stats._validate import check_alpha, paired_vectors


@dataclass(frozen=True)
class NonInferiority:
    """Margin, one-sided lower bound of ``mean(b - a)``, verdict and one-sided p."""

    margin: float
    lower_bound: float
    holds: bool
    p_value: float


def _check_margin(margin: float) -> None:
    """The margin is an allowed LOSS, so it must be a non-negative finite number."""
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin}")


def non_inferiority(a, b, margin: float, *, alpha: float = 0.05) -> NonInferiority:
    """Paired-t non-inferiority test of fine-tune ``b`` against base ``a``.

    ``lower_bound = mean(d) - t_{1-alpha, n-1} * sd(d, ddof=1) / sqrt(n)`` with
    ``d = b - a``; ``holds`` iff ``lower_bound > -margin``; ``p_value`` is the
    one-sided t-test p of H0, ``P(T >= (mean(d) + margin) / se)``. With ``n < 2``
    the bound and p are NaN and ``holds`` is False. If every difference is
    identical (se 0) the bound is that difference and p is 0 or 1.
    """
    from scipy import stats

    check_alpha(alpha)
    _check_margin(margin)
    a_arr, b_arr = paired_vectors(a, b)
    d = b_arr - a_arr
    n = int(d.size)
    if n < 2:
        return NonInferiority(margin, math.nan, False, math.nan)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n))
    if se == 0.0:
        holds = mean > -margin
        return NonInferiority(margin, mean, holds, 0.0 if holds else 1.0)
    lower = mean - float(stats.t.ppf(1.0 - alpha, n - 1)) * se
    p = float(stats.t.sf((mean + margin) / se, n - 1))
    return NonInferiority(margin, lower, bool(lower > -margin), p)


def non_inferiority_from_bootstrap(
    deltas_resampled, delta: float, margin: float, alpha: float = 0.05,
) -> NonInferiority:
    """Non-inferiority from resampled deltas (e.g. :func:`bootstrap_deltas`).

    ``lower_bound`` is the ``alpha`` quantile of the resampled deltas (one-sided
    percentile bound); ``holds`` iff it exceeds ``-margin``. ``p_value`` is the
    matching percentile p, ``(1 + #{delta*_b <= -margin}) / (1 + B)``, so that
    ``holds`` and ``p_value < alpha`` agree up to the +1 and quantile interpolation.
    ``delta`` (the observed difference) is only checked to be finite: the percentile
    method reads everything from the resampled distribution.
    """
    check_alpha(alpha)
    _check_margin(margin)
    deltas = np.asarray(deltas_resampled, dtype=np.float64).reshape(-1)
    if deltas.size == 0 or not math.isfinite(delta):
        raise ValueError("need at least one resampled delta and a finite observed delta")
    lower = float(np.quantile(deltas, alpha))
    below = int(np.count_nonzero(deltas <= -margin))
    return NonInferiority(margin, lower, bool(lower > -margin), (1.0 + below) / (1.0 + deltas.size))
