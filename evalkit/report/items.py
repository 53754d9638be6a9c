"""The items that changed between base and fine-tune, ordered by how much they matter.

Shared by report.html and ``evalkit view``. A reader opens a failing compare to learn *why*
it failed, so the order is: regressions on the metric of a failing gate (the items that decide
the verdict), then binary flips (right -> wrong, then wrong -> right), then continuous changes
by size relative to the largest change on the same task and metric, so a sentence-BLEU wiggle
of a few tenths comes after every flip.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

MAX_TEXT = 2000  # characters of one text shown; the run directory has the rest


def _clip(text: Any) -> str:
    text = "" if text is None else text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " […]"


def _item_score(metric, sample: dict) -> float | None:
    stats = (sample.get("stats") or {}).get(metric.name)
    if stats is None:
        return None
    value = float(metric.from_stats(np.asarray(stats, dtype=float)))
    return None if value != value else value


def is_failing(g: dict) -> bool:
    """A gate that fails the run: FAIL, or INCONCLUSIVE where that counts as a failure."""
    return g.get("verdict") == "FAIL" or (g.get("verdict") != "PASS" and bool(g.get("counts_as_fail")))


def failing_gates(gate: dict | None) -> set[tuple[str, str]]:
    """(task, metric) of every gate that fails the run: regressions there decide the verdict."""
    return {(g["target"], g["metric"]) for g in (gate or {}).get("gates", []) if is_failing(g)}


def _item_metrics(t: dict, failing: set[tuple[str, str]]) -> list[dict]:
    # A failing gate's metric first (its regressions are the ones to show), then the primary one.
    rows = [m for m in t["metrics"] if (t["task"], m["metric"]) in failing]
    return rows + [m for m in t["metrics"][:1] if m not in rows]


def changed_items(comparison: dict, base: dict, ft: dict, gate: dict | None = None) -> list[dict]:
    """Items whose score differs between base and fine-tune, most important first (see the
    module's docstring). ``base`` and ``ft``: (task, id) -> sample."""
    from evalkit.metrics.registry import metric_for_result

    failing = failing_gates(gate)
    by_task: dict[str, list] = {}
    for (task, item_id), fs in ft.items():
        by_task.setdefault(task, []).append((item_id, fs))
    items = []
    for t in comparison["tasks"]:
        if t["status"] != "ok" or not t["metrics"]:
            continue
        task, rows = t["task"], _item_metrics(t, failing)
        metrics = [(metric_for_result(m["metric"]), 1.0 if m["higher_is_better"] else -1.0) for m in rows]
        for item_id, fs in by_task.get(task, []):
            bs = base.get((task, item_id))
            if bs is None or fs.get("response") is None and bs.get("response") is None:
                continue
            item = _first_change(metrics, bs, fs, failing, task)
            if item is None:
                continue
            item.update({
                "task": task, "id": item_id, "cluster": fs.get("group") or "", "prompt": _clip(fs.get("prompt")),
                "base": _clip(bs.get("response")), "ft": _clip(fs.get("response")), "reference": _clip(fs.get("reference")),
            })
            items.append(item)
    return order(items)


def _first_change(metrics, bs: dict, fs: dict, failing, task: str) -> dict | None:
    for metric, sign in metrics:
        b, f = _item_score(metric, bs), _item_score(metric, fs)
        if b is None or f is None or b == f:
            continue
        gain = round(sign * (f - b), 6)
        return {
            "metric": metric.name, "gain": gain, "base_score": b, "ft_score": f,
            "binary": bool(metric.binary or {b, f} <= {0.0, 1.0}),
            "decisive": gain < 0 and (task, metric.name) in failing,
        }
    return None


def order(items: list[dict]) -> list[dict]:
    """Decisive regressions, then binary flips (regressions first), then continuous changes by
    their size relative to the largest on the same task and metric (regressions first on ties)."""
    largest: dict[tuple[str, str], float] = {}
    for it in items:
        key = (it["task"], it["metric"])
        largest[key] = max(largest.get(key, 0.0), abs(it["gain"]))
    for it in items:
        it["weight"] = round(abs(it["gain"]) / (largest[(it["task"], it["metric"])] or 1.0), 6)

    def rank(it: dict):
        return (not it["decisive"], not it["binary"], -it["weight"], it["gain"] > 0, it["task"], str(it["id"]))

    return sorted(items, key=rank)
