"""Ranking several fine-tuned candidates that were each compared with the same base.

Each task counts once, by its first (primary) metric and the comparison's Holm-adjusted
verdict. Order: fewest failed gates, then fewest regressions (target tasks worse or
forgetting probes worse), then most target wins, then the shortest prompts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.compare.compare import Comparison


@dataclass(frozen=True)
class Rank:
    candidate: str
    target_better: int
    regressions: int
    gates_failed: int | None
    prompt_tokens: float | None


def _primary(task):
    return task.metrics[0] if task.status == "ok" and task.metrics else None


def rank(comparisons: list[Comparison], gate_reports: dict[str, object] | None = None) -> list[Rank]:
    ranks = []
    for c in comparisons:
        primary = [(t, _primary(t)) for t in c.tasks]
        better = sum(1 for t, m in primary if m is not None and t.role == "target" and m.improved is True)
        worse = sum(1 for _, m in primary if m is not None and m.improved is False)
        tokens = [t.prompt_tokens_ft for t, _ in primary if t.prompt_tokens_ft is not None]
        report = (gate_reports or {}).get(c.candidate)
        failed = sum(g.counts_as_fail for g in report.gates) if report is not None else None
        ranks.append(Rank(c.candidate, better, worse, failed, sum(tokens) / len(tokens) if tokens else None))
    return sorted(ranks, key=lambda r: (r.gates_failed or 0, r.regressions, -r.target_better, r.prompt_tokens or 0.0))


@dataclass(frozen=True)
class PairwiseClaim:
    """One candidate against another on one target task's primary metric (a gain: positive
    means ``first`` is better), with its Holm-adjusted two-sided p over every pair and task."""

    first: str
    second: str
    task: str
    metric: str
    gain: float
    ci_low: float
    ci_high: float
    p_adjusted: float
    method: str

    @property
    def shown(self) -> bool:
        return self.p_adjusted < 0.05


def _pair(task: str, metric: str, hib: bool, a, b, alpha: float, names: tuple[str, str]):
    from evalkit.compare import estimates
    from evalkit.compare.compare import align_items, item_groups, paired_keep
    from evalkit.compare.gain import Oriented, gain_sign

    x, y = align_items(task, a.samples_for(task), b.samples_for(task))
    keep = paired_keep(x, y)
    if not keep:
        return None
    sa = np.array([x[i]["stats"][metric] for i in keep], dtype=float)
    sb = np.array([y[i]["stats"][metric] for i in keep], dtype=float)
    groups = item_groups(task, [x[i] for i in keep])
    m = a.metric(task, metric)
    est = estimates.paired(metric, sa, sb, groups, m)
    if not est.usable or estimates.too_few(metric, len(keep), groups, m):
        return None
    g = Oriented(est, gain_sign(hib))
    low, high = g.ci(alpha)
    # first = the candidate b, second = a: the gain is b's over a's; the raw p until Holm.
    return PairwiseClaim(names[1], names[0], task, metric, g.value, low, high, est.p_two_sided(), est.method)


def pairwise_claims(runs, comparisons: list[Comparison], alpha: float = 0.05) -> list[PairwiseClaim]:
    """Every pair of candidates compared directly (paired on the shared items) on every target
    task's primary metric; Holm over all of them, so "ft2 beats ft1" in a sweep is a claim
    with its own family-wise error control, not a reading of two separate comparisons."""
    from dataclasses import replace

    from evalkit.compare.columns import RunColumns
    from evalkit.stats import holm

    grouped = [RunColumns(r) for r in runs]
    primary = [(t.task, t.metrics[0]) for t in comparisons[0].tasks
               if t.status == "ok" and t.role == "target" and t.metrics and t.metrics[0].tested]
    claims = []
    for i in range(len(runs)):
        for j in range(i + 1, len(runs)):
            for task, m in primary:
                c = _pair(task, m.metric, m.higher_is_better, grouped[i], grouped[j], alpha, (runs[i].model, runs[j].model))
                if c is not None:
                    claims.append(c)
    adjusted = holm([c.p_adjusted for c in claims]) if claims else []
    out = []
    for c, p in zip(claims, adjusted):
        c = replace(c, p_adjusted=float(p))
        if c.gain < 0:  # name the better one first
            c = replace(c, first=c.second, second=c.first, gain=-c.gain, ci_low=-c.ci_high, ci_high=-c.ci_low)
        out.append(c)
    return out


def best_statement(ranking: list[Rank], claims: list[PairwiseClaim]) -> str:
    """Which candidate is best, and what the direct, adjusted comparisons do and do not show."""
    if not ranking:
        return ""
    best = ranking[0].candidate
    wins = [c for c in claims if c.shown and c.first == best]
    losses = [c for c in claims if c.shown and c.second == best]
    text = f"best candidate by the ranking: {best}"
    if wins:
        text += "; it beats " + "; ".join(
            f"{c.second} on {c.task} {c.metric} ({c.gain:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}], Holm p {c.p_adjusted:.3g})"
            for c in wins)
    if losses:
        text += "; but it is beaten by " + "; ".join(f"{c.first} on {c.task} {c.metric} (Holm p {c.p_adjusted:.3g})" for c in losses)
    if not wins and not losses:
        text += "; no direct comparison between the candidates shows a difference on a target task (Holm over all pairs)"
    return text
