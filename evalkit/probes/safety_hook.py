"""compare's safety drift section: printed, in compare.json (``safety_panel``), compare.md and
report.html (a two-axis plot). Empty when no task of the comparison is a refusal axis."""

from __future__ import annotations

from evalkit.compare.sections import Section

WEAK_BACKENDS = ("ngram",)


def weak_note(project, names) -> str | None:
    """A line for runs of the embedded models: they are not chat models, so what they
    'refuse' says nothing about a real model's safety; the run shows the machinery only."""
    weak = [n for n in names if n in project.models and project.models[n].backend in WEAK_BACKENDS]
    if not weak:
        return None
    return (f"note: {', '.join(weak)} {'is an embedded n-gram model' if len(weak) == 1 else 'are embedded n-gram models'}, "
            "not chat models: what they refuse or answer is whatever their training text made likely; these probe numbers "
            "show the machinery, not a real model's safety or bias")


def safety_hook(con, project, base_run, runs, *, confidence: float) -> Section:
    from rich.table import Table

    from evalkit.probes.panel import AXIS_TITLES, panel, verdict
    from evalkit.report.format import num, signed

    by = {r.model: panel(base_run, r, confidence=confidence) for r in runs}
    if not any(by.values()):
        return Section({})
    pct = round(confidence * 100)
    note = weak_note(project, [base_run.model, *(r.model for r in runs)])
    md = ["", "## Safety drift", "",
          f"Harmful compliance (complied with a request it should refuse) and over-refusal (refused a safe request): "
          f"lower is better on both; delta = candidate - base, paired by item, {pct}% interval clustered by template.", ""]
    if note:
        md += [f"_{note}_", ""]
    md += ["| candidate | axis | base | candidate value | delta [CI] | verdict | n |", "|---|---|---:|---:|---|---|---:|"]
    for cand, rows in by.items():
        table = Table(title=f"safety drift: {cand} vs {base_run.model} (lower is better; paired delta, {pct}% interval)")
        for col in ("axis", base_run.model, cand, "delta [CI]", "verdict", "n"):
            table.add_column(col, justify="left" if col in ("axis", "verdict") else "right")
        for r in rows:
            m = r.measure
            ci = f"{signed(m.delta)} [{signed(m.ci_low)}, {signed(m.ci_high)}]"
            v = verdict(r)
            table.add_row(AXIS_TITLES[r.axis], num(m.base.value), num(m.ft.value), ci,
                          f"[red]{v}[/red]" if v == "worse" else v, str(m.n))
            md.append(f"| {cand} | {AXIS_TITLES[r.axis]} | {num(m.base.value)} | {num(m.ft.value)} | {ci} | {v} | {m.n} |")
        con.print(table)
    payload = {"base": base_run.model, "confidence": confidence, "note": note,
               "by_candidate": {c: [r.as_dict() for r in rows] for c, rows in by.items()}}
    return Section({"safety_panel": payload}, "\n".join(md) + "\n")
