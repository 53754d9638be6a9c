"""Group rows of a comparison: the delta of a group is a fixed linear combination of its
members' deltas, so its interval comes from the members' paired estimates, not a resample.

A group's value is ``sum_t w_t * value_t`` with fixed weights (``size_weighted``: the member's
share of the paired items; ``mean``: ``1 / K``), so its delta is ``sum_t w_t * delta_t``. The
members are independent item sets, hence ``Var = sum_t w_t**2 * se_t**2``, each ``se_t`` from
:func:`evalkit.stats.paired_estimate` on that member's paired items (for an interval without a
standard error, such as Tango's for binary metrics, its half-width over the normal quantile).
The interval and the two-sided p-value are normal: a sum of independent estimates.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from evalkit.compare.compare import MetricComparison, TaskComparison, align_items, paired_keep

Z_POWER = 0.8416212335729143  # the normal quantile of 80 % power, as the MDE elsewhere


def _member_samples(run, row, member: str) -> list[dict]:
    if row.members.get("of") == "lm-eval":  # lm-eval leaves live inside the entry's own samples
        return [s for s in run.samples_for(row.task) if s.get("extra", {}).get("lm_eval", {}).get("task") == member]
    return run.samples_for(member)


def _se(est, alpha: float) -> float:
    se = getattr(est, "se", None)
    if se is not None:
        return float(se)
    from scipy.stats import norm

    low, high = est.ci(alpha)
    return float((high - low) / (2.0 * norm.ppf(1.0 - alpha / 2.0)))


def member_estimate(name: str, b: list[dict], f: list[dict], alpha: float):
    """(base value, ft value, delta, se, n) of one member on its paired items; None if unusable."""
    from evalkit.stats.estimates import paired_estimate
    from evalkit.suites.groups import base_metric

    keep = [i for i in paired_keep(b, f) if name in b[i]["stats"] and name in f[i]["stats"]]
    if not keep:
        return None
    metric = base_metric(name)
    sa = np.array([b[i]["stats"][name] for i in keep], dtype=float)
    sb = np.array([f[i]["stats"][name] for i in keep], dtype=float)
    clusters = [b[i].get("group") for i in keep]
    groups = clusters if all(c is not None for c in clusters) else None
    est = paired_estimate(sa, sb, metric.from_stats, binary=metric.binary, groups=groups)
    if not est.usable:
        return None
    base_v, ft_v = float(metric.from_stats(sa.sum(axis=0))), float(metric.from_stats(sb.sum(axis=0)))
    return base_v, ft_v, float(est.delta), _se(est, alpha), len(keep)


def combine_estimates(parts: list[tuple], weighting: str, name: str, hib: bool, alpha: float) -> MetricComparison:
    """One group metric from its members' (base, ft, delta, se, n)."""
    from scipy.stats import norm

    from evalkit.suites.groups import weights

    n = sum(p[4] for p in parts)
    w = weights([p[4] for p in parts], weighting)
    base_v = sum(wi * p[0] for wi, p in zip(w, parts))
    ft_v = sum(wi * p[1] for wi, p in zip(w, parts))
    delta = sum(wi * p[2] for wi, p in zip(w, parts))
    se = math.sqrt(sum((wi * p[3]) ** 2 for wi, p in zip(w, parts)))
    z = float(norm.ppf(1.0 - alpha / 2.0))
    if se > 0:
        p_value = float(2.0 * norm.sf(abs(delta) / se))
    else:
        p_value = 1.0 if delta == 0 else 0.0
    return MetricComparison(name, hib, base_v, ft_v, delta, delta - z * se, delta + z * se, p_value, n,
                            alpha=alpha, mde=(z + Z_POWER) * se, method="sum of member estimates (normal)")


def group_comparison(base, ft, tb, tc: TaskComparison, confidence: float) -> TaskComparison:
    """``tc`` with each aggregated metric of the group row ``tb`` recomputed from its members."""
    alpha = 1.0 - confidence
    metrics = {m.metric: m for m in tc.metrics}
    n_total = 0
    for name, weighting in tb.members.get("weighting", {}).items():
        mv = tb.metrics.get(name)
        if mv is None:
            continue
        parts, missing = [], False
        for member in tb.members["tasks"]:
            b, f = align_items(f"{tb.task}/{member}", _member_samples(base, tb, member), _member_samples(ft, tb, member))
            est = member_estimate(name, b, f, alpha) if b else None
            if est is None:
                missing = missing or bool(b)  # a member with items but no estimate: no group interval
                continue
            parts.append(est)
        old = metrics.get(name)
        keep = {"tested": old.tested, "family": old.family} if old is not None else {}
        if not parts or missing:
            metrics[name] = MetricComparison(name, mv.higher_is_better, None, None, None, alpha=alpha,
                                             reason="a member has items but no usable estimate", **keep)
            continue
        metrics[name] = replace(combine_estimates(parts, weighting, name, mv.higher_is_better, alpha), **keep)
        n_total = max(n_total, metrics[name].n)
    return replace(tc, metrics=list(metrics.values()), n=tc.n or n_total)


def add_group_rows(base, ft, tasks: list[TaskComparison], *, confidence: float) -> None:
    """Replace, in place, each group row's metrics by the combination of its members' estimates."""
    for i, tc in enumerate(tasks):
        tb = base.task(tc.task)
        if tc.status != "ok" or tb is None or not tb.members:
            continue
        tasks[i] = group_comparison(base, ft, tb, tc, confidence)
