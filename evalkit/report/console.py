"""The comparison table printed in the terminal (rich)."""

from __future__ import annotations

from evalkit.compare.compare import Comparison
from evalkit.report.format import CAPTION, OUTCOME_COLUMNS, num, outcome_cells


def print_comparison(console, c: Comparison) -> None:
    """The comparison table in the richest layout that fits the console (see console_table)."""
    from evalkit.report import console_table as ct

    plain = not console.is_terminal
    pct = round(c.confidence * 100)
    console.print(f"{c.candidate} vs {c.base}: delta = {c.candidate} - {c.base}, paired {pct}% CI", style="bold")
    rows = ct.rows(c)
    for kind, columns in ct.LAYOUTS:
        table = ct.table(c, rows, columns, plain)
        if ct.fits(console, table, console.width):
            console.print(table)
            if kind == "reduced":
                details = [r for r in rows if r.kind == "metric"]
                cols = ct.DETAILS if "task" in columns else ct.DETAILS[1:]  # task headings, as above
                console.print("details: fixed/broke, MDE and n of each row")  # a table title would wrap to its width
                console.print(ct.table(c, details, cols, plain))
            break
    else:
        for line, style in ct.cards(c, rows, console.width):
            console.print(line, style=style or None, markup=False, highlight=False)
    legend = f"{ct.DOWN}: lower is better. not tested: a secondary metric, shown with its raw p in parentheses. "
    console.print(legend + CAPTION.format(pct=pct), style="dim", markup=False)
    for t in c.tasks:
        if t.status == "skipped":
            console.print(f"{t.task}: skipped: {t.reason}", style="dim", markup=False)
        for m in t.metrics:
            if m.reason and m.tested:
                console.print(f"[dim]{t.task} {m.metric}: no verdict: {m.reason}[/dim]")
    print_accounting(console, c)
    print_outcomes(console, c)


def _small_table(console, title: str, columns):
    """The smaller tables in the same light style as the comparison (plain without a terminal);
    prints the title line, the caller fills and prints the table."""
    from rich.table import Table

    from evalkit.report.console_table import _box

    console.print(title, markup=False)  # here, not as the table's title, which would wrap to the table's width
    table = Table(box=_box(not console.is_terminal), show_edge=False, padding=(0, 1, 0, 0), pad_edge=False)
    for col in columns:
        # a long task name folds rather than pushing the numbers off the line or into "…"
        text = col in ("task", "candidate")
        table.add_column(col, justify="left" if text else "right", no_wrap=not text, overflow="fold")
    return table


def print_outcomes(console, c: Comparison) -> None:
    """Answered / empty / unparsed / failed items per task (only when some were not plain
    answers), then the warnings: a score that moved because a model stopped answering in the
    expected form must not pass for a change in skill."""

    rows = [t for t in c.tasks if t.status == "ok" and any(b or f for b, f in outcome_cells(t)[1:])]
    if rows:
        table = _small_table(console, f"answers per task ({c.base} | {c.candidate}); empty and unparsed answers are scored, failed requests are missing",
                             ("task", *OUTCOME_COLUMNS))
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

    rows = [t for t in c.tasks if t.status == "ok" and t.prompt_tokens_base is not None]
    if not rows:
        return
    table = _small_table(console, f"prompt tokens, cost and latency per item ({c.base} | {c.candidate})",
                         ("task", "prompt tokens", "cost / 1k items", "latency p50 ms", "latency p95 ms"))
    for t in rows:
        tokens = "-" if not (t.prompt_tokens_base or t.prompt_tokens_ft) else f"{num(t.prompt_tokens_base, 0)} | {num(t.prompt_tokens_ft, 0)}"
        table.add_row(
            t.task, tokens,
            f"{_usd(t.cost_base)} | {_usd(t.cost_ft)}",
            f"{_ms(t.latency_p50_base)} | {_ms(t.latency_p50_ft)}", f"{_ms(t.latency_p95_base)} | {_ms(t.latency_p95_ft)}",
        )
    console.print(table)


def print_ranking(console, ranking) -> None:

    table = _small_table(console, "ranking of the candidates (each compared with the same base)",
                         ("rank", "candidate", "target tasks\nbetter", "regressions", "gates\nfailed", "prompt tokens\n/ item"))
    for i, r in enumerate(ranking, start=1):
        gates = "-" if r.gates_failed is None else str(r.gates_failed)
        table.add_row(str(i), r.candidate, str(r.target_better), str(r.regressions), gates, num(r.prompt_tokens, 0))
    console.print(table)


def verdict_line(c: Comparison, gate_verdict: str | None = None) -> str:
    """One line for ``--quiet`` and scripts: the tested (primary) rows of each family by verdict."""
    def count(family: str) -> tuple[int, int, int]:
        rows = [m for t in c.tasks for m in t.metrics if m.tested and m.family == family]
        return sum(m.improved is True for m in rows), sum(m.improved is False for m in rows), len(rows)

    (tb, tw, tn), (fb, fw, fn) = count("target"), count("forgetting")
    parts = [f"target tasks: better on {tb}, worse on {tw} of {tn}"] if tn else []
    if fn:
        parts.append(f"forgetting probes: worse on {fw}, better on {fb} of {fn}")
    if gate_verdict is not None:
        parts.append(f"gates: {gate_verdict}")
    return f"{c.candidate} vs {c.base}: " + ("; ".join(parts) or "no tested rows")
