"""Tables of a review database (SQLAlchemy Core). One database may hold several studies.

Votes are append-only: a vote, a skip and an undo are each a new ``vote`` row, numbered
per assignment (``seq``); the unique key (assignment, seq) makes a double click record one
row. ``assignment.state`` and ``assignment.last_seq`` summarise those rows and are only
changed in the same transaction that appends one.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

study = Table(
    "hr_study", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("status", String(10), nullable=False, default="open"),  # open | closed
    Column("secret", String(64), nullable=False),  # keys the side hash and the token hashes
    Column("admin_hash", String(64), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)

# The only table that names models: it never leaves the server while a study is open.
system = Table(
    "hr_system", metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", ForeignKey("hr_study.id"), nullable=False),
    Column("label", String(40), nullable=False),  # "base", "candidate 1", ...
    Column("model", String(400), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("source", Text),
    Column("is_base", Boolean, nullable=False),
)

item = Table(
    "hr_item", metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", ForeignKey("hr_study.id"), nullable=False),
    Column("task", String(200), nullable=False),
    Column("item_key", String(400), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("reference", Text),
)

response = Table(
    "hr_response", metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("hr_item.id"), nullable=False),
    Column("system_id", ForeignKey("hr_system.id")),  # NULL for a gold item's reference or decoy
    Column("origin", String(10), nullable=False),  # model | reference | decoy
    Column("text", Text, nullable=False),
    Column("metrics", JSON, nullable=False),
)

# x is the candidate (or a gold item's correct side), y the base (or the decoy).
comparison = Table(
    "hr_comparison", metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", ForeignKey("hr_study.id"), nullable=False),
    Column("item_id", ForeignKey("hr_item.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # pair | gold
    Column("x_response_id", ForeignKey("hr_response.id"), nullable=False),
    Column("y_response_id", ForeignKey("hr_response.id"), nullable=False),
    Column("order_key", Integer, nullable=False),
)

rater = Table(
    "hr_rater", metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", ForeignKey("hr_study.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    # An invite may be one-time and may expire; revoking bumps the session generation, which
    # every signed session names, so that the rater's open sessions end at once.
    Column("invite_once", Boolean, nullable=False, default=False),
    Column("invite_expires_at", Float),
    Column("invite_used_at", Float),
    Column("session_gen", Integer, nullable=False, default=0),
    Column("revoked", Boolean, nullable=False, default=False),
    UniqueConstraint("study_id", "name", name="uq_hr_rater_name"),
)

# Pair assignments are made at study creation as free slots (overlap k per comparison) and
# claimed by raters; gold and repeat assignments are made for a rater when they come due.
assignment = Table(
    "hr_assignment", metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(32), nullable=False, unique=True),  # opaque; the browser sees only this
    Column("study_id", ForeignKey("hr_study.id"), nullable=False),
    Column("comparison_id", ForeignKey("hr_comparison.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # pair | gold | repeat
    Column("slot", Integer, nullable=False, default=0),
    Column("order_key", Integer, nullable=False),
    Column("rater_id", ForeignKey("hr_rater.id")),
    Column("left_is_x", Boolean),
    Column("state", String(10), nullable=False),  # free | open | done | skipped
    Column("position", Integer),  # the rater's n-th claim
    Column("repeat_of", ForeignKey("hr_assignment.id")),
    Column("replaced_by", ForeignKey("hr_assignment.id")),  # the free slot a skip put back
    Column("last_seq", Integer, nullable=False, default=0),
    Column("claimed_at", Float),
    Column("touched_at", Float),
    UniqueConstraint("comparison_id", "rater_id", "kind", name="uq_hr_assignment_rater"),
    Index("ix_hr_assignment_free", "study_id", "kind", "state", "order_key", "slot"),
    Index("ix_hr_assignment_rater", "rater_id", "state"),
)

vote = Table(
    "hr_vote", metadata,
    Column("id", Integer, primary_key=True),
    Column("assignment_id", ForeignKey("hr_assignment.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("voids", ForeignKey("hr_vote.id")),  # an undo names the row it cancels
    Column("action", String(10), nullable=False),  # vote | skip | undo
    Column("choice", String(10)),  # left | right | tie | both_bad (action == vote)
    Column("scores", JSON),  # {"left": {"correctness": 4, ...}, "right": {...}}
    Column("comment", Text),
    Column("seconds", Float),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("assignment_id", "seq", name="uq_hr_vote_seq"),
)
