"""The evidence a gate is decided on: the oriented gain (or the fine-tune's own score) and its
bootstrap draws, built on the same aligned items and seed streams as the compare table, so a
gate's interval equals the one compare.md shows. ``gain_sign`` is the one place a metric's
direction is read."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evalkit.compare.compare import Comparison, TaskComparison, align_items, item_groups, paired_keep, resample_rng
from evalkit.compare.outcomes import MISSING, impute
from evalkit.errors import ConfigError
from evalkit.metrics.registry import make_metric
from evalkit.results import RunResult

MIN_CLUSTERS = 10  # fewer clusters than this give no trustworthy cluster-robust interval
_CHUNK_CELLS = 5_000_000  # (resamples x items) per chunk of a one-sample bootstrap


@dataclass(frozen=True)
class Evidence:
    """What a gate is decided on: oriented estimate and resampled estimates, or why not."""

    higher_is_better: bool = True
    estimate: float = math.nan
    draws: np.ndarray | None = None
    n: int = 0
    binary_k: int | None = None  # successes, when a Wilson interval applies (min_score)
    missing: str | None = None  # why no evidence could be built (the gate is INCONCLUSIVE)
    n_missing: int = 0  # items whose request failed on either side (left out of this evidence)

    @property
    def sd(self) -> float:
        """Per-item SD of the estimate (bootstrap SE x sqrt(n)); works for ratio metrics too."""
        if self.binary_k is not None:
            p = self.binary_k / self.n
            return math.sqrt(p * (1 - p))
        return float(np.std(self.draws, ddof=1)) * math.sqrt(self.n)


def gain_sign(higher_is_better: bool) -> float:
    """+1 or -1: multiplying by it turns a metric into a gain (the one place direction is read)."""
    return 1.0 if higher_is_better else -1.0


class Unbounded(Exception):
    """A worst case was asked of a metric with no per-item range (a corpus metric)."""


def _paired_stats(base_run: RunResult, ft_run: RunResult, task: str, metric: str, worst_case: bool = False):
    """(base stats, candidate stats, groups, missing items). Plain: aligned exactly as
    compare_runs aligns them (items whose request failed on either side left out).
    ``worst_case``: every item, the candidate's failed ones scored at the metric's worst
    per-item value and the base's at its best (raises Unbounded when it has none)."""
    b, f = align_items(task, base_run.samples_for(task), ft_run.samples_for(task))
    keep = paired_keep(b, f)
    n_missing = len(b) - len(keep)
    if worst_case:
        hib = make_metric(metric).higher_is_better
        width = next((len(s["stats"][metric]) for s in (*b, *f) if s["status"] != MISSING), 2)
        rows = lambda side: np.array(  # noqa: E731
            [s["stats"][metric] if s["status"] != MISSING else [np.nan] * width for s in side], dtype=float).reshape(len(side), width)
        miss_a = np.array([s["status"] == MISSING for s in b])
        miss_b = np.array([s["status"] == MISSING for s in f])
        both = impute(metric, hib, rows(b), rows(f), miss_a, miss_b)
        if both is None:
            raise Unbounded(metric)
        keep = list(range(len(b)))
        sa, sb = both
    else:
        sa = np.array([b[i]["stats"][metric] for i in keep], dtype=float)
        sb = np.array([f[i]["stats"][metric] for i in keep], dtype=float)
    return sa, sb, item_groups(task, [b[i] for i in keep]), n_missing


def _task_comparison(comparison: Comparison, task: str, metric: str) -> tuple[TaskComparison | None, str | None]:
    tc = next((t for t in comparison.tasks if t.task == task), None)
    if tc is None:
        return None, f"task '{task}' is not in this comparison"
    if tc.status != "ok":
        return None, f"task '{task}' was skipped ({tc.reason})"
    have = [m.metric for m in tc.metrics]
    if metric not in have:
        raise ConfigError(f"task '{task}' has no metric '{metric}' (has: {', '.join(have) or 'none'})")
    return tc, None if tc.n >= 2 else f"task '{task}' has {tc.n} usable item(s); need 2"


def _delta_evidence(tc: TaskComparison, metric: str, runs, seed: int, n_resamples: int, worst_case: bool) -> Evidence:
    """Gain of ft over base on one task, resampled with the comparison's own seed stream."""
    from evalkit.stats import bootstrap_deltas

    hib = next(m.higher_is_better for m in tc.metrics if m.metric == metric)
    sa, sb, groups, n_missing = _paired_stats(*runs, tc.task, metric, worst_case)
    f = make_metric(metric).from_stats
    sign = gain_sign(hib)
    draws = bootstrap_deltas(sa, sb, f, n_resamples=n_resamples, rng=resample_rng(seed, tc.task, metric), groups=groups)
    estimate = sign * float(f(sb.sum(axis=0)) - f(sa.sum(axis=0)))
    return Evidence(hib, estimate, sign * draws, len(sa), n_missing=n_missing)


def _suite_evidence(gate, comparison, runs, seed, n_resamples, worst_case) -> Evidence:
    """Mean over the suite's tasks of each task's gain, resample by resample: each task's
    resampled gains come from its own seed stream (the comparison's), and the vectors are
    averaged elementwise. Tasks have different items, so no item links a resample of one task
    to a resample of another: tasks are resampled independently of each other."""
    tasks = [t.task for t in comparison.tasks if t.suite == gate.suite]
    if not tasks:
        return Evidence(missing=f"suite '{gate.suite}' has no task in this comparison")
    parts = [_target_evidence(gate, task, comparison, runs, seed, n_resamples, worst_case) for task in tasks]
    missing = next((p.missing for p in parts if p.missing), None)
    if missing:
        return Evidence(missing=f"suite '{gate.suite}': {missing}")
    return Evidence(
        parts[0].higher_is_better, float(np.mean([p.estimate for p in parts])),
        np.mean([p.draws for p in parts], axis=0), sum(p.n for p in parts), n_missing=sum(p.n_missing for p in parts),
    )


def _ft_evidence(tc: TaskComparison, metric: str, runs, seed: int, n_resamples: int, worst_case: bool) -> Evidence:
    """The fine-tune's own score on one task, oriented; Wilson applies to unclustered 0/1 items."""
    from evalkit.stats import resample_counts

    hib = next(m.higher_is_better for m in tc.metrics if m.metric == metric)
    _, sb, groups, n_missing = _paired_stats(*runs, tc.task, metric, worst_case)
    metric_obj, n, sign = make_metric(metric), len(sb), gain_sign(hib)
    rng, step = resample_rng(seed, tc.task, metric, "ft"), max(1, _CHUNK_CELLS // n)
    draws = np.concatenate([
        metric_obj.from_stats(resample_counts(n, min(step, n_resamples - s), rng, groups).astype(float) @ sb)
        for s in range(0, n_resamples, step)
    ])
    k = int(round(sb[:, 0].sum())) if metric_obj.binary and groups is None else None
    return Evidence(hib, sign * float(metric_obj.from_stats(sb.sum(axis=0))), sign * draws, n, k, n_missing=n_missing)


def _target_evidence(gate, task, comparison, runs, seed, n_resamples, worst_case=False) -> Evidence:
    tc, missing = _task_comparison(comparison, task, gate.metric)
    if missing:
        return Evidence(missing=missing)
    clusters = len({s.get("group") for s in runs[0].samples_for(task)} - {None})
    if 0 < clusters < MIN_CLUSTERS:
        return Evidence(missing=f"task '{task}': only {clusters} cluster(s) (groups); need >= {MIN_CLUSTERS} for a cluster-robust interval")
    build = _ft_evidence if gate.type == "min_score" else _delta_evidence
    try:
        ev = build(tc, gate.metric, runs, seed, n_resamples, worst_case)
    except Unbounded:
        return Evidence(missing=(
            f"task '{task}': {tc.dropped} item(s) with a failed request, and {gate.metric} has no per-item worst "
            "case to score them at; rerun to retry them"))
    if not (math.isfinite(ev.estimate) and np.all(np.isfinite(ev.draws))):
        return Evidence(missing=f"task '{task}': {gate.metric} is not finite on these items")
    return ev


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
    return _target_evidence(gate, gate.task, comparison, runs, seed, n_resamples, worst_case)
