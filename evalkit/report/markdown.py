"""compare.md: the comparison as a Markdown table, for pull requests and CI summaries."""

from __future__ import annotations

from evalkit.compare.compare import Comparison
from evalkit.report.format import CAPTION, OUTCOME_COLUMNS, direction, flips, interval, num, outcome_cells, pvalue, signed, verdict_word


def render_comparison(c: Comparison) -> str:
    pct = round(c.confidence * 100)
    lines = [
        f"## {c.candidate} vs {c.base}",
        "",
        f"delta = {c.candidate} - {c.base}, paired over items, {pct}% interval. " + CAPTION.format(pct=pct),
        "",
        f"| suite | task | metric | {c.base} | {c.candidate} | delta [{pct}% CI] | p (Holm) | fixed / broke | MDE | n | verdict |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for t in c.tasks:
        if t.status == "skipped":
            lines.append(f"| {t.suite} | {t.task} | - | - | - | skipped: {t.reason} | - | - | - | - | - |")
            continue
        for m in t.metrics:
            lines.append(
                f"| {t.suite} ({t.role}) | {t.task} | {m.metric} ({direction(m)}) | {num(m.base)} | {num(m.ft)} | "
                f"{signed(m.delta)} {interval(m)} | {pvalue(m)} | {flips(m)} | {num(m.mde)} | {m.n} | {verdict_word(m)} |"
            )
    lines += [
        "", "### Prompt tokens, cost and latency per item", "",
        f"| task | prompt tokens {c.base} | prompt tokens {c.candidate} | USD / 1k items {c.base} | USD / 1k items {c.candidate} "
        f"| p50 ms {c.base} | p50 ms {c.candidate} | items dropped (errors) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in c.tasks:
        if t.status == "ok":
            usd = [("-" if x is None else f"{x * 1000:.4f}") for x in (t.cost_base, t.cost_ft)]
            ms = [("-" if x is None else f"{x * 1000:.1f}") for x in (t.latency_p50_base, t.latency_p50_ft)]
            lines.append(
                f"| {t.task} | {num(t.prompt_tokens_base, 1)} | {num(t.prompt_tokens_ft, 1)} | {usd[0]} | {usd[1]} "
                f"| {ms[0]} | {ms[1]} | {t.dropped} |"
            )
    return "\n".join(lines + _outcomes(c)) + "\n"


def _outcomes(c: Comparison) -> list[str]:
    """Answers per task and model; empty and unparsed answers are scored, failed requests missing."""
    lines = [
        "", f"### Answers per task ({c.base} / {c.candidate})", "",
        "Empty and unparsed answers are scored as given (usually wrong); failed requests are missing data.", "",
        "| task | " + " | ".join(OUTCOME_COLUMNS) + " |", "|---|" + "---:|" * len(OUTCOME_COLUMNS),
    ]
    tasks = [t for t in c.tasks if t.status == "ok"]
    lines += [f"| {t.task} | " + " | ".join(f"{b} / {f}" for b, f in outcome_cells(t)) + " |" for t in tasks]
    warnings = [w for t in tasks for w in t.warnings]
    return lines + ([""] + [f"- **warning**: {w}" for w in warnings] if warnings else [])


def render_ranking(ranking) -> str:
    lines = ["## Ranking", "", "| rank | candidate | target tasks better | regressions | gates failed | prompt tokens / item |",
             "|---:|---|---:|---:|---:|---:|"]
    for i, r in enumerate(ranking, start=1):
        gates = "-" if r.gates_failed is None else r.gates_failed
        lines.append(f"| {i} | {r.candidate} | {r.target_better} | {r.regressions} | {gates} | {num(r.prompt_tokens, 0)} |")
    return "\n".join(lines) + "\n"


def render(comparisons: list[Comparison], ranking=(), best: str = "") -> str:
    head = "# evalkit compare\n\n"
    body = "\n".join(render_comparison(c) for c in comparisons)
    ranked = render_ranking(ranking) + (f"\n{best}\n" if best else "") + "\n" if ranking else ""
    return head + ranked + body
