"""The review database, through SQLAlchemy 2.x Core: SQLite by default, PostgreSQL by URL.

Every change is one short transaction. On SQLite a write transaction starts with
``BEGIN IMMEDIATE`` (WAL journal, busy timeout), so claims and votes are serialised, while
reads (a page render of an item already claimed, progress, results) start a plain
``BEGIN`` and never wait for the write lock; a write that still finds the database locked
is retried a few times with a jittered back-off rather than shown to the rater. On
PostgreSQL the claim locks the rater's row, takes a free slot with ``FOR UPDATE SKIP
LOCKED`` and locks the comparison while it balances sides. A vote is keyed by
(assignment, seq): a double click, a second tab or a retried request records one row.
"""

from __future__ import annotations

import random
import re
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from human_review import assignment as rules
from human_review import schema as t

CHOICES = ("left", "right", "tie", "both_bad")
CRITERIA = ("correctness", "helpfulness", "tone")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class StudyClosed(EvalkitError):
    """The study no longer takes votes."""


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    status: str
    settings: dict[str, Any]
    secret: str = field(repr=False)

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class Rater:
    id: int
    name: str


@dataclass(frozen=True)
class UndoTarget:
    public_id: str
    seq: int


@dataclass(frozen=True)
class AssignmentView:
    """All a rater's page shows: no model, run, side mapping or item kind."""

    public_id: str
    seq: int  # the seq the next row for this assignment must have
    prompt: str
    left: str
    right: str


def check_study_name(name: str) -> str:
    if not _NAME.match(name):
        raise EvalkitError(f"study name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")
    return name


def default_url(study_name: str, folder: Path | None = None) -> str:
    path = (folder or Path.cwd()) / f"{check_study_name(study_name)}.sqlite"
    return f"sqlite:///{path.resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite would defer it).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=60000", "foreign_keys=ON"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _sqlite_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("hr_read") else "BEGIN IMMEDIATE")


def make_engine(url: str):
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:":
            raise EvalkitError("a review database on SQLite must be a file (sqlite:///path/to/study.sqlite)")
        engine = create_engine(u, connect_args={"timeout": 60, "check_same_thread": False}, pool_size=10, max_overflow=40)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(u, pool_pre_ping=True, pool_size=10, max_overflow=40)


def open_store(url: str) -> ReviewStore:
    engine = make_engine(url)
    t.metadata.create_all(engine)
    _add_missing_columns(engine)
    return ReviewStore(engine)


# Columns added to a table after studies were first made with it: (table, column, SQL type and default).
_LATER_COLUMNS = (
    ("hr_rater", "invite_once", "BOOLEAN NOT NULL DEFAULT FALSE"),
    ("hr_rater", "invite_expires_at", "FLOAT"),
    ("hr_rater", "invite_used_at", "FLOAT"),
    ("hr_rater", "session_gen", "INTEGER NOT NULL DEFAULT 0"),
    ("hr_rater", "revoked", "BOOLEAN NOT NULL DEFAULT FALSE"),
)


def _add_missing_columns(engine) -> None:
    """Bring a database made by an earlier version up to date (create_all adds tables only)."""
    from sqlalchemy import inspect

    have = {c["name"] for c in inspect(engine).get_columns("hr_rater")}
    missing = [(tbl, col, ddl) for tbl, col, ddl in _LATER_COLUMNS if col not in have]
    if missing:
        with engine.begin() as conn:
            for tbl, col, ddl in missing:
                conn.exec_driver_sql(f"ALTER TABLE {tbl} ADD COLUMN {col} {ddl}")


class ReviewStore:
    def __init__(self, engine):
        import threading

        self.engine = engine
        # SQLite has one writer at a time, and its busy handler polls with growing sleeps, so
        # under load some writers wait for tens of seconds while others go first. Queueing the
        # app's own writers on a lock hands the database over as soon as it is free; other
        # processes still meet the busy timeout.
        self._gate = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @contextmanager
    def _write(self):
        with self._gate, self.engine.begin() as conn:
            yield conn

    def _transact(self, fn, *, attempts: int = 8):
        """``fn(conn)`` in a write transaction, retried when the database reports a lock
        (SQLite's "database is locked") or a PostgreSQL deadlock / serialization failure.
        Every write here is safe to repeat: a retried vote meets the (assignment, seq) key."""
        from sqlalchemy.exc import OperationalError

        for attempt in range(attempts):
            try:
                with self._write() as conn:
                    return fn(conn)
            except OperationalError as exc:
                if attempt == attempts - 1 or not _is_lock_error(exc):
                    raise
                time.sleep(random.uniform(0.0, 0.05 * 2 ** attempt))

    @contextmanager
    def _read(self):
        with self.engine.connect() as conn:
            conn.execution_options(hr_read=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    # -- studies, raters, admin -------------------------------------------------------------
    def create_study(self, name: str, plan) -> str:
        """Write a planned study; returns the admin secret (stored only as a keyed hash)."""
        from human_review.create import write_plan

        check_study_name(name)
        with self._write() as conn:
            if conn.execute(t.study.select().where(t.study.c.name == name)).first():
                raise EvalkitError(f"study {name!r} already exists in this database")
            return write_plan(conn, name, plan)

    def study(self, name: str) -> Study:
        with self._read() as conn:
            row = conn.execute(t.study.select().where(t.study.c.name == name)).first()
        if row is None:
            raise EvalkitError(f"no study {name!r} in this database")
        return Study(row.id, row.name, row.status, row.settings, row.secret)

    def invite(self, study: Study, name: str, *, once: bool = False, expires_in: float | None = None) -> str:
        """A new sign-in token for rater ``name`` (a new rater, or a fresh token for one, which
        also lifts a revocation). ``once``: it signs in one browser only; ``expires_in``: seconds."""
        token = rules.new_token()
        h = rules.keyed_hash(study.secret, "token", token)
        values = {"token_hash": h, "invite_once": once, "invite_used_at": None, "revoked": False,
                  "invite_expires_at": time.time() + expires_in if expires_in else None}
        with self._write() as conn:
            row = conn.execute(t.rater.select().where(t.rater.c.study_id == study.id, t.rater.c.name == name)).first()
            if row is None:
                conn.execute(t.rater.insert().values(study_id=study.id, name=name, created_at=time.time(), session_gen=0, **values))
            else:
                conn.execute(t.rater.update().where(t.rater.c.id == row.id).values(**values))
        return token

    def _invited(self, conn, study: Study, token: str):
        h = rules.keyed_hash(study.secret, "token", token.strip())
        row = conn.execute(t.rater.select().where(t.rater.c.study_id == study.id, t.rater.c.token_hash == h)).first()
        if row is None or row.revoked or (row.invite_once and row.invite_used_at is not None):
            return None
        if row.invite_expires_at is not None and row.invite_expires_at < time.time():
            return None
        return row

    def sign_in(self, study: Study, token: str) -> Rater | None:
        """The rater an invite token names, if it is still good (nothing is marked used)."""
        with self._read() as conn:
            row = self._invited(conn, study, token)
        return Rater(row.id, row.name) if row else None

    def exchange(self, study: Study, token: str) -> tuple[Rater, str] | None:
        """Trade an invite for (rater, signed session token); a one-time invite is spent."""
        from human_review.sessions import sign

        with self._write() as conn:
            row = self._invited(conn, study, token)
            if row is None:
                return None
            if row.invite_once:
                conn.execute(t.rater.update().where(t.rater.c.id == row.id).values(invite_used_at=time.time()))
        return Rater(row.id, row.name), sign(study.secret, row.id, row.session_gen)

    def session_rater(self, study: Study, session: str) -> Rater | None:
        """The rater of a signed session that has not expired and was not revoked since."""
        from human_review.sessions import verify

        found = verify(study.secret, session)
        if found is None:
            return None
        with self._read() as conn:
            row = conn.execute(t.rater.select().where(t.rater.c.id == found[0], t.rater.c.study_id == study.id)).first()
        if row is None or row.revoked or row.session_gen != found[1]:
            return None
        return Rater(row.id, row.name)

    def revoke(self, study: Study, name: str) -> bool:
        """End the rater's sessions and void their invite; their votes stay. False: no such rater."""
        with self._write() as conn:
            row = conn.execute(t.rater.select().where(t.rater.c.study_id == study.id, t.rater.c.name == name)).first()
            if row is None:
                return False
            conn.execute(t.rater.update().where(t.rater.c.id == row.id).values(
                revoked=True, session_gen=row.session_gen + 1,
                token_hash=rules.keyed_hash(study.secret, "revoked", rules.new_token())))
        return True

    def rater_by_name(self, study: Study, name: str) -> Rater | None:
        with self._read() as conn:
            row = conn.execute(t.rater.select().where(t.rater.c.study_id == study.id, t.rater.c.name == name)).first()
        return Rater(row.id, row.name) if row and not row.revoked else None

    def is_admin(self, study: Study, secret: str) -> bool:
        import hmac

        return hmac.compare_digest(rules.keyed_hash(study.secret, "admin", secret.strip()), self._admin_hash(study))

    def _admin_hash(self, study: Study) -> str:
        with self._read() as conn:
            return conn.execute(t.study.select().where(t.study.c.id == study.id)).first().admin_hash

    def new_admin_secret(self, study: Study) -> str:
        secret = rules.new_token()
        with self._write() as conn:
            conn.execute(t.study.update().where(t.study.c.id == study.id).values(admin_hash=rules.keyed_hash(study.secret, "admin", secret)))
        return secret

    def set_status(self, study: Study, status: str) -> None:
        with self._write() as conn:
            conn.execute(t.study.update().where(t.study.c.id == study.id).values(status=status))

    # -- the rater's queue ------------------------------------------------------------------
    def next_assignment(self, study: Study, rater_id: int) -> AssignmentView | None:
        """The rater's open item (a read), else a newly claimed one (atomically), else None when done."""
        from human_review.claims import claim, open_assignment, view

        with self._read() as conn:
            _check_open(conn, study)
            aid = open_assignment(conn, study, rater_id)
            if aid is not None:
                return view(conn, aid)

        def go(conn):
            _check_open(conn, study)
            aid = claim(conn, study, rater_id)
            return view(conn, aid) if aid is not None else None

        return self._transact(go)

    def rater_progress(self, study: Study, rater_id: int) -> tuple[int, int]:
        """(answered, about how many to come); counted outside the claim's write lock."""
        from human_review.claims import rater_progress

        with self._read() as conn:
            return rater_progress(conn, study, rater_id)

    def record(self, study: Study, rater_id: int, public_id: str, seq: int, choice: str | None, *,
               scores: dict | None = None, comment: str | None = None, seconds: float | None = None) -> bool:
        """Record a vote (``choice`` in CHOICES) or a skip (``choice`` None) as row ``seq`` of the
        assignment. False, and nothing written, when that row exists already (a double click);
        raises ``claims.TooSoon`` within the study's minimum reading time of the item being shown."""
        from sqlalchemy.exc import IntegrityError

        from human_review.claims import append

        if choice is not None and choice not in CHOICES:
            raise ValueError(f"unknown choice {choice!r}")
        if choice in ("tie", "both_bad"):
            from human_review.study_file import from_settings

            if choice not in from_settings(study.settings).ties:
                raise ValueError(f"this study does not offer {choice!r}")

        def go(conn):
            _check_open(conn, study)
            return append(conn, study, rater_id, public_id, seq, choice=choice, scores=scores, comment=comment, seconds=seconds)

        try:
            return self._transact(go)
        except IntegrityError:
            return False

    def undo(self, study: Study, rater_id: int, target: UndoTarget) -> bool:
        """Void the vote or skip ``target`` names (a new row); False when it is no longer the
        rater's last action (checked inside the transaction) or its item went to someone else."""
        from sqlalchemy.exc import IntegrityError

        from human_review.claims import _Refused, append_undo

        if target is None:
            return False

        def go(conn):
            _check_open(conn, study)
            return append_undo(conn, study, rater_id, target)

        try:
            return self._transact(go)
        except (IntegrityError, _Refused):
            return False

    def undo_target(self, study: Study, rater_id: int) -> UndoTarget | None:
        from human_review.claims import last_action

        with self._read() as conn:
            return last_action(conn, rater_id)

    def progress(self, study: Study) -> dict[str, Any]:
        from human_review.claims import progress

        with self._read() as conn:
            return progress(conn, study)

    def data(self, study: Study):
        """Everything the analysis and the exports need (model names included: server side only)."""
        from human_review.records import load

        with self._read() as conn:
            return load(conn, study)


def _is_lock_error(exc) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return "database is locked" in str(exc.orig) or code in ("40001", "40P01", "55P03")


def _check_open(conn, study: Study) -> None:
    status = conn.execute(t.study.select().where(t.study.c.id == study.id)).first().status
    if status != "open":
        raise StudyClosed("this study is closed")
