"""Confidence intervals for a binomial proportion ``k / n``."""

from __future__ import annotations

import math

from evalkit.stats._validate import check_alpha


def _check_counts(k: int, n: int) -> None:
    """Raise ValueError unless 0 <= k <= n."""
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")


def wilson_interval(k: int, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials.

    Preferred over the Wald interval because it stays inside [0, 1] and keeps close
    to nominal coverage near 0 and 1. ``n == 0`` returns the uninformative (0, 1).
    """
    # ndtri is the normal quantile scipy.stats.norm.ppf calls; importing scipy.stats for it
    # would cost a second of a fresh `evalkit review results`.
    from scipy.special import ndtri

    check_alpha(alpha)
    _check_counts(k, n)
    if n == 0:
        return (0.0, 1.0)
    z = float(ndtri(1.0 - alpha / 2.0))
    p_hat = k / n
    denom = 1.0 + z * z / n
    centre = (p_hat + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p_hat * (1.0 - p_hat) / n + z * z / (4.0 * n * n)) / denom
    # At k = 0 (k = n) the lower (upper) end is exactly 0 (1); pin it so rounding
    # neither leaves it a hair inside nor pushes any endpoint outside [0, 1].
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return (low, high)


def exact_interval(k: int, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Clopper-Pearson ("exact") interval from beta quantiles; conservative coverage.

    The lower end is 0 when ``k == 0`` and the upper end is 1 when ``k == n``.
    ``n == 0`` returns the uninformative (0, 1).
    """
    from scipy import stats

    check_alpha(alpha)
    _check_counts(k, n)
    if n == 0:
        return (0.0, 1.0)
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2.0, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1.0 - alpha / 2.0, k + 1, n - k))
    return (low, high)
