"""The HTML of report.html: a page template filled from plain data. No model text is ever
placed into the HTML itself: it travels as escaped JSON and is shown with textContent."""

from __future__ import annotations

from typing import Any, Callable

from evalkit.report.html_script import SCRIPT

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.verdict{padding:14px 18px;border-radius:8px;font-size:18px;font-weight:600;margin:14px 0}
.PASS{background:#e8f5e9;color:#1b5e20;border:1px solid #a5d6a7} .FAIL{background:#ffebee;color:#b71c1c;border:1px solid #ef9a9a}
.INCONCLUSIVE,.NONE{background:#fff8e1;color:#8d6e00;border:1px solid #ffe082}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 10px} th,td{border:1px solid #e0e0e0;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.better{color:#1b5e20;font-weight:600} .worse{color:#b71c1c;font-weight:600} .unclear{color:#666}
.forest svg{max-width:100%;height:auto;background:#fff;border:1px solid #e0e0e0}
.controls{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin:8px 0}
.controls button{padding:4px 10px;border:1px solid #bbb;background:#fff;border-radius:4px;cursor:pointer}
.controls button.on{background:#1565c0;color:#fff;border-color:#1565c0}
.item{background:#fff;border:1px solid #e0e0e0;border-radius:6px;margin:8px 0;padding:8px 10px}
.item .head{font-size:12px;color:#555;margin-bottom:6px} .item .up{color:#1b5e20} .item .down{color:#b71c1c}
.cols{display:grid;grid-template-columns:1fr 1fr 1fr;gap:8px}
.cols div{min-width:0} .cols b{display:block;font-size:12px;color:#555}
pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;background:#f7f7f7;padding:6px;border-radius:4px}
details pre{max-height:220px;overflow:auto} .muted{color:#666;font-size:12px}
.item.decisive{border-left:4px solid #b71c1c} .tag{background:#ffebee;color:#b71c1c;border-radius:3px;padding:0 5px;font-size:11px}
.banner{margin:-6px 0 12px;color:#333} nav.toc{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:6px 12px;margin:14px 0}
nav.toc a{margin-right:14px} .controls button:disabled{opacity:.4;cursor:default}
"""

def _num(x: Any, digits: int = 3) -> str:
    if x is None or x != x:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.{digits}f}"


def _verdict_class(improved) -> tuple[str, str]:
    return {True: ("better", "better"), False: ("worse", "worse"), None: ("unclear", "no clear difference")}[improved]


def _mde(m: dict) -> str:
    return _num(m.get("mde"))


def _task_table(c: dict, esc: Callable) -> str:
    rows = []
    for t in c["tasks"]:
        if t["status"] != "ok":
            rows.append(f"<tr><td>{esc(t['task'])}</td><td>{esc(t['role'])}</td><td colspan=9>skipped: {esc(t['reason'] or '')}</td></tr>")
            continue
        for i, m in enumerate(t["metrics"]):
            cls, word = _verdict_class(m.get("improved"))
            if m.get("tested") is False:  # secondary metrics are shown, not tested
                cls, word = "unclear", "not tested"
            elif m.get("reason"):
                cls, word = "unclear", f"no verdict: {m['reason']}"
            ci = "-" if m["ci_low"] is None else f"[{m['ci_low']:+.3f}, {m['ci_high']:+.3f}]"
            p = m.get("p_adjusted", m.get("p_value"))
            flips = "-" if m.get("fixed") is None else f"{m['fixed']} / {m['broke']}"
            lower = "" if m["higher_is_better"] else " <span class=muted>(lower better)</span>"
            delta = "-" if m["delta"] is None else f"{m['delta']:+.3f}"
            pval = "-" if p is None else ("&lt;0.001" if p < 0.001 else f"{p:.3f}")
            rows.append(
                f"<tr><td>{esc(t['task']) if i == 0 else ''}</td><td>{esc(t['role']) if i == 0 else ''}</td>"
                f"<td>{esc(m['metric'])}{lower}</td><td class=n>{_num(m['base'])}</td><td class=n>{_num(m['ft'])}</td>"
                f"<td class=n>{delta} {ci}</td><td class=n>{pval}</td><td class=n>{flips}</td>"
                f"<td class=n>{_mde(m)}</td><td class=n>{m['n']}</td><td class={cls}>{word}</td></tr>"
            )
    head = ("<tr><th>task</th><th>role</th><th>metric</th><th>base</th><th>fine-tune</th><th>delta [95% CI]</th>"
            "<th>p (Holm)</th><th>fixed / broke</th><th>detectable effect</th><th>n</th><th>verdict</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _gate_table(gate: dict | None, esc: Callable) -> str:
    if not gate:
        return "<p class=muted>No gates were evaluated (run <code>evalkit compare ... --gate</code> with <code>gates:</code> in the config).</p>"
    rows = []
    for g in gate["gates"]:
        ci = "-" if g.get("ci_low") is None else f"{_num(g.get('estimate'), 4)} [{_num(g['ci_low'], 4)}, {_num(g['ci_high'], 4)}]"
        rows.append(
            f"<tr><td>{esc(g['name'])}</td><td class={esc(g['verdict'])}>{esc(g['verdict'])}</td><td>{esc(g['target'])}</td>"
            f"<td>{esc(g['metric'])}</td><td class=n>{ci}</td><td class=n>{_num(g.get('threshold'), 4)}</td><td>{esc(g['message'])}</td></tr>"
        )
    head = "<tr><th>gate</th><th>verdict</th><th>target</th><th>metric</th><th>estimate [CI]</th><th>threshold</th><th>why</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _direction(m: dict) -> bool | None:
    """A tested metric's Holm-adjusted verdict; any other metric's by its 95% interval (the
    reader sees every metric that moved, e.g. chrF next to a tested BLEU)."""
    if m.get("tested") is not False or m.get("improved") is not None:
        return m.get("improved")
    if m.get("ci_low") is None or m.get("ci_high") is None:
        return None
    sign = 1.0 if m["higher_is_better"] else -1.0
    low, high = sorted((sign * m["ci_low"], sign * m["ci_high"]))
    return True if low > 0 else False if high < 0 else None


def banner(c: dict) -> str:
    """One line counting every metric measured, by role: better, worse, unclear."""
    parts = []
    for role, label in (("target", "target tasks"), ("forgetting", "forgetting probes")):
        ms = [m for t in c["tasks"] if t["status"] == "ok" and t["role"] == role for m in t["metrics"]]
        if ms:
            d = [_direction(m) for m in ms]
            parts.append(f"{label}: better on {d.count(True)} of {len(ms)} metrics, worse on {d.count(False)}, "
                         f"no clear difference on {d.count(None)}")
    return "; ".join(parts) + " (primary metrics Holm-adjusted; the others by their 95% interval)"


def _verdict(c: dict, gate: dict | None, esc: Callable) -> str:
    line = f"<p class=banner>{esc(banner(c))}</p>"
    if gate:
        verdict = gate.get("verdict", "NONE")
        counts = {v: sum(g["verdict"] == v for g in gate["gates"]) for v in ("PASS", "FAIL", "INCONCLUSIVE")}
        text = f"{verdict}: {counts['PASS']} gates passed, {counts['FAIL']} failed, {counts['INCONCLUSIVE']} inconclusive"
        return f"<div class='verdict {esc(verdict)}'>{esc(c['candidate'])} vs {esc(c['base'])}: {esc(text)}</div>" + line
    return f"<div class='verdict NONE'>{esc(c['candidate'])} vs {esc(c['base'])} (no gates)</div>" + line


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _costs(c: dict, totals: list[dict], esc: Callable) -> str:
    rows = ""
    for r in totals:
        cost = "-" if r["cost_usd"] is None else f"${r['cost_usd']:.4f}"
        rows += (
            f"<tr><td>{esc(r['model'])}</td><td class=n>{r['items']}</td><td class=n>{r['prompt_tokens']:,}</td>"
            f"<td class=n>{r['completion_tokens']:,}</td><td class=n>{cost}</td>"
            f"<td class=n>{_ms(r['latency_p50'])}</td><td class=n>{_ms(r['latency_p95'])}</td></tr>"
        )
    per_task = "".join(
        f"<tr><td>{esc(t['task'])}</td><td class=n>{_num(t.get('prompt_tokens_base'), 1)}</td><td class=n>{_num(t.get('prompt_tokens_ft'), 1)}</td>"
        f"<td class=n>{_num(None if t.get('cost_base') is None else t['cost_base'] * 1000, 4)}</td>"
        f"<td class=n>{_num(None if t.get('cost_ft') is None else t['cost_ft'] * 1000, 4)}</td></tr>"
        for t in c["tasks"] if t["status"] == "ok"
    )
    return (
        "<h3>Per model</h3><table><tr><th>model</th><th>items</th><th>prompt tokens</th><th>completion tokens</th>"
        f"<th>cost (USD)</th><th>latency p50 ms</th><th>latency p95 ms</th></tr>{rows}</table>"
        f"<h3>Per item</h3><table><tr><th>task</th><th>prompt tokens, {esc(c['base'])}</th><th>prompt tokens, {esc(c['candidate'])}</th>"
        f"<th>USD / 1k items, {esc(c['base'])}</th><th>USD / 1k items, {esc(c['candidate'])}</th></tr>{per_task}</table>"
    )


def _items(idx: int, items: list[dict], as_json: Callable, esc: Callable) -> str:
    tasks = sorted({it["task"] for it in items})
    options = "".join(f"<option value='{esc(t)}'>{esc(t)}</option>" for t in tasks)
    return (
        f"<div class=items data-items='items-{idx}' data-mode=all><div class=controls>"
        "<button data-kind=all class=on>all, most important first</button><button data-kind=down>regressions only</button>"
        "<button data-kind=up>improvements only</button>"
        f"<select><option value=''>every task</option>{options}</select>"
        "<input type=search placeholder='search prompts, answers, references' size=36>"
        "<button class=prev>previous</button><button class=next>next</button>"
        "<span class='count muted'></span></div><div class=list></div></div>"
        f"<script type='application/json' id='items-{idx}'>{as_json(items)}</script>"
    )


def _deciding(idx: int, gate: dict | None, items: list[dict], esc: Callable) -> list[str]:
    from evalkit.report.items import is_failing

    failed = [g for g in (gate or {}).get("gates", []) if is_failing(g)]
    if not failed:
        return []
    names = ", ".join(f"{g['target']} · {g['metric']}" for g in failed)
    n = sum(it["decisive"] for it in items)
    return [
        f"<h2 id=deciding-{idx}>Regressions that decide the failing gate</h2>",
        f"<p class=muted>{n} item(s) got worse on {esc(names)}; the full list of changed items is further down.</p>",
        f"<div class=items data-items='items-{idx}' data-mode=decisive><div class=controls>"
        "<button class=prev>previous</button><button class=next>next</button><span class='count muted'></span></div>"
        "<div class=list></div></div>",
    ]


def _toc(n: int) -> str:
    links = [("forest", "forest plot"), ("tasks", "per task"), ("changed", "items that changed"), ("cost", "tokens, cost and latency")]
    rows = "".join(f"<a href='#{a}-{i}'>{t}{'' if n == 1 else f' ({i + 1})'}</a>" for i in range(n) for a, t in links)
    return f"<nav class=toc><b>Contents</b>: {rows}<a href='#extras'>audits</a><a href='#provenance'>provenance</a></nav>"


def _repro(compare: dict, esc: Callable) -> str:
    prov = compare.get("provenance", {})
    c0 = compare["comparisons"][0]
    lines = [
        ("seed", c0.get("seed")), ("bootstrap resamples", c0.get("n_resamples")), ("confidence", c0.get("confidence")),
        ("git commit", prov.get("git_commit")), ("config", prov.get("config_path")), ("config sha256", prov.get("config_sha256")),
    ]
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in lines if v is not None)
    hashes = "".join(f"<tr><td>{esc(k)}</td><td><code>{esc(v)}</code></td></tr>" for k, v in sorted(prov.get("data_hashes", {}).items()))
    versions = ", ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(prov.get("versions", {}).items()))
    config = esc(prov.get("config_text", ""))
    return (
        f"<table>{rows}</table><h3>Data (sha256)</h3><table>{hashes}</table>"
        f"<p class=muted>Packages: {versions}</p><details><summary>evalkit.yaml</summary><pre>{config}</pre></details>"
    )


def page(compare: dict, sections: list[dict], as_json: Callable, esc: Callable, models: list[dict] | None = None) -> str:
    from evalkit.report.html_extras import extra_sections  # contamination, generation drift (issue 14)
    from evalkit.report.html_provenance import provenance_html

    # The decision first: verdicts, gates and the regressions behind a failing gate, for
    # every comparison, then the contents, then the detail.
    body = []
    for i, s in enumerate(sections):
        body += [_verdict(s["comparison"], s["gate"], esc), "<h2>Gates</h2>", _gate_table(s["gate"], esc),
                 *_deciding(i, s["gate"], s["items"], esc)]
    body.append(_toc(len(sections)))
    for i, s in enumerate(sections):
        c = s["comparison"]
        title = "" if len(sections) == 1 else f": {esc(c['candidate'])} vs {esc(c['base'])}"
        body += [
            f"<h2 id=forest-{i}>Deltas with 95% intervals{title}</h2>",
            "<p class=muted>Right of zero: the fine-tune is better (lower-is-better metrics are flipped). Diamonds: target tasks; "
            "circles: forgetting probes. Red dashes: non-inferiority margins; green dots: required improvements. "
            "One panel per unit and scale, so a small regression is not squashed next to a large gain.</p>",
            f"<div class=forest>{s['forest']}</div>", f"<h2 id=tasks-{i}>Per task</h2>", _task_table(c, esc),
            f"<h2 id=changed-{i}>Items that changed</h2>", _items(i, s["items"], as_json, esc),
            f"<h2 id=cost-{i}>Tokens, cost and latency</h2>", _costs(c, s["totals"], esc),
        ]
    body += ["<div id=extras></div>", *extra_sections(compare, esc), "<h2 id=provenance>Provenance</h2>",
             provenance_html(models or [], esc), "<h3>Reproducibility</h3>", _repro(compare, esc)]
    names = ", ".join(f"{s['comparison']['candidate']} vs {s['comparison']['base']}" for s in sections)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>evalkit: {esc(names)}</title>"
        f"<style>{CSS}</style></head><body><main><h1>evalkit report</h1><p class=muted>{esc(names)}</p>"
        + "".join(body) + f"</main><script>{SCRIPT}</script></body></html>"
    )
