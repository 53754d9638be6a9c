"""Ranking several fine-tuned candidates that were each compared with the same base.

Each task counts once, by its first (primary) metric and the comparison's Holm-adjusted
verdict. Order: fewest failed gates, then fewest regressions (target tasks worse or
forgetting probes worse), then most target wins, then the shortest prompts."""

from __future__ import annotations

from dataclasses import dataclass

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
