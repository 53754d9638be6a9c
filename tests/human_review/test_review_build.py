"""From run directories to a study plan."""

from __future__ import annotations

import pytest
from review_helpers import BASE_MODEL, FT_MODEL, make_pair_runs, make_run

from evalkit.errors import EvalkitError
from evalkit.results import RunResult
from human_review.build import StudyOptions, plan_study, task_prompt


def _load(paths):
    return [RunResult.load(p) for p in paths]


def test_items_align_and_prompts_lose_the_system_prompt(tmp_path):
    plan = plan_study(_load(make_pair_runs(tmp_path, 6)), StudyOptions(seed=1))
    assert [s.model for s in plan.systems] == [BASE_MODEL, FT_MODEL]
    assert [s.label for s in plan.systems] == ["base", "candidate 1"]
    assert len(plan.items) == 6 and plan.dropped == 0
    it = plan.items[0]
    assert it.prompt == f"Question {it.key}: what is the answer?"  # neither model's system prompt
    assert it.responses[0][0] == f"base says {it.key}" and it.responses[1][0] == f"fine-tune says {it.key}"


def test_sampling_is_seeded_and_per_task(tmp_path):
    runs = _load(make_pair_runs(tmp_path, 10, tasks=("a", "b")))
    p1 = plan_study(runs, StudyOptions(items=3, per_task=True, seed=4))
    p2 = plan_study(runs, StudyOptions(items=3, per_task=True, seed=4))
    assert [i.key for i in p1.items] == [i.key for i in p2.items]
    assert sorted(i.task for i in p1.items) == ["a"] * 3 + ["b"] * 3
    assert len(plan_study(runs, StudyOptions(items=5, seed=4)).items) == 5
    assert {i.task for i in plan_study(runs, StudyOptions(tasks=("b",))).items} == {"b"}


def test_base_option_and_several_candidates(tmp_path):
    base, ft = make_pair_runs(tmp_path, 4)
    ft2 = make_run(tmp_path / "runs" / "ft2", "zz-other-ft", {("qa", f"qa{i}"): f"other {i}" for i in range(4)})
    plan = plan_study(_load([ft, ft2, base]), StudyOptions(), base=BASE_MODEL)
    assert [s.model for s in plan.systems] == [BASE_MODEL, FT_MODEL, "zz-other-ft"]
    assert all(len(i.responses) == 3 for i in plan.items)


def test_unusable_responses_are_dropped_and_counted(tmp_path):
    runs = make_pair_runs(tmp_path, 5, ft_text=lambda k: "   " if k[1] == "qa1" else "ok")
    plan = plan_study(_load(runs), StudyOptions())
    assert len(plan.items) == 4 and plan.dropped == 1


def test_gold_pairs_a_reference_with_another_items_reference(tmp_path):
    plan = plan_study(_load(make_pair_runs(tmp_path, 8)), StudyOptions(items=4, gold=3, seed=2))
    assert len(plan.gold) == 3
    chosen = {i.key for i in plan.items}
    assert all(g.key not in chosen for g in plan.gold)  # items not under review come first
    for g in plan.gold:
        assert g.good == f"answer {g.key}" and g.bad != g.good and g.bad.startswith("answer ")


def test_errors(tmp_path):
    base, ft = make_pair_runs(tmp_path, 3)
    with pytest.raises(EvalkitError, match="at least two"):
        plan_study(_load([base]), StudyOptions())
    with pytest.raises(EvalkitError, match="--base"):
        plan_study(_load([base, ft]), StudyOptions(), base="nope")
    with pytest.raises(EvalkitError, match="unknown task"):
        plan_study(_load([base, ft]), StudyOptions(tasks=("zzz",)))
    with pytest.raises(EvalkitError, match="same model"):
        plan_study(_load([base, base]), StudyOptions())
    with pytest.raises(EvalkitError, match="gold"):
        plan_study(_load([base, ft]), StudyOptions(gold=10))


def test_task_prompt_strips_template():
    cfg = {"system_prompt": "Be nice.", "template": "<user>{prompt}</user>"}
    assert task_prompt("Be nice.\n\n<user>Hi?</user>", cfg) == "Hi?"
    assert task_prompt("Hi?", {}) == "Hi?"
