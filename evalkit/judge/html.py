"""report.html's judge section (issue 13), read from compare.json's ``judge`` key; empty when
absent. It shows what the metric table cannot: wins, ties and losses, the flip rate, how often
position A was chosen, the length-controlled win rate with its interval, unreadable and failed
judgments, the judge's own cost and latency (apart from the models'), the same-family warning
and, when a review study was given, the judge against the people's votes.

Every string that came from a user (task, model and judge names, warnings) goes through
``esc``: a task file or a model id is user input like any answer."""

from __future__ import annotations

from collections.abc import Callable


def _num(x, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def _interval(v) -> str:
    return "" if not v or v[0] is None else f" [{v[0]:.2f}, {v[1]:.2f}]"


def _cost(usd) -> str:
    return "unknown" if usd is None else f"${usd:.4f}"


def _length_controlled(lc: dict, esc: Callable) -> str:
    if lc.get("value") is None:
        return f"- <span class=muted>({esc(lc.get('reason') or 'n/a')})</span>"
    if lc.get("ci_low") is None:
        return f"{lc['value']:.3f} <span class=muted>({esc(lc.get('reason') or 'no interval')})</span>"
    return f"{lc['value']:.3f} [{lc['ci_low']:.3f}, {lc['ci_high']:.3f}]"


def _pairwise_table(tasks: list[dict], esc: Callable) -> str:
    head = ("<tr><th>task</th><th>candidate</th><th>judge</th><th>win rate</th><th>W / T / L</th>"
            "<th>length-controlled win rate</th><th>flip rate</th><th>position A chosen</th>"
            "<th>unreadable</th><th>failed</th></tr>")
    rows = []
    for t in tasks:
        s = t["summary"]
        weak = (" <span class=muted>(verdict by likelihood: a weak judge, shown for illustration)</span>"
                if t.get("verdict_by") == "likelihood" else "")
        rows.append(
            f"<tr><td>{esc(t['task'])}</td><td>{esc(t['candidate'])}</td><td>{esc(t['judge'])}{weak}</td>"
            f"<td>{_num(s['win_rate'])}</td><td>{s['wins']} / {s['ties']} / {s['losses']} of {s['n']}</td>"
            f"<td>{_length_controlled(t['length_controlled'], esc)}</td><td>{_num(s['flip_rate'])}</td>"
            f"<td>{_num(s['first_position_rate'])}</td><td>{s['unparsed']}</td><td>{s['failed']}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _rubric_table(rubric: list[dict], esc: Callable) -> str:
    head = "<tr><th>task</th><th>model</th><th>judge</th><th>judgments</th><th>cached</th><th>unreadable</th><th>failed</th><th>judge cost</th></tr>"
    rows = [f"<tr><td>{esc(r['task'])}</td><td>{esc(r['model'])}</td><td>{esc(r['judge'])}</td><td>{r['judged']}</td>"
            f"<td>{r['cached']}</td><td>{r['unreadable']}</td><td>{r['failed']}</td>"
            f"<td>{_cost(r['cost_usd'])}</td></tr>" for r in rubric]
    return f"<table>{head}{''.join(rows)}</table>"


def _usage_table(usage: dict, esc: Callable) -> str:
    head = ("<tr><th>judge</th><th>requests</th><th>cached</th><th>failed</th><th>prompt + completion tokens</th>"
            "<th>cost</th><th>latency p50 / p95</th></tr>")
    rows = []
    for name, u in usage.items():
        lat = "-" if u["latency_p50_s"] is None else f"{u['latency_p50_s']:.2f} s / {u['latency_p95_s']:.2f} s"
        rows.append(f"<tr><td>{esc(name)}</td><td>{u['requests']}</td><td>{u['cached']}</td><td>{u['failed']}</td>"
                    f"<td>{u['prompt_tokens']} + {u['completion_tokens']}</td><td>{_cost(u['cost_usd'])}</td><td>{lat}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _people_table(rows: list[dict], esc: Callable) -> list[str]:
    head = ("<tr><th>task</th><th>candidate</th><th>items</th><th>judge = majority</th><th>Cohen's kappa</th>"
            "<th>alpha (people)</th><th>alpha (people + judge)</th><th>typical rater = others' majority</th>"
            "<th>win rate people / judge</th></tr>")
    body = []
    for r in rows:
        a = r["agreement"]
        if not a.get("items"):
            body.append(f"<tr><td>{esc(r['task'])}</td><td>{esc(r['candidate'])}</td><td>0</td>" + "<td></td>" * 6 + "</tr>")
            continue
        wr, typical = a["win_rate"], a["typical_rater_agreement"]
        body.append(
            f"<tr><td>{esc(r['task'])}</td><td>{esc(r['candidate'])}</td><td>{a['items']}</td>"
            f"<td>{a['judge_agreement']['share']:.0%}{_interval(a['judge_agreement']['interval'])}</td>"
            f"<td>{_num(a['cohen_kappa']['value'], '.2f')}{_interval(a['cohen_kappa']['interval'])}</td>"
            f"<td>{_num(a['alpha_humans']['value'], '.2f')}{_interval(a['alpha_humans']['interval'])}</td>"
            f"<td>{_num(a['alpha_with_judge']['value'], '.2f')}{_interval(a['alpha_with_judge']['interval'])}</td>"
            f"<td>{_num(typical, '.0%')}</td><td>{_num(wr['humans'], '.2f')} / {_num(wr['judge'], '.2f')}</td></tr>")
    statements = [f"<p>{esc(r['task'])}, {esc(r['candidate'])}: {esc(r['agreement']['statement'])}</p>" for r in rows]
    return ["<h3>Judge against people</h3>", f"<table>{head}{''.join(body)}</table>", *statements]


def judge_html(compare: dict, esc: Callable) -> list[str]:
    section = compare.get("judge")
    if not section:
        return []
    out = ["<h2 id=judge>Judge</h2>"]
    out += [f"<p class=warn><b>Warning:</b> {esc(w)}</p>" for w in section.get("warnings", [])]
    if section.get("tasks"):
        out += ["<p class=muted>Pairwise: each item judged in both orders; a win counts only when both orders agree, "
                "otherwise a tie. Unreadable and failed judgments are left out of the win rate and counted here. "
                "The length-controlled win rate is the preference at zero length difference.</p>",
                _pairwise_table(section["tasks"], esc)]
    if section.get("rubric"):
        out += ["<h3>Rubric judgments</h3>", _rubric_table(section["rubric"], esc)]
    if section.get("usage"):
        out += ["<h3>The judge's own requests</h3>",
                "<p class=muted>Not included in the models' tokens, cost and latency above.</p>",
                _usage_table(section["usage"], esc)]
    if section.get("against_people"):
        out += _people_table(section["against_people"], esc)
    return out
