"""Gates on hand-built runs: each verdict of each gate type, direction, suites, Holm, reports."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from evalkit.compare.compare import resample_rng, compare_runs
from evalkit.compare.gates import FAIL, INCONCLUSIVE, PASS, evaluate_gates, parse_gates
from evalkit.errors import ConfigError
from evalkit.metrics.registry import make_metric
from evalkit.report.gate import render_gate_json, render_gate_md, render_junit, write_gate_outputs
from evalkit.results import MetricValue, RunResult, TaskResult
from evalkit.stats import bootstrap_deltas, holm, wilson_interval

SEED, B = 7, 2000
TASKS = {"qa", "qa2", "wiki", "mmlu", "hella"}
SUITES = {"target", "forget", "text"}


def make_run(model: str, tasks: dict[str, tuple[str, str, list]], skipped: tuple[str, ...] = ()) -> RunResult:
    """A RunResult whose task ``name`` has suite, metric and one stats row per item."""
    results, samples = [], []
    for name, (suite, metric, rows) in tasks.items():
        m = make_metric(metric)
        value = float(m.from_stats(np.sum(rows, axis=0)))
        status = "skipped" if name in skipped else "ok"
        results.append(TaskResult(
            task=name, suite=suite, role="target", type="multiple_choice", status=status, n=len(rows),
            reason="backend cannot loglikelihood" if status == "skipped" else None,
            metrics={metric: MetricValue(value, m.higher_is_better, metric)},
        ))
        samples += [
            {"task": name, "id": f"{name}-{i}", "status": "ok", "group": None, "prompt_tokens": 10,
             "stats": {metric: list(map(float, row))}}
            for i, row in enumerate(rows)
        ]
    return RunResult(model=model, backend="fake", identity={}, model_config={}, project="test",
                     tasks=results, samples=samples)


def acc(scores) -> list:
    return [[s, 1.0] for s in scores]


def flips(n: int, right: int, fixed: int = 0, broke: int = 0) -> tuple[list, list]:
    """Base gets the first ``right`` items right; the fine-tune fixes ``fixed`` of the wrong
    ones and breaks ``broke`` of the right ones."""
    base = [1] * right + [0] * (n - right)
    ft = list(base)
    for i in range(broke):
        ft[i] = 0
    for i in range(fixed):
        ft[right + i] = 1
    return base, ft


def verdicts(raw_gates, base_tasks, ft_tasks, skipped=()):
    base, ft = make_run("base", base_tasks), make_run("ft", ft_tasks, skipped)
    comparison = compare_runs(base, ft, seed=SEED, n_resamples=B)
    gates = parse_gates(raw_gates, known_tasks=TASKS, known_suites=SUITES)
    return evaluate_gates(gates, base, ft, comparison, seed=SEED, n_resamples=B), comparison


def one_task(n, right, fixed=0, broke=0, task="qa", suite="target"):
    b, f = flips(n, right, fixed, broke)
    return {task: (suite, "accuracy", acc(b))}, {task: (suite, "accuracy", acc(f))}


IMPROVE = {"type": "must_improve", "task": "qa", "metric": "accuracy"}
NOT_REGRESS = {"type": "must_not_regress", "task": "qa", "metric": "accuracy", "margin": 0.02}


def test_must_improve_pass_uses_the_comparisons_resamples():
    report, comparison = verdicts([IMPROVE], *one_task(300, 150, fixed=30, broke=5))
    g, m = report.gates[0], comparison.tasks[0].metrics[0]
    assert g.verdict == PASS and not g.counts_as_fail and report.exit_code == 0
    assert (g.estimate, g.ci_low, g.ci_high) == pytest.approx((m.delta, m.ci_low, m.ci_high))
    assert g.p_value < 0.01 and g.p_adjusted == g.p_value


def test_must_improve_fail_when_interval_rules_out_a_gain():
    report, _ = verdicts([IMPROVE], *one_task(300, 150, fixed=2, broke=30))
    assert report.gates[0].verdict == FAIL and report.verdict == FAIL and report.exit_code == 1


def test_must_improve_inconclusive_reports_power_numbers():
    report, _ = verdicts([IMPROVE], *one_task(100, 50, fixed=5, broke=3))
    g = report.gates[0]
    assert g.verdict == INCONCLUSIVE and g.counts_as_fail and report.exit_code == 1
    assert 0 < g.mde < 0.2 and math.isfinite(g.n_needed) and g.n_needed > 100
    assert "detectable" in g.message and f"{g.estimate:+.4f}" in g.message


def test_inconclusive_pass_does_not_fail_the_verdict():
    report, _ = verdicts([{**IMPROVE, "inconclusive": "pass"}], *one_task(100, 50, fixed=5, broke=3))
    assert report.gates[0].verdict == INCONCLUSIVE and not report.gates[0].counts_as_fail
    assert report.verdict == PASS and report.exit_code == 0


def test_min_effect_is_tested_not_compared_with_the_estimate():
    # Was: PASS when the estimate reached min_effect (a point-estimate rule: a true gain equal
    # to min_effect passed half the time). Now the one-sided bound must clear it.
    short, _ = verdicts([{**IMPROVE, "min_effect": 0.10}], *one_task(400, 200, fixed=30))
    g = short.gates[0]
    assert g.estimate < 0.10 and g.verdict != PASS and g.p_adjusted > 0.5 and math.isinf(g.n_needed)
    over, _ = verdicts([{**IMPROVE, "min_effect": 0.10}], *one_task(400, 200, fixed=44))
    g = over.gates[0]
    assert g.estimate == pytest.approx(0.11) and g.bound < 0.10 and g.verdict == INCONCLUSIVE
    assert g.n_needed > 400 and g.mde > 0
    clear, _ = verdicts([{**IMPROVE, "min_effect": 0.10}], *one_task(400, 200, fixed=100))
    g = clear.gates[0]
    assert g.verdict == PASS and g.bound > 0.10 and g.p_adjusted < 0.05


@pytest.mark.parametrize(("fixed", "broke", "n", "expected"), [
    (10, 10, 1000, PASS), (0, 20, 200, FAIL), (3, 5, 100, INCONCLUSIVE),
])
def test_must_not_regress(fixed, broke, n, expected):
    report, _ = verdicts([NOT_REGRESS], *one_task(n, n // 2, fixed, broke))
    g = report.gates[0]
    assert g.verdict == expected
    assert (g.bound > -0.02) == (expected == PASS)
    assert g.p_adjusted is None  # non-inferiority gates are not adjusted


@pytest.mark.parametrize(("floor", "expected"), [(0.7, PASS), (0.9, FAIL), (0.82, INCONCLUSIVE)])
def test_min_score_uses_wilson_for_binary_items(floor, expected):
    base, ft = one_task(200, 160)
    report, _ = verdicts([{"type": "min_score", "task": "qa", "metric": "accuracy", "min": floor}], base, ft)
    g = report.gates[0]
    assert g.verdict == expected and g.estimate == pytest.approx(0.8)
    assert g.bound == pytest.approx(wilson_interval(160, 200, alpha=0.10)[0])
    assert (g.ci_low, g.ci_high) == pytest.approx(wilson_interval(160, 200, alpha=0.05))


def bpb_tasks(ft_scale: float, n: int = 300):
    rng = np.random.default_rng(3)
    n_bytes = rng.integers(200, 400, size=n).astype(float)
    nll = n_bytes * rng.uniform(0.5, 0.9, size=n)
    ft_nll = nll * ft_scale * rng.uniform(0.97, 1.03, size=n)
    make = lambda v: {"wiki": ("text", "bits_per_byte", np.column_stack([v, n_bytes]).tolist())}  # noqa: E731
    return make(nll), make(ft_nll)


def test_lower_is_better_metric_flips_the_direction():
    gates = [{"type": "must_improve", "task": "wiki", "metric": "bits_per_byte"},
             {"type": "must_not_regress", "task": "wiki", "metric": "bits_per_byte", "margin": 0.01}]
    better, _ = verdicts(gates, *bpb_tasks(0.95))
    worse, comparison = verdicts(gates, *bpb_tasks(1.05))
    assert [g.verdict for g in better.gates] == [PASS, PASS]
    assert better.gates[0].estimate > 0 and not better.gates[0].higher_is_better
    assert [g.verdict for g in worse.gates] == [FAIL, FAIL]
    m = comparison.tasks[0].metrics[0]
    assert worse.gates[0].estimate == pytest.approx(-m.delta)
    assert (worse.gates[0].ci_low, worse.gates[0].ci_high) == pytest.approx((-m.ci_high, -m.ci_low), rel=1e-9)


def test_min_score_on_lower_is_better_metric_is_a_ceiling():
    base, ft = bpb_tasks(1.0)
    bpb = float(make_metric("bits_per_byte").from_stats(np.sum(ft["wiki"][2], axis=0)))
    gate = {"type": "min_score", "task": "wiki", "metric": "bits_per_byte"}
    report, _ = verdicts([{**gate, "min": bpb + 0.05}, {**gate, "min": bpb - 0.05, "name": "tight"}], base, ft)
    assert [g.verdict for g in report.gates] == [PASS, FAIL]
    assert report.gates[0].estimate == pytest.approx(bpb) and report.gates[0].bound > bpb


def test_suite_aggregate_averages_each_tasks_own_resamples():
    (b1, f1), (b2, f2) = flips(200, 100, 8, 4), flips(300, 200, 2, 12)
    base = {"mmlu": ("forget", "accuracy", acc(b1)), "hella": ("forget", "accuracy", acc(b2))}
    ft = {"mmlu": ("forget", "accuracy", acc(f1)), "hella": ("forget", "accuracy", acc(f2))}
    gate = {"type": "must_not_regress", "suite": "forget", "metric": "accuracy", "margin": 0.03}
    report, comparison = verdicts([gate], base, ft)
    g = report.gates[0]
    assert g.target == "forget" and g.n == 500
    assert g.estimate == pytest.approx(np.mean([t.metrics[0].delta for t in comparison.tasks]))
    f = make_metric("accuracy").from_stats
    draws = np.mean([
        bootstrap_deltas(acc(b1), acc(f1), f, n_resamples=B, rng=resample_rng(SEED, "mmlu", "accuracy")),
        bootstrap_deltas(acc(b2), acc(f2), f, n_resamples=B, rng=resample_rng(SEED, "hella", "accuracy")),
    ], axis=0)
    assert g.bound == pytest.approx(np.quantile(draws, 0.05))
    assert (g.ci_low, g.ci_high) == pytest.approx(tuple(np.quantile(draws, [0.025, 0.975])))


def test_holm_adjusts_across_must_improve_gates_only():
    # Each gain passes on its own (one-sided Tango p ~ 0.034-0.036) but not as one family of two.
    (b1, f1), (b2, f2) = flips(300, 150, 17, 8), flips(300, 150, 20, 10)
    base = {"qa": ("target", "accuracy", acc(b1)), "qa2": ("target", "accuracy", acc(b2))}
    ft = {"qa": ("target", "accuracy", acc(f1)), "qa2": ("target", "accuracy", acc(f2))}
    alone = [verdicts([g], base, ft)[0].gates[0] for g in (IMPROVE, {**IMPROVE, "task": "qa2"})]
    assert [g.verdict for g in alone] == [PASS, PASS]
    report, _ = verdicts([IMPROVE, {**IMPROVE, "task": "qa2"}, NOT_REGRESS], base, ft)
    g1, g2, ni = report.gates
    assert [g1.p_value, g2.p_value] == [g.p_value for g in alone]
    assert [g1.p_adjusted, g2.p_adjusted] == pytest.approx(list(holm([g1.p_value, g2.p_value])))
    assert [g1.verdict, g2.verdict] == [INCONCLUSIVE, INCONCLUSIVE] and ni.p_adjusted is None
    assert g1.mde > alone[0].mde  # planned at alpha / 2, not alpha


def test_skipped_task_is_inconclusive():
    base, ft = one_task(100, 50, 10)
    report, _ = verdicts([IMPROVE], base, ft, skipped=("qa",))
    assert report.gates[0].verdict == INCONCLUSIVE and "skipped" in report.gates[0].message
    assert report.gates[0].p_adjusted == 1.0


def small_report():
    (b1, f1), (b2, f2) = flips(300, 150, 30, 2), flips(300, 150, 0, 30)
    base = {"qa": ("target", "accuracy", acc(b1)), "mmlu": ("forget", "accuracy", acc(b2))}
    ft = {"qa": ("target", "accuracy", acc(f1)), "mmlu": ("forget", "accuracy", acc(f2))}
    gates = [IMPROVE, {**NOT_REGRESS, "task": "mmlu"}, {"type": "min_score", "task": "qa", "metric": "accuracy", "min": 0.55}]
    return verdicts(gates, base, ft)[0]


def test_junit_has_one_failure_per_counted_gate():
    report = small_report()
    assert [g.verdict for g in report.gates] == [PASS, FAIL, INCONCLUSIVE]
    root = ET.fromstring(render_junit(report))
    assert root.tag == "testsuite" and root.get("name") == "evalkit gates"
    assert root.get("tests") == "3" and root.get("failures") == "2"
    cases = root.findall("testcase")
    assert [c.find("failure") is not None for c in cases] == [False, True, True]
    assert cases[1].find("failure").get("message").startswith("FAIL: gain -0.1")
    assert root.find(".//skipped") is None


def test_markdown_and_json():
    report = small_report()
    md = render_gate_md(report)
    assert "FAIL" in md.splitlines()[2] and md.count("| must_") == 2
    payload = render_gate_json(report)
    json.dumps(payload, allow_nan=False)  # inf n_needed must be written as null
    assert payload["exit_code"] == 1 and payload["verdict"] == FAIL and len(payload["gates"]) == 3


def test_write_gate_outputs_appends_the_step_summary(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    report = small_report()
    written = write_gate_outputs(report, tmp_path / "out")
    assert sorted(p.name for p in written) == ["gate.json", "gate.md", "junit.xml"]
    assert summary.read_text() == "earlier step\n" + render_gate_md(report) + "\n"
    ET.parse(tmp_path / "out" / "junit.xml")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    write_gate_outputs(report, tmp_path / "again")
    assert summary.read_text().count("## evalkit gates") == 1


@pytest.mark.parametrize(("raw", "words"), [
    ({**IMPROVE, "task": "nope"}, ["unknown task 'nope'", "hella, mmlu, qa, qa2, wiki"]),
    ({**NOT_REGRESS, "task": None, "suite": "nope"}, ["unknown suite 'nope'", "forget, target, text"]),
    ({**IMPROVE, "metric": "acc"}, ["unknown metric 'acc'", "accuracy"]),
    ({**IMPROVE, "margin": 0.1}, ["unknown key 'margin'", "min_effect"]),
    ({**NOT_REGRESS, "suite": "forget"}, ["exactly one of 'task' and 'suite'"]),
    ({**IMPROVE, "type": "must_win"}, ["'type' must be one of must_improve"]),
    ({"type": "must_not_regress", "task": "qa", "metric": "accuracy"}, ["missing required key 'margin'"]),
])
def test_config_errors_name_what_is_known(raw, words):
    with pytest.raises(ConfigError) as exc:
        parse_gates([raw], known_tasks=TASKS, known_suites=SUITES)
    assert all(w in str(exc.value) for w in words), str(exc.value)


def test_duplicate_gate_names_are_rejected():
    with pytest.raises(ConfigError, match="duplicate"):
        parse_gates([IMPROVE, IMPROVE], known_tasks=TASKS, known_suites=SUITES)


def test_metric_the_task_does_not_have_is_a_config_error():
    base, ft = one_task(50, 25)
    with pytest.raises(ConfigError, match="task 'qa' has no metric 'bits_per_byte' \\(has: accuracy\\)"):
        verdicts([{**IMPROVE, "metric": "bits_per_byte"}], base, ft)


def test_identical_answers_never_pass_at_any_margin():
    # Was: zero-width interval, must_not_regress PASS at any margin, "MDE 0.0, n_needed 1".
    report, comparison = verdicts([{**NOT_REGRESS, "margin": 0.001}], *one_task(200, 100))
    g, m = report.gates[0], comparison.tasks[0].metrics[0]
    assert g.verdict == INCONCLUSIVE and g.mde > 0.001 and g.n_needed > 200
    assert m.ci_low < 0 < m.ci_high and m.mde > 0


def test_two_items_both_improved_prove_nothing():
    # Was: p = 0.0001 from the bootstrap at n = 2.
    report, comparison = verdicts([IMPROVE], *one_task(2, 0, fixed=2))
    g = report.gates[0]
    assert g.verdict == INCONCLUSIVE and g.p_value > 0.05
    assert comparison.tasks[0].metrics[0].improved is None


def test_non_finite_statistics_give_no_verdict():
    base, ft = bpb_tasks(1.0, n=100)
    ft["wiki"][2][3][0] = float("inf")  # one item's negative log-likelihood overflowed
    gates = [{"type": "must_not_regress", "task": "wiki", "metric": "bits_per_byte", "margin": 0.5}]
    report, comparison = verdicts(gates, base, ft)
    m = comparison.tasks[0].metrics[0]
    assert m.improved is None and m.reason and "finite" in m.reason
    assert report.gates[0].verdict == INCONCLUSIVE and "finite" in report.gates[0].message


def test_pass_shows_the_one_sided_bound_it_used():
    report, _ = verdicts([IMPROVE, {**IMPROVE, "task": "qa2"}], {**one_task(300, 150, fixed=40)[0], **one_task(300, 150, fixed=20, task="qa2")[0]},
                         {**one_task(300, 150, fixed=40)[1], **one_task(300, 150, fixed=20, task="qa2")[1]})
    first, second = report.gates
    assert first.verdict == second.verdict == PASS
    assert first.bound_level == pytest.approx(0.025) and second.bound_level == pytest.approx(0.05)
    assert first.bound > 0 and second.bound > 0
    md = render_gate_md(report)
    assert f"(>= {first.bound:+.4f} at 97.5%)" in md and "[" not in md.split("| gate |")[1].splitlines()[2]


def test_several_candidates_share_each_gates_family():
    from evalkit.compare.gates import evaluate_gates_many

    # Each candidate alone passes non-inferiority (one-sided p 0.031 and 0.031) and improvement
    # on qa2 (p ~ 0.034-0.036); as a sweep of two, Holm asks for p < 0.025 first.
    base_nr, ft_nr = one_task(1000, 500, fixed=10, broke=19, task="mmlu", suite="forget")
    (b2, f2), (_, f2b) = flips(300, 150, 17, 8), flips(300, 150, 20, 10)
    base = make_run("base", {**base_nr, "qa2": ("target", "accuracy", acc(b2))})
    fts = [make_run(name, {**ft_nr, "qa2": ("target", "accuracy", acc(f))}) for name, f in (("ft1", f2), ("ft2", f2b))]
    raw = [{**NOT_REGRESS, "task": "mmlu"}, {**IMPROVE, "task": "qa2"}]
    gates = parse_gates(raw, known_tasks=TASKS, known_suites=SUITES)
    comparisons = [compare_runs(base, ft, seed=SEED, n_resamples=B) for ft in fts]
    alone = [evaluate_gates(gates, base, ft, c, seed=SEED, n_resamples=B) for ft, c in zip(fts, comparisons)]
    assert all(g.verdict == PASS for r in alone for g in r.gates)
    sweep = evaluate_gates_many(gates, base, fts, comparisons, seed=SEED, n_resamples=B)
    assert [r.candidate for r in sweep] == ["ft1", "ft2"]
    for r, a in zip(sweep, alone):
        nr, imp = r.gates
        assert nr.verdict == imp.verdict == INCONCLUSIVE
        assert nr.p_value == a.gates[0].p_value and nr.p_adjusted == pytest.approx(2 * nr.p_value)
        assert "Holm over 2 candidates" in nr.message and nr.bound_level == pytest.approx(0.025)


def test_gates_read_the_tables_own_estimate():
    base, ft = make_run("base", one_task(200, 100, fixed=20)[0]), make_run("ft", one_task(200, 100, fixed=20)[1])
    comparison = compare_runs(base, ft, seed=SEED, n_resamples=B)
    gates = parse_gates([IMPROVE], known_tasks=TASKS, known_suites=SUITES)
    shared = evaluate_gates(gates, base, ft, comparison, seed=SEED, n_resamples=B).gates[0]
    del comparison.estimates  # as when the comparison comes back from the cache
    fresh = evaluate_gates(gates, base, ft, comparison, seed=SEED, n_resamples=B).gates[0]
    assert shared == fresh and shared.verdict == PASS
