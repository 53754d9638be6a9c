"""compare: alignment by item id, dropped errors, stored baselines, and the paired interval
against an independent computation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evalkit.compare.compare import CompareError, compare_runs
from evalkit.config import load_project
from evalkit.runner.run import RunOptions, run_model


def test_compare_refuses_runs_on_different_items(project):
    p = load_project(project)
    base = run_model(p, "base", RunOptions(limit=10))
    ft = run_model(p, "ft", RunOptions(limit=12))
    with pytest.raises(CompareError, match="different items"):
        compare_runs(base, ft, seed=1, n_resamples=200)


def test_identical_differences_do_not_give_a_zero_width_interval(project):
    # Every qa item gains exactly 1.0 in f1: the old bootstrap gave [+1.000, +1.000] (a zero-width
    # interval); the rule-of-three floor keeps room for items the sample did not show.
    p = load_project(project)
    base, ft = run_model(p, "base"), run_model(p, "ft")
    c = compare_runs(base, ft, seed=3, n_resamples=4000)
    qa = next(t for t in c.tasks if t.task == "qa")
    f1 = next(m for m in qa.metrics if m.metric == "f1")
    d = np.array([f["metrics"]["f1"] - b["metrics"]["f1"] for b, f in zip(base.samples_for("qa"), ft.samples_for("qa"))])
    assert np.ptp(d) == 0 and f1.delta == pytest.approx(d.mean())
    assert f1.ci_low < f1.delta <= f1.ci_high and f1.mde > 0 and not f1.tested
    em = next(m for m in qa.metrics if m.metric == "exact_match")
    b = np.array([s["metrics"]["exact_match"] for s in base.samples_for("qa")])
    f = np.array([s["metrics"]["exact_match"] for s in ft.samples_for("qa")])
    assert (em.fixed, em.broke) == (int(((b == 0) & (f == 1)).sum()), int(((b == 1) & (f == 0)).sum()))
    # n <= EXACT_MAX_N: the row names the exact test its interval came from, not Tango's
    assert em.tested and em.method == "exact unconditional (Tango-ordered)" and len(b) <= 100


def test_a_continuous_row_is_the_paired_t_interval():
    from scipy import stats

    from evalkit.results import MetricValue, RunResult, TaskResult

    rng, n = np.random.default_rng(5), 300  # large enough that the library's zero-spread floor on the SE is inactive
    a = rng.uniform(0, 1, n)
    b = np.clip(a + rng.normal(0.05, 0.2, n), 0, 1)

    def run(model, x):
        t = TaskResult(task="qa", suite="s", role="target", type="generate", status="ok", n=n,
                       metrics={"f1": MetricValue(float(x.mean()), True, "f1")})
        samples = [{"task": "qa", "id": str(i), "status": "ok", "group": None, "prompt_tokens": 1,
                    "stats": {"f1": [float(v), 1.0]}} for i, v in enumerate(x)]
        return RunResult(model=model, backend="x", identity={}, model_config={}, project="t", tasks=[t], samples=samples)

    m = compare_runs(run("base", a), run("ft", b), seed=1).tasks[0].metrics[0]
    d = b - a
    low, high = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=stats.sem(d))
    assert (m.ci_low, m.ci_high) == pytest.approx((low, high))
    assert m.p_value == pytest.approx(stats.ttest_rel(b, a).pvalue) and m.p_adjusted == pytest.approx(m.p_value)


def test_errored_items_are_dropped_on_both_sides(tmp_path):
    from conftest import make_project

    project = make_project(tmp_path / "p", "  chat: {backend: 'fakes:GenerateOnly'}\n  flaky: {backend: 'fakes:GenerateOnly', fail_every: 3}\n")
    p = load_project(project)
    opts = RunOptions(suites=("support",))
    c = compare_runs(run_model(p, "chat", opts), run_model(p, "flaky", opts), seed=1, n_resamples=300)
    qa = next(t for t in c.tasks if t.task == "qa")
    assert qa.dropped == qa.errors_ft > 0 and qa.errors_base == 0
    assert qa.n == 30 - qa.dropped and all(m.n == qa.n for m in qa.metrics)


def test_cli_compare_against_a_stored_baseline(cli, project, tmp_path):
    code, out, err = cli("run", "base", "--config", project, "--output", tmp_path / "baseline")
    assert code == 0, err
    code, out, err = cli("compare", tmp_path / "baseline", "ft", "--config", project, "--output", tmp_path / "cmp")
    assert code == 0, err
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    comp = data["comparisons"][0]
    assert comp["base"] == "base" and comp["candidate"] == "ft"
    assert not (tmp_path / "cmp" / "runs" / "base").exists()  # the baseline was not run again
    assert (tmp_path / "cmp" / "runs" / "ft" / "samples.jsonl").exists()
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| qa |" in md and "Prompt tokens, cost and latency per item" in md
    assert "ft vs base" in out


def test_cli_compare_is_reproducible_and_exits_3_when_incomplete(cli, tmp_path):
    from conftest import make_project

    project = make_project(tmp_path / "p", "  chat: {backend: 'fakes:GenerateOnly'}\n  flaky: {backend: 'fakes:GenerateOnly', fail_every: 3}\n")
    code, out, err = cli("compare", "chat", "flaky", "--config", project, "--suite", "support", "--output", tmp_path / "a")
    assert code == 3 and "incomplete" in out
    cli("compare", "chat", "flaky", "--config", project, "--suite", "support", "--output", tmp_path / "b")
    a, b = (json.loads((tmp_path / d / "compare.json").read_text())["comparisons"][0] for d in "ab")
    for c in (a, b):
        c.pop("base_source"), c.pop("candidate_source")
    assert a == b


def test_several_candidates_are_ranked(cli, tmp_path):
    from conftest import make_project

    models = (
        "  base: {backend: ngram, order: 6, train: [corpora/general.txt]}\n"
        "  ft: {backend: ngram, init: base, train: [corpora/support.txt], weight: 3}\n"
        "  ft_light: {backend: ngram, init: base, train: [corpora/support.txt], weight: 0.05}\n"
    )
    project = make_project(tmp_path / "p", models)
    code, out, err = cli("compare", "base", "ft", "ft_light", "--config", project, "--output", tmp_path / "o")
    assert code == 0, err
    data = json.loads((tmp_path / "o" / "compare.json").read_text())
    assert [c["candidate"] for c in data["comparisons"]] == ["ft", "ft_light"]
    ranking = data["ranking"]
    assert {r["candidate"] for r in ranking} == {"ft", "ft_light"}
    assert ranking[0]["target_better"] >= ranking[1]["target_better"]
    assert "ranking of the candidates" in out and "## Ranking" in (tmp_path / "o" / "compare.md").read_text()
    best = data["best"]
    assert best["statement"].startswith(f"best candidate by the ranking: {ranking[0]['candidate']}")
    assert best["pairwise"] and all(c["task"] in ("qa", "intent") for c in best["pairwise"])
    shown = [c for c in best["pairwise"] if c["p_adjusted"] < 0.05]
    assert all(c["ci_low"] > 0 for c in shown)  # named better first, and its interval agrees
    assert best["statement"] in (tmp_path / "o" / "compare.md").read_text()
