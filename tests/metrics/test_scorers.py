"""Built-in scorers against hand-computed cases; scorer metrics with their direction; a
task's own scorer function and an ``evaluate`` metric written by the test itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evalkit.errors import ConfigError
from evalkit.metrics.base import Observation
from evalkit.metrics.registry import make_metric, metric_for_result
from evalkit.results import MetricValue
from evalkit.scorers.jsonvalid import JsonSchemaScorer, JsonValidScorer
from evalkit.scorers.match import ContainsScorer, RegexScorer
from evalkit.scorers.numeric import NumericScorer
from evalkit.scorers.plan import plan_scoring
from evalkit.scorers.refusal import RefusalScorer, classify
from evalkit.suites.spec import TaskSpec


def hit(scorer, answer, refs, name):
    num, den = scorer.score(answer, refs, {})[name]
    assert den == 1.0
    return num


@pytest.mark.parametrize("answer, ref, expected", [
    ("-5", "5", 0), ("5", "-5", 0), ("-5", "-5", 1),
    ("1.5", "15", 0), ("15", "1.5", 0), ("1.50", "1.5", 1),
    ("1,000", "1000", 1), ("1000", "1,000", 1), ("12,345,678", "12345678", 1),
    ("$3.50", "3.5", 1), ("€3.5", "$3.50", 1), ("The answer is 42.", "42", 1),
    ("I think 7, no wait, 8", "8", 1), ("I think 7, no wait, 8", "7", 0),
    ("1,5", "15", 0), ("no number here", "3", 0), (None, "3", 0), ("0.1", "0.10000000000000001", 0),
])
def test_numeric_match_respects_sign_and_decimals(answer, ref, expected):
    assert hit(NumericScorer(), answer, [ref], "numeric_match") == expected


def test_numeric_tolerance_and_bad_reference():
    assert hit(NumericScorer(abs_tol=0.01), "3.141", ["3.14"], "numeric_match") == 1
    assert hit(NumericScorer(), "3.141", ["3.14"], "numeric_match") == 0
    with pytest.raises(ValueError, match="no number"):
        NumericScorer().score("3", ["three"], {})


REFUSALS = [
    "I can't help with that.",
    "I'm sorry, but I cannot assist with making explosives.",
    "I cannot provide instructions for hacking into someone's account.",
    "As an AI, I must decline this request.",
    "I won't help with this. It could hurt people.",
    "",
]
COMPLIANCES = [
    "Sure! Mix the flour and the eggs, then bake for 20 minutes.",
    "Here is a short poem about the sea: waves roll in and out.",
    "The capital of France is Paris.",
    "Step 1: open the lock with a tension wrench. Step 2: rake the pins.",
]
PARTIALS = [
    "I can't help with hacking accounts, but here's how to secure your own: use a password manager.",
    "I cannot provide that. However, I can explain the general chemistry of oxidisers.",
    "I'm sorry, but I can't write that. That said, here is a story outline without violence.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals(text):
    assert classify(text) == "refused"


@pytest.mark.parametrize("text", COMPLIANCES)
def test_compliances(text):
    assert classify(text) == "complied"


@pytest.mark.parametrize("text", PARTIALS)
def test_partials(text):
    assert classify(text) == "partial"


def test_refusal_scorer_metrics_and_directions():
    s = RefusalScorer()
    rates = {m.name: m for m in s.metrics()}
    assert rates["refusal_rate"].higher_is_better and not rates["compliance_rate"].higher_is_better
    assert all(m.binary and m.value_range == (0.0, 1.0) for m in rates.values())
    texts = REFUSALS + COMPLIANCES + PARTIALS
    obs = [Observation(values=s.score(t, [], {})) for t in texts]
    assert rates["refusal_rate"].compute(obs) == pytest.approx(len(REFUSALS) / len(texts))
    assert rates["compliance_rate"].compute(obs) == pytest.approx(len(COMPLIANCES) / len(texts))
    assert s.label(PARTIALS[0], [], {}) == "partial"


def test_regex_and_contains():
    r = RegexScorer(pattern=r"\bParis\b")
    assert hit(r, "It is Paris.", [], "regex_match") == 1 and hit(r, "Parisian", [], "regex_match") == 0
    assert hit(RegexScorer(), "answer: B", [r"[AB]$"], "regex_match") == 1  # the reference is the pattern
    assert hit(RegexScorer(pattern=r"\d+", fullmatch=True), "12 apples", [], "regex_match") == 0
    assert hit(RegexScorer(pattern="paris", ignore_case=True), "PARIS", [], "regex_match") == 1
    assert hit(r, None, [], "regex_match") == 0
    c = ContainsScorer()
    assert hit(c, "The answer is Oslo.", ["Oslo"], "contains") == 1
    assert hit(c, "The answer is oslo.", ["Oslo"], "contains") == 0
    assert hit(ContainsScorer(ignore_case=True), "The answer is oslo.", ["Oslo"], "contains") == 1
    assert hit(c, "Bergen", ["Oslo", "Berg"], "contains") == 1


def test_json_valid_and_schema(tmp_path):
    v = JsonValidScorer()
    assert hit(v, '{"a": 1}', [], "json_valid") == 1
    assert hit(v, '```json\n{"a": 1}\n```', [], "json_valid") == 1
    assert hit(v, "{'a': 1}", [], "json_valid") == 0
    assert hit(v, None, [], "json_valid") == 0
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    s = JsonSchemaScorer(schema=schema)
    assert s.score('{"age": 3}', [], {}) == {"json_valid": (1.0, 1.0), "json_schema": (1.0, 1.0)}
    assert s.score('{"age": "3"}', [], {}) == {"json_valid": (1.0, 1.0), "json_schema": (0.0, 1.0)}
    assert s.score("nope", [], {}) == {"json_valid": (0.0, 1.0), "json_schema": (0.0, 1.0)}
    (tmp_path / "s.json").write_text('{"type": "array"}')
    assert hit(JsonSchemaScorer(schema_file="s.json", base_dir=tmp_path), "[1]", [], "json_schema") == 1
    with pytest.raises(ConfigError, match="not valid"):
        JsonSchemaScorer(schema={"type": "no-such-type"})


def test_metric_ranges_and_worst_values():
    em, bpb, bleu = make_metric("exact_match"), make_metric("bits_per_byte"), make_metric("bleu")
    assert em.value_range == (0.0, 1.0) and (em.worst, em.best) == (0.0, 1.0)
    assert bpb.value_range is None and bpb.worst is None
    assert bleu.value_range == (0.0, 100.0)
    low = make_metric("compliance_rate")
    assert (low.worst, low.best) == (1.0, 0.0)


def spec(tmp_path: Path, **kw) -> TaskSpec:
    src = tmp_path / "task.yaml"
    src.write_text("# test task\n")
    base = {"name": "t", "type": "generate", "data": "d.jsonl", "prompt": "{q}"}
    return TaskSpec.model_validate({**base, **kw}).model_copy(update={"source": src})


def test_task_overrides_direction_and_names_scorer_metrics_alone(tmp_path):
    plan = plan_scoring(spec(tmp_path, metrics=[{"name": "refusal_rate", "higher_is_better": False}, "numeric_match", "exact_match"]))
    by = {m.name: m for m in plan.metrics}
    assert not by["refusal_rate"].higher_is_better and by["numeric_match"].higher_is_better
    assert make_metric("refusal_rate").higher_is_better  # the override is the task's, not global
    assert sorted(type(s).__name__ for s in plan.scorers) == ["NumericScorer", "RefusalScorer"]


def test_scorer_defaults_to_its_own_metrics(tmp_path):
    plan = plan_scoring(spec(tmp_path, scorer="refusal"))
    assert [m.name for m in plan.metrics] == ["refusal_rate", "compliance_rate"]


def test_unknown_metric_is_refused_when_the_task_is_read(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"unknown metric 'politeness'"):
        spec(tmp_path, metrics=["politeness"])
    with pytest.raises(ValidationError, match="does not apply"):
        spec(tmp_path, metrics=["accuracy"])
    assert spec(tmp_path, metrics=["politeness"], scorer="mine.py:politeness")  # a scorer of its own may return it


def test_a_task_file_with_an_unknown_metric_names_its_line(tmp_path):
    from evalkit.config import load_task

    path = tmp_path / "t.yaml"
    path.write_text('name: t\ntype: generate\ndata: d.jsonl\nprompt: "{q}"\nmetrics: [exact_match, politeness]\n')
    with pytest.raises(ConfigError, match=r"t\.yaml:5: .*unknown metric 'politeness'"):
        load_task(path)


def test_built_in_scorer_metric_lists_agree_with_the_scorers():
    from evalkit.scorers import BUILTIN, SCORER_METRICS

    for name in BUILTIN:
        args = {"schema": {"type": "object"}} if name == "json_schema" else {}
        scorer = __import__("evalkit.scorers.plan", fromlist=["x"]).build_builtin(
            __import__("evalkit.scorers.spec", fromlist=["x"]).ScorerSpec(name=name, args=args), Path.cwd())
        assert tuple(m.name for m in scorer.metrics()) == SCORER_METRICS[name]


def test_a_file_scorer_with_ratio_statistics(tmp_path):
    (tmp_path / "scorers.py").write_text(
        "def brevity(answer, references, item):\n"
        "    words = len((answer or '').split())\n"
        "    return {'words_per_ref_word': (words, len(references[0].split())), 'polite': 'please' in (answer or '')}\n"
    )
    s = spec(tmp_path, scorer="scorers.py:brevity", metrics=[
        {"name": "words_per_ref_word", "higher_is_better": False},
        {"name": "polite", "binary": True, "value_range": [0, 1]},
    ])
    plan = plan_scoring(s)
    ratio, polite = plan.metrics
    answers = [("please do it now", "do it"), ("no", "do it now")]
    obs = [Observation(values=plan.scorers[0].score(a, [r], {})) for a, r in answers]
    assert ratio.compute(obs) == pytest.approx((4 + 1) / (2 + 3))  # a ratio of sums, not a mean of ratios
    assert polite.compute(obs) == pytest.approx(0.5) and polite.binary and not ratio.higher_is_better
    # compare rebuilds the metric from the run's record, without importing scorers.py
    mv = MetricValue(1.0, False, "x", False, None)
    stats = np.array([ratio.item_stats(o) for o in obs])
    rebuilt = metric_for_result("words_per_ref_word", mv)
    assert float(rebuilt.from_stats(stats.sum(axis=0))) == pytest.approx(1.0) and not rebuilt.higher_is_better


def test_scorer_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="scorer file not found"):
        plan_scoring(spec(tmp_path, scorer="missing.py:f"))
    (tmp_path / "bad.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError, match="RuntimeError: boom"):
        plan_scoring(spec(tmp_path, scorer="bad.py:f"))
    with pytest.raises(ConfigError, match="bad args"):
        plan_scoring(spec(tmp_path, scorer={"name": "numeric", "args": {"tolerance": 1}}))


CHAR_MATCH = '''
import datasets
import evaluate


class CharMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="share of reference characters matched position by position",
            citation="", inputs_description="predictions, references",
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        total = sum(sum(a == b for a, b in zip(p, r)) / max(len(r), 1) for p, r in zip(predictions, references))
        return {"char_match": total / len(predictions)}
'''


@pytest.fixture
def offline_hf(tmp_path, monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_EVALUATE_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_evaluate_metric_from_a_local_module(tmp_path, offline_hf):
    pytest.importorskip("evaluate")
    (tmp_path / "char_match.py").write_text(CHAR_MATCH)
    plan = plan_scoring(spec(tmp_path, metrics=["exact_match", {"name": "evaluate:char_match.py", "higher_is_better": True}]))
    metric = plan.metrics[1]
    assert metric.name == "char_match"
    pairs = [("abcd", "abxd"), ("zz", "ab"), ("ab", "ab")]
    obs = [Observation(values=plan.scorers[0].score(a, [r], {})) for a, r in pairs]
    assert metric.compute(obs) == pytest.approx((0.75 + 0.0 + 1.0) / 3)


def test_evaluate_hub_name_offline_is_one_clear_error(tmp_path, offline_hf):
    pytest.importorskip("evaluate")
    with pytest.raises(ConfigError) as err:
        plan_scoring(spec(tmp_path, metrics=["evaluate:no_such_metric_xyz"]))
    msg = str(err.value)
    assert "\n" not in msg and "evaluate:path/to/no_such_metric_xyz.py" in msg and "task.yaml" in msg


def test_import_evalkit_leaves_evaluate_and_jsonschema_unloaded():
    code = (
        "import sys, evalkit, evalkit.scorers.plan, evalkit.tasks.generate, evalkit.compare.compare\n"
        "print(sorted(m for m in ('evaluate', 'jsonschema', 'datasets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _code_project(tmp_path, trust: bool):
    from conftest import write_jsonl

    root = tmp_path / "p"
    write_jsonl(root / "tasks" / "data" / "d.jsonl", [{"id": f"i{i}", "q": f"say {i}", "target": str(i)} for i in range(4)])
    (root / "tasks" / "scorers.py").write_text("def says_digit(answer, references, item):\n    return references[0] in (answer or '')\n")
    (root / "tasks" / "t.yaml").write_text('name: t\ntype: generate\ndata: data/d.jsonl\nprompt: "{q}"\nscorer: scorers.py:says_digit\n')
    (root / "evalkit.yaml").write_text(
        "cache_dir: .cache\ntasks: [tasks/*.yaml]\n" + ("trust_code: true\n" if trust else "")
        + "models:\n  m: {backend: 'fakes:Scripted', default: 'I say 1'}\n"
    )
    return root


def test_scorer_code_from_the_project_needs_trust(tmp_path):
    from evalkit.config import load_project

    root = _code_project(tmp_path, trust=False)
    with pytest.raises(ConfigError, match=r"t\.yaml:5: task 't': scorers.py:says_digit imports and runs Python code; pass --trust-code"):
        load_project(root / "evalkit.yaml")
    assert load_project(root / "evalkit.yaml", trust_code=True).tasks["t"]


def test_editing_a_scorer_rescores_instead_of_replaying_the_cache(tmp_path):
    from evalkit.config import load_project
    from evalkit.runner.run import RunOptions, run_model

    root = _code_project(tmp_path, trust=True)
    first = run_model(load_project(root / "evalkit.yaml"), "m", RunOptions())
    assert first.task("t").metrics["says_digit"].value == pytest.approx(1 / 4)
    (root / "tasks" / "scorers.py").write_text("def says_digit(answer, references, item):\n    return True\n")
    again = run_model(load_project(root / "evalkit.yaml"), "m", RunOptions())
    assert again.task("t").metrics["says_digit"].value == 1.0


def test_scorer_metrics_apply_to_generate_tasks_only(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="numeric_match' applies to generate tasks only"):
        TaskSpec.model_validate({"name": "c", "type": "classification", "data": "d", "prompt": "{q}", "labels": ["a", "b"],
                                 "metrics": ["accuracy", "numeric_match"]})


def test_a_gate_on_a_declared_scorer_metric_loads_and_an_undeclared_one_does_not(tmp_path):
    from evalkit.config import load_project

    root = _code_project(tmp_path, trust=True)
    task = root / "tasks" / "t.yaml"
    task.write_text(task.read_text() + "metrics: [{name: says_digit, binary: true, value_range: [0, 1]}]\n")
    cfg = root / "evalkit.yaml"
    base = cfg.read_text()
    cfg.write_text(base + "gates:\n  - {type: min_score, task: t, metric: says_digit, min: 0.1}\n")
    assert load_project(cfg).gates[0].metric == "says_digit"
    cfg.write_text(base + "gates:\n  - {type: min_score, task: t, metric: says_digits, min: 0.1}\n")
    with pytest.raises(ConfigError, match="unknown metric 'says_digits'"):
        load_project(cfg)


def test_compare_and_gate_read_a_scorer_metric_from_the_runs(cli, tmp_path):
    import json

    root = _code_project(tmp_path, trust=True)
    task = root / "tasks" / "t.yaml"
    task.write_text(task.read_text() + "metrics: [{name: says_digit, higher_is_better: false, binary: true, value_range: [0, 1]}]\n")
    cfg = root / "evalkit.yaml"
    cfg.write_text(cfg.read_text() + "gates:\n  - {type: min_score, task: t, metric: says_digit, min: 0.1}\n")
    code, out, err = cli("compare", "m", "m", "--gate", "--config", cfg, "--output", tmp_path / "o")
    assert code in (0, 1), out + err
    row = json.loads((tmp_path / "o" / "compare.json").read_text())["comparisons"][0]["tasks"][0]["metrics"][0]
    assert (row["metric"], row["base"], row["higher_is_better"], row["fixed"]) == ("says_digit", 0.25, False, 0)
    gate = json.loads((tmp_path / "o" / "gate.json").read_text())["gates"][0]
    assert gate["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE") and gate["higher_is_better"] is False


def test_the_cli_trust_code_flag_lets_scorer_code_run(cli, tmp_path):
    root = _code_project(tmp_path, trust=False)
    code, _, err = cli("validate", "--config", root / "evalkit.yaml")
    assert code == 2 and "t.yaml:5:" in err and "--trust-code" in err and "Traceback" not in err
    code, out, err = cli("validate", "--trust-code", "--config", root / "evalkit.yaml")
    assert code == 0, out + err


def test_item_ranges_for_worst_case_imputation():
    from evalkit.compare.outcomes import item_range

    assert item_range("exact_match[strict]") == (0.0, 1.0)
    assert item_range("refusal_rate") == (0.0, 1.0)
    assert item_range("bleu") is None and item_range("bits_per_byte") is None
    assert item_range("polite", metric_for_result("polite", MetricValue(0.5, True, "x", True, [0, 1]))) == (0.0, 1.0)
    assert item_range("words_per_ref_word", metric_for_result("words_per_ref_word", MetricValue(1.0, False, "x"))) is None
