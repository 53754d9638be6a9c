"""Rater safety and the queue's operations: minimum reading time, undo of the rater's own
last action only, abandoned claims, renders without the write lock, retried locks, and one
prompt per rater however many candidates a study has."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter

import pytest
from review_helpers import BASE_MODEL, make_run, new_study
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from human_review import schema as t
from human_review.claims import ItemGone, TooSoon


def _rows(store, table):
    with store.engine.connect() as c:
        return c.execute(select(table)).all()


def test_a_vote_within_the_reading_time_is_refused_and_writes_nothing(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=3, overlap=1, min_seconds=1.5)
    r = store.sign_in(study, store.invite(study, "ann"))
    v = store.next_assignment(study, r.id)
    with pytest.raises(TooSoon):
        store.record(study, r.id, v.public_id, v.seq, "left")
    assert _rows(store, t.vote) == []
    time.sleep(1.6)
    assert store.record(study, r.id, v.public_id, v.seq, "left")
    # A double tap: the second press lands on the next item, shown a moment ago.
    v2 = store.next_assignment(study, r.id)
    with pytest.raises(TooSoon):
        store.record(study, r.id, v2.public_id, v2.seq, "left")
    assert len(_rows(store, t.vote)) == 1


def test_the_default_reading_time_is_about_a_second(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=2, min_seconds=1.0)
    assert study.settings["min_seconds"] == 1.0


def test_a_stale_undo_from_a_second_tab_voids_nothing(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=3, overlap=1)
    r = store.sign_in(study, store.invite(study, "ann"))
    v1 = store.next_assignment(study, r.id)
    assert store.record(study, r.id, v1.public_id, v1.seq, "left")
    stale = store.undo_target(study, r.id)  # what a second tab's Undo button holds
    v2 = store.next_assignment(study, r.id)
    assert store.record(study, r.id, v2.public_id, v2.seq, "right")
    assert not store.undo(study, r.id, stale)
    assert [a.choice for a in store.data(study).answers] == ["left", "right"]
    assert store.undo(study, r.id, store.undo_target(study, r.id))
    assert [a.choice for a in store.data(study).answers] == ["left"]
    assert not store.undo(study, r.id, None)


def test_undoing_a_skip_whose_slot_was_taken_keeps_k_raters(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=1, overlap=1)
    ann = store.sign_in(study, store.invite(study, "ann"))
    bob = store.sign_in(study, store.invite(study, "bob"))
    v = store.next_assignment(study, ann.id)
    assert store.record(study, ann.id, v.public_id, v.seq, None)
    assert store.next_assignment(study, bob.id) is not None  # bob takes the slot the skip put back
    assert not store.undo(study, ann.id, store.undo_target(study, ann.id))
    live = [a for a in _rows(store, t.assignment) if a.state in ("open", "done")]
    assert len(live) == 1


def test_an_abandoned_claim_returns_to_the_pool(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=1, overlap=1, claim_timeout=2.0)
    ann = store.sign_in(study, store.invite(study, "ann"))
    bob = store.sign_in(study, store.invite(study, "bob"))
    v = store.next_assignment(study, ann.id)
    assert store.next_assignment(study, bob.id) is None  # still ann's
    time.sleep(2.1)
    vb = store.next_assignment(study, bob.id)
    assert vb is not None and vb.public_id == v.public_id
    with pytest.raises(ItemGone):
        store.record(study, ann.id, v.public_id, v.seq, "left")
    assert store.record(study, bob.id, vb.public_id, vb.seq, "right")
    assert store.next_assignment(study, ann.id) is None
    assert [(a.rater, a.choice) for a in store.data(study).answers] == [("bob", "right")]


def test_rendering_a_claimed_item_takes_no_write_lock(tmp_path):
    store, study, _, url = new_study(tmp_path, n=2, overlap=1)
    r = store.sign_in(study, store.invite(study, "ann"))
    v = store.next_assignment(study, r.id)
    other = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
    try:
        start = time.monotonic()
        assert store.next_assignment(study, r.id).public_id == v.public_id
        store.rater_progress(study, r.id)
        assert time.monotonic() - start < 2.0
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_write_that_finds_the_database_locked_is_retried(tmp_path):
    store, _, _, _ = new_study(tmp_path, n=1)
    calls = []

    def flaky(conn):
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
        return "ok"

    assert store._transact(flaky) == "ok" and len(calls) == 3
    with pytest.raises(OperationalError):
        store._transact(lambda conn: (_ for _ in ()).throw(OperationalError("x", {}, sqlite3.OperationalError("no such table"))))


def _three_model_runs(root, n):
    keys = [("qa", f"qa{i}") for i in range(n)]
    return [make_run(root / "runs" / name, model, {k: f"{name} says {k[1]}" for k in keys})
            for name, model in (("base", BASE_MODEL), ("ft1", "zz-ft-one"), ("ft2", "zz-ft-two"))]


def test_with_several_candidates_a_rater_meets_each_prompt_once(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=6, overlap=2, runs=_three_model_runs(tmp_path, 6))
    raters = [store.sign_in(study, store.invite(study, f"r{i}")) for i in range(4)]
    done = Counter()
    for _ in range(12):
        for r in raters:
            v = store.next_assignment(study, r.id)
            if v is not None:
                assert store.record(study, r.id, v.public_id, v.seq, "left")
                done[r.name] += 1
    comps = {c.id: c.item_id for c in _rows(store, t.comparison)}
    seen = [(a.rater_id, comps[a.comparison_id]) for a in _rows(store, t.assignment) if a.rater_id is not None]
    assert len(seen) == len(set(seen))  # no rater met an item twice
    assert sum(done.values()) == 6 * 2 * 2  # every pair slot still got its raters


def test_invites_exchange_for_signed_sessions_that_expire_and_can_be_revoked(tmp_path):
    from human_review.sessions import sign, verify

    store, study, _, _ = new_study(tmp_path, n=2)
    token = store.invite(study, "ann")
    rater, session = store.exchange(study, token)
    assert token not in session and store.session_rater(study, session) == rater
    assert store.exchange(study, token) is not None  # a plain invite works on a second device
    forged = session[:-1] + ("0" if session[-1] != "0" else "1")
    assert store.session_rater(study, forged) is None and store.session_rater(study, "junk") is None
    old = sign(study.secret, rater.id, 0, now=time.time() - 13 * 3600)
    assert verify(study.secret, old) is None and store.session_rater(study, old) is None  # expired
    assert store.revoke(study, "ann") and not store.revoke(study, "nobody")
    assert store.session_rater(study, session) is None and store.exchange(study, token) is None
    assert store.sign_in(study, token) is None and store.rater_by_name(study, "ann") is None
    again = store.invite(study, "ann")  # inviting again readmits
    assert store.exchange(study, again)[0] == rater


def test_one_time_and_expiring_invites(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=2)
    once = store.invite(study, "ann", once=True)
    assert store.exchange(study, once) is not None and store.exchange(study, once) is None
    brief = store.invite(study, "bob", expires_in=0.2)
    time.sleep(0.3)
    assert store.exchange(study, brief) is None and store.sign_in(study, brief) is None


def test_candidate_against_candidate_pairs_and_strengths_over_all_models(tmp_path):
    from human_review.analysis import analyse

    runs = _three_model_runs(tmp_path, 8)
    store, study, _, _ = new_study(tmp_path, n=8, overlap=1, runs=runs, pairs="all")
    comps = _rows(store, t.comparison)
    assert len(comps) == 8 * 3  # base-ft1, base-ft2, ft1-ft2 per item
    raters = [store.sign_in(study, store.invite(study, f"r{i}")) for i in range(3)]
    data = store.data(study)
    texts = {c.id: (c.x_text, c.y_text) for c in data.comparisons.values()}
    rank = {"ft2": 2, "ft1": 1, "base": 0}  # the people always prefer ft2 > ft1 > base

    def choose(view):
        return "left" if rank[view.left.split()[0]] > rank[view.right.split()[0]] else "right"

    for r in raters:
        while (v := store.next_assignment(study, r.id)) is not None:
            assert store.record(study, r.id, v.public_id, v.seq, choose(v))
    assert len(store.data(study).answers) == 24 and texts
    result = analyse(store.data(study), reveal=False, n_boot=50)
    pairs = {(w["candidate"], w["base"]): w for w in result["win_rates"]}
    assert set(pairs) == {("candidate 1", "base"), ("candidate 2", "base"), ("candidate 1", "candidate 2")}
    assert pairs[("candidate 1", "candidate 2")]["loss"]["n"] == 8 and pairs[("candidate 2", "base")]["win"]["n"] == 8
    s = {r["system"]: r["strength"] for r in result["bradley_terry"]["rows"]}
    assert s["base"] == 0.0 < s["candidate 1"] < s["candidate 2"]


def test_gold_sides_are_balanced_per_rater(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=20, overlap=1, gold=6)
    raters = [store.sign_in(study, store.invite(study, f"r{i}")) for i in range(3)]
    for r in raters:
        while (v := store.next_assignment(study, r.id)) is not None:
            assert store.record(study, r.id, v.public_id, v.seq, "left")  # a left-only clicker
    gold = [a for a in _rows(store, t.assignment) if a.kind == "gold"]
    for r in raters:
        assert sorted(a.left_is_x for a in gold if a.rater_id == r.id) == [False] * 3 + [True] * 3
    from human_review.analysis import rater_quality

    for row in rater_quality(store.data(study), 0.95):
        assert row["gold"]["correct"] == 3  # half, not "4 of 5"


def test_study_file_sets_criteria_and_ties_and_scores_are_analysed(tmp_path):
    from scipy import stats as sps

    from evalkit.errors import ConfigError
    from human_review import study_file
    from human_review.analysis import analyse

    path = tmp_path / "study.yaml"
    path.write_text("instructions: Pick the reply you would send.\n"
                    "criteria:\n  - {name: accuracy, scale: [1, 3]}\n  - {name: tone, label: Politeness, scale: [0, 10]}\n"
                    "ties: [tie]\n")
    cfg = study_file.load(path)
    assert [c.name for c in cfg.criteria] == ["accuracy", "tone"] and cfg.ties == ("tie",)
    bad = tmp_path / "bad.yaml"
    bad.write_text("criteria:\n  - {name: accuracy, scale: [3, 1]}\n")
    with pytest.raises(ConfigError, match="bad.yaml:2"):
        study_file.load(bad)
    bad.write_text("criterion: []\n")
    with pytest.raises(ConfigError, match="unknown key 'criterion'"):
        study_file.load(bad)

    store, study, _, _ = new_study(tmp_path, n=6, overlap=1, study=cfg.model_dump(mode="json"))
    r = store.sign_in(study, store.invite(study, "ann"))
    with pytest.raises(ValueError, match="does not offer"):
        v = store.next_assignment(study, r.id)
        store.record(study, r.id, v.public_id, v.seq, "both_bad")
    diffs = []
    for k in range(6):
        v = store.next_assignment(study, r.id)
        x_left = v.left.startswith("fine-tune")
        sx, sy = 3, 1 + k % 3  # the fine-tune scores 3 on accuracy; the base 1, 2 or 3
        left, right = (sx, sy) if x_left else (sy, sx)
        assert store.record(study, r.id, v.public_id, v.seq, "left",
                            scores={"left": {"accuracy": left}, "right": {"accuracy": right}})
        diffs.append(sx - sy)
    (row,) = analyse(store.data(study), reveal=False, n_boot=0)["criteria"]
    assert row["criterion"] == "accuracy" and row["items"] == 6 and row["difference"] == pytest.approx(sum(diffs) / 6)
    ref = sps.ttest_1samp(diffs, 0).confidence_interval(0.95)
    assert row["interval"] == pytest.approx([ref.low, ref.high])


def test_a_database_from_before_sessions_gains_the_new_columns(tmp_path):
    from human_review.store import open_store

    store, study, _, url = new_study(tmp_path, n=2)
    token = store.invite(study, "ann")
    store.dispose()
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    for col in ("invite_once", "invite_expires_at", "invite_used_at", "session_gen", "revoked"):
        con.execute(f"ALTER TABLE hr_rater DROP COLUMN {col}")
    con.commit()
    con.close()
    again = open_store(url)
    assert again.exchange(again.study(study.name), token) is not None
