"""A metric's change read as a *gain* (positive = the fine-tune is better), whatever the
metric's direction, and the suite-level estimate built from bootstrap draws.

``Oriented`` wraps an estimate in raw metric units (``evalkit.stats`` estimates, or
:class:`DrawsEstimate`) and flips bounds and one-sided tests for lower-is-better metrics, so
that the gates' decision rules are written once, for gains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def gain_sign(higher_is_better: bool) -> float:
    """+1 or -1: multiplying by it turns a metric into a gain (the one place direction is read)."""
    return 1.0 if higher_is_better else -1.0


@dataclass(frozen=True)
class Oriented:
    """An estimate (paired: of ft - base; one-sample: of ft's score) read in gain units."""

    est: object
    sign: float

    @property
    def value(self) -> float:
        return self.sign * float(getattr(self.est, "delta", getattr(self.est, "value", math.nan)))

    def lower(self, alpha: float) -> float:
        """One-sided (1 - alpha) lower bound of the gain."""
        return self.est.lower_bound(alpha) if self.sign > 0 else -self.est.upper_bound(alpha)

    def upper(self, alpha: float) -> float:
        return self.est.upper_bound(alpha) if self.sign > 0 else -self.est.lower_bound(alpha)

    def ci(self, alpha: float) -> tuple[float, float]:
        lo, hi = self.est.ci(alpha)
        return (lo, hi) if self.sign > 0 else (-hi, -lo)

    def p_above(self, g0: float) -> float:
        """One-sided p of H0 "gain <= g0" (small: the gain is shown to exceed g0)."""
        return self.est.p_greater(g0) if self.sign > 0 else self.est.p_less(-g0)

    def p_below(self, g0: float) -> float:
        """One-sided p of H0 "gain >= g0" (small: the gain is shown to fall short of g0)."""
        return self.est.p_less(g0) if self.sign > 0 else self.est.p_greater(-g0)


@dataclass(frozen=True)
class DrawsEstimate:
    """Percentile-bootstrap estimate of a suite's mean change, from resampled deltas (raw
    units). The statistics library has no closed form for a mean of several tasks' changes
    (each on its own items, Tango's interval for some), so suites keep the bootstrap."""

    delta: float
    draws: np.ndarray
    n: int
    method: str = "percentile-bootstrap"
    n_clusters: int | None = None

    @property
    def usable(self) -> bool:
        return self.reason is None

    @property
    def reason(self) -> str | None:
        if not (math.isfinite(self.delta) and np.all(np.isfinite(self.draws))):
            return "not finite on these items"
        if np.ptp(self.draws) == 0:
            return "no spread observed in the resamples"
        return None

    def ci(self, alpha: float) -> tuple[float, float]:
        lo, hi = np.quantile(self.draws, [alpha / 2, 1 - alpha / 2])
        return float(lo), float(hi)

    def lower_bound(self, alpha: float) -> float:
        return float(np.quantile(self.draws, alpha))

    def upper_bound(self, alpha: float) -> float:
        return float(np.quantile(self.draws, 1 - alpha))

    # Ties count as extreme, so a statistic that often resamples to exactly d0 errs on the safe side.
    def p_greater(self, d0: float) -> float:
        return (1.0 + int(np.count_nonzero(self.draws <= d0))) / (1.0 + self.draws.size)

    def p_less(self, d0: float) -> float:
        return (1.0 + int(np.count_nonzero(self.draws >= d0))) / (1.0 + self.draws.size)

    def _sd(self) -> float:
        return float(np.std(self.draws, ddof=1)) * math.sqrt(self.n)

    def mde(self, alpha: float, power: float = 0.8, sided: int = 2) -> float:
        from evalkit.stats import minimum_detectable_effect

        return minimum_detectable_effect(self._sd(), self.n, alpha=alpha, power=power, sided=sided)

    def n_needed(self, effect: float, alpha: float, power: float = 0.8, sided: int = 1) -> float:
        from evalkit.stats import n_needed

        return n_needed(self._sd(), effect, alpha=alpha, power=power, sided=sided)
