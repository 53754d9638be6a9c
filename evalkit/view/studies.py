"""The human-review studies built from a compare's runs, so the viewer can link into them.

``evalkit review create STUDY --from RUN --from RUN`` records, per system, the run's id (a
hash of model, identity, start time and config) and the folder it came from. A study is
about a compare's items when its base and one of its candidates are that compare's base and
candidate runs. Study databases on SQLite are ``STUDY.sqlite`` files (in the folder the
study was created in); the viewer looks in its own folder and in the current one, and reads
them read-only with the standard library (a study on PostgreSQL is not found).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace


@dataclass(frozen=True)
class StudyLink:
    name: str
    database: Path
    status: str  # open | closed
    items: int  # items with model answers (gold items not counted)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.database}"

    def commands(self) -> list[str]:
        """How to open it: the raters' app and the results (the admin's commands)."""
        return [f"evalkit review serve {self.name} --db {self.db_url}",
                f"evalkit review results {self.name} --db {self.db_url}"]


def _run_key(folder: Path, source: str | None, name: str) -> tuple[str, Path] | None:
    """(run id as human_review computes it, resolved run folder), or None when the run is gone."""
    from human_review.build import run_id

    for d in (Path(source) if source else None, folder / "runs" / name):
        if d is not None and (d / "results.json").is_file():
            try:
                data = json.loads((d / "results.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            run = SimpleNamespace(**{k: data.get(k) for k in ("model", "identity", "started", "config_sha256")})
            return run_id(run), d.resolve()
    return None


def _databases(roots: list[Path]) -> list[Path]:
    found = {p.resolve() for root in roots if root.is_dir() for p in root.glob("*.sqlite") if p.is_file()}
    return sorted(found)


def _matches(system: tuple, key: tuple[str, Path]) -> bool:
    run_id, source = system[0], system[1]
    if run_id == key[0]:
        return True
    try:
        return bool(source) and Path(source).resolve() == key[1]
    except OSError:
        return False


def _links(db: Path, base: tuple[str, Path], candidate: tuple[str, Path]) -> list[StudyLink]:
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        studies = conn.execute("SELECT id, name, status FROM hr_study").fetchall()
        out = []
        for sid, name, status in studies:
            systems = conn.execute("SELECT run_id, source, is_base FROM hr_system WHERE study_id = ?", (sid,)).fetchall()
            if any(s[2] and _matches(s, base) for s in systems) and any(not s[2] and _matches(s, candidate) for s in systems):
                n, = conn.execute("SELECT COUNT(DISTINCT r.item_id) FROM hr_response r JOIN hr_item i ON i.id = r.item_id "
                                  "WHERE i.study_id = ? AND r.origin = 'model'", (sid,)).fetchone()
                out.append(StudyLink(name, db, status, n))
        return out
    except sqlite3.Error:  # not a review database (another tool's SQLite file)
        return []
    finally:
        conn.close()


def studies_for(folder: Path, comparison: dict, roots: list[Path]) -> list[StudyLink]:
    """The review studies (in ``*.sqlite`` files under ``roots``) built from this compare's
    base and candidate runs."""
    base = _run_key(folder, comparison.get("base_source"), comparison["base"])
    candidate = _run_key(folder, comparison.get("candidate_source"), comparison["candidate"])
    if base is None or candidate is None:
        return []
    return [link for db in _databases(roots) for link in _links(db, base, candidate)]
