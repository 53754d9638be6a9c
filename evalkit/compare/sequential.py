"""Gates that look after every chunk of items and stop as soon as every gate is decided.

``evalkit compare --gate --sequential`` evaluates the items of every task in one seeded random
order (the runner's :func:`evalkit.suites.items.seeded_prefix`), a growing prefix at a time.
After each look every undecided gate updates an anytime-valid confidence sequence
(:mod:`evalkit.stats.sequential`) and is decided the first time the sequence clears its
threshold; the run stops when no gate is left undecided, and gates still open after the
last look are INCONCLUSIVE. Because the sequence covers the truth at every look at once,
looking ten times keeps the false-PASS rate at alpha (benchmarks/calibration.py measures it).

Per-item values are the paired differences of the gate's metric (ft - base), linearised for
ratio and corpus metrics (:func:`evalkit.stats.linearized.influence`), oriented so that a
gain is positive. ``must_improve`` gates split alpha evenly (Bonferroni: Holm's step-down
has no simple anytime form); ``must_not_regress`` and ``min_score`` gates each use their own
alpha, as in the fixed-n gates; with several candidates every gate's alpha is further split
among them. Suite gates use the mean of their tasks' differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from evalkit.compare.gates import FAIL, INCONCLUSIVE, PASS, GateReport, GateResult
from evalkit.metrics.registry import metric_for_result
from evalkit.stats.sequential import ConfidenceSequence
from evalkit.suites.items import order_key

# Metrics whose per-item difference is bounded by this range (0/1 scores and scores in [0, 1]):
# the confidence sequence's spread floor needs it; unbounded ones get no floor.
_BOUNDED = {"exact_match": 2.0, "accuracy": 2.0, "acc_norm": 2.0, "f1": 2.0, "rouge_l": 2.0}


@dataclass
class _GateState:
    gate: object
    sequence: ConfidenceSequence
    verdict: str | None = None
    decided_at: int | None = None
    last: object = None  # the latest SequenceBound
    tasks: tuple[str, ...] = ()
    estimate: float = math.nan
    metric: object = None  # as the runs recorded it (a task may turn its direction around)


@dataclass
class SequentialGates:
    """The sequential state of a set of gates for one base / candidate pair."""

    gates: list
    planned: dict[str, int]  # task -> items it has in all
    suite_of: dict[str, str]  # task -> its suite
    seed: int
    candidates: int = 1  # each gate is one family across the candidates (Bonferroni)
    states: list[_GateState] = field(default_factory=list)
    looks: int = 0

    def __post_init__(self):
        improve = sum(g.type == "must_improve" for g in self.gates)
        for g in self.gates:
            alpha = (g.alpha / improve if g.type == "must_improve" else g.alpha) / self.candidates
            tasks = self._tasks_of(g)
            planned = max(sum(self.planned.get(t, 0) for t in tasks), 1)
            width = _BOUNDED.get(g.metric)  # the range of a paired difference
            if width is not None and g.type == "min_score":
                width /= 2  # a score in [0, 1], not a difference in [-1, 1]
            sequence = ConfidenceSequence(alpha=alpha, planned_n=planned, value_range=width)
            self.states.append(_GateState(g, sequence, tasks=tasks))

    def _tasks_of(self, gate) -> tuple[str, ...]:
        if getattr(gate, "suite", None) is None:
            return (gate.task,)
        return tuple(sorted(t for t, s in self.suite_of.items() if s == gate.suite))

    @property
    def done(self) -> bool:
        return all(s.verdict is not None for s in self.states)

    def look(self, base_run, ft_run) -> None:
        """Update every undecided gate with the items both runs now hold."""
        self.resolve_metrics(base_run)
        self.look_pairs({i: _ordered_pairs(s.gate, s.tasks, base_run, ft_run, self.seed)
                         for i, s in enumerate(self.states) if s.verdict is None})

    def resolve_metrics(self, run) -> None:
        for s in self.states:
            if s.metric is None:
                s.metric = _run_metric(run, s.gate.metric, s.tasks)

    def look_pairs(self, pairs: dict[int, list | None], upto: float = 1.0) -> None:
        """Update gate ``i`` with the first ``upto`` share of each task's ordered (base, ft)
        statistics in ``pairs[i]`` (the whole of them by default)."""
        self.looks += 1
        for i, state in enumerate(self.states):
            if state.verdict is not None or pairs.get(i) is None:
                continue
            cut = [(a[: math.ceil(len(a) * upto)], b[: math.ceil(len(b) * upto)]) for a, b in pairs[i]]
            values = _values(state.gate, cut, state.metric)
            if values is None or values.size < 2:
                continue
            state.last = state.sequence.update(values)
            state.estimate = float(values.mean())
            verdict = _decide(state.gate, state.last, _hib(state))
            if verdict is not None:
                state.verdict, state.decided_at = verdict, int(values.size)

    def report(self, base: str, candidate: str) -> GateReport:
        return GateReport(base, candidate, self.seed, 0, tuple(_result(s, self.looks) for s in self.states))


def _threshold(gate) -> float:
    if gate.type == "must_improve":
        return gate.min_effect
    if gate.type == "must_not_regress":
        return -gate.margin
    return gate.min


def _decide(gate, bound, higher_is_better: bool) -> str | None:
    """PASS once the sequence's lower end clears the threshold, FAIL once its upper end is
    below it; None while it straddles it."""
    threshold = _threshold(gate)
    if gate.type == "min_score" and not higher_is_better:
        threshold = -threshold
    if bound.low > threshold or (gate.type == "min_score" and bound.low >= threshold):
        return PASS
    if bound.high < threshold:
        return FAIL
    return None


def _run_metric(run, name: str, tasks):
    """The gate's metric as the run recorded it for its first task (direction included)."""
    tr = run.task(tasks[0]) if tasks and hasattr(run, "task") else None
    return metric_for_result(name, tr.metrics.get(name) if tr is not None else None)


def _hib(state) -> bool:
    return (state.metric or metric_for_result(state.gate.metric)).higher_is_better


def _ordered_pairs(gate, tasks, base_run, ft_run, seed: int) -> list | None:
    """Per task of the gate, (base stats, ft stats) of the items both models answered, in the
    task's seeded order. Failed requests are left out: a run that met any is incomplete,
    and ``compare`` never lets an incomplete run exit 0."""
    out = []
    for task in tasks:
        b = {s["id"]: s for s in base_run.samples_for(task) if s["status"] != "error"}
        f = {s["id"]: s for s in ft_run.samples_for(task) if s["status"] != "error"}
        ids = sorted((i for i in b if i in f), key=lambda i: order_key(seed, task, i))
        sa = np.array([b[i]["stats"][gate.metric] for i in ids], dtype=float)
        sb = np.array([f[i]["stats"][gate.metric] for i in ids], dtype=float)
        if len(ids) < 2 or not (np.all(np.isfinite(sa)) and np.all(np.isfinite(sb))):
            return None
        out.append((sa, sb))
    return out or None


def _task_values(gate, sa: np.ndarray, sb: np.ndarray, metric=None) -> np.ndarray | None:
    """Oriented per-item values: paired differences (linearised for ratio and corpus metrics),
    or the candidate's own score for min_score."""
    from evalkit.stats.linearized import influence

    metric = metric or metric_for_result(gate.metric)
    sign = 1.0 if metric.higher_is_better else -1.0
    vb, psi_b, _, problem_b = influence(sb, metric.from_stats)
    if gate.type == "min_score":
        return None if problem_b else sign * (vb + psi_b)
    va, psi_a, _, problem_a = influence(sa, metric.from_stats)
    if problem_a or problem_b:
        return None
    return sign * ((vb - va) + psi_b - psi_a)


def _values(gate, pairs: list, metric=None) -> np.ndarray | None:
    parts = [_task_values(gate, sa, sb, metric) for sa, sb in pairs if len(sa) >= 2]
    if len(parts) != len(pairs) or any(p is None for p in parts):
        return None
    if len(parts) == 1:
        return parts[0]
    # A suite's mean gain: each task's values scaled so that the pooled mean is the mean of
    # the task means.
    total = sum(p.size for p in parts)
    return np.concatenate([p * (total / (len(parts) * p.size)) for p in parts])


def _result(state: _GateState, looks: int) -> GateResult:
    gate, bound = state.gate, state.last
    verdict = state.verdict or INCONCLUSIVE
    counts = verdict == FAIL or (verdict == INCONCLUSIVE and gate.inconclusive == "fail")
    threshold = _threshold(gate)
    if bound is None:
        text = "sequential: too few items to decide"
        low = high = None
    else:
        low, high = bound.low, bound.high
        width = state.sequence.value_range
        if width is not None:  # never show more than the metric allows (+-1 for 0/1 scores)
            floor = 0.0 if gate.type == "min_score" else -width / 2
            low, high = max(low, floor), min(high, floor + width)
        when = f"decided after {state.decided_at:,} items" if state.decided_at else f"undecided after {looks} looks"
        text = (f"sequential: estimate {state.estimate:+.4f}, anytime-valid interval [{low:+.4f}, {high:+.4f}] "
                f"vs {threshold:+.4f}; {when}")
    return GateResult(
        name=gate.label, type=gate.type, target=gate.target, metric=gate.metric, verdict=verdict,
        counts_as_fail=counts, higher_is_better=_hib(state), alpha=gate.alpha,
        threshold=abs(threshold) if gate.type == "must_not_regress" else threshold,
        estimate=None if bound is None else state.estimate, ci_low=low, ci_high=high, bound=low,
        bound_level=state.sequence.alpha, n=0 if bound is None else bound.n, message=text,
    )


def sequential_decisions(gates, base_run, ft_run, *, looks: int = 10, seed: int = 0) -> dict[str, str]:
    """Replay a sequential gate on complete runs: look at the first k/looks of every task's
    seeded order, k = 1 .. looks, and stop once every gate is decided. {gate label: verdict}.
    (benchmarks/calibration.py measures the error rates with this.)"""
    planned = {t.task: t.n for t in base_run.tasks}
    state = SequentialGates(list(gates), planned, {t.task: t.suite for t in base_run.tasks}, seed)
    state.resolve_metrics(base_run)
    pairs = {i: _ordered_pairs(s.gate, s.tasks, base_run, ft_run, seed) for i, s in enumerate(state.states)}
    for k in range(1, looks + 1):
        state.look_pairs(pairs, upto=k / looks)
        if state.done:
            break
    return {s.gate.label: s.verdict or INCONCLUSIVE for s in state.states}
