"""Native task groups (``suites.NAME.groups``): a row in results.json whose value is the
size-weighted or plain mean of its members, and a compare row whose delta and standard error
combine the members' paired estimates with the same fixed weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import make_project


def project_with_groups(tmp_path: Path, groups: str) -> Path:
    """The standard project plus ``mix_a`` (8 sums the base model learnt and 4 support
    questions the fine-tune learnt) and ``mix_b`` (5 and 15), and the given groups."""
    from conftest import write_jsonl

    cfg = make_project(tmp_path)
    qa = [json.loads(x) for x in (tmp_path / "tasks" / "data" / "qa.jsonl").read_text().splitlines()]
    sums = [{"id": f"s{i}", "question": f"What is {i % 6} plus {i // 6}?", "answer": str(i % 6 + i // 6)} for i in range(13)]
    spec = (tmp_path / "tasks" / "qa.yaml").read_text()
    for name, rows in (("mix_a", sums[:8] + qa[:4]), ("mix_b", sums[8:] + qa[4:19])):
        write_jsonl(tmp_path / "tasks" / "data" / f"{name}.jsonl", rows)
        (tmp_path / "tasks" / f"{name}.yaml").write_text(spec.replace("name: qa", f"name: {name}").replace("qa.jsonl", f"{name}.jsonl"))
    text = cfg.read_text().replace("  support: {role: target, tasks: [qa, intent]}\n",
                                   f"  support: {{role: target, tasks: [mix_a, mix_b, intent], groups: {groups}}}\n")
    cfg.write_text(text)
    return cfg


GROUPS = ("{help_w: {tasks: [mix_a, mix_b], aggregate: size_weighted}, "
          "help_u: {tasks: [mix_a, mix_b], aggregate: mean, metrics: [f1, exact_match]}}")


def test_group_rows_in_results_are_the_weighted_means_of_their_members(tmp_path):
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    run = run_model(load_project(project_with_groups(tmp_path, GROUPS)), "base")
    qa, qa_b = run.task("mix_a"), run.task("mix_b")  # 12 and 20 items
    w, u = run.task("help_w"), run.task("help_u")
    assert (qa.n, qa_b.n, w.n, w.type, w.status) == (12, 20, 32, "group", "ok")
    assert set(w.metrics) == {"exact_match", "f1", "chrf"} and set(u.metrics) == {"f1", "exact_match"}
    for m in ("exact_match", "f1"):
        a, b = qa.metrics[m].value, qa_b.metrics[m].value
        assert w.metrics[m].value == pytest.approx((12 * a + 20 * b) / 32, abs=1e-12)
        assert u.metrics[m].value == pytest.approx((a + b) / 2, abs=1e-12)
    assert qa.metrics["f1"].value != pytest.approx(qa_b.metrics["f1"].value)  # the weighting matters
    assert u.members == {"of": "tasks", "tasks": ["mix_a", "mix_b"], "weighting": {"f1": "mean", "exact_match": "mean"}}
    items = [s["stats"]["exact_match"][0] for s in run.samples_for("mix_a") + run.samples_for("mix_b")]
    assert w.metrics["exact_match"].value == pytest.approx(np.mean(items))  # size-weighted = pooled


def test_group_delta_and_interval_combine_the_members_estimates(tmp_path, cli):
    cfg = project_with_groups(tmp_path, GROUPS)
    code, out, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "cmp", "--resamples", 500)
    assert code == 0, err
    rows = {t["task"]: t for t in json.loads((tmp_path / "cmp" / "compare.json").read_text())["comparisons"][0]["tasks"]}
    assert "help_w" in out and "help_u" in out  # the table shows the group rows
    runs = {m: [json.loads(x) for x in (tmp_path / "cmp" / "runs" / m / "samples.jsonl").read_text().splitlines()] for m in ("base", "ft")}

    def diffs(task):  # per-item f1 differences, independently of evalkit's estimators
        b = {s["id"]: s["stats"]["f1"][0] for s in runs["base"] if s["task"] == task and s["status"] == "ok"}
        f = {s["id"]: s["stats"]["f1"][0] for s in runs["ft"] if s["task"] == task and s["status"] == "ok"}
        return np.array([f[i] - b[i] for i in b if i in f])

    d = {t: diffs(t) for t in ("mix_a", "mix_b")}
    se = {t: d[t].std(ddof=1) / math.sqrt(len(d[t])) for t in d}  # paired t: a mean metric
    for group, w in (("help_w", [12 / 32, 20 / 32]), ("help_u", [0.5, 0.5])):
        m = next(m for m in rows[group]["metrics"] if m["metric"] == "f1")
        delta = w[0] * d["mix_a"].mean() + w[1] * d["mix_b"].mean()
        want_se = math.sqrt((w[0] * se["mix_a"]) ** 2 + (w[1] * se["mix_b"]) ** 2)
        assert m["delta"] == pytest.approx(delta, abs=1e-12)  # the interval below checks the SE
        assert m["ci_low"] == pytest.approx(delta - 1.959963984540054 * want_se, rel=1e-9)
        assert m["ci_high"] == pytest.approx(delta + 1.959963984540054 * want_se, rel=1e-9)
        assert m["ft"] - m["base"] == pytest.approx(m["delta"], abs=1e-12) and m["n"] == 32
        assert 0 <= m["p_value"] <= 1 and (m["p_adjusted"] is not None or not m["tested"])  # secondary: shown, not tested
        members = [next(x for x in rows[t]["metrics"] if x["metric"] == "f1") for t in ("mix_a", "mix_b")]
        assert m["delta"] == pytest.approx(w[0] * members[0]["delta"] + w[1] * members[1]["delta"], abs=1e-9)
    binary = next(m for m in rows["help_u"]["metrics"] if m["metric"] == "exact_match")
    assert binary["ci_low"] < binary["delta"] < binary["ci_high"]


@pytest.mark.parametrize("groups, message", [
    ("{g: {tasks: [mix_a, mc]}}", "group 'g' names 'mc', which is not a task of this suite"),
    ("{mix_b: {tasks: [mix_a]}}", "group 'mix_b' has the name of a task"),
    ("{g: {tasks: [mix_a, mix_a]}}", "names a task twice"),
    ("{g: {tasks: [mix_a], aggregate: median}}", "aggregate"),
])
def test_bad_groups_are_one_line_errors(tmp_path, cli, groups, message):
    cfg = project_with_groups(tmp_path, groups)
    code, _, err = cli("validate", "--config", cfg)
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
