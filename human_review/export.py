"""Votes as CSV and JSON, and preference pairs (JSONL: prompt, chosen, rejected) for DPO."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from human_review.analysis import verdicts
from human_review.records import StudyData

CSV_FIELDS = ("task", "item_id", "kind", "rater", "left_model", "right_model", "choice", "preferred_model", "label",
              "scores_left", "scores_right", "comment", "seconds", "created_at", "assignment", "repeat_of")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value) -> object:
    """A CSV cell a spreadsheet will not run: text that starts like a formula gets a leading
    apostrophe (OWASP's advice). Numbers are written as they are, negative ones included."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = json.dumps(value)
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def vote_rows(data: StudyData) -> list[dict]:
    """One row per standing answer (votes and skips), sides and models spelled out."""
    model = {s.label: s.model for s in data.systems}
    rows = []
    for a in data.answers:
        comp = data.comparisons[a.comparison_id]
        x = model[comp.candidate] if comp.candidate else "(gold: reference)"
        y = model[comp.opponent or data.base.label] if comp.candidate else "(gold: decoy)"
        left, right = (x, y) if a.left_is_x else (y, x)
        preferred = {"x": x, "y": y}.get(a.label or "", "")
        scores = a.scores or {}
        rows.append({
            "task": comp.task, "item_id": comp.item_key, "kind": a.kind, "rater": a.rater, "left_model": left,
            "right_model": right, "choice": a.choice or "skip", "preferred_model": preferred, "label": a.label or "",
            "scores_left": scores.get("x" if a.left_is_x else "y"), "scores_right": scores.get("y" if a.left_is_x else "x"),
            "comment": a.comment or "", "seconds": a.seconds, "created_at": a.created_at,
            "assignment": a.assignment_id, "repeat_of": a.repeat_of,
        })
    return rows


def preference_pairs(data: StudyData) -> list[dict[str, str]]:
    """Items whose raters preferred one side (the item verdict; gold items and repeats left out)."""
    out = []
    for cid, v in sorted(verdicts(data).items()):
        if v not in ("x", "y"):
            continue
        comp = data.comparisons[cid]
        chosen, rejected = (comp.x_text, comp.y_text) if v == "x" else (comp.y_text, comp.x_text)
        out.append({"prompt": comp.prompt, "chosen": chosen, "rejected": rejected})
    return out


def write_exports(data: StudyData, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = vote_rows(data)
    paths = [out_dir / f"{stem}.votes.csv", out_dir / f"{stem}.votes.json", out_dir / f"{stem}.pairs.jsonl"]
    with paths[0].open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: csv_cell(v) for k, v in r.items()})
    paths[1].write_text(json.dumps({"format": "evalkit.review.votes/1", "study": data.name, "votes": rows}, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    with paths[2].open("w", encoding="utf-8") as f:
        for p in preference_pairs(data):
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    return paths
