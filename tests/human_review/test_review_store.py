"""The rater's queue on SQLite: claims, votes, skips, undo, sides, gold and repeats, tokens."""

from __future__ import annotations

from collections import Counter

import pytest
from review_helpers import new_study, rate_all
from sqlalchemy import select

from human_review import schema as t
from human_review.store import StudyClosed


def _rows(store, table):
    with store.engine.connect() as c:
        return c.execute(select(table)).all()


def test_votes_double_clicks_and_undo(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=4, overlap=1)
    r = store.sign_in(study, store.invite(study, "ann"))
    v1 = store.next_assignment(study, r.id)
    assert store.next_assignment(study, r.id).public_id == v1.public_id  # a rerun does not claim again
    assert store.record(study, r.id, v1.public_id, v1.seq, "left")
    assert not store.record(study, r.id, v1.public_id, v1.seq, "left")  # double click: one row
    assert not store.record(study, r.id, v1.public_id, v1.seq, "right")  # a stale second tab: refused
    v2 = store.next_assignment(study, r.id)
    assert v2.public_id != v1.public_id and store.rater_progress(study, r.id) == (1, 2)
    target = store.undo_target(study, r.id)
    assert target.public_id == v1.public_id
    assert store.undo(study, r.id, target) and not store.undo(study, r.id, target)
    back = store.next_assignment(study, r.id)  # the undone item comes back first
    assert back.public_id == v1.public_id and back.seq == 3
    assert store.record(study, r.id, back.public_id, back.seq, "tie")
    assert store.next_assignment(study, r.id).public_id == v2.public_id
    votes = _rows(store, t.vote)
    assert [(v.seq, v.action, v.choice) for v in votes] == [(1, "vote", "left"), (2, "undo", None), (3, "vote", "tie")]
    assert votes[1].voids == votes[0].id
    data = store.data(study)
    assert [a.choice for a in data.answers] == ["tie"]


def test_skip_puts_a_slot_back_and_undo_takes_it_away(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=3, overlap=1)
    ann = store.sign_in(study, store.invite(study, "ann"))
    v = store.next_assignment(study, ann.id)
    assert store.record(study, ann.id, v.public_id, v.seq, None)
    free = [a for a in _rows(store, t.assignment) if a.state == "free"]
    assert len(free) == 3  # two untouched items and the skipped item's new slot
    assert store.undo(study, ann.id, store.undo_target(study, ann.id))
    assert len([a for a in _rows(store, t.assignment) if a.state == "free"]) == 2
    bob = store.sign_in(study, store.invite(study, "bob"))
    assert store.record(study, ann.id, v.public_id, v.seq + 2, None)  # skips it again
    assert rate_all(store, study, bob, lambda v: "left") == 3  # bob gets the skipped item too
    assert rate_all(store, study, ann, lambda v: "left") == 0  # one rater per item: nothing left for ann
    assert len(store.data(study).answers) == 4  # ann's skip and bob's three votes


def test_each_item_gets_k_raters_and_is_shown_both_ways(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=12, overlap=2)
    raters = [store.sign_in(study, store.invite(study, f"r{i}")) for i in range(3)]
    for r in raters:
        rate_all(store, study, r, lambda v: "left")
    pairs = [a for a in _rows(store, t.assignment) if a.kind == "pair"]
    by_comp: dict[int, list] = {}
    for a in pairs:
        by_comp.setdefault(a.comparison_id, []).append(a)
    assert len(by_comp) == 12
    for rows in by_comp.values():
        assert len({a.rater_id for a in rows}) == 2  # two different raters
        assert sorted(a.left_is_x for a in rows) == [False, True]  # once each way round
    assert sum(Counter(a.rater_id for a in pairs).values()) == 24


def test_gold_for_every_rater_and_repeats_swap_sides(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=20, overlap=2, gold=3, repeats=2)
    raters = [store.sign_in(study, store.invite(study, n)) for n in ("ann", "bob")]
    for r in raters:
        rate_all(store, study, r, lambda v: "left")
    rows = _rows(store, t.assignment)
    by_id = {a.id: a for a in rows}
    for r in raters:
        mine = [a for a in rows if a.rater_id == r.id]
        kinds = Counter(a.kind for a in mine)
        assert kinds["gold"] == 3 and kinds["repeat"] == 2
        for a in mine:
            if a.kind == "repeat":
                orig = by_id[a.repeat_of]
                assert orig.rater_id == r.id and orig.comparison_id == a.comparison_id
                assert a.left_is_x != orig.left_is_x and a.position - orig.position >= 3
    assert Counter(a.kind for a in rows if a.rater_id is not None)["pair"] == 40


def test_tokens_are_stored_hashed_and_admin_secret_checked(tmp_path):
    store, study, secret, _ = new_study(tmp_path, n=2)
    token = store.invite(study, "ann")
    (row,) = _rows(store, t.rater)
    assert token not in row.token_hash and len(row.token_hash) == 64
    assert store.sign_in(study, "wrong") is None
    assert store.is_admin(study, secret) and not store.is_admin(study, "nope")
    assert secret not in _rows(store, t.study)[0].admin_hash
    new = store.new_admin_secret(study)
    assert store.is_admin(study, new) and not store.is_admin(study, secret)
    again = store.invite(study, "ann")  # re-inviting replaces the token
    assert store.sign_in(study, token) is None and store.sign_in(study, again).name == "ann"


def test_closed_study_takes_no_votes(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=2)
    r = store.sign_in(study, store.invite(study, "ann"))
    v = store.next_assignment(study, r.id)
    store.set_status(study, "closed")
    with pytest.raises(StudyClosed):
        store.record(study, r.id, v.public_id, v.seq, "left")
    with pytest.raises(StudyClosed):
        store.next_assignment(study, r.id)


def test_a_rater_cannot_vote_on_anothers_item(tmp_path):
    from evalkit.errors import EvalkitError

    store, study, _, _ = new_study(tmp_path, n=2)
    ann = store.sign_in(study, store.invite(study, "ann"))
    bob = store.sign_in(study, store.invite(study, "bob"))
    v = store.next_assignment(study, ann.id)
    with pytest.raises(EvalkitError):
        store.record(study, bob.id, v.public_id, v.seq, "left")


def test_view_holds_no_model_information(tmp_path):
    from dataclasses import fields

    from human_review.store import AssignmentView

    assert {f.name for f in fields(AssignmentView)} == {"public_id", "seq", "prompt", "left", "right"}
