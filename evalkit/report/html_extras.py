"""report.html sections for the contamination audit and generation drift (issue 14), read
from compare.json's ``contamination`` and ``generation_drift`` keys; empty when absent."""

from __future__ import annotations

from collections.abc import Callable


def _num(x, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _cell(c: dict) -> str:
    return f"{_num(c['delta'], True)} [{_num(c['ci_low'], True)}, {_num(c['ci_high'], True)}]" if c.get("n") else "-"


def contamination_html(compare: dict, esc: Callable) -> list[str]:
    section = compare.get("contamination")
    if not section:
        return []
    rows, warnings = [], []
    for cand, items in section["by_candidate"].items():
        for r in items:
            share = "-" if r["contaminated_gain_share"] is None else f"{r['contaminated_gain_share']:.0%}"
            rows.append(f"<tr><td>{esc(cand)}</td><td>{esc(r['task'])}</td><td>{esc(r['metric'])}</td>"
                        f"<td>{r['contaminated']} / {r['items']}</td><td>{_cell(r['full'])}</td><td>{_cell(r['clean'])}</td>"
                        f"<td>{_cell(r['dirty'])}</td><td>{share}</td></tr>")
            if r.get("warning"):
                warnings.append(f"<p class=warn><b>Warning:</b> {esc(cand)}: {esc(r['warning'])}</p>")
    head = ("<tr><th>candidate</th><th>task</th><th>metric</th><th>contaminated / items</th><th>delta (all)</th>"
            "<th>delta (clean)</th><th>delta (contaminated)</th><th>gain from contaminated</th></tr>")
    return ["<h2>Contamination</h2>", *warnings, f"<table>{head}{''.join(rows)}</table>"]


def drift_html(compare: dict, esc: Callable) -> list[str]:
    section = compare.get("generation_drift")
    if not section:
        return []
    rows = [f"<tr><td>{esc(cand)}</td><td>{esc(r['task'])}</td><td>{esc(r['measure'])}</td><td>{_num(r['base'])}</td>"
            f"<td>{_num(r['ft'])}</td><td>{_cell(r)}</td><td>{r['n']}</td></tr>"
            for cand, items in section.items() for r in items]
    head = "<tr><th>candidate</th><th>task</th><th>measure</th><th>base</th><th>candidate</th><th>delta [CI]</th><th>n</th></tr>"
    return ["<h2>Generation drift</h2>", f"<table>{head}{''.join(rows)}</table>"]


def extra_sections(compare: dict, esc: Callable) -> list[str]:
    from evalkit.judge.html import judge_html  # the LLM judge (issue 13)
    from evalkit.probes.html import probe_sections  # safety panel and bias probes (issue 14)

    return judge_html(compare, esc) + contamination_html(compare, esc) + drift_html(compare, esc) + probe_sections(compare, esc)
