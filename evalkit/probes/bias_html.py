"""report.html's bias section, from compare.json's ``bias_probes``."""

from __future__ import annotations

from collections.abc import Callable


def _num(x, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _with_ci(r: dict) -> str:
    return f"{_num(r['value'])} [{_num(r['low'])}, {_num(r['high'])}]"


def bias_html(compare: dict, esc: Callable) -> list[str]:
    section = compare.get("bias_probes")
    if not section:
        return []
    rows = []
    for cand, items in section["by_candidate"].items():
        for r in items:
            ci = f"{_num(r['delta'], True)} [{_num(r['ci_low'], True)}, {_num(r['ci_high'], True)}]"
            rows.append(f"<tr><td>{esc(cand)}</td><td>{esc(r['task'])}</td><td>{esc(r['measure'])}</td>"
                        f"<td>{esc(r['subset'])}</td><td>{esc(r['detail'])}</td><td>{_with_ci(r['base'])}</td>"
                        f"<td>{_with_ci(r['ft'])}</td><td>{ci}</td><td>{r['n']}</td></tr>")
    head = ("<tr><th>candidate</th><th>task</th><th>measure</th><th>subset</th><th>groups</th><th>base [CI]</th>"
            "<th>candidate [CI]</th><th>delta [CI]</th><th>n</th></tr>")
    return ["<h2>Bias probes</h2>", "<p>flip rate: pairs whose answer changed with the attribute; group gap: group A's "
            "share of expected answers minus group B's; BBQ bias: 0 unbiased, 1 always stereotyped.</p>",
            f"<table>{head}{''.join(rows)}</table>"]
