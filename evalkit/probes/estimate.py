"""Rates over probe units (items or pairs) with the project's estimators: each model's own
rate and the paired delta (candidate - base), clustered by template when units carry one.

A thin layer over :func:`evalkit.stats.one_sample_estimate` and
:func:`evalkit.stats.paired_estimate`, so a probe's numbers come from the same computations
as compare's table (CR1 with t(G - 1) when clustered; Tango / Wilson on unclustered 0/1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _mean(s):
    return s[..., 0] / s[..., 1]


def _stats(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.column_stack([x, np.ones_like(x)])


def _finite(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


@dataclass(frozen=True)
class Rate:
    value: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class PairedRate:
    """A measure on base and candidate over the same units, and its paired delta."""

    base: Rate
    ft: Rate
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    n_clusters: int | None
    method: str
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"base": self.base.as_dict(), "ft": self.ft.as_dict(), "delta": self.delta, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "n": self.n, "n_clusters": self.n_clusters, "method": self.method,
                "reason": self.reason}


def _binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0.0) | (x == 1.0)))


def one_stat(stats: np.ndarray, from_stats, groups, alpha: float, *, binary: bool, value_range) -> Rate:
    """A model's own value of ``from_stats(sum of stats)`` with its interval."""
    from evalkit.stats import one_sample_estimate

    if stats.shape[0] == 0:
        return Rate(None, None, None)
    with np.errstate(all="ignore"):
        value = _finite(from_stats(stats.sum(axis=0)))
        est = one_sample_estimate(stats, from_stats, binary=binary, groups=groups, value_range=value_range)
    if value is None or not est.usable:
        return Rate(value, None, None)
    low, high = est.ci(alpha)
    return Rate(value, _finite(low), _finite(high))


def paired_stat(sa: np.ndarray, sb: np.ndarray, from_stats, groups, confidence: float, *, binary: bool = False,
                value_range=None) -> PairedRate:
    """``f(S_b) - f(S_a)`` for per-unit statistics ``sa`` (base) and ``sb`` (candidate),
    aligned unit by unit; ``groups``: the units' clusters or None."""
    from evalkit.stats import paired_estimate

    alpha = 1 - confidence
    base = one_stat(sa, from_stats, groups, alpha, binary=binary, value_range=value_range)
    ft = one_stat(sb, from_stats, groups, alpha, binary=binary, value_range=value_range)
    if sa.shape[0] == 0:
        return PairedRate(base, ft, None, None, None, 0, None, "none", "no paired units")
    delta = None if base.value is None or ft.value is None else ft.value - base.value
    with np.errstate(all="ignore"):
        est = paired_estimate(sa, sb, from_stats, binary=binary, groups=groups, value_range=value_range)
    n_clusters = getattr(est, "n_clusters", None)
    if delta is None or not est.usable:
        return PairedRate(base, ft, delta, None, None, sa.shape[0], n_clusters, est.method, est.reason or "not estimable")
    low, high = est.ci(alpha)
    return PairedRate(base, ft, delta, _finite(low), _finite(high), sa.shape[0], n_clusters, est.method)


def paired_rate(xa, xb, groups, confidence: float, value_range=(0.0, 1.0)) -> PairedRate:
    """The mean of one value per unit (0/1 for a rate), base ``xa`` against candidate ``xb``."""
    xa, xb = np.asarray(xa, dtype=float), np.asarray(xb, dtype=float)
    binary = _binary(xa) and _binary(xb) and value_range == (0.0, 1.0)
    return paired_stat(_stats(xa), _stats(xb), _mean, groups, confidence, binary=binary, value_range=value_range)
