"""`evalkit compare ... --gate`: exit codes, report files, the CI step summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from conftest import make_project

# mc: both models right on all 24 items. 24 items rule out a loss of 0.15, not of 0.10 (the old
# bootstrap gave a zero-width interval and passed any margin).
PASSING = "gates:\n  - {type: must_improve, task: qa, metric: exact_match, min_effect: 0.2}\n  - {type: must_not_regress, task: mc, metric: accuracy, margin: 0.15}\n"
# ppl has 16 items, too few for a t interval on bits per byte: its gates are INCONCLUSIVE; mc
# shows no gain at all, which rules out a gain of 0.3.
FAILING = "gates:\n  - {type: must_improve, task: mc, metric: accuracy, min_effect: 0.3}\n"


def _project(tmp_path, gates: str, models: str | None = None):
    project = make_project(tmp_path / "p", models)
    project.write_text(project.read_text() + gates)
    return project


def test_all_gates_pass_exit_0_and_reports_written(cli, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project = _project(tmp_path, PASSING)
    code, out, err = cli("compare", "base", "ft", "--gate", "--config", project, "--output", tmp_path / "o")
    assert code == 0, out + err
    gate = json.loads((tmp_path / "o" / "gate.json").read_text())
    assert [g["verdict"] for g in gate["gates"]] == ["PASS", "PASS"]
    suite = ET.parse(tmp_path / "o" / "junit.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert summary.read_text().startswith("earlier step\n") and "evalkit gates" in summary.read_text()


def test_a_failing_gate_exits_1_with_the_numbers_in_junit(cli, tmp_path):
    project = _project(tmp_path, FAILING)
    code, out, _ = cli("compare", "base", "ft", "--gate", "--config", project, "--output", tmp_path / "o")
    assert code == 1 and "FAIL" in out
    failure = ET.parse(tmp_path / "o" / "junit.xml").getroot().find("testcase/failure")
    assert failure is not None and "min effect 0.3" in failure.get("message") and "ruled out" in failure.get("message")


def test_incomplete_run_exits_3_even_when_gates_pass(cli, tmp_path):
    models = "  chat: {backend: 'fakes:GenerateOnly'}\n  flaky: {backend: 'fakes:GenerateOnly', fail_every: 3}\n"
    project = _project(tmp_path, "gates:\n  - {type: min_score, task: qa, metric: exact_match, min: 0.0}\n", models)
    code, _, _ = cli("compare", "chat", "flaky", "--gate", "--suite", "support", "--config", project, "--output", tmp_path / "o")
    assert code == 3


def test_gate_without_gates_is_a_usage_error(cli, project, tmp_path):
    code, _, err = cli("compare", "base", "ft", "--gate", "--config", project, "--output", tmp_path / "o")
    assert code == 2 and "no gates" in err


def test_bad_gate_names_the_line(cli, tmp_path):
    project = _project(tmp_path, "gates:\n  - {type: must_improve, task: qaa, metric: exact_match}\n")
    code, _, err = cli("validate", "--config", project)
    n = len(project.read_text().splitlines())
    assert code == 2 and f"{project}:{n}:" in err and "unknown task 'qaa'" in err


def test_too_few_items_for_a_continuous_metric_is_inconclusive(cli, tmp_path):
    project = _project(tmp_path, "gates:\n  - {type: must_not_regress, task: ppl, metric: bits_per_byte, margin: 0.001}\n")
    code, out, _ = cli("compare", "base", "ft", "--gate", "--config", project, "--output", tmp_path / "o")
    gate = json.loads((tmp_path / "o" / "gate.json").read_text())["gates"][0]
    assert code == 1 and gate["verdict"] == "INCONCLUSIVE" and "only 16 item(s)" in gate["message"]
