"""Outcome accounting: empty and unparsed answers are scored, failed requests are missing, and
missing items never make a gate easier."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.compare.compare import compare_runs
from evalkit.compare.gates import FAIL, INCONCLUSIVE, PASS, evaluate_gates, parse_gates
from evalkit.metrics.registry import make_metric
from evalkit.results import MetricValue, RunResult, TaskResult


def run_of(model: str, metric: str, rows: list, status: list[str], task: str = "qa") -> RunResult:
    m = make_metric(metric)
    ok = [r for r, s in zip(rows, status) if s != "error"]
    value = float(m.from_stats(np.sum(ok, axis=0)))
    result = TaskResult(task=task, suite="forget", role="forgetting", type="generate", status="ok", n=len(rows),
                        metrics={metric: MetricValue(value, m.higher_is_better, metric)})
    samples = [
        {"task": task, "id": f"i{i}", "status": s, "group": None, "prompt_tokens": 10,
         "stats": {} if s == "error" else {metric: list(map(float, r))}}
        for i, (r, s) in enumerate(zip(rows, status))
    ]
    return RunResult(model=model, backend="fake", identity={}, model_config={}, project="t", tasks=[result], samples=samples)


def gate_report(gates, base, ft):
    c = compare_runs(base, ft, seed=1, n_resamples=1000)
    parsed = parse_gates(gates, known_tasks={"qa"}, known_suites={"forget"})
    return evaluate_gates(parsed, base, ft, c, seed=1, n_resamples=1000), c


NOT_REGRESS = {"type": "must_not_regress", "task": "qa", "metric": "exact_match", "margin": 0.02}


def test_a_fine_tune_that_goes_silent_is_worse_and_fails_its_gate():
    # Base right on 600 of 1,000 (0.60); the fine-tune answers "" on 400 of those (0.40).
    base = run_of("base", "exact_match", [[1, 1]] * 600 + [[0, 1]] * 400, ["ok"] * 1000)
    ft_rows = [[0, 1]] * 400 + [[1, 1]] * 400 + [[0, 1]] * 200
    ft = run_of("ft", "exact_match", ft_rows, ["empty"] * 400 + ["ok"] * 600)
    report, c = gate_report([NOT_REGRESS], base, ft)
    t = c.tasks[0]
    m = t.metrics[0]
    assert (m.base, m.ft, m.n) == (pytest.approx(0.6), pytest.approx(0.4), 1000)
    assert m.improved is False and t.empty_ft == 400 and t.answered_ft == 1000 and t.dropped == 0
    assert any("empty" in w and "40%" in w for w in t.warnings)
    assert report.gates[0].verdict == FAIL and report.exit_code == 1


def test_failed_requests_are_scored_worst_case_before_a_gate_passes():
    rows = [[1, 1]] * 500 + [[0, 1]] * 500
    base = run_of("base", "exact_match", rows, ["ok"] * 1000)
    # The fine-tune answers like its base, but 100 of the items it knew failed to come back.
    ft = run_of("ft", "exact_match", rows, ["error"] * 100 + ["ok"] * 900)
    report, c = gate_report([NOT_REGRESS, {**NOT_REGRESS, "inconclusive": "pass", "name": "lenient"}], base, ft)
    assert c.tasks[0].dropped == 100 and c.tasks[0].errors_ft == 100 and c.tasks[0].metrics[0].n == 900
    strict, lenient = report.gates
    assert strict.verdict == INCONCLUSIVE and strict.counts_as_fail and "failed request" in strict.message
    assert lenient.verdict == INCONCLUSIVE and not lenient.counts_as_fail
    # One failed request on an item the base got wrong changes nothing: the gate still passes.
    ft_one = run_of("ft", "exact_match", rows, ["ok"] * 999 + ["error"])
    assert gate_report([NOT_REGRESS], base, ft_one)[0].gates[0].verdict in (PASS, INCONCLUSIVE)


def test_a_corpus_metric_with_a_failed_request_is_inconclusive():
    rng = np.random.default_rng(0)
    n_bytes = rng.integers(200, 400, size=300).astype(float)
    rows = np.column_stack([n_bytes * 0.6, n_bytes])
    ft_rows = rows * [[1.0, 1.0]] * np.column_stack([rng.uniform(0.98, 1.02, 300), np.ones(300)])
    base = run_of("base", "bits_per_byte", rows.tolist(), ["ok"] * 300)
    ft = run_of("ft", "bits_per_byte", ft_rows.tolist(), ["error"] + ["ok"] * 299)
    assert gate_report([{"type": "must_not_regress", "task": "qa", "metric": "bits_per_byte", "margin": 0.05}],
                       base, run_of("ft", "bits_per_byte", ft_rows.tolist(), ["ok"] * 300))[0].gates[0].verdict == PASS
    gate = {"type": "must_not_regress", "task": "qa", "metric": "bits_per_byte", "margin": 0.05}
    g = gate_report([gate], base, ft)[0].gates[0]
    assert g.verdict == INCONCLUSIVE and "no per-item worst case" in g.message


def test_chat_multiple_choice_with_no_letter_is_counted_unparsed_and_warned(tmp_path):
    from conftest import write_jsonl

    from evalkit.config import load_project
    from evalkit.runner.run import RunOptions, run_model

    root = tmp_path / "p"
    write_jsonl(root / "data" / "mc.jsonl", [
        {"id": f"m{i}", "stem": f"Pick {i}", "choices": ["w", "x", "y", "z"], "answer": i % 4} for i in range(50)])
    (root / "mc.yaml").write_text('name: mc\ntype: multiple_choice\ndata: data/mc.jsonl\nfields: {target: answer}\nprompt: "{stem}"\n')
    (root / "evalkit.yaml").write_text(
        "cache_dir: .cache\nseed: 7\ntrust_code: true\ntasks: [mc.yaml]\nsuites:\n  forgetting: {role: forgetting, tasks: [mc]}\nmodels:\n"
        "  chat: {backend: 'fakes:GenerateOnly'}\n"
        "  wordy: {backend: 'fakes:GenerateOnly', letters: false, answer: 'I would say the second one.'}\n")
    p = load_project(root / "evalkit.yaml")
    base, ft = run_model(p, "chat", RunOptions()), run_model(p, "wordy", RunOptions())
    assert [s["status"] for s in ft.samples] == ["unparsed"] * 50
    t = compare_runs(base, ft, seed=1, n_resamples=300).tasks[0]
    assert (t.unparsed_base, t.unparsed_ft, t.answered_ft, t.n) == (0, 50, 50, 50)
    assert t.metrics[0].ft == 0.0 and t.metrics[0].base == pytest.approx(13 / 50)
    assert any("unparsed" in w and "wordy 100%" in w for w in t.warnings)


def grouped(run: RunResult, labels) -> RunResult:
    for s, g in zip(run.samples, labels):
        s["group"] = g
    return run


def test_a_task_with_some_items_unlabelled_is_refused():
    from evalkit.compare.compare import CompareError

    rows = [[1, 1]] * 50 + [[0, 1]] * 50
    base = grouped(run_of("base", "exact_match", rows, ["ok"] * 100), [f"g{i % 20}" for i in range(99)] + [None])
    ft = run_of("ft", "exact_match", rows, ["ok"] * 100)
    with pytest.raises(CompareError, match="1 of 100 items have no group .*'i99'"):
        compare_runs(base, ft, seed=1, n_resamples=200)


def test_one_cluster_makes_the_gate_inconclusive():
    rows = [[1, 1]] * 500 + [[0, 1]] * 500
    base = grouped(run_of("base", "exact_match", rows, ["ok"] * 1000), ["all"] * 1000)
    ft = grouped(run_of("ft", "exact_match", rows, ["ok"] * 1000), ["all"] * 1000)
    g = gate_report([NOT_REGRESS], base, ft)[0].gates[0]
    assert g.verdict == INCONCLUSIVE and "only 1 cluster" in g.message and "10" in g.message


def test_an_item_without_its_group_is_a_data_error_naming_the_line(tmp_path):
    from evalkit.errors import DataError
    from evalkit.suites.items import load_items
    from evalkit.suites.spec import TaskSpec

    data = tmp_path / "d.jsonl"
    data.write_text('{"id": 1, "text": "a", "doc": "x"}\n{"id": 2, "text": "b", "doc": null}\n')
    spec = TaskSpec(name="t", type="perplexity", data=data, fields={"group": "doc"})
    with pytest.raises(DataError) as exc:
        load_items(spec)
    assert exc.value.line == 2 and "no group" in str(exc.value) and str(exc.value.path) == str(data)


def test_a_gap_in_empty_rates_between_the_models_is_warned():
    from evalkit.compare.outcomes import Outcomes, outcome_warnings

    low, gap = Outcomes(200, 200, 2, 0, 0), Outcomes(200, 200, 14, 0, 0)  # 1 % vs 7 %: neither high, but apart
    (w,) = outcome_warnings("qa", ("base", "ft"), (low, gap))
    assert "differ" in w and "base 1%" in w and "ft 7%" in w
    assert outcome_warnings("qa", ("base", "ft"), (low, low)) == []
