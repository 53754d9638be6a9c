"""``evalkit init DATA.jsonl``: a starter project whose guessed task loads and runs, and that
never overwrites a file without --force."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import write_jsonl

from evalkit.config import load_project
from evalkit.suites.items import load_items

CAPITALS = [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Norway", "Oslo")]


def test_a_question_answer_file_becomes_a_generate_task_that_compares(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    proj = tmp_path / "proj"
    write_jsonl(proj / "data" / "qa.jsonl", [{"question": f"Capital of {c}?", "answer": k} for c, k in CAPITALS * 3])
    code, out, err = cli("init", "data/qa.jsonl", "--base", "ngram:demo", "--ft", "ngram:demo-ft", cwd=proj)
    assert code == 0, err
    assert "generate task; prompt from 'question', target from 'answer'" in out
    task = yaml.safe_load((proj / "tasks" / "qa.yaml").read_text())
    assert (task["type"], task["data"], task["fields"]) == ("generate", "../data/qa.jsonl", {"id": None, "target": "answer"})
    project = load_project(proj / "evalkit.yaml")
    items = load_items(project.tasks["qa"])
    assert len(items) == 12 and items[0].prompt == "Question: Capital of France?\nAnswer:"
    assert "# gates:" in (proj / "evalkit.yaml").read_text()  # commented, with a starting point
    code, _, err = cli("compare", "base", "ft", "--quiet", "--output", "out", cwd=proj)
    assert code == 0, err
    assert json.loads((proj / "out" / "compare.json").read_text())["comparisons"][0]["tasks"][0]["n"] == 12


def test_choices_make_a_multiple_choice_task(cli, tmp_path):
    rows = [{"uid": f"u{i}", "input": f"The capital of {c} is", "choices": [k, "Lima", "Cairo"], "label": 0}
            for i, (c, k) in enumerate(CAPITALS)]
    write_jsonl(tmp_path / "mc.jsonl", rows)
    code, out, err = cli("init", "mc.jsonl", "--name", "capitals", cwd=tmp_path)
    assert code == 0, err
    task = yaml.safe_load((tmp_path / "tasks" / "capitals.yaml").read_text())
    assert task["type"] == "multiple_choice"
    assert task["fields"] == {"id": "uid", "target": "label", "choices": "choices"}
    items = load_items(load_project(tmp_path / "evalkit.yaml").tasks["capitals"])
    assert [i.id for i in items] == ["u0", "u1", "u2", "u3"]


def test_a_small_label_set_makes_a_classification_task(tmp_path, cli):
    write_jsonl(tmp_path / "intent.jsonl", [{"text": f"message {i}", "label": ["billing", "sync"][i % 2]} for i in range(20)])
    code, _, err = cli("init", "intent.jsonl", cwd=tmp_path)
    assert code == 0, err
    task = yaml.safe_load((tmp_path / "tasks" / "intent.yaml").read_text())
    assert (task["type"], task["labels"]) == ("classification", ["billing", "sync"])
    assert len(load_items(load_project(tmp_path / "evalkit.yaml").tasks["intent"])) == 20


def test_data_outside_the_project_is_copied_in(cli, tmp_path):
    write_jsonl(tmp_path / "elsewhere" / "qa.jsonl", [{"prompt": "hi", "target": "hello there"}])
    code, out, err = cli("init", tmp_path / "elsewhere" / "qa.jsonl", "--dir", tmp_path / "proj", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "proj" / "tasks" / "data" / "qa.jsonl").read_bytes() == (tmp_path / "elsewhere" / "qa.jsonl").read_bytes()
    assert yaml.safe_load((tmp_path / "proj" / "tasks" / "qa.yaml").read_text())["data"] == "data/qa.jsonl"


def test_never_overwrites_without_force(cli, tmp_path):
    write_jsonl(tmp_path / "qa.jsonl", [{"question": "q", "answer": "a"}])
    (tmp_path / "evalkit.yaml").write_text("# mine\n")
    code, _, err = cli("init", "qa.jsonl", cwd=tmp_path)
    assert code == 2 and "never overwrites" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "evalkit.yaml").read_text() == "# mine\n" and not (tmp_path / "tasks").exists()
    code, _, err = cli("init", "qa.jsonl", "--force", cwd=tmp_path)
    assert code == 0, err
    assert "tasks/*.yaml" in (tmp_path / "evalkit.yaml").read_text()


@pytest.mark.parametrize("rows, message", [
    ([{"foo": 1, "bar": 2}], "cannot guess the task: no prompt field"),
    ([{"question": "q"}], "no target field"),
    ([], "no records"),
])
def test_unguessable_data_is_one_line_exit_2(cli, tmp_path, rows, message):
    write_jsonl(tmp_path / "d.jsonl", rows)
    code, _, err = cli("init", "d.jsonl", cwd=tmp_path)
    assert code == 2 and message in err and err.startswith("evalkit: error:") and len(err.strip().splitlines()) == 1
