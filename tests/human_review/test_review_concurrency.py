"""20 raters voting at once on SQLite lose no vote and duplicate none; a double click is one vote."""

from __future__ import annotations

import threading

from review_helpers import check_counts, hammer, new_study
from sqlalchemy import func, select

from human_review import schema as t

RATERS, VOTES = 20, 200


def test_twenty_raters_two_hundred_votes_each_sqlite(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=RATERS * VOTES // 2 + 100, overlap=2)
    raters = [store.sign_in(study, store.invite(study, f"rater{i:02d}")) for i in range(RATERS)]
    tallies = hammer(store, study, raters, VOTES)
    check_counts(store, study, tallies, VOTES, overlap=2)


def test_simultaneous_double_clicks_record_one_vote(tmp_path):
    store, study, _, _ = new_study(tmp_path, n=30, overlap=1)
    rater = store.sign_in(study, store.invite(study, "ann"))
    for _ in range(30):
        view = store.next_assignment(study, rater.id)
        results: list[bool] = []
        gate = threading.Barrier(4)

        def click(gate, results, view):
            gate.wait()
            results.append(store.record(study, rater.id, view.public_id, view.seq, "left"))

        threads = [threading.Thread(target=click, args=(gate, results, view)) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(results) == [False, False, False, True]
    with store.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(t.vote)).scalar_one() == 30
