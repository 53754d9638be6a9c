"""Filter chains on math-style answers with ``#### N`` references: strict and flexible
extraction as lm-eval's GSM8K task writes them, target filters, unparsed answers scored as
wrong, and one generation shared by every filter."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from conftest import write_jsonl
from evalkit.backends.base import Generation, RequestKind
from evalkit.config import load_project
from evalkit.suites.items import Item
from evalkit.suites.spec import TaskSpec
from evalkit.tasks.base import extract
from evalkit.tasks.filters import parse_chain
from evalkit.tasks.generate import GenerateTask

STRICT = [{"regex": r"#### (\-?[0-9\.\,]+)"}, "take_first"]
FLEXIBLE = [{"regex": r"(-?[$0-9.,]{2,})|(-?[0-9]+)", "group_select": -1}, "take_first"]
TARGET = [{"regex": r"#### (.*)"}, "strip"]


def test_lm_eval_flexible_regex_takes_the_last_number():
    chain = parse_chain(FLEXIBLE)
    assert chain.apply("3 apples and 5 pears make 8") == ("8", True)
    assert chain.apply("costs $1,200 in total") == ("$1,200", True)
    assert chain.apply("no digits") == (None, False)
    # the old single-regex key: group 1 of "(a)|(b)" may not take part (was a TypeError)
    assert extract("the answer is 7", FLEXIBLE[0]["regex"]) == ("7", True)


def test_select_group_fallback_map_and_case():
    assert parse_chain([{"regex": r"(\d)(\d)", "group": 2, "select": "first"}]).apply("12 34") == ("2", True)
    assert parse_chain([{"regex": r"\d", "select": 1}]).apply("a1b2c3") == ("2", True)
    assert parse_chain([{"regex": r"\d", "select": 5}]).apply("a1b2") == (None, False)
    assert parse_chain([{"regex": r"\d", "select": "all"}, "take_last"]).apply("a1b2c3") == ("3", True)
    assert parse_chain([{"regex": r"\d+"}, {"fallback": "[invalid]"}]).apply("none") == ("[invalid]", False)
    chain = parse_chain(["strip", "lowercase", {"map": {"yes": "A", "no": "B"}, "default": "?"}])
    assert [chain.apply(t)[0] for t in ("  YES ", "No", "maybe")] == ["A", "B", "?"]


@pytest.mark.parametrize("bad, message", [
    (["shout"], "unknown filter step 'shout'"),
    ([{"regex": "("}], "does not compile"),
    ([{"regex": "(a)", "group": 3}], "group must be"),
    ([{"regex": "a", "select": "middle"}], "select must be"),
    ([{"regex": "a", "fallback": "x"}], "exactly one of"),
    ([{"fallback": "x", "extra": 1}], "unknown key"),
])
def test_bad_chains_are_refused_when_the_task_is_read(bad, message):
    with pytest.raises(ValidationError, match=message):
        TaskSpec.model_validate({"name": "t", "type": "generate", "data": "d", "prompt": "{q}", "filters": {"f": bad}})


def task(**kw) -> GenerateTask:
    base = {"name": "gsm", "type": "generate", "data": "d.jsonl", "prompt": "Q: {question}\nA:",
            "filters": {"strict": STRICT, "flexible": FLEXIBLE}, "target_filter": TARGET,
            "metrics": ["exact_match", "numeric_match"]}
    return GenerateTask(TaskSpec.model_validate({**base, **kw}))


def score(tt: GenerateTask, output: str, answer: str):
    item = Item(id="x", line=1, record={"question": "q", "answer": answer}, target=answer)
    scored = tt.score(item, [Generation(output)], RequestKind.GENERATE)
    return {m.name: m.item_stats(scored.observation)[0] for m in tt.metrics}, scored


@pytest.mark.parametrize("output, strict, flexible", [
    ("3 + 5 = 8.\n#### 8", 1, 1),                     # both read 8
    ("She buys 5 more, 8 in total.", 0, 1),            # no '####': strict finds nothing
    ("#### 8\nCheck: 8 - 5 = 3", 1, 0),                # flexible reads the last number, 3
    ("#### -8", 0, 0),                                  # the sign counts
    ("So 1,000 - 200 = 800 dollars", 0, 0),            # flexible takes 800, not 8
])
def test_strict_and_flexible_variants_score_the_same_generation_differently(output, strict, flexible):
    values, scored = score(task(), output, "Adding gives 8.\n#### 8")
    assert values["exact_match[strict]"] == strict and values["exact_match[flexible]"] == flexible
    assert values["numeric_match[strict]"] == strict and values["numeric_match[flexible]"] == flexible
    assert scored.extra["filters"]["strict"]["parsed"] == ("####" in output)


def test_numeric_match_reads_what_exact_match_cannot():
    values, _ = score(task(), "The total is $1,000.", "so\n#### 1000")
    assert values["exact_match[flexible]"] == 0 and values["numeric_match[flexible]"] == 1


def test_unparsed_is_scored_as_wrong_and_marked():
    values, scored = score(task(), "I do not know", "#### 8")
    assert values["exact_match[strict]"] == 0 and values["exact_match[flexible]"] == 0
    assert scored.extra["unparsed"] and scored.extra["filters"]["strict"]["answer"] is None


def test_target_filter_derives_the_reference_and_complains_when_it_cannot():
    tt = task()
    item = Item(id="i7", line=7, record={}, target="Work.\n#### 42")
    assert tt.reference(item) == "42"
    from evalkit.errors import DataError

    with pytest.raises(DataError, match=r"d.jsonl:7: item 'i7': target_filter found nothing"):
        tt.reference(Item(id="i7", line=7, record={}, target="forty-two"))


MATH_ROWS = [
    ("Tom has 3 apples and buys 5. How many?", "3 + 5 = 8\n#### 8", "3 and 5 make 8.\n#### 8"),
    ("A pen costs 2 and a book 10. Total?", "2 + 10 = 12\n#### 12", "The total is 12."),
    ("Sam had 9 and gave away 4. Left?", "9 - 4 = 5\n#### 5", "#### 5\nSo 9 - 4 = 5"),
    ("Ann reads 6 pages a day for 2 days?", "6 * 2 = 12\n#### 12", "#### 12\nThat is 6 a day"),
]


def _math_project(tmp_path):
    root = tmp_path / "p"
    write_jsonl(root / "tasks" / "data" / "math.jsonl", [{"id": f"m{i}", "question": q, "answer": a} for i, (q, a, _) in enumerate(MATH_ROWS)])
    (root / "tasks" / "math.yaml").write_text(
        "name: math\ntype: generate\ndata: data/math.jsonl\nfields: {target: answer}\n"
        'prompt: "Q: {question}\\nA:"\nmetrics: [exact_match]\n'
        "filters:\n"
        '  strict: [{regex: "#### (\\\\-?[0-9\\\\.\\\\,]+)"}, take_first]\n'
        '  flexible: [{regex: "(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select: -1}, take_first]\n'
        'target_filter: [{regex: "#### (.*)"}, strip]\n'
    )
    replies = json.dumps({q: r for q, _, r in MATH_ROWS})  # JSON is YAML
    (root / "evalkit.yaml").write_text(
        f"trust_code: true\ncache_dir: .cache\nseed: 1\ntasks: [tasks/*.yaml]\nsuites: {{math: {{role: target, tasks: [math]}}}}\n"
        f"models:\n  m: {{backend: 'fakes:Scripted', replies: {replies}}}\n"
    )
    return root / "evalkit.yaml"


def test_end_to_end_variants_share_one_generation(tmp_path):
    from evalkit.runner.run import RunOptions, run_model

    run = run_model(load_project(_math_project(tmp_path)), "m", RunOptions())
    t = run.task("math")
    assert t.requests == len(MATH_ROWS)  # one generation per item, whatever the number of filters
    # strict misses item 2 (no ####); flexible misses item 2 ("12." keeps its period) and item 4
    # (the last number is 6, not 12)
    assert t.metrics["exact_match[strict]"].value == pytest.approx(3 / 4)
    assert t.metrics["exact_match[flexible]"].value == pytest.approx(2 / 4)
    assert [s["stats"]["exact_match[flexible]"][0] for s in run.samples] == [1, 0, 1, 0]
    assert [s["reference"] for s in run.samples] == ["8", "12", "5", "12"]


def test_validate_names_a_reference_the_target_filter_cannot_read(cli, tmp_path):
    root = tmp_path / "p"
    write_jsonl(root / "tasks" / "data" / "math.jsonl", [{"id": "a", "question": "q", "answer": "x\n#### 3"}, {"id": "b", "question": "q", "answer": "three"}])
    (root / "tasks" / "math.yaml").write_text(
        'name: math\ntype: generate\ndata: data/math.jsonl\nfields: {target: answer}\nprompt: "{question}"\n'
        "metrics: [numeric_match]\nfilters: {flexible: [{regex: '(-?[0-9.,]+)', select: last}]}\n"
        'target_filter: [{regex: "#### (.*)"}]\n'
    )
    (root / "evalkit.yaml").write_text("trust_code: true\ncache_dir: .cache\ntasks: [tasks/*.yaml]\nmodels:\n  m: {backend: 'fakes:Scripted'}\n")
    code, out, err = cli("validate", "--config", root / "evalkit.yaml")
    assert code == 2 and "math.jsonl:2: item 'b': target_filter found nothing" in err and "Traceback" not in err


def test_the_old_extract_key_with_lm_evals_flexible_regex_scores_instead_of_crashing():
    tt = GenerateTask(TaskSpec.model_validate({
        "name": "t", "type": "generate", "data": "d.jsonl", "prompt": "{q}",
        "extract": FLEXIBLE[0]["regex"], "normalize": ["strip", "numbers"], "metrics": ["exact_match"],
    }))
    item = Item(id="x", line=1, record={}, target="7")
    for text, expected in (("so it is 7", 1), ("it is 12", 0), ("no idea", 0)):
        scored = tt.score(item, [Generation(text)], RequestKind.GENERATE)
        assert tt.metrics[0].item_stats(scored.observation)[0] == expected
        assert scored.extra["unparsed"] == (text == "no idea")


def test_a_variant_resamples_like_its_metric():
    import numpy as np

    tt = task(metrics=["f1", "numeric_match"])
    outputs = ["#### 8", "8 apples", "#### 9\n8", "eight"]
    obs = [tt.score(Item(id=str(i), line=i, record={}, target="#### 8"), [Generation(o)], RequestKind.GENERATE).observation
           for i, o in enumerate(outputs)]
    for m in tt.metrics:
        stats = np.array([m.item_stats(o) for o in obs])
        assert float(m.from_stats(stats.sum(axis=0))) == pytest.approx(m.compute(obs))
    assert [m.name for m in tt.metrics] == ["f1[strict]", "f1[flexible]", "numeric_match[strict]", "numeric_match[flexible]"]


def test_the_compare_table_shows_variant_names(cli, tmp_path):
    code, out, err = cli("compare", "m", "m", "--config", _math_project(tmp_path), "--output", tmp_path / "o")
    assert code == 0, out + err
    assert "exact_match[strict]" in out and "exact_match[flexible]" in out  # not eaten as rich markup
