"""The evidence a gate is decided on: the oriented gain (or the fine-tune's own score) and its
bootstrap draws, built on the same aligned items and seed streams as the compare table, so a
gate's interval equals the one compare.md shows. ``gain_sign`` is the one place a metric's
direction is read."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evalkit.compare.compare import Comparison, TaskComparison, align_items, paired_keep, resample_rng
from evalkit.errors import ConfigError
from evalkit.metrics.registry import metric_for_result
from evalkit.results import RunResult

_CHUNK_CELLS = 5_000_000  # (resamples x items) per chunk of a one-sample bootstrap


@dataclass(frozen=True)
class Evidence:
    """What a gate is decided on: oriented estimate and resampled estimates, or why not."""

    higher_is_better: bool = True
    estimate: float = math.nan
    draws: np.ndarray | None = None
    n: int = 0
    binary_k: int | None = None  # successes, when a Wilson interval applies (min_score)
    missing: str | None = None

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


def _paired_stats(base_run: RunResult, ft_run: RunResult, task: str, metric: str):
    """Per-item stats aligned exactly as compare_runs aligns them (errored items dropped)."""
    b, f = align_items(task, base_run.samples_for(task), ft_run.samples_for(task))
    keep = paired_keep(b, f)
    sa = np.array([b[i]["stats"][metric] for i in keep], dtype=float)
    sb = np.array([f[i]["stats"][metric] for i in keep], dtype=float)
    groups = [b[i]["group"] for i in keep] if keep and all(b[i].get("group") is not None for i in keep) else None
    return sa, sb, groups


def _metric(base_run: RunResult, task: str, metric: str):
    """The metric object behind a result name (scorer metrics rebuilt from the run's record)."""
    tr = base_run.task(task)
    return metric_for_result(metric, tr.metrics.get(metric) if tr is not None else None)


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


def _delta_evidence(tc: TaskComparison, metric: str, runs, seed: int, n_resamples: int) -> Evidence:
    """Gain of ft over base on one task, resampled with the comparison's own seed stream."""
    from evalkit.stats import bootstrap_deltas

    hib = next(m.higher_is_better for m in tc.metrics if m.metric == metric)
    sa, sb, groups = _paired_stats(*runs, tc.task, metric)
    f = _metric(runs[0], tc.task, metric).from_stats
    sign = gain_sign(hib)
    draws = bootstrap_deltas(sa, sb, f, n_resamples=n_resamples, rng=resample_rng(seed, tc.task, metric), groups=groups)
    estimate = sign * float(f(sb.sum(axis=0)) - f(sa.sum(axis=0)))
    return Evidence(hib, estimate, sign * draws, len(sa))


def _suite_evidence(gate, comparison, runs, seed, n_resamples) -> Evidence:
    """Mean over the suite's tasks of each task's gain, resample by resample: each task's
    resampled gains come from its own seed stream (the comparison's), and the vectors are
    averaged elementwise. Tasks have different items, so no item links a resample of one task
    to a resample of another: tasks are resampled independently of each other."""
    tasks = [t.task for t in comparison.tasks if t.suite == gate.suite]
    if not tasks:
        return Evidence(missing=f"suite '{gate.suite}' has no task in this comparison")
    parts = [_target_evidence(gate, task, comparison, runs, seed, n_resamples) for task in tasks]
    missing = next((p.missing for p in parts if p.missing), None)
    if missing:
        return Evidence(missing=f"suite '{gate.suite}': {missing}")
    return Evidence(
        parts[0].higher_is_better, float(np.mean([p.estimate for p in parts])),
        np.mean([p.draws for p in parts], axis=0), sum(p.n for p in parts),
    )


def _ft_evidence(tc: TaskComparison, metric: str, runs, seed: int, n_resamples: int) -> Evidence:
    """The fine-tune's own score on one task, oriented; Wilson applies to unclustered 0/1 items."""
    from evalkit.stats import resample_counts

    hib = next(m.higher_is_better for m in tc.metrics if m.metric == metric)
    _, sb, groups = _paired_stats(*runs, tc.task, metric)
    metric_obj, n, sign = _metric(runs[0], tc.task, metric), len(sb), gain_sign(hib)
    rng, step = resample_rng(seed, tc.task, metric, "ft"), max(1, _CHUNK_CELLS // n)
    draws = np.concatenate([
        metric_obj.from_stats(resample_counts(n, min(step, n_resamples - s), rng, groups).astype(float) @ sb)
        for s in range(0, n_resamples, step)
    ])
    k = int(round(sb[:, 0].sum())) if metric_obj.binary and groups is None else None
    return Evidence(hib, sign * float(metric_obj.from_stats(sb.sum(axis=0))), sign * draws, n, k)


def _target_evidence(gate, task, comparison, runs, seed, n_resamples) -> Evidence:
    tc, missing = _task_comparison(comparison, task, gate.metric)
    if missing:
        return Evidence(missing=missing)
    build = _ft_evidence if gate.type == "min_score" else _delta_evidence
    ev = build(tc, gate.metric, runs, seed, n_resamples)
    if not (math.isfinite(ev.estimate) and np.all(np.isfinite(ev.draws))):
        return Evidence(missing=f"task '{task}': {gate.metric} is not finite on these items")
    return ev


def evidence(gate, comparison, runs, seed, n_resamples) -> Evidence:
    if getattr(gate, "suite", None) is not None:
        return _suite_evidence(gate, comparison, runs, seed, n_resamples)
    return _target_evidence(gate, gate.task, comparison, runs, seed, n_resamples)
