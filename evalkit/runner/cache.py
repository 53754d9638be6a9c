"""A persistent SQLite response cache.

Keys hash everything that determines an answer: the backend's identity (weights hash,
adapter, server model id; never an API key), the request kind and every request field (the
rendered prompt, decoding parameters). Errors are never stored. Entries are committed in
small batches, so a run killed with kill -9 keeps all it had answered.

Every stored value carries a checksum of its key, kind and bytes, checked on each read: a
value changed on disk (a flipped digit once turned a 0.0 into a 0.9 in results.json) is
treated as a miss, recomputed and replaced, with a warning. SQLite's own integrity check
looks at pages, never at values. Several processes may share one cache (WAL, a busy
timeout, write transactions taken up front, retries while another writer holds the lock).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from evalkit.backends.base import RESPONSE_TYPES, Request, RequestKind, Response
from evalkit.runner.cache_errors import cache_error, check_location, is_busy

log = logging.getLogger("evalkit.cache")
T = TypeVar("T")
# Tables with a checksum column, under new names: an older evalkit sharing the folder finds
# (or recreates) its own checksum-less tables instead of crashing on these.
ANSWERS, MEMO = "answers_v2", "memo_v2"
TABLES = (ANSWERS, MEMO)
BUSY_TIMEOUT_MS = 30_000  # SQLite waits this long for another process's lock ...
LOCK_RETRIES = 5  # ... and on "database is locked" all the same, the whole operation is retried

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
    # surrogatepass: a JSONL line may hold a lone surrogate ("\\ud83d"); other keys are unchanged.
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def digest(payload: Any) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


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


def _dumps(value: Any) -> str:
    blob = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        blob.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a model cut off mid-emoji): SQLite stores UTF-8 only
        blob = json.dumps(value, separators=(",", ":"))
    return blob


def encode_response(resp: Response) -> str:
    return _dumps(dataclasses.asdict(resp))


def decode_response(kind: str, blob: str) -> Response:
    return RESPONSE_TYPES[RequestKind(kind)](**json.loads(blob))


def checksum(key: str, kind: str, value: str) -> str:
    """Covers the key and kind as well as the value, so a value moved to another row fails too."""
    h = hashlib.blake2b(digest_size=16)
    for part in (key, kind, value):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


class ResponseCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        check_location(self.path)
        self._db = None
        self._db = self._run(lambda: sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None))
        try:
            self._run(self._setup)
        except BaseException:
            self._db.close()
            raise

    def _setup(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        with db:
            db.execute("BEGIN IMMEDIATE")
            for table in TABLES:
                db.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                    "value TEXT NOT NULL, created REAL NOT NULL, checksum TEXT NOT NULL)"
                )
            names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "responses" in names:
                self._adopt_legacy("memo" in names)

    def _adopt_legacy(self, has_memo: bool) -> None:
        """Answers stored without checksums (by an older evalkit) are adopted with one: they are
        what that version would have used. Its memo rows are dropped: their keys hold its code
        version, so they can never be hit by this one."""
        rows = self._db.execute("SELECT key, kind, value, created FROM responses").fetchall()
        self._db.executemany(
            f"INSERT OR IGNORE INTO {ANSWERS} VALUES (?, ?, ?, ?, ?)",
            [(k, kind, v, created, checksum(k, kind, v)) for k, kind, v, created in rows],
        )
        self._db.execute("DROP TABLE responses")
        if has_memo:
            self._db.execute("DROP TABLE memo")

    def _run(self, fn: Callable[[], T]) -> T:
        """``fn()`` with SQLite's errors turned into one-line user errors; while another
        process holds the write lock past the busy timeout, the operation is retried."""
        delay = 0.05
        for attempt in range(LOCK_RETRIES + 1):
            try:
                return fn()
            except sqlite3.Error as exc:
                if not (is_busy(exc) and attempt < LOCK_RETRIES):
                    raise cache_error(self.path, exc) from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, statements: Callable[[sqlite3.Connection], Any]) -> Any:
        def transaction():
            with self._db:  # commits, or rolls back on any error
                # IMMEDIATE takes the write lock now, where the busy timeout applies; a deferred
                # transaction that upgrades later can fail at once with "database is locked".
                self._db.execute("BEGIN IMMEDIATE")
                return statements(self._db)

        return self._run(transaction)

    def _warn(self, n: int, what: str) -> None:
        log.warning(
            "evalkit: warning: %s: checksum mismatch in %d cached %s; recomputed and replaced "
            "(`evalkit cache verify` checks the whole cache)", self.path, n, what,
        )

    def get_many(self, keys: list[str]) -> dict[str, Response]:
        found: dict[str, Response] = {}
        bad = 0
        for start in range(0, len(keys), 500):  # stay below SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._run(lambda: self._db.execute(
                f"SELECT key, kind, value, checksum FROM {ANSWERS} WHERE key IN ({marks})", chunk
            ).fetchall())
            for key, kind, value, check in rows:
                try:
                    if check != checksum(key, kind, value):
                        raise ValueError("checksum")
                    found[key] = decode_response(kind, value)
                except (ValueError, TypeError, KeyError):
                    bad += 1
        if bad:
            self._warn(bad, "answer(s)")
        return found

    def put_many(self, entries: Iterable[tuple[str, Request, Response]]) -> None:
        now = time.time()
        rows = []
        for k, req, resp in entries:
            value = encode_response(resp)
            rows.append((k, req.kind.value, value, now, checksum(k, req.kind.value, value)))
        if rows:
            self._write(lambda db: db.executemany(f"INSERT OR REPLACE INTO {ANSWERS} VALUES (?, ?, ?, ?, ?)", rows))

    # Memo: finished work derived from cached answers (a scored task, a comparison), keyed by
    # its inputs and evalkit's own code, so that repeating a compare costs almost nothing.
    def memo_get(self, key: str) -> Any | None:
        row = self._run(lambda: self._db.execute(f"SELECT kind, value, checksum FROM {MEMO} WHERE key = ?", (key,)).fetchone())
        if row is None:
            return None
        kind, value, check = row
        try:
            if check != checksum(key, kind, value):
                raise ValueError("checksum")
            return json.loads(value)
        except ValueError:
            self._warn(1, f"result ({kind})")
            return None

    def memo_put(self, key: str, kind: str, value: Any) -> None:
        blob = _dumps(value)
        row = (key, kind, blob, time.time(), checksum(key, kind, blob))
        self._write(lambda db: db.execute(f"INSERT OR REPLACE INTO {MEMO} VALUES (?, ?, ?, ?, ?)", row))

    def info(self) -> dict[str, Any]:
        count, = self._run(lambda: self._db.execute(f"SELECT COUNT(*) FROM {ANSWERS}").fetchone())
        kinds = dict(self._run(lambda: self._db.execute(f"SELECT kind, COUNT(*) FROM {ANSWERS} GROUP BY kind").fetchall()))
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return {"path": str(self.path), "entries": count, "by_kind": kinds, "bytes": size}

    def verify(self) -> dict[str, Any]:
        """SQLite's page-level integrity check plus every row's checksum:
        {"integrity": [problems], "answers": {"ok": n, "bad": n}, "memo": {...}}."""
        problems = [r[0] for r in self._run(lambda: self._db.execute("PRAGMA integrity_check(20)").fetchall())]
        report: dict[str, Any] = {"integrity": [p for p in problems if p != "ok"]}

        def count(table: str) -> dict[str, int]:
            ok = bad = 0
            for key, kind, value, check in self._db.execute(f"SELECT key, kind, value, checksum FROM {table}"):
                if check == checksum(key, kind, value):
                    ok += 1
                else:
                    bad += 1
            return {"ok": ok, "bad": bad}

        for name, table in (("answers", ANSWERS), ("memo", MEMO)):
            report[name] = self._run(lambda: count(table))  # row by row: a cache can be large
        return report

    def clear(self) -> int:
        n = self._write(lambda db: (db.execute(f"DELETE FROM {ANSWERS}").rowcount, db.execute(f"DELETE FROM {MEMO}"))[0])
        self._run(lambda: self._db.execute("VACUUM"))
        return n

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def remove_database(path: Path) -> None:
    """Delete a damaged database with its WAL files: what ``evalkit cache clear`` does when
    the file cannot even be opened."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)


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
