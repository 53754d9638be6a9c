"""The comparison table in the terminal, laid out for the width it gets.

A table squeezed below its natural width makes rich cut numbers ("…") or give a column zero
width, so no column here may shrink: instead the richest layout that fits is chosen by
measuring it. The full table (one line per metric) when it fits; else the same without
fixed/broke, MDE and n, which follow in a details table; else two or more lines per metric
(``cards``), which fit any terminal. Without a terminal (logs, CI) the table is plain text.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.compare.compare import Comparison, MetricComparison
from evalkit.report.format import flips, num, pvalue, signed, verdict_word

DOWN = "↓"  # marks a lower-is-better metric; the legend under the table says so
FULL = ("task", "metric", "base", "ft", "delta", "ci", "p", "flips", "mde", "n", "verdict")
REDUCED = ("task", "metric", "base", "ft", "delta", "ci", "p", "verdict")
DETAILS = ("task", "metric", "flips", "mde", "n")
# Each layout twice: with a task column, then narrower, with each task as a heading row.
LAYOUTS = (("full", FULL), ("full", FULL[1:]), ("reduced", REDUCED), ("reduced", REDUCED[1:]))
_RIGHT = {"base", "ft", "delta", "ci", "p", "flips", "mde", "n"}
_STYLE = {True: "green", False: "red", None: "dim"}


@dataclass(frozen=True)
class Row:
    """One printed row: a suite heading (``kind='suite'``), a skipped task or a metric."""

    kind: str
    cells: dict
    style: str = ""


def compact(x: float | None) -> str:
    """A signed change; above 1,000 in whole units (three decimals of a perplexity of
    6,201 are noise and cost a terminal column each)."""
    if x is not None and x == x and abs(x) >= 1000:
        return f"{x:+,.0f}"
    return signed(x)


def ci_text(m: MetricComparison) -> str:
    return "-" if m.ci_low is None else f"[{compact(m.ci_low)}, {compact(m.ci_high)}]"


def verdict_text(m: MetricComparison) -> str:
    # "not tested (secondary)" is spelled out once in the legend, not on every row
    return "not tested" if not m.tested else verdict_word(m)


def rows(c: Comparison) -> list[Row]:
    out, suite = [], None
    for t in c.tasks:
        if t.suite != suite:
            suite = t.suite
            out.append(Row("suite", {"task": "# " + (t.suite if t.suite == t.role else f"{t.suite} ({t.role})")}))
        if t.status == "skipped":
            # the reason is printed under the table: as a cell it would widen a column for every row
            out.append(Row("skipped", {"task": t.task, "metric": "-", "verdict": "skipped"}))
            continue
        for i, m in enumerate(t.metrics):
            out.append(Row("metric", {
                "task": t.task if i == 0 else "", "metric": m.metric + ("" if m.higher_is_better else f" {DOWN}"),
                "base": num(m.base), "ft": num(m.ft), "delta": compact(m.delta), "ci": ci_text(m), "p": pvalue(m),
                "flips": flips(m), "mde": num(m.mde), "n": str(m.n), "verdict": verdict_text(m),
            }, _STYLE[m.improved]))
    return out


def headers(c: Comparison) -> dict[str, str]:
    pct = round(c.confidence * 100)
    # a long model name would widen its column past its numbers: the title line names both
    base, ft = (c.base, c.candidate) if max(len(c.base), len(c.candidate)) <= 12 else ("base", "candidate")
    return {"task": "task", "metric": "metric", "base": base, "ft": ft, "delta": "delta",
            "ci": f"{pct}% CI", "p": "p\n(Holm)", "flips": "fixed/\nbroke", "mde": "MDE", "n": "n", "verdict": "verdict"}


def _box(plain: bool):
    from rich import box

    # Spaces between columns and one rule under the header; plain text uses "-" for it.
    return box.Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True) if plain else box.SIMPLE_HEAD


def table(c: Comparison, rows_: list[Row], columns: tuple[str, ...], plain: bool):
    from rich.markup import escape  # "exact_match[strict]" is a name, not a rich style tag
    from rich.table import Table

    head = headers(c)
    tbl = Table(box=_box(plain), show_edge=False, padding=(0, 1, 0, 0), pad_edge=False,
                header_style="" if plain else "bold")
    for col in columns:
        # no_wrap, and fold rather than "…" should a single column ever exceed the width
        tbl.add_column(head[col], justify="right" if col in _RIGHT else "left", no_wrap=True, overflow="fold")
    headings = "task" not in columns  # each task a row of its own, its metrics indented under it
    first = True
    for r in rows_:
        cells = {k: escape(v) for k, v in r.cells.items()}
        if headings and r.kind == "skipped":
            cells["metric"] = cells["task"]
        elif headings and r.kind != "suite":
            if cells["task"]:
                tbl.add_row(cells["task"], *[""] * (len(columns) - 1))
            cells["metric"] = "  " + cells["metric"]
        if r.kind == "suite":
            if not first:
                tbl.add_row(*[""] * len(columns))
            tbl.add_row(cells["task"], *[""] * (len(columns) - 1), style="" if plain else "bold")
        elif r.kind == "skipped":
            cells = [cells.get(col, "-" if col in _RIGHT else "") for col in columns]
            tbl.add_row(*cells, style="" if plain else "dim")
        else:
            cells = [cells[col] for col in columns]
            if "verdict" in columns and r.style and not plain:
                i = columns.index("verdict")
                cells[i] = f"[{r.style}]{cells[i]}[/{r.style}]"
            tbl.add_row(*cells)
        first = False
    return tbl


def fits(console, renderable, width: int) -> bool:
    return console.measure(renderable, options=console.options.update_width(10**6)).maximum <= width


def cards(c: Comparison, rows_: list[Row], width: int) -> list[tuple[str, str]]:
    """(line, style) pairs: per metric its name and values on one line, its verdict and test
    on the next; segments never break inside and move to the next line when the width ends."""
    head = headers(c)
    out: list[tuple[str, str]] = []
    for r in rows_:
        cells = r.cells
        if r.kind == "suite":
            out.append((cells["task"], "bold"))
            continue
        if r.kind == "skipped":
            out.append((f"  {cells['task']}  skipped", "dim"))
            continue
        if cells["task"]:
            out.append((f"  {cells['task']}", ""))
        first = [cells["metric"], f"{head['base']} {cells['base']}", f"{head['ft']} {cells['ft']}",
                 f"delta {cells['delta']} {cells['ci']}"]
        second = [cells["verdict"], f"p (Holm) {cells['p']}", f"fixed/broke {cells['flips']}", f"MDE {cells['mde']}",
                  f"n {cells['n']}"]
        out += [(line, "") for line in pack(first, width, "    ")]
        out += [(line, r.style) for line in pack(second, width, "      ")]
    return out


def pack(segments: list[str], width: int, indent: str) -> list[str]:
    """Segments joined by two spaces, a new line (same indent) before one that would not fit."""
    from rich.cells import cell_len

    lines, line = [], ""
    for s in segments:
        if line and cell_len(indent + line + "  " + s) > width:
            lines.append(indent + line)
            line = s
        else:
            line = f"{line}  {s}" if line else s
    return lines + [indent + line]
