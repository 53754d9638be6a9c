"""One entry point per question: how much did the fine-tune change a metric, and how sure are we?

:func:`paired_estimate` picks the estimator from the metric's shape and returns an object
with the interval, one-sided bounds, tests, MDE and n-needed of that one estimator, so that
every verdict and every displayed number come from the same computation:

- binary metric, no groups: Tango's score interval on the four paired cells
  (:mod:`evalkit.stats.paired_binary`);
- groups: CR1 cluster-robust SE of the (linearised) per-item differences, t(G - 1);
- mean metric: paired t, n - 1 df; corpus / ratio metric: delta method, t(n - 1)
  (:mod:`evalkit.stats.linearized`).

No bootstrap here: everything is O(n) after the statistics are summed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

MIN_CLUSTERS = 10


class PairedEstimate(Protocol):
    delta: float
    n: int
    n_clusters: int | None
    method: str
    usable: bool
    reason: str | None

    def ci(self, alpha: float) -> tuple[float, float]: ...
    def lower_bound(self, alpha: float) -> float: ...
    def upper_bound(self, alpha: float) -> float: ...
    def p_greater(self, delta0: float) -> float: ...
    def p_less(self, delta0: float) -> float: ...
    def p_two_sided(self) -> float: ...
    def mde(self, alpha: float, power: float = 0.8, sided: int = 2) -> float: ...
    def n_needed(self, effect: float, alpha: float, power: float = 0.8, sided: int = 1) -> float: ...


@dataclass(frozen=True)
class Unusable:
    """An estimate the data cannot support. Every bound and p-value is NaN (so no comparison
    with it can pass a gate) and MDE / n-needed are infinite; ``reason`` says why."""

    reason: str
    delta: float = math.nan
    n: int = 0
    n_clusters: int | None = None
    method: str = "none"
    usable: bool = False

    @property
    def value(self) -> float:  # one-sample estimates read .value
        return self.delta

    def ci(self, alpha: float) -> tuple[float, float]:
        return (math.nan, math.nan)

    def lower_bound(self, alpha: float) -> float:
        return math.nan

    def upper_bound(self, alpha: float) -> float:
        return math.nan

    def p_greater(self, delta0: float) -> float:
        return math.nan

    def p_less(self, delta0: float) -> float:
        return math.nan

    def p_two_sided(self) -> float:
        return math.nan

    def mde(self, alpha: float, power: float = 0.8, sided: int = 2) -> float:
        return math.inf

    def n_needed(self, effect: float, alpha: float, power: float = 0.8, sided: int = 1) -> float:
        return math.inf


def _as_stats(stats, name: str) -> np.ndarray:
    arr = np.asarray(stats, dtype=float)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} stats must be (n,) or (n, k), got shape {arr.shape}")
    return arr


def _nonfinite(arr: np.ndarray, who: str) -> str | None:
    with np.errstate(all="ignore"):
        if np.isfinite(arr.sum()):  # one pass; only a sum of finite values is finite (or overflowed)
            return None
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = int(bad.reshape(arr.shape[0], -1).any(axis=1).sum()) if arr.size else 0
        return f"non-finite per-item statistic on {rows} {who} item(s)"
    return None


def item_values(stats: np.ndarray, from_stats) -> np.ndarray:
    """Per-item metric values: the stats themselves when 1-D, else from_stats row by row."""
    if stats.ndim == 1:
        return stats
    return np.asarray(from_stats(stats), dtype=float).reshape(stats.shape[0])


def _binary_paired(sa: np.ndarray, sb: np.ndarray, from_stats):
    from evalkit.stats.paired_binary import PairedBinaryEstimate, cells

    return PairedBinaryEstimate(*cells(item_values(sa, from_stats), item_values(sb, from_stats)))


def paired_estimate(stats_a, stats_b, from_stats, *, binary: bool, groups=None,
                    value_range: tuple[float, float] | None = None):
    """The paired estimate of ``metric(ft) - metric(base)``; see the module docstring.

    ``stats_a`` (base) and ``stats_b`` (fine-tune) are per-item sufficient statistics,
    (n,) or (n, k), aligned item by item; ``from_stats`` maps summed statistics to the
    metric value. ``binary`` says per-item scores are 0/1 (ValueError if they are not).
    ``value_range`` bounds the metric (e.g. (0, 1)); it floors the SE when every
    difference is identical. Data that cannot support a decision give :class:`Unusable`.
    """
    sa, sb = _as_stats(stats_a, "base"), _as_stats(stats_b, "fine-tune")
    if sa.shape != sb.shape:
        raise ValueError(f"base and fine-tune stats differ in shape: {sa.shape} vs {sb.shape}")
    if sa.shape[0] == 0:
        return Unusable("no paired items")
    reason = _nonfinite(sa, "base") or _nonfinite(sb, "fine-tune")
    if reason:
        return Unusable(reason, n=sa.shape[0])
    if binary and value_range is None:
        value_range = (0.0, 1.0)
    if binary and groups is None:
        return _binary_paired(sa, sb, from_stats)
    from evalkit.stats.linearized import linearized_paired

    return linearized_paired(sa, sb, from_stats, groups=groups, value_range=value_range,
                             min_clusters=MIN_CLUSTERS)


@dataclass(frozen=True)
class WilsonEstimate:
    """A proportion k / n with Wilson score bounds and the score tests they invert.

    ``lower_bound(alpha) > x0`` exactly when ``p_greater(x0) < alpha``: both come from
    the score statistic ``(k/n - x0) / sqrt(x0 (1 - x0) / n)``.
    """

    k: int
    n: int
    method: str = "wilson"
    n_clusters: int | None = None
    usable: bool = True
    reason: str | None = None

    @property
    def value(self) -> float:
        return self.k / self.n

    def ci(self, alpha: float) -> tuple[float, float]:
        from statsmodels.stats.proportion import proportion_confint

        low, high = proportion_confint(self.k, self.n, alpha=alpha, method="wilson")
        return float(low), float(high)

    def lower_bound(self, alpha: float) -> float:
        return self.ci(2.0 * alpha)[0]

    def upper_bound(self, alpha: float) -> float:
        return self.ci(2.0 * alpha)[1]

    def _z(self, x0: float) -> float:
        if x0 <= 0.0 or x0 >= 1.0:
            # On the boundary the null variance is 0: any k off the boundary refutes it.
            gap = self.value - min(max(x0, 0.0), 1.0)
            return 0.0 if gap == 0.0 else math.copysign(math.inf, gap)
        return (self.value - x0) / math.sqrt(x0 * (1.0 - x0) / self.n)

    def p_greater(self, x0: float) -> float:
        from scipy import stats

        return float(stats.norm.sf(self._z(x0)))

    def p_less(self, x0: float) -> float:
        from scipy import stats

        return float(stats.norm.cdf(self._z(x0)))


def one_sample_estimate(stats, from_stats, *, binary: bool, groups=None,
                        value_range: tuple[float, float] | None = None):
    """The fine-tune's own score with its uncertainty (for min_score gates).

    Binary and ungrouped: Wilson score interval (statsmodels). Otherwise t / delta method /
    CR1 as in :func:`paired_estimate`; the result reads ``.value``.
    """
    s = _as_stats(stats, "fine-tune")
    if s.shape[0] == 0:
        return Unusable("no items")
    reason = _nonfinite(s, "fine-tune")
    if reason:
        return Unusable(reason, n=s.shape[0])
    if binary and value_range is None:
        value_range = (0.0, 1.0)
    if binary and groups is None:
        x = item_values(s, from_stats)
        if not np.all((x == 0.0) | (x == 1.0)):
            raise ValueError("per-item scores must be 0/1 for a binary metric")
        return WilsonEstimate(int(np.count_nonzero(x)), int(x.size))
    from evalkit.stats.linearized import linearized_one_sample

    return linearized_one_sample(s, from_stats, groups=groups, value_range=value_range,
                                 min_clusters=MIN_CLUSTERS)
