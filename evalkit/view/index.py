"""The index of compares under a folder: one row per (compare folder, candidate) with its
verdict, date, models and gate counts, newest first. Read only from what `evalkit compare`
writes (compare.json, gate.json, the runs' results.json); nothing is recomputed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SKIP_DIRS = {"runs", ".cache", ".git", "node_modules", "__pycache__", ".venv"}


@dataclass(frozen=True)
class Entry:
    folder: Path
    name: str  # the folder relative to the root, and the candidate when a compare has several
    date: str  # when compare.json was written (UTC)
    base: str
    candidate: str
    verdict: str  # the gate verdict, or NONE when no gates ran
    gates: dict[str, int] = field(default_factory=dict)  # PASS / FAIL / INCONCLUSIVE -> count
    base_identity: str = ""  # the base model's fingerprint, to pair compares of the same base


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # a folder being written or a stray file: not a compare the index can show


def _compare_files(root: Path) -> list[Path]:
    out, stack = [], [root]
    while stack:  # not rglob: run folders hold large samples files and need no walking
        folder = stack.pop()
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for child in children:
            if child.is_dir() and not child.is_symlink() and child.name not in SKIP_DIRS:
                stack.append(child)
            elif child.name == "compare.json":
                out.append(child)
    return out


def gate_of(folder: Path, candidate: str, several: bool) -> dict | None:
    path = folder / "gates" / candidate / "gate.json" if several else folder / "gate.json"
    gate = _json(path) if path.is_file() else None
    # a gate.json of another shape is no gate the index can count (never a crash of the index)
    ok = isinstance(gate, dict) and isinstance(gate.get("gates"), list) and all(isinstance(g, dict) for g in gate["gates"])
    return gate if ok else None


def _is_comparison(c: Any) -> bool:
    return isinstance(c, dict) and isinstance(c.get("base"), str) and isinstance(c.get("candidate"), str)


def base_identity(folder: Path, comparison: dict) -> str:
    """The base run's fingerprint (its cache identity), or its name when the run is gone."""
    for source in (comparison.get("base_source"), folder / "runs" / comparison["base"]):
        data = _json(Path(source) / "results.json") if source else None
        if data and data.get("identity"):
            return json.dumps(data["identity"], sort_keys=True)
    return comparison["base"]


def find_compares(root: Path) -> list[Entry]:
    entries = []
    for path in _compare_files(Path(root)):
        data = _json(path)
        if not isinstance(data, dict) or not isinstance(data.get("comparisons"), list):
            continue
        if not all(_is_comparison(c) for c in data["comparisons"]):
            continue  # hand-edited or from another tool: one bad folder must not hide the others
        folder = path.parent
        stamp = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
        several = len(data["comparisons"]) > 1
        rel = folder.relative_to(root).as_posix() if folder != Path(root) else "."
        for c in data["comparisons"]:
            gate = gate_of(folder, c["candidate"], several)
            gates = {v: sum(g.get("verdict") == v for g in gate["gates"]) for v in ("PASS", "FAIL", "INCONCLUSIVE")} if gate else {}
            entries.append(Entry(
                folder=folder, name=f"{rel} · {c['candidate']}" if several else rel, date=stamp, base=c["base"],
                candidate=c["candidate"], verdict=(gate or {}).get("verdict", "NONE"), gates=gates,
                base_identity=base_identity(folder, c),
            ))
    return sorted(entries, key=lambda e: (e.date, e.name), reverse=True)


def index_rows(entries: list[Entry]) -> list[dict]:
    """The index as table rows (plain values: the app shows them as text)."""
    return [{
        "compare": e.name, "date (UTC)": e.date, "verdict": e.verdict, "base": e.base, "candidate": e.candidate,
        "gates passed": e.gates.get("PASS", 0), "failed": e.gates.get("FAIL", 0), "inconclusive": e.gates.get("INCONCLUSIVE", 0),
    } for e in entries]


def same_base(entries: list[Entry], entry: Entry) -> list[Entry]:
    """Other compares against the same base model (same fingerprint), e.g. yesterday's candidate."""
    return [e for e in entries if e.base_identity == entry.base_identity and e != entry]
