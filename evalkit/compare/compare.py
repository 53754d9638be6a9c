"""Compare a base run with one or more candidate runs, task by task and item by item.

Items are aligned by id (compare refuses when the ids differ). Every answered item is scored,
whatever the answer (empty and unparseable answers included: see ``outcomes``); only items
whose request failed on either side are left out of the paired table, and counted. Every
delta gets one paired estimate (``estimates``): Tango's score interval for 0/1 metrics,
paired t or the delta method otherwise, CR1 when items are grouped.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from evalkit.compare.outcomes import MISSING, outcome_warnings
from evalkit.errors import EvalkitError
from evalkit.metrics.registry import metric_for_result
from evalkit.results import RunResult, TaskResult


class CompareError(EvalkitError):
    """Runs that cannot be compared (different items, different tasks)."""


def paired_keep(b: list[dict], f: list[dict]) -> list[int]:
    """Indices of items both models answered. A failed request is not a wrong answer, so it
    leaves the paired table on both sides; an empty or unparseable answer stays (it is one)."""
    return [i for i in range(len(b)) if b[i]["status"] != MISSING and f[i]["status"] != MISSING]


@dataclass(frozen=True)
class MetricComparison:
    """One row of the table: base, candidate and their change on one task x metric, from one
    paired estimate (``method``). ``ci_*`` is the two-sided ``1 - alpha`` interval of
    ``ft - base`` in metric units; ``p_value`` its two-sided p. Only a task's primary metric
    (``tested``) enters a Holm family (``family``: target or forgetting) and gets a verdict;
    ``reason`` says why a row has none (too few items, statistics not finite)."""

    metric: str
    higher_is_better: bool
    base: float | None
    ft: float | None
    delta: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    n: int = 0
    fixed: int | None = None  # binary metrics: items base got wrong and ft right
    broke: int | None = None
    p_adjusted: float | None = None  # Holm within the row's family
    alpha: float = 0.05
    mde: float | None = None  # two-sided, 80 % power, at the Holm level alpha / (family size)
    method: str | None = None
    tested: bool = True
    family: str | None = None
    reason: str | None = None

    @property
    def improved(self) -> bool | None:
        """True (ft better) / False (ft worse) when the Holm-adjusted p is below alpha; None
        when the data do not say, or the row is not tested."""
        p = self.p_adjusted
        if not self.tested or self.reason or p is None or self.delta is None or p >= self.alpha or self.delta == 0:
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
    dropped: int = 0  # items left out because the request failed on either side
    answered_base: int = 0  # items with an answer (scored, whatever it was)
    answered_ft: int = 0
    errors_base: int = 0  # failed requests: missing data
    errors_ft: int = 0
    empty_base: int = 0  # answered with nothing (scored)
    empty_ft: int = 0
    unparsed_base: int = 0  # answered, but the task could read no answer in it (scored)
    unparsed_ft: int = 0
    warnings: list[str] = field(default_factory=list)
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
    if len(base) == len(ft) and all(a["id"] == b["id"] for a, b in zip(base, ft)):
        return base, ft  # the usual case: both runs list the items in the same order
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


def item_groups(task: str, samples: list[dict]) -> list[str] | None:
    """The items' cluster labels, or None when no item has one. Some with and some without is
    refused: clustering switched off for the whole task by one unlabelled item would make its
    intervals as narrow as if the items were independent."""
    labels = [s.get("group") for s in samples]
    without = [s["id"] for s, g in zip(samples, labels) if g is None]
    if not samples or len(without) == len(samples):
        return None
    if without:
        raise CompareError(
            f"task '{task}': {len(without)} of {len(samples)} items have no group (e.g. '{without[0]}') while the others "
            "have one; give every item a group in the task's data (fields.group), or none"
        )
    return labels


def resample_rng(seed: int, *parts: str) -> np.random.Generator:
    # One stream per (task, metric): results do not depend on which other tasks ran.
    return np.random.default_rng([seed, zlib.crc32("/".join(parts).encode())])


def compare_metric(name: str, hib: bool, sa: np.ndarray, sb: np.ndarray, groups, confidence, *, tested: bool, family: str,
                   value=None):
    """One row from the paired (base, candidate) statistics of the items both answered."""
    from evalkit.compare import estimates

    metric = metric_for_result(name, value)  # value: the run's MetricValue (a task's direction, a scorer's kind)
    n = len(sa)
    alpha = 1 - confidence
    with np.errstate(all="ignore"):
        base_v, ft_v = (estimates.finite(float(metric.from_stats(x.sum(axis=0)))) for x in (sa, sb))
    row = MetricComparison(name, hib, base_v, ft_v, None if base_v is None or ft_v is None else ft_v - base_v,
                           n=n, alpha=alpha, tested=tested, family=family)
    est = estimates.paired(name, sa, sb, groups, metric)
    if metric.binary and n:
        if getattr(est, "method", None) == "tango-score":  # the estimate counted the cells already
            fixed, broke = est.fixed, est.broke
        else:
            fixed, broke = int(np.sum((sa[:, 0] == 0) & (sb[:, 0] == 1))), int(np.sum((sa[:, 0] == 1) & (sb[:, 0] == 0)))
        row = replace(row, fixed=fixed, broke=broke)
    if not est.usable:
        return replace(row, method=est.method, reason=est.reason), est
    low, high = est.ci(alpha)
    row = replace(row, delta=float(est.delta), ci_low=estimates.finite(low), ci_high=estimates.finite(high),
                  p_value=estimates.finite(est.p_two_sided()), method=getattr(est, "test_name", est.method))
    return replace(row, reason=estimates.too_few(name, n, groups, metric)), est


def _accounting(tc: TaskComparison, pair) -> None:
    """Tokens, cost and latency per item, side by side: a fine-tune often buys a short prompt."""
    for side, cols in (("base", pair.b), ("ft", pair.f)):
        tokens, latency, costs = cols.accounting()
        if pair.keep is not None:
            tokens, latency, costs = tokens[pair.keep], latency[pair.keep], costs[pair.keep]
        setattr(tc, f"prompt_tokens_{side}", float(tokens.mean()))
        if not np.isnan(costs).any():  # known for every kept item
            setattr(tc, f"cost_{side}", sum(costs.tolist()) / len(costs))
        if len(latency) and not np.isnan(latency).any():  # as the cost: known for every kept item, else "-"
            p50, p95 = np.percentile(latency, [50, 95])
            setattr(tc, f"latency_p50_{side}", float(p50))
            setattr(tc, f"latency_p95_{side}", float(p95))


def _where(source: str | None) -> str | None:
    """A stored run's folder as compare.json records it: absolute, so that `evalkit report`
    and `evalkit view` find it from any folder (a path as typed is relative to where compare ran)."""
    from pathlib import Path

    return str(Path(source).resolve()) if source else None


def compare_task(runs, tb: TaskResult, tf: TaskResult, confidence, found: dict):
    """One task's rows (``runs``: a ``columns.PairedRuns``); each row's estimate goes into
    ``found[(task, metric)]``."""
    tc = TaskComparison(task=tb.task, suite=tb.suite, role=tb.role, status="ok")
    if tb.status == "skipped" or tf.status == "skipped":
        tc.status = "skipped"
        if tb.reason == tf.reason:  # one reason for both (an offline dataset, say): say it once
            tc.reason = tb.reason
        else:
            tc.reason = "; ".join(f"{who}: {t.reason}" for who, t in (("base", tb), ("candidate", tf)) if t.reason)
        return tc
    pair = runs.pair(tb.task)
    ob, of = pair.b.outcomes, pair.f.outcomes
    for side, o in (("base", ob), ("ft", of)):
        for what in ("answered", "empty", "unparsed"):
            setattr(tc, f"{what}_{side}", getattr(o, what))
        setattr(tc, f"errors_{side}", o.error)
    tc.warnings = outcome_warnings(tb.task, (runs.base.model, runs.ft.model), (ob, of))
    tc.dropped, tc.n = pair.dropped, pair.n
    if pair.n:
        _accounting(tc, pair)
    groups = pair.groups()
    family = "target" if tb.role == "target" else "forgetting"
    for i, (name, mv) in enumerate(tb.metrics.items()):
        if name not in tf.metrics:
            continue
        tested = i == 0  # the task's first metric is its primary one; the others are shown, not tested
        if not pair.n:
            tc.metrics.append(MetricComparison(name, mv.higher_is_better, None, None, None, tested=tested, family=family,
                                               alpha=1 - confidence, reason="no item answered by both models"))
            continue
        sa, sb = pair.stats(name)
        row, found[(tb.task, name)] = compare_metric(name, mv.higher_is_better, sa, sb, groups, confidence,
                                                     tested=tested, family=family, value=mv)
        tc.metrics.append(row)
    return tc


def _holm_by_family(tasks: list[TaskComparison], alpha: float, found: dict) -> None:
    """Holm within each family of primary-metric rows: target tasks (is the fine-tune
    better?) and forgetting probes (did it lose anything?) are separate questions, each
    with its own family-wise error rate. A row with no usable estimate stays in its family
    with p = 1, so the family never shrinks. The minimum detectable effect is shown at
    alpha / (family size), the level Holm's first step tests at."""
    from evalkit.compare import estimates
    from evalkit.stats import holm

    families: dict[str, list[tuple[TaskComparison, int]]] = {}
    for t in tasks:
        for i, m in enumerate(t.metrics):
            if m.tested:
                families.setdefault(m.family, []).append((t, i))
    for rows in families.values():
        ps = [1.0 if (m := t.metrics[i]).p_value is None or m.reason else m.p_value for t, i in rows]
        for (t, i), p in zip(rows, holm(ps)):
            t.metrics[i] = replace(t.metrics[i], p_adjusted=float(p))
    for t in tasks:
        for i, m in enumerate(t.metrics):
            size = len(families.get(m.family, ())) if m.tested else 1
            est = found.get((t.task, m.metric))
            if est is not None and est.usable:
                t.metrics[i] = replace(m, mde=estimates.finite(est.mde(alpha / max(size, 1), sided=2)))


def compare_runs(base: RunResult, ft: RunResult, *, seed: int, n_resamples: int = 10_000, confidence: float = 0.95,
                 columns=None) -> Comparison:
    """The table: one paired estimate per task x metric (no resampling; ``seed`` and
    ``n_resamples`` are recorded for the suite-level gates, the one place that resamples).
    ``columns``: a ``columns.PairedRuns`` of these two runs already read (else built here)."""
    from evalkit.compare.columns import PairedRuns, RunColumns

    tasks, found = [], {}
    runs = columns if columns is not None and columns.of(base, ft) else PairedRuns(RunColumns(base), RunColumns(ft))
    for tb in base.tasks:
        tf = ft.task(tb.task)
        if tf is None:
            continue
        tasks.append(compare_task(runs, tb, tf, confidence, found))
    if not tasks:
        raise CompareError(f"'{base.model}' and '{ft.model}' share no task: nothing to compare")
    from evalkit.compare.groups import add_group_rows

    add_group_rows(base, ft, tasks, confidence=confidence)  # group rows: a weighted sum of member estimates
    _holm_by_family(tasks, 1 - confidence, found)
    c = Comparison(
        base=base.model, candidate=ft.model, tasks=tasks, seed=seed, n_resamples=n_resamples,
        confidence=confidence, base_source=_where(base.source), candidate_source=_where(ft.source),
    )
    c.estimates = found  # not fields (never serialised): the gates reuse them in this process
    c.columns = runs
    return c


def _from_json(d: dict[str, Any]) -> Comparison:
    tasks = []
    for td in d["tasks"]:
        metrics = [MetricComparison(**{k: v for k, v in md.items() if k != "improved"}) for md in td["metrics"]]
        tasks.append(TaskComparison(**{**td, "metrics": metrics}))
    return Comparison(**{**d, "tasks": tasks})


def run_fingerprint(run: RunResult) -> str:
    """What a comparison depends on in a run: task outcomes and every item's statistics."""
    from evalkit.runner.cache import digest

    tasks = [(t.task, t.suite, t.role, t.status, t.reason, {k: v.higher_is_better for k, v in t.metrics.items()}, t.members)
             for t in run.tasks]
    stored = run.stored_columns()
    if stored is not None:  # the hash of the samples.jsonl its columns were read from: no dict is built
        return digest({"model": run.model, "tasks": tasks, "samples_sha256": stored.sha256})
    samples = [(s["task"], s["id"], s["status"], s.get("group"), s["prompt_tokens"], s.get("stats")) for s in run.samples]
    return digest({"model": run.model, "tasks": tasks, "samples": samples})


def cached_compare(cache, base: RunResult, ft: RunResult, *, seed: int, n_resamples: int, confidence: float) -> Comparison:
    """compare_runs, memoised in the response cache's database by everything it depends on."""
    from evalkit.runner.cache import code_version, digest

    key = digest({
        "v": 2, "code": code_version(), "base": run_fingerprint(base), "ft": run_fingerprint(ft),
        "seed": seed, "n_resamples": n_resamples, "confidence": confidence,
    })
    hit = cache.memo_get(key)
    if hit is not None:
        c = _from_json(hit)
    else:
        c = compare_runs(base, ft, seed=seed, n_resamples=n_resamples, confidence=confidence)
        cache.memo_put(key, "compare", asdict(c))
    c.base_source, c.candidate_source = _where(base.source), _where(ft.source)
    return c
