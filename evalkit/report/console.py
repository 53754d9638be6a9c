"""The comparison table printed in the terminal (rich)."""

from __future__ import annotations

from evalkit.compare.compare import Comparison
from evalkit.report.format import flips, interval, num, signed, verdict_word

_STYLE = {True: "green", False: "red", None: "dim"}


def print_comparison(console, c: Comparison) -> None:
    from rich.table import Table

    pct = round(c.confidence * 100)
    table = Table(title=f"{c.candidate} vs {c.base}: delta = {c.candidate} - {c.base}, paired bootstrap {pct}% CI")
    for col, just in (("task", "left"), ("metric", "left"), (c.base, "right"), (c.candidate, "right"),
                      (f"delta [{pct}% CI]", "right"), ("fixed/broke", "right"), ("n", "right"), ("verdict", "left")):
        table.add_column(col, justify=just, no_wrap=True)
    suite = None
    for t in c.tasks:
        if t.suite != suite:
            suite = t.suite
            table.add_section()
            table.add_row(f"[bold]{t.suite}[/bold] [dim]({t.role})[/dim]", *[""] * 7)
        if t.status == "skipped":
            table.add_row(f"  {t.task}", "-", "-", "-", f"skipped: {t.reason}", "-", "-", "")
            continue
        for i, m in enumerate(t.metrics):
            arrow = "" if m.higher_is_better else " (lower better)"
            style = _STYLE[m.improved]
            table.add_row(
                f"  {t.task}" if i == 0 else "", m.metric + arrow, num(m.base), num(m.ft),
                f"{signed(m.delta)} {interval(m)}", flips(m), str(m.n), f"[{style}]{verdict_word(m)}[/{style}]",
            )
    console.print(table)
    tokens = [(t.task, t.prompt_tokens_base, t.prompt_tokens_ft) for t in c.tasks if t.status == "ok" and t.prompt_tokens_base]
    if tokens:
        line = ", ".join(f"{task} {num(b, 0)} -> {num(f, 0)}" for task, b, f in tokens)
        console.print(f"prompt tokens per item ({c.base} -> {c.candidate}): {line}")
    dropped = sum(t.dropped for t in c.tasks)
    if dropped:
        console.print(f"[yellow]{dropped} item(s) dropped from the paired tests because a backend failed on them[/yellow]")
