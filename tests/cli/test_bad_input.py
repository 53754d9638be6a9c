"""Every user mistake gets one line naming the file (and line), exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _fails(cli, project, *args):
    code, out, err = cli(*args, "--config", project)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    return lines[0]


def test_malformed_yaml_names_file_and_line(cli, project):
    text = project.read_text().replace("seed: 7", "seed: [7")
    project.write_text(text)
    msg = _fails(cli, project, "validate")
    assert f"{project}:" in msg and "invalid YAML" in msg


def test_unknown_config_key_names_line_and_allowed_keys(cli, project):
    project.write_text(project.read_text() + "sedd: 3\n")
    msg = _fails(cli, project, "validate")
    lines = project.read_text().splitlines()
    assert f"{project}:{len(lines)}:" in msg and "unknown key 'sedd'" in msg and "allowed:" in msg


def test_bad_model_option_points_at_the_model(cli, project):
    project.write_text(project.read_text().replace("order: 6, init", "order: zero, init"))
    msg = _fails(cli, project, "validate")
    assert "order" in msg and "integer" in msg


def test_malformed_jsonl_names_file_and_line(cli, project):
    data = project.parent / "tasks" / "data" / "mc.jsonl"
    rows = data.read_text().splitlines()
    rows[4] = rows[4][:-3]
    data.write_text("\n".join(rows) + "\n")
    msg = _fails(cli, project, "validate")
    assert f"{data}:5:" in msg and "invalid JSON" in msg


def test_missing_data_file(cli, project):
    (project.parent / "tasks" / "data" / "qa.jsonl").unlink()
    msg = _fails(cli, project, "validate")
    assert "qa.jsonl" in msg and "not found" in msg


def test_missing_training_text(cli, project):
    (project.parent / "corpora" / "support.txt").unlink()
    msg = _fails(cli, project, "validate")
    assert "support.txt" in msg and "not found" in msg


def test_wrong_field_mapping_names_the_field(cli, project):
    task = project.parent / "tasks" / "qa.yaml"
    task.write_text(task.read_text().replace("target: answer", "target: solution"))
    msg = _fails(cli, project, "validate")
    assert "qa.jsonl:1:" in msg and "'solution'" in msg and "question" in msg


def test_prompt_field_missing(cli, project):
    task = project.parent / "tasks" / "qa.yaml"
    task.write_text(task.read_text().replace("{question}", "{query}"))
    msg = _fails(cli, project, "validate")
    assert "qa.jsonl:1:" in msg and "{query}" in msg


def test_empty_dataset(cli, project):
    (project.parent / "tasks" / "data" / "ppl.jsonl").write_text("\n")
    msg = _fails(cli, project, "validate")
    assert "ppl.jsonl" in msg and "empty" in msg


def test_label_outside_label_set(cli, project):
    data = project.parent / "tasks" / "data" / "intent.jsonl"
    data.write_text(data.read_text().replace('"sync"}', '"refund"}', 1))
    msg = _fails(cli, project, "validate")
    assert "intent.jsonl:2:" in msg and "refund" in msg


@pytest.mark.parametrize(
    "args, expect",
    [
        (("run", "gpt5"), "unknown model 'gpt5' (known: base, ft)"),
        (("run", "base", "--suite", "nope"), "unknown suite 'nope' (known: forgetting, support)"),
    ],
)
def test_unknown_names_list_the_known_ones(cli, project, args, expect):
    assert expect in _fails(cli, project, *args)


def test_suite_naming_unknown_task(cli, project):
    project.write_text(project.read_text().replace("tasks: [qa, intent]", "tasks: [qa, intnet]"))
    msg = _fails(cli, project, "validate")
    assert "unknown task 'intnet'" in msg and "known: intent, mc, ppl, qa" in msg


def test_unknown_backend(cli, project):
    project.write_text(project.read_text().replace("backend: ngram, order: 6, init", "backend: ngarm, order: 6, init"))
    msg = _fails(cli, project, "validate")
    assert "unknown backend 'ngarm'" in msg and "ngram" in msg


def test_missing_config_file(cli, tmp_path):
    code, _, err = cli("validate", "--config", tmp_path / "nope.yaml")
    assert code == 2 and "nope.yaml: config file not found" in err


def test_no_traceback_from_the_real_executable(project):
    project.write_text("models: [\n")
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit.cli.main", "validate", "--config", str(project)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and str(project) in proc.stderr
