"""report.html: one self-contained file (no CDN, no network) led by the decision: the verdict,
the gates, the regressions that decide a failing gate, then a forest plot, per-task numbers,
every changed item (paged), cost and provenance.

Built only from what a compare folder holds (compare.json, gate.json, the run directories),
so ``evalkit report DIR`` rebuilds it later. Model text is untrusted: it is put into the page
as JSON (every "<" escaped) and shown with textContent, never as HTML; a Content-Security-
Policy forbids every fetch, so even a bug here could not load anything from model output.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import DataError

UNITS = {
    "bleu": "BLEU / chrF (0-100)", "chrf": "BLEU / chrF (0-100)", "bits_per_byte": "bits per byte",
    "word_perplexity": "perplexity", "token_perplexity": "perplexity",
}


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("not found: is this a folder written by `evalkit compare`?", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None


def _samples(run_dir: Path) -> dict[tuple[str, str], dict]:
    from evalkit.yamlio import iter_jsonl

    return {(s["task"], s["id"]): s for _, s in iter_jsonl(run_dir / "samples.jsonl")}


def _in_memory(runs: dict | None, name: str) -> dict[tuple[str, str], dict] | None:
    run = (runs or {}).get(name)
    return {(s["task"], s["id"]): s for s in run.samples} if run is not None else None


def _run_dir(out: Path, source: str | None, name: str) -> Path:
    for candidate in (Path(source) if source else None, out / "runs" / name):
        if candidate is not None and (candidate / "samples.jsonl").is_file():
            return candidate
    raise DataError(f"the run directory of '{name}' is missing (looked in {source} and {out / 'runs' / name})")


def _gate_for(out: Path, candidate: str, several: bool) -> dict | None:
    path = out / "gates" / candidate / "gate.json" if several else out / "gate.json"
    return _load(path) if path.is_file() else None


def plot_metrics(comparison: dict, gate: dict | None, chosen: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Each task's metrics in the forest plot: the one chosen for it (``evalkit report
    --plot-metric TASK=METRIC``), else those its gates test (the ones a team decided matter,
    e.g. chrF over BLEU), else its primary (first) metric."""
    gated: dict[str, list[str]] = {}
    for g in (gate or {}).get("gates", []):
        if g["metric"] not in gated.setdefault(g["target"], []):
            gated[g["target"]].append(g["metric"])
    out = {}
    for t in comparison["tasks"]:
        names = [m["metric"] for m in t["metrics"]]
        if chosen and t["task"] in chosen:
            if chosen[t["task"]] not in names:
                raise DataError(f"--plot-metric {t['task']}={chosen[t['task']]}: the task has no such metric; "
                                f"choose one of {', '.join(names)}")
            out[t["task"]] = [chosen[t["task"]]]
        else:
            out[t["task"]] = [n for n in gated.get(t["task"], []) if n in names] or names[:1]
    return out


def _forest_rows(comparison: dict, gate: dict | None, chosen: dict[str, str] | None = None) -> list[dict]:
    gated: dict[tuple[str, str], dict] = {}
    for g in (gate or {}).get("gates", []):
        gated.setdefault((g["target"], g["metric"]), {})[g["type"]] = g.get("threshold")
    shown = plot_metrics(comparison, gate, chosen)
    rows = []
    for t in comparison["tasks"]:
        if t["status"] != "ok":
            continue
        for m in t["metrics"]:
            gates = gated.get((t["task"], m["metric"]), {})
            if m["metric"] not in shown.get(t["task"], []) or m["delta"] is None:
                continue
            sign = 1.0 if m["higher_is_better"] else -1.0
            low, high = (m["ci_low"], m["ci_high"]) if sign > 0 else (m["ci_high"], m["ci_low"])
            rows.append({
                "label": f"{t['task']} · {m['metric']}", "role": t["role"], "unit": UNITS.get(m["metric"], "score (0-1)"),
                "gain": sign * m["delta"], "low": None if low is None else sign * low, "high": None if high is None else sign * high,
                "improved": m.get("improved"), "margin": gates.get("must_not_regress"), "min_effect": gates.get("must_improve"),
            })
    return _by_scale(rows)


SCALE_RATIO = 10.0  # rows whose extents differ more than this share no panel


def _extent(r: dict) -> float:
    return max(abs(x) for x in (r["gain"], r["low"], r["high"], r["margin"], r["min_effect"]) if x is not None)


def _by_scale(rows: list[dict]) -> list[dict]:
    """Split a unit's rows into panels of similar size (by the largest of gain, interval and
    gate threshold), so a forgetting regression of 0.02 bits per byte is not drawn as a dot on
    zero next to a 2-bit gain. Each row's ``unit`` becomes its panel title."""
    out = []
    for unit in dict.fromkeys(r["unit"] for r in rows):
        group = sorted((r for r in rows if r["unit"] == unit), key=_extent, reverse=True)
        panels: list[list[dict]] = []
        for r in group:
            if panels and _extent(panels[-1][0]) <= SCALE_RATIO * max(_extent(r), 1e-12):
                panels[-1].append(r)
            else:
                panels.append([r])
        for k, panel in enumerate(panels):
            title = unit if len(panels) == 1 else f"{unit}, scale {k + 1} of {len(panels)}"
            out += [{**r, "unit": title} for r in panel]
    return out


def forest_svg(comparison: dict, gate: dict | None, cache=None, chosen: dict[str, str] | None = None) -> str:
    """The forest plot as inline SVG; memoised by its rows, since drawing it costs more than
    a whole cached compare."""
    rows = _forest_rows(comparison, gate, chosen)
    if not rows:
        return ""
    key = None
    if cache is not None:
        from evalkit.runner.cache import code_version, digest

        key = digest({"v": 2, "code": code_version(), "forest": rows})
        hit = cache.memo_get(key)
        if hit is not None:
            return hit
    from evalkit.report.plots import figure_to_svg, forest_plot

    svg = figure_to_svg(forest_plot(rows))
    svg = svg[svg.index("<svg"):]  # drop the XML prologue: the SVG is inlined in HTML
    if key is not None:
        cache.memo_put(key, "forest", svg)
    return svg


def _safe_json(data: Any) -> str:
    # Inside <script type="application/json">: no "<" may survive, so no "</script>" either.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build(out: Path, cache=None, runs: dict | None = None, plot_metric: dict[str, str] | None = None) -> str:
    """The report's HTML for the compare folder ``out``. ``runs`` (model name -> RunResult)
    saves re-reading run directories that the caller has in memory; ``plot_metric`` (task ->
    metric) chooses what the forest plot shows for a task."""
    from evalkit.report.html_page import page
    from evalkit.report.html_provenance import model_info
    from evalkit.report.items import changed_items

    compare = _load(out / "compare.json")
    comparisons = compare["comparisons"]
    several = len(comparisons) > 1
    sections, infos = [], {}
    for c in comparisons:
        dirs = {}
        for key, source in (("base", "base_source"), ("candidate", "candidate_source")):
            name = c[key]
            dirs[key] = None if _in_memory(runs, name) is not None else _run_dir(out, c.get(source), name)
            if name not in infos:
                infos[name] = model_info(name, (runs or {}).get(name), dirs[key])
        base = _in_memory(runs, c["base"]) or _samples(dirs["base"])
        ft = _in_memory(runs, c["candidate"]) or _samples(dirs["candidate"])
        gate = _gate_for(out, c["candidate"], several)
        sections.append({
            "comparison": c, "gate": gate, "forest": forest_svg(c, gate, cache, plot_metric),
            "items": changed_items(c, base, ft, gate), "totals": _totals(c, base, ft),
        })
    return page(compare, sections, _safe_json, html.escape, list(infos.values()))


def _totals(c: dict, base: dict, ft: dict) -> list[dict]:
    rows = []
    for name, samples in ((c["base"], base), (c["candidate"], ft)):
        ok = [s for s in samples.values() if s.get("status") != "error"]
        costs = [s.get("cost_usd") for s in ok]
        lat = [s.get("latency_s") for s in ok]
        known = bool(ok) and all(x is not None for x in lat)  # an imported log may not say: "-", not 0
        rows.append({
            "model": name, "items": len(ok), "prompt_tokens": sum(s.get("prompt_tokens", 0) for s in ok),
            "completion_tokens": sum(s.get("completion_tokens", 0) for s in ok),
            "cost_usd": sum(costs) if ok and all(x is not None for x in costs) else None,
            "latency_p50": float(np.percentile(lat, 50)) if known else None,
            "latency_p95": float(np.percentile(lat, 95)) if known else None,
        })
    return rows


def write_report(out: Path, cache=None, runs: dict | None = None, plot_metric: dict[str, str] | None = None) -> Path:
    path = Path(out) / "report.html"
    path.write_text(build(Path(out), cache, runs, plot_metric), encoding="utf-8")
    return path
