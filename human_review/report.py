"""The analysis as Markdown (``evalkit review results``)."""

from __future__ import annotations

from typing import Any


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _ci(iv) -> str:
    if not iv or iv[0] is None:
        return ""
    return f"[{iv[0]:.0%}, {iv[1]:.0%}]"


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def render_markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    conf = f"{s['confidence']:.0%}"
    out = [f"# Human review{': ' + s['study'] if 'study' in s else ''}", ""]
    out.append(f"Status: {s['status']}. Raters: {s['raters']}. Answers: "
               + ", ".join(f"{n} {k}" for k, n in sorted(s["answers"].items())) + f"; {s['skips']} skipped.")
    if "systems" in s:
        out += ["", "| label | model | run id | run directory |", "|---|---|---|---|"]
        out += [f"| {x['label']} | {x['model']} | {x['run_id']} | {x['source'] or ''} |" for x in s["systems"]]
    out += ["", f"## Win rates (items, {conf} Wilson intervals; sign test on wins vs losses)", "",
            "| pair (x vs y) | items | win | tie | both bad | loss | sign test p |", "|---|---|---|---|---|---|---|"]
    for r in result["win_rates"]:
        cells = [f"{_pct(r[k]['rate'])} {_ci(r[k]['interval'])}" for k in ("win", "tie", "both_bad", "loss")]
        out.append(f"| {r['candidate']} vs {r['base']} | {r['items']} | " + " | ".join(cells) + f" | {_num(r['sign_test']['p_value'], '.3g')} |")
    bt = result["bradley_terry"]
    out += ["", f"## Bradley-Terry strengths (log-odds, base = 0; {conf} bootstrap over {bt['items']} items; ties = half wins)", "",
            "| system | strength | interval |", "|---|---|---|"]
    for r in bt["rows"]:
        iv = "reference" if r["reference"] else f"[{_num(r['interval'][0])}, {_num(r['interval'][1])}]"
        out.append(f"| {r['system']} | {_num(r['strength'])}{' (at bound)' if r['at_bound'] else ''} | {iv} |")
    if result.get("criteria"):
        out += ["", f"## Scores per criterion (x - y, item means; {conf} t interval over items)", "",
                "| pair (x vs y) | criterion | items | mean x | mean y | difference | interval |", "|---|---|---|---|---|---|---|"]
        for c in result["criteria"]:
            out.append(f"| {c['candidate']} vs {c['base']} | {c['criterion']} | {c['items']} | {_num(c['mean_x'])} | "
                       f"{_num(c['mean_y'])} | {_num(c['difference'])} | [{_num(c['interval'][0])}, {_num(c['interval'][1])}] |")
    ag = result["agreement"]
    out += ["", "## Agreement between raters (labels relative to the models)", "",
            (f"Krippendorff's alpha (nominal): {_num(ag['krippendorff_alpha'])} over {ag['units_with_2_or_more']} items "
             f"with two or more raters ({ag['alpha_implementation']})."), ""]
    fk = ag.get("fleiss_kappa")
    if fk:
        out += [f"Fleiss' kappa: {_num(fk['kappa'])} over {fk['units']} items with {fk['raters_per_unit']} raters each "
                f"({fk['left_out']} items with another number of raters left out).", ""]
    if ag["cohen_kappa"]:
        out += ["| raters | items | raw agreement | Cohen's kappa |", "|---|---|---|---|"]
        out += [f"| {a} / {b} | {k['n']} | {_pct(k['agreement'])} | {_num(k['kappa'])} |" for k in ag["cohen_kappa"] for a, b in [k["raters"]]]
    pb = result["position_bias"]["overall"]
    out += ["", "## Position bias", "", (f"Left side chosen in {_pct(pb['share'])} of {pb['n']} decisive votes "
                                         f"(binomial test p = {_num(pb['p_value'], '.3g')}).")]
    out += ["", "## Raters", "", "| rater | votes | skips | gold correct | repeats consistent | median s | left share | flags |",
            "|---|---|---|---|---|---|---|---|"]
    for r in result["raters"]:
        g, rep = r["gold"], r["repeats"]
        out.append(f"| {r['rater']} | {r['votes']} | {r['skips']} | {g['correct']}/{g['n']} | {rep['consistent']}/{rep['n']} | "
                   f"{_num(r['median_seconds'], '.1f')} | {_pct(r['left_share'])} | {'; '.join(r['flags'])} |")
    out += ["", "## Automated metrics against the people", "",
            "On items where the raters preferred one side: how often the metric's per-item difference points the same way.", "",
            "| task | metric | items | agree | disagree | metric ties | agreement |", "|---|---|---|---|---|---|---|"]
    for m in result["metric_agreement"]:
        out.append(f"| {m['task']} | {m['metric']} | {m['items']} | {m['agree']} | {m['disagree']} | {m['metric_ties']} | "
                   f"{_pct(m['share'])} {_ci(m['interval'])} |")
    return "\n".join(out) + "\n"
