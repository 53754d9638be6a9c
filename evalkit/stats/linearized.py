"""Linearised estimates: paired t for mean metrics, the delta method for corpus / ratio
metrics, CR1 cluster-robust SEs for grouped items; all with t quantiles.

A metric ``f(S)`` of summed statistics ``S = sum_i s_i`` is linearised at the observed
sums: item i's influence value is ``n * grad f(S) . (s_i - S / n)``, so the metric's
sampling variance is that of a mean of influence values. For a mean metric the influence
value is the item's score minus the mean, and everything reduces to the paired t-test.
The gradient is a central difference with a step scaled to each statistic, one vectorised
call of ``from_stats`` (BLEU's and chrF's formulas have no convenient closed-form gradient).

Zero observed spread never gives a zero-width interval: with a known ``value_range`` the
SE is floored at the rule-of-three value ``(hi - lo) * sqrt(3) / n`` (as if up to 3 of the n
items, unseen, could differ by the full range), otherwise the estimate is unusable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evalkit.stats._validate import check_power_args

# cbrt(machine epsilon): balances truncation (h^2) and rounding (eps / h) error of a
# central difference.
_REL_STEP = 6e-6


def _is_mean_metric(stats: np.ndarray, from_stats) -> bool:
    """True for stats ``[score, 1]`` whose metric is the plain mean of the scores."""
    if stats.ndim == 1:
        return True
    if stats.shape[1] != 2 or not np.all(stats[:, 1] == 1.0):
        return False
    probe = np.asarray(from_stats(np.array([[1.0, 2.0], [3.0, 4.0]])), dtype=float)
    return bool(np.allclose(probe, [0.5, 0.75], rtol=1e-12, atol=0.0))


def _gradient(from_stats, summed: np.ndarray, varying: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Central-difference gradient of from_stats at ``summed`` along the varying columns."""
    k = summed.size
    cols = np.flatnonzero(varying)
    grad = np.zeros(k)
    if cols.size == 0:
        return grad
    h = _REL_STEP * np.maximum(np.abs(summed[cols]), scale[cols])
    points = np.repeat(summed[None, :], 2 * cols.size, axis=0)
    rows = np.arange(cols.size)
    points[2 * rows, cols] += h
    points[2 * rows + 1, cols] -= h
    with np.errstate(all="ignore"):
        values = np.asarray(from_stats(points), dtype=float)
    grad[cols] = (values[0::2] - values[1::2]) / (2.0 * h)
    return grad


def influence(stats: np.ndarray, from_stats) -> tuple[float, np.ndarray, bool, str | None]:
    """(metric value, per-item influence values, is_mean_metric, problem or None)."""
    n = stats.shape[0]
    if _is_mean_metric(stats, from_stats):
        x = stats if stats.ndim == 1 else stats[:, 0]
        value = float(x.mean())
        return value, x - value, True, None
    # einsum, not BLAS: a multi-threaded gemv on a shared machine is several times slower
    # than one pass of numpy's own loop over the (n, k) statistics.
    summed = np.einsum("ij->j", stats)
    with np.errstate(all="ignore"):  # a non-finite value is reported below, not warned about
        value = float(np.asarray(from_stats(summed[None, :]), dtype=float)[0])
    if not math.isfinite(value):
        return value, np.zeros(n), False, "the metric is not finite on these items"
    varying = _varying_columns(stats, summed)
    scale = np.zeros_like(summed)
    tiny = varying & (np.abs(summed) < 1e-12)
    if tiny.any():  # a column summing to ~0 still has a natural size for the step
        scale[tiny] = np.abs(stats[:, tiny]).sum(axis=0)
    grad = _gradient(from_stats, summed, varying, scale)
    if not np.all(np.isfinite(grad)):
        return value, np.zeros(n), False, "the metric's gradient is not finite at these items' statistics"
    # n * grad . (s_i - S / n), without materialising the centred (n, k) matrix.
    return value, n * np.einsum("ij,j->i", stats, grad) - float(summed @ grad), False, None


def _varying_columns(stats: np.ndarray, summed: np.ndarray) -> np.ndarray:
    """Columns not equal on every item. Columns that are the same everywhere carry no
    sampling noise, and their derivative is never needed (it may not exist: BLEU at a zero
    n-gram count). Only columns whose sum equals n times the first item's value can be
    constant, so only those few are checked item by item."""
    n = stats.shape[0]
    varying = np.ones(stats.shape[1], dtype=bool)
    for j in np.flatnonzero(np.isclose(summed, n * stats[0], rtol=1e-9, atol=0.0)):
        varying[j] = bool(np.any(stats[:, j] != stats[0, j]))
    return varying


def cr1_se(d: np.ndarray, codes: np.ndarray, n_groups: int) -> float:
    """Cluster-robust (CR1) SE of mean(d): sqrt(G / (G - 1) * sum_g S_g^2) / n, S_g the
    per-cluster sums of d - mean(d); the same formula as evalkit.stats.clustered_difference."""
    n = d.size
    sums = np.bincount(codes, weights=d - d.mean(), minlength=n_groups)
    return math.sqrt(n_groups / (n_groups - 1) * float(sums @ sums)) / n


@dataclass(frozen=True)
class TEstimate:
    """An estimate with a standard error and t quantiles on ``df`` degrees of freedom.

    Used for paired differences (``delta``) and one-sample values (``value``); both names
    read the same number. ``se_floored`` says the zero-spread floor set the SE.
    """

    delta: float
    se: float
    df: int
    n: int
    method: str
    n_clusters: int | None = None
    se_floored: bool = False
    usable: bool = True
    reason: str | None = None
    # The values the estimate can take (a difference of scores in [0, 1] lies in [-1, 1]); a
    # t interval near the edge would otherwise show an impossible +1.017.
    feasible: tuple[float, float] = (-math.inf, math.inf)

    def _clip(self, x: float) -> float:
        return min(max(x, self.feasible[0]), self.feasible[1])

    @property
    def value(self) -> float:
        return self.delta

    # scipy.special's t functions directly: a frozen scipy.stats.t costs about a
    # millisecond to build, which 20 tasks x several bounds would pay again and again.
    def _q(self, p: float) -> float:
        from scipy.special import stdtrit

        return float(stdtrit(self.df, p))

    def _cdf(self, x: float) -> float:
        from scipy.special import stdtr

        return float(stdtr(self.df, x))

    def ci(self, alpha: float) -> tuple[float, float]:
        q = self._q(1.0 - alpha / 2.0)
        return self._clip(self.delta - q * self.se), self._clip(self.delta + q * self.se)

    def lower_bound(self, alpha: float) -> float:
        return self._clip(self.delta - self._q(1.0 - alpha) * self.se)

    def upper_bound(self, alpha: float) -> float:
        return self._clip(self.delta + self._q(1.0 - alpha) * self.se)

    def p_greater(self, delta0: float) -> float:
        return self._cdf(-(self.delta - delta0) / self.se)

    def p_less(self, delta0: float) -> float:
        return self._cdf((self.delta - delta0) / self.se)

    def p_two_sided(self) -> float:
        return min(1.0, 2.0 * self._cdf(-abs(self.delta) / self.se))

    def mde(self, alpha: float, power: float = 0.8, sided: int = 2) -> float:
        """(t_{1-alpha/sided} + t_{power}) * SE on this estimate's df."""
        check_power_args(alpha, power, sided)
        return (self._q(1.0 - alpha / sided) + self._q(power)) * self.se

    def n_needed(self, effect: float, alpha: float, power: float = 0.8, sided: int = 1) -> float:
        """Items needed for power at ``|effect|``, with SE shrinking as 1/sqrt(n) (clusters
        growing in proportion when grouped) and the t df updated; a few fixed-point steps."""
        from scipy.special import stdtrit

        check_power_args(alpha, power, sided)
        e = abs(effect)
        if e == 0.0 or not math.isfinite(e):
            return math.inf
        units = self.n_clusters or self.n
        scale = self.se * math.sqrt(units)  # SE * sqrt(units) is held fixed
        needed = float(units)
        for _ in range(20):
            df = max(needed - 1.0, 1.0)
            q = float(stdtrit(df, 1.0 - alpha / sided) + stdtrit(df, power))
            new = max(2.0, (q * scale / e) ** 2)
            if abs(new - needed) < 1e-9:
                break
            needed = new
        items_per_unit = self.n / units
        return float(math.ceil(needed * items_per_unit - 1e-9))


def t_estimate(delta: float, d: np.ndarray, *, method: str, groups=None, value_range=None,
               min_clusters: int = 10, paired: bool = True):
    """A TEstimate of ``delta`` whose per-item linearised deviations are ``d``.

    Ungrouped: SE = sd(d) / sqrt(n), df = n - 1. Grouped: CR1, df = G - 1, and fewer than
    ``min_clusters`` clusters is unusable (CR1 is badly biased with few clusters).
    """
    from evalkit.stats._validate import group_codes
    from evalkit.stats.estimates import Unusable

    n = d.size
    n_clusters = None
    if groups is not None:
        codes, n_groups = group_codes(groups, n)
        if n_groups < min_clusters:
            return Unusable(f"only {n_groups} clusters; need >= {min_clusters}", delta=delta, n=n,
                            n_clusters=n_groups, method="cr1-t")
        se, df, n_clusters, method = cr1_se(d, codes, n_groups), n_groups - 1, n_groups, "cr1-t"
    else:
        if n < 2:
            return Unusable(f"only {n} item; need >= 2", delta=delta, n=n, method=method)
        se, df = float(d.std(ddof=1)) / math.sqrt(n), n - 1
    if not math.isfinite(se):
        return Unusable("the standard error is not finite", delta=delta, n=n, method=method)
    floored = False
    if value_range is not None:
        lo, hi = value_range
        floor = (hi - lo) * math.sqrt(3.0) / n
        if se < floor:
            se, floored = floor, True
    if se <= 0.0:
        return Unusable("no spread observed (every item's difference is identical) and no value range "
                        "to bound what unseen items could do", delta=delta, n=n, n_clusters=n_clusters,
                        method=method)
    feasible = (-math.inf, math.inf)
    if value_range is not None:
        lo, hi = value_range
        feasible = (lo - hi, hi - lo) if paired else (lo, hi)
    return TEstimate(delta, se, df, n, method, n_clusters, floored, feasible=feasible)


def linearized_paired(sa: np.ndarray, sb: np.ndarray, from_stats, *, groups=None, value_range=None,
                      min_clusters: int = 10):
    """Paired t / delta-method / CR1 estimate of ``f(S_b) - f(S_a)``."""
    from evalkit.stats.estimates import Unusable

    va, ia, mean_a, bad_a = influence(sa, from_stats)
    vb, ib, _, bad_b = influence(sb, from_stats)
    if bad_a or bad_b:
        return Unusable(bad_a and f"base: {bad_a}" or f"fine-tune: {bad_b}", n=sa.shape[0])
    method = "paired-t" if mean_a else "delta-method-t"
    return t_estimate(vb - va, ib - ia, method=method, groups=groups, value_range=value_range,
                      min_clusters=min_clusters)


def linearized_one_sample(s: np.ndarray, from_stats, *, groups=None, value_range=None,
                          min_clusters: int = 10):
    """One-sample t / delta-method / CR1 estimate of ``f(S)``."""
    from evalkit.stats.estimates import Unusable

    value, infl, is_mean, bad = influence(s, from_stats)
    if bad:
        return Unusable(bad, n=s.shape[0])
    method = "t" if is_mean else "delta-method-t"
    return t_estimate(value, infl, method=method, groups=groups, value_range=value_range,
                      min_clusters=min_clusters, paired=False)
