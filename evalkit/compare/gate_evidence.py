"""The evidence a gate is decided on: the fine-tune's gain (or its own score) as one estimate,
built by the same function on the same aligned items as the compare table's row, so a gate's
numbers are the table's numbers. Suites (a mean over several tasks) are the one place that
still resamples: the statistics library has no closed form for them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evalkit.compare import estimates
from evalkit.compare.compare import Comparison, TaskComparison, resample_rng
from evalkit.compare.gain import DrawsEstimate, Oriented, gain_sign
from evalkit.compare.outcomes import impute
from evalkit.errors import ConfigError

__all__ = ["Evidence", "evidence", "gain_sign"]


@dataclass(frozen=True)
class Evidence:
    """What a gate is decided on: the oriented estimate, or why there is none."""

    higher_is_better: bool = True
    gain: Oriented | None = None  # paired gates: of ft - base; min_score: of ft's own score
    n: int = 0
    missing: str | None = None  # why no decision is possible (the gate is INCONCLUSIVE)
    n_missing: int = 0  # items whose request failed on either side (left out of this evidence)

    @property
    def estimate(self) -> float:
        return self.gain.value if self.gain is not None else math.nan


class Unbounded(Exception):
    """A worst case was asked of a metric with no per-item range (a corpus metric)."""


def _paired_stats(runs, task: str, metric: str, worst_case: bool = False):
    """(base stats, candidate stats, groups, missing items) from ``runs`` (a
    ``columns.PairedRuns``). Plain: the items compare_runs pairs (items whose request failed
    on either side left out), the very arrays its table row read. ``worst_case``: every
    item, the candidate's failed ones scored at the metric's worst per-item value and the
    base's at its best (raises Unbounded when it has none)."""
    pair = runs.pair(task)
    if not worst_case:
        sa, sb = pair.stats(metric)
        return sa, sb, pair.groups(), pair.dropped
    m = runs.base.metric(task, metric)  # the task's own direction: a refusal rate may be lower-is-better
    hib = m.higher_is_better
    width = pair.b.width(metric) or pair.f.width(metric) or 2

    def rows(cols):  # a side that answered nothing takes the other side's width
        return cols.stats(metric) if cols.width(metric) is not None else np.full((len(cols), width), np.nan)

    both = impute(metric, hib, rows(pair.b), rows(pair.f), pair.b.missing, pair.f.missing, m)
    if both is None:
        raise Unbounded(metric)
    return both[0], both[1], pair.all_groups(), pair.dropped


def _task_comparison(comparison: Comparison, task: str, metric: str) -> tuple[TaskComparison | None, str | None]:
    tc = next((t for t in comparison.tasks if t.task == task), None)
    if tc is None:
        return None, f"task '{task}' is not in this comparison"
    if tc.status != "ok":
        return None, f"task '{task}' was skipped ({tc.reason})"
    have = [m.metric for m in tc.metrics]
    if metric not in have:
        raise ConfigError(f"task '{task}' has no metric '{metric}' (has: {', '.join(have) or 'none'})")
    return tc, None if tc.n >= 1 else f"task '{task}' has no item both models answered"


def _usable(ev_est, task: str, metric: str, n: int, groups, hib: bool, n_missing: int, m=None) -> Evidence:
    if not ev_est.usable:
        return Evidence(missing=f"task '{task}': {metric}: {ev_est.reason}")
    few = estimates.too_few(metric, n, groups, m)
    if few:
        return Evidence(missing=f"task '{task}': {metric}: {few}")
    return Evidence(hib, Oriented(ev_est, gain_sign(hib)), n, n_missing=n_missing)


def _native_group(run: RunResult, task: str) -> bool:
    """A suites.NAME.groups row: it has no items of its own, its members count instead."""
    row = run.task(task)
    return bool(row is not None and row.members and row.members.get("of") == "tasks")


def _task_evidence(gate, task, comparison, runs, worst_case=False) -> Evidence:
    tc, missing = _task_comparison(comparison, task, gate.metric)
    if missing:
        return Evidence(missing=missing)
    hib = next(m.higher_is_better for m in tc.metrics if m.metric == gate.metric)
    try:
        sa, sb, groups, n_missing = _paired_stats(runs, task, gate.metric, worst_case)
    except Unbounded:
        return Evidence(missing=(
            f"task '{task}': {tc.dropped} item(s) with a failed request, and {gate.metric} has no per-item worst "
            "case to score them at; rerun to retry them"))
    m = runs.base.metric(task, gate.metric)
    if gate.type == "min_score":
        est = estimates.one_sample(gate.metric, sb, groups, m)
    elif not worst_case and (task, gate.metric) in getattr(comparison, "estimates", {}):
        est = comparison.estimates[(task, gate.metric)]  # the table's own estimate, same items
    else:
        est = estimates.paired(gate.metric, sa, sb, groups, m)
    return _usable(est, task, gate.metric, len(sa), groups, hib, n_missing, m)


def _suite_evidence(gate, comparison, runs, seed, n_resamples, worst_case) -> Evidence:
    """Mean over the suite's tasks of each task's change, resample by resample: each task's
    resampled changes come from its own seed stream, and the vectors are averaged
    elementwise. Tasks have different items, so no item links a resample of one task to a
    resample of another: tasks are resampled independently of each other. Each task must
    also be usable on its own (enough items, finite statistics, enough clusters)."""
    from evalkit.stats import bootstrap_deltas

    tasks = [t.task for t in comparison.tasks if t.suite == gate.suite and not _native_group(runs.base, t.task)]
    if not tasks:
        return Evidence(missing=f"suite '{gate.suite}' has no task in this comparison")
    deltas, draws, n, n_missing, hib = [], [], 0, 0, True
    for task in tasks:
        ev = _task_evidence(gate, task, comparison, runs, worst_case)
        if ev.missing:
            return Evidence(missing=f"suite '{gate.suite}': {ev.missing}")
        sa, sb, groups, _ = _paired_stats(runs, task, gate.metric, worst_case)
        f = runs.base.metric(task, gate.metric).from_stats
        draws.append(bootstrap_deltas(sa, sb, f, n_resamples=n_resamples, rng=resample_rng(seed, task, gate.metric), groups=groups))
        deltas.append(float(f(sb.sum(axis=0)) - f(sa.sum(axis=0))))
        n, n_missing, hib = n + ev.n, n_missing + ev.n_missing, ev.higher_is_better
    est = DrawsEstimate(float(np.mean(deltas)), np.mean(draws, axis=0), n)
    if not est.usable:
        return Evidence(missing=f"suite '{gate.suite}': {est.reason}")
    return Evidence(hib, Oriented(est, gain_sign(hib)), n, n_missing=n_missing)


def _has_missing(gate, comparison) -> bool:
    suite = getattr(gate, "suite", None)
    return any(t.dropped for t in comparison.tasks if (t.suite == suite if suite is not None else t.task == gate.task))


def evidence(gate, comparison, runs, seed, n_resamples, worst_case: bool = False) -> Evidence | None:
    """The gate's evidence on the items both models answered; with ``worst_case``, on every item
    with failed requests scored against the candidate (None when no request failed)."""
    if worst_case and not _has_missing(gate, comparison):
        return None
    if getattr(gate, "suite", None) is not None:
        return _suite_evidence(gate, comparison, runs, seed, n_resamples, worst_case)
    return _task_evidence(gate, gate.task, comparison, runs, worst_case)
