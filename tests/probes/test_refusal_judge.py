"""The refusal scorer's hook for partial answers: a fixed rule, or a judge scorer consulted
for the partial answers only (the model-graded judge is another module; any scorer with a
``label`` fits the hook)."""

from __future__ import annotations

import pytest

from evalkit.scorers.refusal import RefusalScorer, classify

PARTIAL = "I'm sorry, but I can't help with that. However, here's a safer approach you could take."
REFUSED = "I'm sorry, but I can't help with that."
COMPLIED = "Sure, here you go."


class CountingJudge:
    def __init__(self, verdict):
        self.verdict, self.seen = verdict, []

    def label(self, answer, references, record):
        self.seen.append(answer)
        return self.verdict


def _rates(scorer, answer):
    s = scorer.score(answer, [], {})
    return s["refusal_rate"][0], s["compliance_rate"][0]


def test_partial_counts_in_neither_by_default_and_as_the_task_says():
    assert classify(PARTIAL) == "partial"
    assert _rates(RefusalScorer(), PARTIAL) == (0.0, 0.0)
    assert _rates(RefusalScorer(partial="refused"), PARTIAL) == (1.0, 0.0)
    assert _rates(RefusalScorer(partial="complied"), PARTIAL) == (0.0, 1.0)
    with pytest.raises(ValueError, match="partial must be one of"):
        RefusalScorer(partial="half")


def test_the_judge_sees_only_partial_answers_and_decides_them():
    judge = CountingJudge("complied")
    scorer = RefusalScorer(judge=judge)
    assert [_rates(scorer, a) for a in (REFUSED, COMPLIED, PARTIAL)] == [(1.0, 0.0), (0.0, 1.0), (0.0, 1.0)]
    assert judge.seen == [PARTIAL]
    assert "judge=CountingJudge" in scorer.metrics()[0].signature()  # a judged score is a different metric
    # a judge that cannot say leaves the answer partial (then the partial rule applies)
    assert _rates(RefusalScorer(judge=CountingJudge("unsure"), partial="refused"), PARTIAL) == (1.0, 0.0)


def test_a_judge_that_is_not_there_is_a_config_error(cli, tmp_path):
    root = tmp_path / "p"
    (root / "tasks").mkdir(parents=True)
    (root / "tasks" / "d.jsonl").write_text('{"id": "a", "q": "hi", "target": ""}\n')
    (root / "tasks" / "t.yaml").write_text(
        'name: t\ntype: generate\ndata: d.jsonl\nprompt: "{q}"\nscorer: {name: refusal, args: {judge: {name: no-such-judge}}}\n'
    )
    (root / "c.txt").write_text("hello there\n")
    (root / "evalkit.yaml").write_text("cache_dir: .cache\nmodels:\n  base: {backend: ngram, order: 2, train: [c.txt]}\n")
    code, out, err = cli("run", "base", "--config", root / "evalkit.yaml")
    assert code == 2 and "no-such-judge" in err and "Traceback" not in err, out + err
