"""The analysis of a review, on hand-made answers (known results) and on a real study."""

from __future__ import annotations

import json

import pytest
from review_helpers import BASE_MODEL, FT_MODEL, make_pair_runs, new_study

from evalkit.stats import wilson_interval
from human_review.analysis import (
    analyse,
    metric_agreement,
    position_bias,
    rater_quality,
    verdicts,
    win_rates,
)
from human_review.export import preference_pairs, vote_rows, write_exports
from human_review.records import Answer, Comparison, StudyData, System
from human_review.report import render_markdown

SYSTEMS = (System("base", BASE_MODEL, "run0", None, True), System("candidate 1", FT_MODEL, "run1", None, False))


def comp(cid, kind="pair", xm=None, ym=None):
    return Comparison(cid, kind, cid, "qa", f"q{cid}", f"prompt {cid}", "candidate 1" if kind == "pair" else None,
                      f"x text {cid}", f"y text {cid}", xm or {}, ym or {})


def answer(aid, cid, rater, label, kind="pair", left_is_x=True, seconds=10.0, repeat_of=None):
    choice = {"x": "left" if left_is_x else "right", "y": "right" if left_is_x else "left"}.get(label, label)
    return Answer(aid, kind, cid, rater, left_is_x, choice, label, None, None, seconds, 0.0, aid, repeat_of)


def study(comps, answers, raters, settings=None):
    return StudyData("s", "open", settings or {"seed": 0}, SYSTEMS, {c.id: c for c in comps}, tuple(answers), tuple(raters))


def test_win_rates_count_items_not_votes():
    comps = [comp(i) for i in range(1, 6)]
    labs = {1: ["x", "x"], 2: ["x", "y"], 3: ["y", "y"], 4: ["both_bad", "both_bad"], 5: ["x", "tie"]}
    answers = [answer(10 * c + k, c, f"r{k}", lab) for c, ls in labs.items() for k, lab in enumerate(ls)]
    data = study(comps, answers, ["r0", "r1"])
    assert verdicts(data) == {1: "x", 2: "tie", 3: "y", 4: "both_bad", 5: "x"}
    (row,) = win_rates(data, {"base": "base", "candidate 1": "cand"}, 0.95)
    assert row["items"] == 5 and row["win"]["n"] == 2 and row["loss"]["n"] == 1
    assert row["win"]["interval"] == pytest.approx(list(wilson_interval(2, 5)))
    assert row["sign_test"]["p_value"] == pytest.approx(1.0)  # 2 wins vs 1 loss
    assert row["votes"] == {"x": 4, "tie": 1, "y": 3, "both_bad": 2}


def test_rater_flags_and_position_bias():
    comps = [comp(i) for i in range(1, 13)] + [comp(100 + i, "gold") for i in range(4)]
    answers = [answer(i, i, "lefty", "x" if i % 2 else "y", left_is_x=bool(i % 2), seconds=1.0) for i in range(1, 13)]  # always left
    answers += [answer(200 + i, 100 + i, "lefty", "y", kind="gold") for i in range(4)]  # every gold wrong
    answers += [answer(300 + i, i, "lefty", "x" if i % 2 == 0 else "y", kind="repeat", repeat_of=i, left_is_x=i % 2 == 0)
                for i in range(1, 4)]  # each repeat answers the other way round
    answers += [answer(400 + i, i, "steady", "x", left_is_x=i % 2 == 0) for i in range(1, 13)]
    data = study(comps, answers, ["lefty", "steady"])
    rows = {r["rater"]: r for r in rater_quality(data, 0.95)}
    assert rows["lefty"]["gold"]["accuracy"] == 0.0 and rows["lefty"]["repeats"] == {"n": 3, "consistent": 0, "share": 0.0}
    assert len(rows["lefty"]["flags"]) == 4 and rows["steady"]["flags"] == []
    bias = position_bias(data)
    assert bias["per_rater"]["lefty"]["share"] == 1.0 and bias["per_rater"]["lefty"]["n"] == 15
    assert bias["per_rater"]["lefty"]["p_value"] == pytest.approx(2 * 0.5 ** 15)
    assert bias["per_rater"]["steady"]["share"] == 0.5


def test_metric_agreement_follows_direction():
    comps = [comp(1, xm={"em": 1, "loss": 0.1}, ym={"em": 0, "loss": 0.5}),  # humans x; em agrees; loss agrees
             comp(2, xm={"em": 0, "loss": 0.9}, ym={"em": 1, "loss": 0.2}),  # humans x; both disagree
             comp(3, xm={"em": 0, "loss": 0.3}, ym={"em": 1, "loss": 0.3}),  # humans y; em agrees; loss ties
             comp(4, xm={"em": 1}, ym={"em": 0})]  # humans tie: not counted
    labs = {1: "x", 2: "x", 3: "y", 4: "tie"}
    data = study(comps, [answer(c, c, "r", lab) for c, lab in labs.items()], ["r"],
                 {"seed": 0, "higher_is_better": {"qa": {"em": True, "loss": False}}})
    rows = {m["metric"]: m for m in metric_agreement(data, 0.95)}
    assert (rows["em"]["agree"], rows["em"]["disagree"], rows["em"]["metric_ties"]) == (2, 1, 0)
    assert (rows["loss"]["agree"], rows["loss"]["disagree"], rows["loss"]["metric_ties"]) == (1, 1, 1)
    assert rows["em"]["share"] == pytest.approx(2 / 3)


def test_blind_analysis_names_no_model():
    comps = [comp(i) for i in range(1, 4)]
    data = study(comps, [answer(i, i, "r", "x") for i in range(1, 4)], ["r"])
    blind = json.dumps(analyse(data, reveal=False, n_boot=50))
    assert BASE_MODEL not in blind and FT_MODEL not in blind and "run1" not in blind
    assert FT_MODEL in json.dumps(analyse(data, reveal=True, n_boot=50))


def test_real_study_end_to_end(tmp_path):
    metrics = {("qa", f"qa{i}"): ({"exact_match": 0.0}, {"exact_match": 1.0}) for i in range(12)}
    runs = make_pair_runs(tmp_path, 12, metrics=metrics)
    store, st, _, _ = new_study(tmp_path, n=12, runs=runs, overlap=2)
    for name in ("ann", "bob"):
        r = store.sign_in(st, store.invite(st, name))
        while (v := store.next_assignment(st, r.id)) is not None:
            store.record(st, r.id, v.public_id, v.seq, "left" if v.left.startswith("fine-tune") else "right", seconds=4.0,
                         scores={"left": {"correctness": 5}}, comment="fine")
    data = store.data(st)
    result = analyse(data, reveal=True, n_boot=100)
    (row,) = result["win_rates"]
    assert row["items"] == 12 and row["win"]["n"] == 12
    assert row["sign_test"]["p_value"] == pytest.approx(2 * 0.5 ** 12)
    assert result["bradley_terry"]["rows"][1]["at_bound"]
    assert result["metric_agreement"][0]["agree"] == 12
    assert result["position_bias"]["overall"]["share"] == pytest.approx(0.5)  # sides balanced: half on the left
    assert "## Win rates" in render_markdown(result)
    rows = vote_rows(data)
    assert all(r["preferred_model"] == FT_MODEL for r in rows)
    assert all(r["scores_left"] == {"correctness": 5} for r in rows)
    pairs = preference_pairs(data)
    assert len(pairs) == 12 and all(p["chosen"].startswith("fine-tune") and p["rejected"].startswith("base") for p in pairs)
    paths = write_exports(data, tmp_path / "out", "s")
    assert [p.name for p in paths] == ["s.votes.csv", "s.votes.json", "s.pairs.jsonl"]
    assert len(paths[0].read_text().splitlines()) == 25
    assert set(json.loads(paths[2].read_text().splitlines()[0])) == {"prompt", "chosen", "rejected"}
