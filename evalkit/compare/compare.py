"""Compare a base run with one or more candidate runs, task by task and item by item.

Items are aligned by id (compare refuses when the ids differ); items that errored on either
side are dropped from both, and counted. Every delta gets a paired bootstrap interval that
resamples the same items for both models and recomputes corpus metrics on each resample.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.metrics.registry import metric_for_result
from evalkit.results import RunResult, TaskResult


class CompareError(EvalkitError):
    """Runs that cannot be compared (different items, different tasks)."""


DROPPED_STATUSES = ("error", "empty")  # a failed or empty answer says nothing about skill


def paired_keep(b: list[dict], f: list[dict]) -> list[int]:
    """Indices of items both models answered: failures are not wrong answers, so an item that
    failed (or came back empty) on either side leaves the paired test on both."""
    return [i for i in range(len(b)) if b[i]["status"] not in DROPPED_STATUSES and f[i]["status"] not in DROPPED_STATUSES]


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    higher_is_better: bool
    base: float | None
    ft: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    se: float | None
    n: int
    fixed: int | None = None  # binary metrics: items base got wrong and ft right
    broke: int | None = None
    p_adjusted: float | None = None  # Holm over every row of one comparison
    alpha: float = 0.05
    mde: float | None = None  # minimum detectable effect at 80 % power, from the paired spread

    @property
    def improved(self) -> bool | None:
        """True (ft better) / False (ft worse) when the Holm-adjusted p is below alpha; None
        when the data do not say."""
        p = self.p_adjusted if self.p_adjusted is not None else self.p_value
        if p is None or self.delta is None or p >= self.alpha or self.delta == 0:
            return None
        return (self.delta > 0) == self.higher_is_better


@dataclass
class TaskComparison:
    task: str
    suite: str
    role: str
    status: str  # ok | skipped
    reason: str | None = None
    n: int = 0
    dropped: int = 0  # items dropped because either side errored
    errors_base: int = 0
    errors_ft: int = 0
    empty_base: int = 0
    empty_ft: int = 0
    prompt_tokens_base: float | None = None
    prompt_tokens_ft: float | None = None
    cost_base: float | None = None  # USD per item, when the backend knows its prices
    cost_ft: float | None = None
    latency_p50_base: float | None = None  # seconds per item
    latency_p50_ft: float | None = None
    latency_p95_base: float | None = None
    latency_p95_ft: float | None = None
    metrics: list[MetricComparison] = field(default_factory=list)


@dataclass
class Comparison:
    base: str
    candidate: str
    tasks: list[TaskComparison]
    seed: int
    n_resamples: int
    confidence: float
    base_source: str | None = None
    candidate_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for t, td in zip(self.tasks, d["tasks"]):
            for m, md in zip(t.metrics, td["metrics"]):
                md["improved"] = m.improved
        return d


def align_items(task: str, base: list[dict], ft: list[dict]) -> tuple[list[dict], list[dict]]:
    b_ids = {s["id"]: s for s in base}
    f_ids = {s["id"]: s for s in ft}
    if set(b_ids) != set(f_ids):
        only_b = sorted(set(b_ids) - set(f_ids))
        only_f = sorted(set(f_ids) - set(b_ids))
        raise CompareError(
            f"task '{task}': base and candidate were scored on different items "
            f"({len(only_b)} only in base{', e.g. ' + only_b[0] if only_b else ''}; "
            f"{len(only_f)} only in candidate{', e.g. ' + only_f[0] if only_f else ''}); "
            "run both on the same data and --limit"
        )
    order = [s["id"] for s in base]
    return [b_ids[i] for i in order], [f_ids[i] for i in order]


def resample_rng(seed: int, *parts: str) -> np.random.Generator:
    # One stream per (task, metric): results do not depend on which other tasks ran.
    return np.random.default_rng([seed, zlib.crc32("/".join(parts).encode())])


def compare_metric(name: str, hib: bool, b: list[dict], f: list[dict], groups, seed, task, n_resamples, confidence, value=None):
    from evalkit.stats import mcnemar, minimum_detectable_effect, paired_bootstrap

    metric = metric_for_result(name, value)  # value: the run's MetricValue (scorer metrics)
    sa = np.array([s["stats"][name] for s in b], dtype=float)
    sb = np.array([s["stats"][name] for s in f], dtype=float)
    base_v = float(metric.from_stats(sa.sum(axis=0)))
    ft_v = float(metric.from_stats(sb.sum(axis=0)))
    if len(b) < 2:
        return MetricComparison(name, hib, base_v, ft_v, ft_v - base_v, None, None, None, None, len(b))
    boot = paired_bootstrap(
        sa, sb, metric.from_stats, n_resamples=n_resamples, rng=resample_rng(seed, task, name),
        alpha=1 - confidence, groups=groups,
    )
    fixed = broke = None
    if metric.binary:
        mc = mcnemar(sa[:, 0], sb[:, 0])
        fixed, broke = mc.fixed, mc.broke
    return MetricComparison(
        name, hib, base_v, ft_v, boot.delta, boot.ci_low, boot.ci_high, boot.p_value, boot.se, len(b), fixed, broke,
        alpha=1 - confidence, mde=minimum_detectable_effect(boot.se * len(b) ** 0.5, len(b), alpha=1 - confidence),
    )


def _accounting(tc: TaskComparison, b: list[dict], f: list[dict]) -> None:
    """Tokens, cost and latency per item, side by side: a fine-tune often buys a short prompt."""
    for side, samples in (("base", b), ("ft", f)):
        setattr(tc, f"prompt_tokens_{side}", sum(s["prompt_tokens"] for s in samples) / len(samples))
        costs = [s.get("cost_usd") for s in samples]
        if all(c is not None for c in costs):
            setattr(tc, f"cost_{side}", sum(costs) / len(costs))
        lat = np.array([s.get("latency_s", 0.0) for s in samples])
        setattr(tc, f"latency_p50_{side}", float(np.percentile(lat, 50)))
        setattr(tc, f"latency_p95_{side}", float(np.percentile(lat, 95)))


def compare_task(base: RunResult, ft: RunResult, tb: TaskResult, tf: TaskResult, seed, n_resamples, confidence):
    tc = TaskComparison(task=tb.task, suite=tb.suite, role=tb.role, status="ok")
    if tb.status == "skipped" or tf.status == "skipped":
        tc.status = "skipped"
        if tb.reason == tf.reason:  # one reason for both (an offline dataset, say): say it once
            tc.reason = tb.reason
        else:
            tc.reason = "; ".join(f"{who}: {t.reason}" for who, t in (("base", tb), ("candidate", tf)) if t.reason)
        return tc
    b, f = align_items(tb.task, base.samples_for(tb.task), ft.samples_for(tf.task))
    tc.errors_base = sum(s["status"] == "error" for s in b)
    tc.errors_ft = sum(s["status"] == "error" for s in f)
    tc.empty_base = sum(s["status"] == "empty" for s in b)
    tc.empty_ft = sum(s["status"] == "empty" for s in f)
    keep = paired_keep(b, f)
    tc.dropped = len(b) - len(keep)
    b, f = [b[i] for i in keep], [f[i] for i in keep]
    tc.n = len(b)
    if b:
        _accounting(tc, b, f)
    groups = [s["group"] for s in b] if b and all(s.get("group") is not None for s in b) else None
    for name, mv in tb.metrics.items():
        if name not in tf.metrics:
            continue
        if not b:
            tc.metrics.append(MetricComparison(name, mv.higher_is_better, None, None, None, None, None, None, None, 0))
            continue
        tc.metrics.append(compare_metric(name, mv.higher_is_better, b, f, groups, seed, tb.task, n_resamples, confidence, value=mv))
    return tc


def _holm_across_rows(tasks: list[TaskComparison]) -> None:
    """Adjust every row's p-value with Holm across the whole table: with 15 rows, one of them
    would look 'significant' by chance far more often than 5 % of the time otherwise."""
    from dataclasses import replace

    from evalkit.stats import holm

    rows = [(t, i) for t in tasks for i, m in enumerate(t.metrics) if m.p_value is not None]
    if not rows:
        return
    adjusted = holm([t.metrics[i].p_value for t, i in rows])
    for (t, i), p in zip(rows, adjusted):
        t.metrics[i] = replace(t.metrics[i], p_adjusted=float(p))


def compare_runs(base: RunResult, ft: RunResult, *, seed: int, n_resamples: int = 10_000, confidence: float = 0.95) -> Comparison:
    tasks = []
    for tb in base.tasks:
        tf = ft.task(tb.task)
        if tf is None:
            continue
        tasks.append(compare_task(base, ft, tb, tf, seed, n_resamples, confidence))
    if not tasks:
        raise CompareError(f"'{base.model}' and '{ft.model}' share no task: nothing to compare")
    _holm_across_rows(tasks)
    return Comparison(
        base=base.model, candidate=ft.model, tasks=tasks, seed=seed, n_resamples=n_resamples,
        confidence=confidence, base_source=base.source, candidate_source=ft.source,
    )


def _from_json(d: dict[str, Any]) -> Comparison:
    tasks = []
    for td in d["tasks"]:
        metrics = [MetricComparison(**{k: v for k, v in md.items() if k != "improved"}) for md in td["metrics"]]
        tasks.append(TaskComparison(**{**td, "metrics": metrics}))
    return Comparison(**{**d, "tasks": tasks})


def run_fingerprint(run: RunResult) -> str:
    """What a comparison depends on in a run: task outcomes and every item's statistics."""
    from evalkit.runner.cache import digest

    tasks = [(t.task, t.suite, t.role, t.status, t.reason, {k: v.higher_is_better for k, v in t.metrics.items()}) for t in run.tasks]
    samples = [(s["task"], s["id"], s["status"], s.get("group"), s["prompt_tokens"], s.get("stats")) for s in run.samples]
    return digest({"model": run.model, "tasks": tasks, "samples": samples})


def cached_compare(cache, base: RunResult, ft: RunResult, *, seed: int, n_resamples: int, confidence: float) -> Comparison:
    """compare_runs, memoised in the response cache's database by everything it depends on."""
    from evalkit.runner.cache import code_version, digest

    key = digest({
        "v": 1, "code": code_version(), "base": run_fingerprint(base), "ft": run_fingerprint(ft),
        "seed": seed, "n_resamples": n_resamples, "confidence": confidence,
    })
    hit = cache.memo_get(key)
    if hit is not None:
        c = _from_json(hit)
    else:
        c = compare_runs(base, ft, seed=seed, n_resamples=n_resamples, confidence=confidence)
        cache.memo_put(key, "compare", asdict(c))
    c.base_source, c.candidate_source = base.source, ft.source
    return c
