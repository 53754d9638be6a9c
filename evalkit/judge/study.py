"""The judge's verdicts next to a review study: read the judgments a compare wrote
(``judge/<candidate>/<task>.jsonl``), line them up with the study's votes, and pick the items
where the judge is least sure, for ``evalkit review create --from-judge-disagreements``."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from evalkit.errors import DataError


def load_judgments(folder: Path) -> dict[tuple[str, str], dict[str, dict]]:
    """(candidate model, task) -> item id -> the stored judgment, from a compare folder."""
    root = Path(folder) / "judge"
    files = sorted(root.glob("*/*.jsonl"))
    if not files:
        raise DataError(f"no judgments under {root}; give the folder of an `evalkit compare` of a pairwise-judged task",
                        path=Path(folder))
    out: dict[tuple[str, str], dict[str, dict]] = {}
    for f in files:
        rows = {}
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                row = json.loads(line)
                rows[str(row["id"])] = row
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError("not a judgment line (JSON with an id); rerun the compare", path=f, line=n) from None
        out[(f.parent.name, f.stem)] = rows
    return out


def study_agreement(data, judged, *, seed: int, n_boot: int, confidence: float) -> list[dict]:
    """Judge-vs-human agreement per (task, candidate) of the study that has judgments."""
    import numpy as np

    from evalkit.judge.calibration import judge_vs_humans
    from human_review.analysis import _pair_labels

    model = {s.label: s.model for s in data.systems}
    votes: dict[tuple[str, str], dict[str, list]] = defaultdict(dict)
    for cid, labs in _pair_labels(data).items():
        comp = data.comparisons[cid]
        # The judge compared each candidate with the base: a candidate-vs-candidate pair
        # (``review create --pairs all``) has no judgment to set against it.
        if comp.kind == "pair" and comp.candidate is not None and comp.opponent in (None, data.base.label):
            votes[(model[comp.candidate], comp.task)][str(comp.item_key)] = labs
    rows = []
    for (cand, task), by_item in sorted(votes.items()):
        found = judged.get((cand, task))
        if found is None:
            continue
        outcomes = {k: j.get("outcome") for k, j in found.items()}
        rng = np.random.default_rng([seed, len(rows)])
        rows.append({"task": task, "candidate": cand,
                     "agreement": judge_vs_humans(by_item, outcomes, rng=rng, n_boot=n_boot, confidence=confidence)})
    return rows


def disagreements(judged, limit: int | None = None) -> set[tuple[str, str]]:
    """(task, item id) where the judge is least sure: it flipped with the order, or gave no
    outcome, or tied; flips first. ``limit``: at most this many per task."""
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for (_, task), rows in judged.items():
        for item, j in rows.items():
            rank = 0 if j.get("flipped") else 1 if j.get("outcome") is None else 2 if j.get("outcome") == "tie" else None
            if rank is not None:
                ranked[task].append((rank, item))
    return {(task, item) for task, items in ranked.items() for _, item in sorted(items)[:limit]}
