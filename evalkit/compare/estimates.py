"""How compare and the gates estimate one task x metric: one estimate from
:func:`evalkit.stats.paired_estimate` (Tango's score interval for 0/1 metrics, paired t or
the delta method otherwise, CR1 with t(G-1) when items are grouped), read by both the table
and the gates, so a gate's numbers are the table's numbers.

This module adds the two rules the statistics library leaves to its caller: which range a
metric lives in (it floors the SE when every paired difference is identical), and how many
items a continuous metric needs before its t interval is trusted.
"""

from __future__ import annotations

import math

import numpy as np

from evalkit.metrics.registry import metric_for_result

# Below this many items a t interval on a continuous or corpus metric leans on normality the
# data cannot show (the bootstrap it replaced rejected 2-3x too often at n = 10-30); 0/1
# metrics are exact at any n (Tango's score interval), and grouped items need MIN_CLUSTERS.
MIN_N_CONTINUOUS = 20

# The range a bounded metric's value lives in (``Metric.value_range``: a zero observed spread
# then gives a rule-of-three floor instead of a zero-width interval; perplexities are
# unbounded). ``m``: the metric as the run recorded it (a task's own direction, a scorer's
# range); without it, the metric is looked up by name.


def exact_at_any_n(metric: str, groups, m=None) -> bool:
    return (m or metric_for_result(metric)).binary and groups is None


def too_few(metric: str, n: int, groups, m=None) -> str | None:
    """Why ``n`` items cannot support a verdict on ``metric`` (None when they can)."""
    if exact_at_any_n(metric, groups, m) or groups is not None or n >= MIN_N_CONTINUOUS:
        return None
    return f"only {n} item(s); a continuous metric needs >= {MIN_N_CONTINUOUS} for its t interval"


def paired(metric: str, sa: np.ndarray, sb: np.ndarray, groups, m=None):
    """The paired estimate of metric(ft) - metric(base), raw metric units."""
    from evalkit.stats import paired_estimate

    m = m or metric_for_result(metric)
    return paired_estimate(sa, sb, m.from_stats, binary=m.binary, groups=groups, value_range=m.value_range)


def one_sample(metric: str, s: np.ndarray, groups, m=None):
    """The fine-tune's own score, raw metric units."""
    from evalkit.stats import one_sample_estimate

    m = m or metric_for_result(metric)
    return one_sample_estimate(s, m.from_stats, binary=m.binary, groups=groups, value_range=m.value_range)


def finite(x) -> float | None:
    """A number for JSON and tables: None for NaN or infinity."""
    return None if x is None or not math.isfinite(x) else float(x)
