"""compare.md: the comparison as a Markdown table, for pull requests and CI summaries."""

from __future__ import annotations

from evalkit.compare.compare import Comparison
from evalkit.report.format import direction, flips, interval, num, signed, verdict_word


def render_comparison(c: Comparison) -> str:
    pct = round(c.confidence * 100)
    lines = [
        f"## {c.candidate} vs {c.base}",
        "",
        f"Paired bootstrap over items ({c.n_resamples:,} resamples, seed {c.seed}); "
        f"delta = {c.candidate} - {c.base}; {pct}% interval.",
        "",
        f"| suite | task | metric | {c.base} | {c.candidate} | delta [{pct}% CI] | fixed / broke | n | verdict |",
        "|---|---|---|---:|---:|---|---:|---:|---|",
    ]
    for t in c.tasks:
        if t.status == "skipped":
            lines.append(f"| {t.suite} | {t.task} | - | - | - | skipped: {t.reason} | - | - | - |")
            continue
        for m in t.metrics:
            lines.append(
                f"| {t.suite} ({t.role}) | {t.task} | {m.metric} ({direction(m)}) | {num(m.base)} | {num(m.ft)} | "
                f"{signed(m.delta)} {interval(m)} | {flips(m)} | {m.n} | {verdict_word(m)} |"
            )
    lines += ["", "### Prompt tokens per item", "", f"| task | {c.base} | {c.candidate} | errors dropped |", "|---|---:|---:|---:|"]
    for t in c.tasks:
        if t.status == "ok":
            lines.append(f"| {t.task} | {num(t.prompt_tokens_base, 1)} | {num(t.prompt_tokens_ft, 1)} | {t.dropped} |")
    return "\n".join(lines) + "\n"


def render(comparisons: list[Comparison]) -> str:
    head = "# evalkit compare\n\n"
    return head + "\n".join(render_comparison(c) for c in comparisons)
