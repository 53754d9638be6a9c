"""report.html: one self-contained file (no CDN, no network) with the verdict, the gate table,
a forest plot, per-task numbers, the items that changed, cost and reproducibility.

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
MAX_TEXT = 2000  # characters of one response shown; the run directory has the rest


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


def _forest_rows(comparison: dict, gate: dict | None) -> list[dict]:
    gated: dict[tuple[str, str], dict] = {}
    for g in (gate or {}).get("gates", []):
        gated.setdefault((g["target"], g["metric"]), {})[g["type"]] = g.get("threshold")
    rows = []
    for t in comparison["tasks"]:
        if t["status"] != "ok":
            continue
        for i, m in enumerate(t["metrics"]):
            gates = gated.get((t["task"], m["metric"]), {})
            if (i > 0 and not gates) or m["delta"] is None:
                continue
            sign = 1.0 if m["higher_is_better"] else -1.0
            low, high = (m["ci_low"], m["ci_high"]) if sign > 0 else (m["ci_high"], m["ci_low"])
            rows.append({
                "label": f"{t['task']} · {m['metric']}", "role": t["role"], "unit": UNITS.get(m["metric"], "score (0-1)"),
                "gain": sign * m["delta"], "low": None if low is None else sign * low, "high": None if high is None else sign * high,
                "improved": m.get("improved"), "margin": gates.get("must_not_regress"), "min_effect": gates.get("must_improve"),
            })
    return rows


def forest_svg(comparison: dict, gate: dict | None, cache=None) -> str:
    """The forest plot as inline SVG; memoised by its rows, since drawing it costs more than
    a whole cached compare."""
    rows = _forest_rows(comparison, gate)
    if not rows:
        return ""
    key = None
    if cache is not None:
        from evalkit.runner.cache import code_version, digest

        key = digest({"v": 1, "code": code_version(), "forest": rows})
        hit = cache.memo_get(key)
        if hit is not None:
            return hit
    from evalkit.report.plots import figure_to_svg, forest_plot

    svg = figure_to_svg(forest_plot(rows))
    svg = svg[svg.index("<svg"):]  # drop the XML prologue: the SVG is inlined in HTML
    if key is not None:
        cache.memo_put(key, "forest", svg)
    return svg


def _item_score(metric, sample: dict) -> float | None:
    stats = (sample.get("stats") or {}).get(metric.name)
    if stats is None:
        return None
    value = float(metric.from_stats(np.asarray(stats, dtype=float)))
    return None if value != value else value


def _clip(text: Any) -> str:
    text = "" if text is None else text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " […]"


def changed_items(comparison: dict, base: dict, ft: dict) -> list[dict]:
    """Items whose primary per-item score differs between base and fine-tune."""
    from evalkit.metrics.registry import metric_for_result

    by_task: dict[str, list] = {}
    for (task, item_id), fs in ft.items():
        by_task.setdefault(task, []).append((item_id, fs))
    items = []
    for t in comparison["tasks"]:
        if t["status"] != "ok" or not t["metrics"]:
            continue
        task = t["task"]
        metric = metric_for_result(t["metrics"][0]["metric"])
        sign = 1.0 if t["metrics"][0]["higher_is_better"] else -1.0
        for item_id, fs in by_task.get(task, []):
            bs = base.get((task, item_id))
            if bs is None or fs.get("response") is None and bs.get("response") is None:
                continue
            b, f = _item_score(metric, bs), _item_score(metric, fs)
            if b is None or f is None or b == f:
                continue
            items.append({
                "task": task, "id": item_id, "metric": metric.name, "gain": round(sign * (f - b), 6),
                "base_score": b, "ft_score": f, "prompt": _clip(fs.get("prompt")), "base": _clip(bs.get("response")),
                "ft": _clip(fs.get("response")), "reference": _clip(fs.get("reference")),
            })
    return items


def _safe_json(data: Any) -> str:
    # Inside <script type="application/json">: no "<" may survive, so no "</script>" either.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build(out: Path, cache=None, runs: dict | None = None) -> str:
    """The report's HTML for the compare folder ``out``. ``runs`` (model name -> RunResult)
    saves re-reading run directories that the caller has in memory."""
    from evalkit.report.html_page import page

    compare = _load(out / "compare.json")
    comparisons = compare["comparisons"]
    several = len(comparisons) > 1
    sections = []
    for c in comparisons:
        base = _in_memory(runs, c["base"]) or _samples(_run_dir(out, c.get("base_source"), c["base"]))
        ft = _in_memory(runs, c["candidate"]) or _samples(_run_dir(out, c.get("candidate_source"), c["candidate"]))
        gate = _gate_for(out, c["candidate"], several)
        sections.append({
            "comparison": c, "gate": gate, "forest": forest_svg(c, gate, cache),
            "items": changed_items(c, base, ft), "totals": _totals(c, base, ft),
        })
    return page(compare, sections, _safe_json, html.escape)


def _totals(c: dict, base: dict, ft: dict) -> list[dict]:
    rows = []
    for name, samples in ((c["base"], base), (c["candidate"], ft)):
        ok = [s for s in samples.values() if s.get("status") != "error"]
        costs = [s.get("cost_usd") for s in ok]
        lat = np.array([s.get("latency_s", 0.0) for s in ok]) if ok else np.zeros(1)
        rows.append({
            "model": name, "items": len(ok), "prompt_tokens": sum(s.get("prompt_tokens", 0) for s in ok),
            "completion_tokens": sum(s.get("completion_tokens", 0) for s in ok),
            "cost_usd": sum(costs) if ok and all(x is not None for x in costs) else None,
            "latency_p50": float(np.percentile(lat, 50)), "latency_p95": float(np.percentile(lat, 95)),
        })
    return rows


def write_report(out: Path, cache=None, runs: dict | None = None) -> Path:
    path = Path(out) / "report.html"
    path.write_text(build(Path(out), cache, runs), encoding="utf-8")
    return path
