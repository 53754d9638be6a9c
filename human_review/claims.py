"""A rater's queue, inside one write transaction the store opens: claim the next item,
append a vote or a skip, undo the last one.

Order of a claim: the rater's open item (one they undid, or one shown and not yet
answered); else a hidden gold or repeat item when one is due; else the first free pair
slot, in the study's shuffled order, of a comparison the rater has not seen; else the
gold and repeat items still owed; else nothing (the rater is done).
"""

from __future__ import annotations

import time

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from evalkit.errors import EvalkitError
from human_review import assignment as rules
from human_review import schema as t

A, V, C = t.assignment, t.vote, t.comparison
MIN_SECONDS = 1.0  # studies made before the setting existed
CLAIM_TIMEOUT = 1800.0


class TooSoon(EvalkitError):
    """A vote came sooner than the study's minimum reading time after the item was shown."""


class ItemGone(EvalkitError):
    """The rater's claim timed out and the item went back to the pool (or to someone else)."""


def open_assignment(conn, study, rater_id: int) -> int | None:
    """The rater's open item, if any: a plain read, so a page render takes no write lock."""
    return conn.execute(
        select(A.c.id).where(A.c.rater_id == rater_id, A.c.study_id == study.id, A.c.state == "open")
        .order_by(A.c.touched_at.desc(), A.c.id.desc()).limit(1)
    ).scalar()


def claim(conn, study, rater_id: int) -> int | None:
    found = conn.execute(
        select(t.rater.c.id).where(t.rater.c.id == rater_id, t.rater.c.study_id == study.id).with_for_update()
    ).first()
    if found is None:
        raise EvalkitError("unknown rater")
    open_id = open_assignment(conn, study, rater_id)
    if open_id is not None:
        return open_id
    n_repeats = study.settings.get("repeats", 0)
    position = conn.execute(select(func.count()).select_from(A).where(A.c.rater_id == rater_id)).scalar_one()
    gold = _gold_left(conn, study, rater_id)
    source = _repeat_source(conn, rater_id, n_repeats, position - rules.REPEAT_MIN_GAP)
    due = rules.extra_due(study.secret, rater_id, position, len(gold), source is not None)
    if due == "gold":
        return _new_extra(conn, study, rater_id, position, gold[0], "gold")
    if due == "repeat":
        return _new_extra(conn, study, rater_id, position, source.comparison_id, "repeat", source)
    aid = _claim_pair(conn, study, rater_id, position)
    if aid is not None:
        return aid
    if gold:
        return _new_extra(conn, study, rater_id, position, gold[0], "gold")
    source = source or _repeat_source(conn, rater_id, n_repeats, None)
    if source is not None:
        return _new_extra(conn, study, rater_id, position, source.comparison_id, "repeat", source)
    return None


def _mine(rater_id: int, kind: str | None = None):
    q = select(A.c.comparison_id).where(A.c.rater_id == rater_id)
    return q.where(A.c.kind == kind) if kind else q


def _seen_items(rater_id: int):
    # Blindness with several candidates: a rater who met a prompt once never meets it again in
    # another pair, since the answer common to both pairs would give the base (or a model) away.
    return select(C.c.item_id).select_from(A.join(C, A.c.comparison_id == C.c.id)).where(A.c.rater_id == rater_id)


def _gold_left(conn, study, rater_id: int) -> list[int]:
    if not study.settings.get("gold"):
        return []
    q = select(C.c.id).where(C.c.study_id == study.id, C.c.kind == "gold", C.c.id.not_in(_mine(rater_id, "gold")))
    return list(conn.execute(q.order_by(C.c.order_key)).scalars())


def _repeat_source(conn, rater_id: int, n_repeats: int, max_position: int | None):
    if n_repeats <= 0:
        return None
    had = conn.execute(select(func.count()).select_from(A).where(A.c.rater_id == rater_id, A.c.kind == "repeat")).scalar_one()
    if had >= n_repeats:
        return None
    repeated = select(A.c.repeat_of).where(A.c.rater_id == rater_id, A.c.kind == "repeat")
    q = select(A.c.id, A.c.comparison_id, A.c.left_is_x).where(
        A.c.rater_id == rater_id, A.c.kind == "pair", A.c.state == "done", A.c.id.not_in(repeated)
    )
    if max_position is not None:
        q = q.where(A.c.position <= max_position)
    return conn.execute(q.order_by(A.c.position).limit(1)).first()


def _new_extra(conn, study, rater_id, position, comparison_id, kind, source=None) -> int:
    now = time.time()
    # A repeat shows the rater's earlier item with the sides swapped. Gold sides are balanced
    # per rater (the side with fewer of their gold items so far), so that a rater who always
    # clicks one side scores about half on gold, not by luck of the hash.
    if source is not None:
        left = not source.left_is_x
    else:
        ways = dict(conn.execute(select(A.c.left_is_x, func.count()).where(A.c.rater_id == rater_id, A.c.kind == "gold")
                                 .group_by(A.c.left_is_x)).all())
        n_left, n_right = ways.get(True, 0), ways.get(False, 0)
        left = rules.preferred_left_is_x(study.secret, comparison_id, rater_id) if n_left == n_right else n_left < n_right
    return conn.execute(insert(A).values(
        public_id=rules.new_public_id(), study_id=study.id, comparison_id=comparison_id, kind=kind, slot=0, order_key=0,
        rater_id=rater_id, left_is_x=left, state="open", position=position, repeat_of=source.id if source is not None else None,
        last_seq=0, claimed_at=now, touched_at=now,
    ).returning(A.c.id)).scalar_one()


def _takeable(study, now: float):
    """A free slot, or one whose rater claimed it and left it untouched past the timeout
    (never answered: an abandoned tab must not hold its slot for ever)."""
    cutoff = now - float(study.settings.get("claim_timeout", CLAIM_TIMEOUT))
    return or_(A.c.state == "free", and_(A.c.state == "open", A.c.kind == "pair", A.c.last_seq == 0, A.c.touched_at < cutoff))


def _claim_pair(conn, study, rater_id: int, position: int) -> int | None:
    now = time.time()
    mine = _seen_items(rater_id)
    # Free slots first (the index's order), abandoned claims only when none is left.
    for takeable in (A.c.state == "free", _takeable(study, now)):
        slot = conn.execute(
            select(A.c.id, A.c.comparison_id, A.c.state).select_from(A.join(C, A.c.comparison_id == C.c.id))
            .where(A.c.study_id == study.id, A.c.kind == "pair", takeable, C.c.item_id.not_in(mine))
            .order_by(A.c.order_key, A.c.slot).limit(1).with_for_update(of=A, skip_locked=True)
        ).first()
        if slot is not None:
            break
    if slot is None:
        return None
    # Lock the comparison so that two raters claiming its slots at once balance sides correctly.
    conn.execute(select(C.c.id).where(C.c.id == slot.comparison_id).with_for_update())
    ways = dict(conn.execute(
        select(A.c.left_is_x, func.count()).where(
            A.c.comparison_id == slot.comparison_id, A.c.kind == "pair", A.c.state.in_(("open", "done")), A.c.id != slot.id
        ).group_by(A.c.left_is_x)
    ).all())
    left = rules.balanced_left_is_x(
        study.secret, slot.comparison_id, rater_id, ways.get(True, 0), ways.get(False, 0), study.settings["overlap"]
    )
    done = conn.execute(update(A).where(A.c.id == slot.id, A.c.state == slot.state, _takeable(study, now)).values(
        rater_id=rater_id, state="open", left_is_x=left, position=position, claimed_at=now, touched_at=now
    ))
    if done.rowcount != 1:  # cannot happen under the row lock; refuse rather than double-assign
        raise RuntimeError("slot claimed twice")
    return slot.id


def _own(conn, study, rater_id: int, public_id: str):
    row = conn.execute(select(A).where(A.c.public_id == public_id, A.c.study_id == study.id).with_for_update()).first()
    if row is None:
        raise EvalkitError("no such item for this rater")
    if row.rater_id != rater_id:
        raise ItemGone("this item timed out and went back to the pool")
    return row


def append(conn, study, rater_id, public_id, seq, *, choice, scores, comment, seconds) -> bool:
    row = _own(conn, study, rater_id, public_id)
    if row.state != "open" or row.last_seq != seq - 1:
        return False  # already answered: a double click or a second tab
    now = time.time()
    # Timed on the server from when the item was claimed or reopened (touched_at), so that a
    # double-tapped or held key cannot vote on an item that has been on screen for 80 ms.
    wait = float(study.settings.get("min_seconds", MIN_SECONDS)) - (now - (row.touched_at or 0.0))
    if wait > 0:
        raise TooSoon(f"too soon: read both answers first ({wait:.1f} s)")
    conn.execute(insert(V).values(
        assignment_id=row.id, seq=seq, action="vote" if choice else "skip", choice=choice,
        scores=scores or None, comment=(comment or "").strip() or None, seconds=seconds, created_at=now,
    ))
    values = {"state": "done" if choice else "skipped", "last_seq": seq, "touched_at": now}
    if choice is None and row.kind == "pair":
        # Put a fresh slot back so that the item still gets its k raters.
        values["replaced_by"] = conn.execute(insert(A).values(
            public_id=rules.new_public_id(), study_id=study.id, comparison_id=row.comparison_id, kind="pair",
            slot=_next_slot(conn, row.comparison_id), order_key=row.order_key, state="free", last_seq=0,
        ).returning(A.c.id)).scalar_one()
    conn.execute(update(A).where(A.c.id == row.id).values(**values))
    return True


def _next_slot(conn, comparison_id: int) -> int:
    return conn.execute(select(func.max(A.c.slot)).where(A.c.comparison_id == comparison_id, A.c.kind == "pair")).scalar_one() + 1


def append_undo(conn, study, rater_id, target) -> bool:
    # Lock the rater first: the "is it still their last action" check below then holds until
    # commit, so a stale Undo from a second tab cannot void an earlier vote.
    conn.execute(select(t.rater.c.id).where(t.rater.c.id == rater_id).with_for_update())
    if last_action(conn, rater_id) != target:
        return False
    row = _own(conn, study, rater_id, target.public_id)
    if row.state not in ("done", "skipped") or row.last_seq != target.seq:
        return False
    voided = conn.execute(select(V.c.id).where(V.c.assignment_id == row.id, V.c.seq == target.seq)).scalar_one()
    now = time.time()
    conn.execute(insert(V).values(assignment_id=row.id, seq=target.seq + 1, action="undo", voids=voided, created_at=now))
    conn.execute(update(A).where(A.c.id == row.id).values(state="open", last_seq=target.seq + 1, touched_at=now))
    if row.replaced_by is not None:
        spare = conn.execute(select(A.c.state).where(A.c.id == row.replaced_by).with_for_update()).scalar_one()
        if spare != "free":
            # Another rater already took the slot the skip put back: reopening this one too
            # would give the item one rater more than the study asked for.
            raise _Refused()
        conn.execute(update(A).where(A.c.id == row.id).values(replaced_by=None))
        conn.execute(delete(A).where(A.c.id == row.replaced_by))
    return True


class _Refused(Exception):
    """Roll the undo back (the store maps it to False)."""


def last_action(conn, rater_id: int):
    from human_review.store import UndoTarget

    row = conn.execute(
        select(A.c.public_id, V.c.seq).select_from(V.join(A, V.c.assignment_id == A.c.id))
        .where(A.c.rater_id == rater_id, V.c.action.in_(("vote", "skip")), V.c.seq == A.c.last_seq)
        .order_by(V.c.id.desc()).limit(1)
    ).first()
    return UndoTarget(row.public_id, row.seq) if row else None


def view(conn, aid: int):
    from human_review.store import AssignmentView

    rx, ry = aliased(t.response), aliased(t.response)
    row = conn.execute(
        select(A.c.public_id, A.c.last_seq, A.c.left_is_x, t.item.c.prompt, rx.c.text.label("x"), ry.c.text.label("y"))
        .select_from(A.join(C, A.c.comparison_id == C.c.id).join(t.item, C.c.item_id == t.item.c.id)
                     .join(rx, C.c.x_response_id == rx.c.id).join(ry, C.c.y_response_id == ry.c.id))
        .where(A.c.id == aid)
    ).one()
    # Outer whitespace is trimmed: a tokenizer's leading space would tell model output from a gold reference.
    left, right = (row.x.strip(), row.y.strip()) if row.left_is_x else (row.y.strip(), row.x.strip())
    return AssignmentView(row.public_id, row.last_seq + 1, row.prompt.strip(), left, right)


def rater_progress(conn, study, rater_id: int) -> tuple[int, int]:
    """(items answered, items still likely to come) for one rater."""
    done = conn.execute(
        select(func.count()).select_from(A).where(A.c.rater_id == rater_id, A.c.state.in_(("done", "skipped")))
    ).scalar_one()
    free = conn.execute(
        select(func.count(func.distinct(C.c.item_id))).select_from(A.join(C, A.c.comparison_id == C.c.id))
        .where(A.c.study_id == study.id, A.c.kind == "pair", A.c.state == "free", C.c.item_id.not_in(_seen_items(rater_id)))
    ).scalar_one()
    had = conn.execute(select(func.count()).select_from(A).where(A.c.rater_id == rater_id, A.c.kind == "repeat")).scalar_one()
    return done, free + len(_gold_left(conn, study, rater_id)) + max(0, study.settings.get("repeats", 0) - had)


def progress(conn, study) -> dict:
    per = conn.execute(
        select(t.rater.c.name, A.c.state, func.count()).select_from(t.rater.outerjoin(A, A.c.rater_id == t.rater.c.id))
        .where(t.rater.c.study_id == study.id).group_by(t.rater.c.name, A.c.state)
    ).all()
    raters: dict[str, dict[str, int]] = {}
    for name, state, n in per:
        raters.setdefault(name, {"open": 0, "done": 0, "skipped": 0})
        if state in ("open", "done", "skipped"):
            raters[name][state] = n
    slots = dict(conn.execute(
        select(A.c.state, func.count()).where(A.c.study_id == study.id, A.c.kind == "pair").group_by(A.c.state)
    ).all())
    rows = conn.execute(
        select(func.count()).select_from(V.join(A, V.c.assignment_id == A.c.id)).where(A.c.study_id == study.id)
    ).scalar_one()
    return {"raters": raters, "slots": {s: slots.get(s, 0) for s in ("free", "open", "done", "skipped")}, "vote_rows": rows}
