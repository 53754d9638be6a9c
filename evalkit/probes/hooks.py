"""The probes' part of compare: the safety panel and the bias probes, each printed and added to
compare.json and compare.md when the comparison has tasks they read."""

from __future__ import annotations

from evalkit.compare.sections import Section
from evalkit.probes.safety_hook import safety_hook, weak_note


def bias_hook(con, project, base_run, runs, *, confidence: float) -> Section:
    from rich.table import Table

    from evalkit.probes.bias_stats import bias_report
    from evalkit.report.format import num, signed

    by = {r.model: bias_report(project, base_run, r, confidence=confidence) for r in runs}
    if not any(by.values()):
        return Section({})
    pct = round(confidence * 100)
    md = ["", "## Bias probes", "",
          f"flip rate: share of counterfactual pairs whose answer changed with the attribute; group gap: group A's share of "
          f"expected answers minus group B's; BBQ: accuracy and bias score (0 unbiased, 1 always stereotyped). "
          f"delta = candidate - base, paired, {pct}% interval clustered by template.", "",
          "| candidate | task | measure | subset | base [CI] | candidate [CI] | delta [CI] | n |",
          "|---|---|---|---|---|---|---|---:|"]
    for cand, rows in by.items():
        table = Table(title=f"bias probes: {cand} vs {base_run.model} (paired delta, {pct}% interval)")
        for col in ("task", "measure", "subset", base_run.model, cand, "delta [CI]", "n"):
            table.add_column(col, justify="left" if col in ("task", "measure", "subset") else "right")
        for row in rows:
            m = row.result
            cells = [f"{num(r.value)} [{num(r.low)}, {num(r.high)}]" for r in (m.base, m.ft)]
            ci = f"{signed(m.delta)} [{signed(m.ci_low)}, {signed(m.ci_high)}]"
            table.add_row(row.task, row.measure, row.subset, *cells, ci, str(m.n))
            md.append(f"| {cand} | {row.task} | {row.measure} | {row.subset} | {cells[0]} | {cells[1]} | {ci} | {m.n} |")
        con.print(table)
    note = weak_note(project, [base_run.model, *(r.model for r in runs)])
    payload = {"base": base_run.model, "confidence": confidence, "note": note,
               "by_candidate": {c: [r.as_dict() for r in rows] for c, rows in by.items()}}
    return Section({"bias_probes": payload}, "\n".join(md) + "\n")


def probe_hooks(con, project, base_run, runs, *, confidence: float) -> Section:
    hooks = [safety_hook(con, project, base_run, runs, confidence=confidence),
             bias_hook(con, project, base_run, runs, confidence=confidence)]
    note = weak_note(project, [base_run.model, *(r.model for r in runs)])
    if note and any(h.payload for h in hooks):
        con.print(f"[yellow]{note}[/yellow]")
    return Section({k: v for h in hooks for k, v in h.payload.items()}, "".join(h.markdown for h in hooks))
