"""A persistent SQLite response cache.

Keys hash everything that determines an answer: the backend's identity (weights hash,
adapter, server model id; never an API key), the request kind and every request field (the
rendered prompt, decoding parameters). Errors are never stored. Entries are committed in
small batches, so a run killed with kill -9 keeps all it had answered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from evalkit.backends.base import RESPONSE_TYPES, Request, RequestKind, Response

SCHEMA_VERSION = 1


def _request_fields(req: Request) -> dict[str, Any]:
    # Explicit rather than dataclasses.asdict: this runs for every request of every run, and
    # asdict's deep copy was a third of a fully cached compare.
    fields = {name: getattr(req, name) for name in req.__dataclass_fields__}
    if "messages" in fields:
        fields["messages"] = [[m.role, m.content] for m in req.messages]
    if "stop" in fields:
        fields["stop"] = list(req.stop)
    return {"kind": req.kind.value, **fields}


def request_key(identity: dict[str, Any], req: Request) -> str:
    payload = {"v": SCHEMA_VERSION, "model": identity, "request": _request_fields(req)}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def digest(payload: Any) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


_CODE_VERSION: str | None = None


def code_version() -> str:
    """A hash of evalkit's own source: memoised results are recomputed when the code that
    scored them changes, even without a version bump."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        root = Path(__file__).resolve().parent.parent
        h = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        _CODE_VERSION = h.hexdigest()
    return _CODE_VERSION


def encode_response(resp: Response) -> str:
    return json.dumps(dataclasses.asdict(resp), separators=(",", ":"), ensure_ascii=False)


def decode_response(kind: str, blob: str) -> Response:
    return RESPONSE_TYPES[RequestKind(kind)](**json.loads(blob))


class ResponseCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for table in ("responses", "memo"):
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                "value TEXT NOT NULL, created REAL NOT NULL)"
            )

    def get_many(self, keys: list[str]) -> dict[str, Response]:
        found: dict[str, Response] = {}
        for start in range(0, len(keys), 500):  # stay below SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, kind, value FROM responses WHERE key IN ({marks})", chunk)
            for key, kind, value in rows:
                found[key] = decode_response(kind, value)
        return found

    def put_many(self, entries: Iterable[tuple[str, Request, Response]]) -> None:
        now = time.time()
        rows = [(k, req.kind.value, encode_response(resp), now) for k, req, resp in entries]
        if rows:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", rows)

    # Memo: finished work derived from cached answers (a scored task, a comparison), keyed by
    # its inputs and evalkit's own code, so that repeating a compare costs almost nothing.
    def memo_get(self, key: str) -> Any | None:
        row = self._db.execute("SELECT value FROM memo WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def memo_put(self, key: str, kind: str, value: Any) -> None:
        blob = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO memo VALUES (?, ?, ?, ?)", (key, kind, blob, time.time()))

    def info(self) -> dict[str, Any]:
        count, = self._db.execute("SELECT COUNT(*) FROM responses").fetchone()
        kinds = dict(self._db.execute("SELECT kind, COUNT(*) FROM responses GROUP BY kind").fetchall())
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"path": str(self.path), "entries": count, "by_kind": kinds, "bytes": size}

    def clear(self) -> int:
        with self._db:
            self._db.execute("BEGIN")
            n = self._db.execute("DELETE FROM responses").rowcount
            self._db.execute("DELETE FROM memo")
        self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        self._db.close()


class NullCache:
    """--no-cache: nothing read, nothing written."""

    def get_many(self, keys):
        return {}

    def put_many(self, entries):
        for _ in entries:
            pass

    def memo_get(self, key):
        return None

    def memo_put(self, key, kind, value):
        pass

    def close(self):
        pass
