"""One compare as the viewer shows it: verdict, gates, per-task rows, the forest plot and the
changed items, read from the compare folder with the same code report.html uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CompareView:
    comparison: dict
    gate: dict | None
    items: list[dict]
    forest_svg: str


def load_compare(folder: Path, candidate: str) -> CompareView:
    from evalkit.report.html import _gate_for, _load, _run_dir, _samples, forest_svg
    from evalkit.report.items import changed_items

    comparisons = _load(folder / "compare.json")["comparisons"]
    c = next((c for c in comparisons if c["candidate"] == candidate), None)
    if c is None:
        from evalkit.errors import DataError

        raise DataError(f"no comparison of '{candidate}' in this compare.json", path=folder / "compare.json")
    gate = _gate_for(folder, candidate, len(comparisons) > 1)
    base = _samples(_run_dir(folder, c.get("base_source"), c["base"]))
    ft = _samples(_run_dir(folder, c.get("candidate_source"), c["candidate"]))
    return CompareView(c, gate, changed_items(c, base, ft, gate), forest_svg(c, gate))


def task_rows(c: dict) -> list[dict]:
    """Per task and metric: base, fine-tune, delta with its interval, flips, verdict."""
    from evalkit.report.html_page import _direction

    words = {True: "better", False: "worse", None: "no clear difference"}
    rows = []
    for t in c["tasks"]:
        for m in t["metrics"] if t["status"] == "ok" else []:
            ci = "" if m.get("ci_low") is None else f"[{m['ci_low']:+.3f}, {m['ci_high']:+.3f}]"
            rows.append({
                "task": t["task"], "role": t["role"], "metric": m["metric"], "base": m.get("base"), "fine-tune": m.get("ft"),
                "delta": m.get("delta"), "95% CI": ci, "fixed / broke": "" if m.get("fixed") is None else f"{m['fixed']} / {m['broke']}",
                "tested": bool(m.get("tested", True)), "verdict": words[_direction(m)], "n": m.get("n"),
            })
    return rows


def gate_rows(gate: dict | None) -> list[dict]:
    return [{"gate": g["name"], "verdict": g["verdict"], "task": g["target"], "metric": g["metric"],
             "estimate": g.get("estimate"), "threshold": g.get("threshold"), "why": g.get("message", "")}
            for g in (gate or {}).get("gates", [])]


def side_by_side(a: CompareView, b: CompareView) -> list[dict]:
    """Two candidates against the same base, per task and metric: each one's delta and verdict."""
    ra = {(r["task"], r["metric"]): r for r in task_rows(a.comparison)}
    rb = {(r["task"], r["metric"]): r for r in task_rows(b.comparison)}
    na, nb = a.comparison["candidate"], b.comparison["candidate"]
    if na == nb:
        na, nb = f"{na} (left)", f"{nb} (right)"
    rows = []
    for key in dict.fromkeys([*ra, *rb]):
        x, y = ra.get(key, {}), rb.get(key, {})
        rows.append({"task": key[0], "metric": key[1], f"delta, {na}": x.get("delta"), f"verdict, {na}": x.get("verdict", "-"),
                     f"delta, {nb}": y.get("delta"), f"verdict, {nb}": y.get("verdict", "-"),
                     "differ": x.get("verdict") != y.get("verdict")})
    return rows
