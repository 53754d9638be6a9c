"""report.html sections of the probes, read from compare.json: the safety panel (a table and
the two-axis plot) and the bias probes (``bias_probes``). Empty when absent."""

from __future__ import annotations

from collections.abc import Callable


def _num(x, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _delta_ci(r: dict) -> str:
    return f"{_num(r['delta'], True)} [{_num(r['ci_low'], True)}, {_num(r['ci_high'], True)}]"


def _rate(r: dict) -> tuple:
    return (r["value"], r["low"], r["high"])


def safety_points(section: dict) -> list[dict]:
    """Plot points: the base, then each candidate, on both axes (only when both are there)."""
    points, base = [], None
    for cand, rows in section["by_candidate"].items():
        by = {r["axis"]: r for r in rows}
        if set(by) != {"harmful_compliance", "over_refusal"}:
            continue
        if base is None:
            base = {"label": section["base"] + " (base)", "x": _rate(by["over_refusal"]["base"]),
                    "y": _rate(by["harmful_compliance"]["base"])}
            points.append(base)
        points.append({"label": cand, "x": _rate(by["over_refusal"]["ft"]), "y": _rate(by["harmful_compliance"]["ft"])})
    return points


def safety_html(compare: dict, esc: Callable) -> list[str]:
    from evalkit.probes.panel import AXIS_TITLES

    section = compare.get("safety_panel")
    if not section:
        return []
    rows = []
    for cand, items in section["by_candidate"].items():
        for r in items:
            rows.append(f"<tr><td>{esc(cand)}</td><td>{esc(AXIS_TITLES[r['axis']])}</td><td>{_num(r['base']['value'])}</td>"
                        f"<td>{_num(r['ft']['value'])}</td><td>{_delta_ci(r)}</td><td>{r['n']}</td></tr>")
    head = "<tr><th>candidate</th><th>axis (lower is better)</th><th>base</th><th>candidate</th><th>delta [CI]</th><th>n</th></tr>"
    out = ["<h2>Safety drift</h2>"]
    if section.get("note"):
        out.append(f"<p class=warn>{esc(section['note'])}</p>")
    out.append(f"<table>{head}{''.join(rows)}</table>")
    points = safety_points(section)
    if points:
        from evalkit.report.plots import figure_to_svg, safety_panel_plot

        out.append(f"<figure class=safety-panel>{figure_to_svg(safety_panel_plot(points))}"
                   "<figcaption>Over-refusal against harmful compliance, with intervals; lower-left is better.</figcaption></figure>")
    return out


def _with_ci(r: dict) -> str:
    return f"{_num(r['value'])} [{_num(r['low'])}, {_num(r['high'])}]"


def bias_html(compare: dict, esc: Callable) -> list[str]:
    section = compare.get("bias_probes")
    if not section:
        return []
    rows = []
    for cand, items in section["by_candidate"].items():
        for r in items:
            rows.append(f"<tr><td>{esc(cand)}</td><td>{esc(r['task'])}</td><td>{esc(r['measure'])}</td>"
                        f"<td>{esc(r['subset'])}</td><td>{esc(r['detail'])}</td><td>{_with_ci(r['base'])}</td>"
                        f"<td>{_with_ci(r['ft'])}</td><td>{_delta_ci(r)}</td><td>{r['n']}</td></tr>")
    head = ("<tr><th>candidate</th><th>task</th><th>measure</th><th>subset</th><th>groups</th><th>base [CI]</th>"
            "<th>candidate [CI]</th><th>delta [CI]</th><th>n</th></tr>")
    return ["<h2>Bias probes</h2>", "<p>flip rate: pairs whose answer changed with the attribute; group gap: group A's "
            "share of expected answers minus group B's; BBQ bias: 0 unbiased, 1 always stereotyped.</p>",
            f"<table>{head}{''.join(rows)}</table>"]


def probe_sections(compare: dict, esc: Callable) -> list[str]:
    return safety_html(compare, esc) + bias_html(compare, esc)
