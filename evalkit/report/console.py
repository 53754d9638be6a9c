"""The comparison table printed in the terminal (rich)."""

from __future__ import annotations

from evalkit.compare.compare import Comparison
from evalkit.report.format import CAPTION, OUTCOME_COLUMNS, flips, interval, num, outcome_cells, pvalue, signed, verdict_word

_STYLE = {True: "green", False: "red", None: "dim"}


def print_comparison(console, c: Comparison) -> None:
    from rich.markup import escape  # "exact_match[strict]" is a name, not a rich style tag
    from rich.table import Table

    pct = round(c.confidence * 100)
    table = Table(title=f"{c.candidate} vs {c.base}: delta = {c.candidate} - {c.base}, paired {pct}% CI",
                  caption=CAPTION.format(pct=pct))
    for col, just in (("task", "left"), ("metric", "left"), (c.base, "right"), (c.candidate, "right"),
                      (f"delta [{pct}% CI]", "right"), ("p (Holm)", "right"), ("fixed/broke", "right"),
                      ("MDE", "right"), ("n", "right"),
                      ("verdict", "left")):
        table.add_column(col, justify=just, no_wrap=True)
    suite = None
    for t in c.tasks:
        if t.suite != suite:
            suite = t.suite
            table.add_section()
            role = "" if t.suite == t.role else f" [dim]({t.role})[/dim]"
            table.add_row(f"[bold]{t.suite}[/bold]{role}", *[""] * 9)
        if t.status == "skipped":
            table.add_row(f"  {t.task}", "-", "-", "-", f"skipped: {t.reason}", "-", "-", "-", "-", "")
            continue
        for i, m in enumerate(t.metrics):
            arrow = "" if m.higher_is_better else " (lower=better)"
            style = _STYLE[m.improved]
            table.add_row(
                f"  {t.task}" if i == 0 else "", escape(m.metric) + arrow, num(m.base), num(m.ft),
                f"{signed(m.delta)} {interval(m)}", pvalue(m), flips(m), num(m.mde), str(m.n),
                f"[{style}]{verdict_word(m)}[/{style}]",
            )
    console.print(table)
    for t in c.tasks:
        for m in t.metrics:
            if m.reason and m.tested:
                console.print(f"[dim]{t.task} {m.metric}: no verdict: {m.reason}[/dim]")
    print_accounting(console, c)
    print_outcomes(console, c)


def print_outcomes(console, c: Comparison) -> None:
    """Answered / empty / unparsed / failed items per task (only when some were not plain
    answers), then the warnings: a score that moved because a model stopped answering in the
    expected form must not pass for a change in skill."""
    from rich.table import Table

    rows = [t for t in c.tasks if t.status == "ok" and any(b or f for b, f in outcome_cells(t)[1:])]
    if rows:
        table = Table(title=f"answers per task ({c.base} | {c.candidate}); empty and unparsed answers are scored, failed requests are missing")
        for col in ("task", *OUTCOME_COLUMNS):
            table.add_column(col, justify="left" if col == "task" else "right", no_wrap=True)
        for t in rows:
            table.add_row(t.task, *(f"{b} | {f}" for b, f in outcome_cells(t)))
        console.print(table)
    for t in c.tasks:
        for w in t.warnings:
            console.print(f"[yellow]warning: {w}[/yellow]")
        if t.dropped:
            console.print(f"[yellow]{t.task}: {t.dropped} item(s) with a failed request left out of the paired tests on both sides[/yellow]")


def _usd(x):
    return "-" if x is None else f"${x * 1000:.4f}"


def _ms(x):
    return "-" if x is None else f"{x * 1000:.1f}"


def print_accounting(console, c: Comparison) -> None:
    """Prompt tokens, cost (per 1,000 items) and latency per item, base next to candidate."""
    from rich.table import Table

    rows = [t for t in c.tasks if t.status == "ok" and t.prompt_tokens_base is not None]
    if not rows:
        return
    table = Table(title=f"prompt tokens, cost and latency per item ({c.base} | {c.candidate})")
    for col in ("task", "prompt tokens", "cost / 1k items", "latency p50 ms", "latency p95 ms"):
        table.add_column(col, justify="left" if col == "task" else "right", no_wrap=True)
    for t in rows:
        tokens = "-" if not (t.prompt_tokens_base or t.prompt_tokens_ft) else f"{num(t.prompt_tokens_base, 0)} | {num(t.prompt_tokens_ft, 0)}"
        table.add_row(
            t.task, tokens,
            f"{_usd(t.cost_base)} | {_usd(t.cost_ft)}",
            f"{_ms(t.latency_p50_base)} | {_ms(t.latency_p50_ft)}", f"{_ms(t.latency_p95_base)} | {_ms(t.latency_p95_ft)}",
        )
    console.print(table)


def print_ranking(console, ranking) -> None:
    from rich.table import Table

    table = Table(title="ranking of the candidates (each compared with the same base)")
    for col in ("rank", "candidate", "target tasks better", "regressions", "gates failed", "prompt tokens / item"):
        table.add_column(col, justify="left" if col == "candidate" else "right")
    for i, r in enumerate(ranking, start=1):
        gates = "-" if r.gates_failed is None else str(r.gates_failed)
        table.add_row(str(i), r.candidate, str(r.target_better), str(r.regressions), gates, num(r.prompt_tokens, 0))
    console.print(table)
