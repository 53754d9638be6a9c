"""Normal-approximation power calculations for a paired mean difference.

These use z quantiles, so for small ``n`` (say < 30) they are slightly optimistic
compared with the paired t-test actually run; treat them as planning numbers.
"""

from __future__ import annotations

import math

from evalkit.stats._validate import check_power_args

# n_needed(sd, minimum_detectable_effect(sd, n)) would otherwise become n + 1 when
# float rounding lands the exact integer a hair above n.
_CEIL_SLACK = 1e-9


def _z_total(alpha: float, power: float, sided: int) -> float:
    """z_{1 - alpha/sided} + z_{power}."""
    from scipy import stats

    check_power_args(alpha, power, sided)
    return float(stats.norm.ppf(1.0 - alpha / sided) + stats.norm.ppf(power))


def minimum_detectable_effect(
    sd_diff: float, n: int, *, alpha: float = 0.05, power: float = 0.80, sided: int = 2,
) -> float:
    """Smallest true mean difference detectable with the given power.

    ``(z_{1-alpha/sided} + z_{power}) * sd_diff / sqrt(n)``, where ``sd_diff`` is the
    standard deviation of the per-item differences ``b - a``. ``n <= 0`` gives inf.
    """
    z = _z_total(alpha, power, sided)
    if sd_diff < 0:
        raise ValueError(f"sd_diff must be >= 0, got {sd_diff}")
    if n <= 0:
        return math.inf
    return z * sd_diff / math.sqrt(n)


def n_needed(
    sd_diff: float, effect: float, *, alpha: float = 0.05, power: float = 0.80, sided: int = 2,
) -> int | float:
    """Number of paired items needed to detect a true mean difference ``effect``.

    ``ceil(((z_{1-alpha/sided} + z_{power}) * sd_diff / effect) ** 2)``, at least 1.
    Edge cases: ``effect <= 0`` returns ``math.inf`` (no sample size detects a
    non-positive effect in the tested direction; pass the magnitude); ``sd_diff == 0``
    with ``effect > 0`` returns 1 (a noiseless difference is seen on one item).
    """
    z = _z_total(alpha, power, sided)
    if sd_diff < 0:
        raise ValueError(f"sd_diff must be >= 0, got {sd_diff}")
    if effect <= 0:
        return math.inf
    if sd_diff == 0:
        return 1
    exact = (z * sd_diff / effect) ** 2
    return max(1, math.ceil(exact * (1.0 - _CEIL_SLACK)))
