"""Jinja2 prompt, target and choices templates: what they render, the sandbox, and errors
that name the task file (syntax, refused reaches) or the data line (a field an item lacks)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from conftest import make_project, write_jsonl
from evalkit.config import load_task
from evalkit.errors import ConfigError, DataError
from evalkit.suites.items import load_items

GSM = [
    {"id": "g1", "question": "Tom has 3 apples and buys 4 more. How many?", "answer": "3 + 4 = 7\n#### 7"},
    {"id": "g2", "question": "A debt of 5 grows by 10. What is it now?", "answer": "-5 - 10 = -15\n#### -15 "},
]


def _task(tmp_path: Path, body: str, rows=GSM, name="t") -> Path:
    write_jsonl(tmp_path / "data.jsonl", rows)
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\ndata: data.jsonl\n" + body)
    return path


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_jinja_prompt_and_a_target_derived_from_the_answer(tmp_path):
    path = _task(tmp_path, 'type: generate\nprompt: "Q: {{ question }}\\nA:"\ntarget: "{{ answer.split(\'####\')[-1] | trim }}"\n')
    items = load_items(load_task(path))
    assert [it.target for it in items] == ["7", "-15"]
    assert items[0].render(load_task(path).prompt) == "Q: Tom has 3 apples and buys 4 more. How many?\nA:"


def test_a_pasted_latex_fraction_is_text_in_a_jinja_prompt(tmp_path):
    path = _task(tmp_path, 'type: generate\nprompt: "Example: \\\\frac{1}{2} of 4 is 2.\\n{{ question }}"\ntarget: "{{ answer }}"\n')
    item = load_items(load_task(path))[0]
    assert item.prompt.startswith("Example: \\frac{1}{2} of 4 is 2.\nTom has")


def test_the_plain_field_style_is_unchanged(tmp_path):
    path = _task(tmp_path, 'type: generate\nprompt: "Q: {question} ({{literal}})"\nfields: {target: answer}\ntemplate_style: format\n')
    item = load_items(load_task(path))[0]
    assert item.prompt == "Q: Tom has 3 apples and buys 4 more. How many? ({literal})"
    plain = _task(tmp_path, 'type: generate\nprompt: "Q: {question}"\nfields: {target: answer}\n', name="p")
    assert load_items(load_task(plain))[1].prompt == "Q: A debt of 5 grows by 10. What is it now?"


def test_a_plain_template_with_literal_braces_gets_a_hint(tmp_path):
    path = _task(tmp_path, 'type: generate\nprompt: \'Reply as {{"n": 1}} to {question}\'\nfields: {target: answer}\n')
    with pytest.raises(ConfigError) as exc:
        load_task(path)
    assert f"{path}:{_line_of(path, 'prompt:')}:" in str(exc.value) and "template_style: format" in str(exc.value)


def test_choices_and_an_integer_target_from_templates(tmp_path):
    rows = [{"id": "m1", "q": "2+2?", "opts": ["3", "4", "5"], "gold": 1}, {"id": "m2", "q": "1+1?", "opts": ["2", "7"], "gold": 0}]
    path = _task(tmp_path, 'type: multiple_choice\nprompt: "{{ q }}"\nchoices: "{{ opts }}"\ntarget: "{{ gold }}"\n', rows)
    items = load_items(load_task(path))
    assert [(it.choices, it.target) for it in items] == [(("3", "4", "5"), 1), (("2", "7"), 0)]
    listed = _task(tmp_path, 'type: multiple_choice\nprompt: "{{ q }}"\nchoices: ["{{ opts[0] }}", "{{ opts[1] }}"]\ntarget: "{{ opts[gold] }}"\n', rows, name="l")
    items = load_items(load_task(listed))
    assert [(it.choices, it.target) for it in items] == [(("3", "4"), 1), (("2", "7"), 0)]


def test_a_syntax_error_names_the_task_file_and_the_prompt_line(tmp_path):
    path = _task(tmp_path, 'type: generate\nfields: {target: answer}\nprompt: "{{ question }\\nA:"\n')
    with pytest.raises(ConfigError) as exc:
        load_task(path)
    assert str(exc.value).startswith(f"{path}:{_line_of(path, 'prompt:')}: prompt: not a valid Jinja template")


def test_a_missing_field_names_the_first_data_line_that_lacks_it_and_the_task_file(tmp_path):
    rows = [GSM[0] | {"hint": "count"}, GSM[1]]
    path = _task(tmp_path, 'type: generate\nfields: {target: answer}\nprompt: "{{ question }} ({{ hint }})"\n', rows)
    with pytest.raises(DataError) as exc:
        load_items(load_task(path))
    msg = str(exc.value)
    assert msg.startswith(f"{tmp_path / 'data.jsonl'}:2: the prompt in t.yaml uses 'hint'") and "\n" not in msg


@pytest.mark.parametrize(
    "prompt",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ question.__class__.__base__.__subclasses__() }}",
        "{{ question['__class__'] }}",
        "{% include '/etc/passwd' %}",
        "{% import 'os' as os %}",
    ],
)
def test_reaches_out_of_the_sandbox_are_refused_when_the_task_is_read(cli, tmp_path, prompt):
    project = make_project(tmp_path / "proj")
    task = project.parent / "tasks" / "qa.yaml"
    task.write_text(task.read_text().replace('"Question: {question}\\nAnswer:"', json.dumps(prompt)))
    code, out, err = cli("run", "base", "--config", project, "--output", tmp_path / "out")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"evalkit: error: {task}:{_line_of(task, 'prompt:')}: prompt: ")
    assert not (tmp_path / "out").exists() and not (project.parent / ".cache").exists()


@pytest.mark.parametrize(
    "prompt, words",
    [
        ("{{ question | attr('__class__') }}", "unsafe"),
        ("{{ question.__len__ if false else (question | attr('__len__'))() }}", "private attributes"),
        ("{{ 'x' * 100000000 }}", "larger than templates allow"),
        ("{{ 'x' | center(100000000) }}", "larger than templates allow"),
        ("{{ '{:>99999}'.format(question) }}", "format width"),
        ("{{ lipsum(100000) }}", "'lipsum'"),
    ],
)
def test_what_the_sandbox_refuses_while_rendering_is_a_data_line_error(tmp_path, prompt, words):
    path = _task(tmp_path, f"type: generate\nfields: {{target: answer}}\nprompt: {json.dumps(prompt)}\n")
    with pytest.raises((DataError, ConfigError)) as exc:
        load_items(load_task(path))
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_a_target_template_without_a_field_is_refused(tmp_path):
    path = _task(tmp_path, "type: generate\nprompt: '{{ question }}'\ntarget: answer\n")
    with pytest.raises(ConfigError) as exc:
        load_task(path)
    assert "{{ answer }}" in str(exc.value)


def test_ten_thousand_items_render_in_well_under_a_second(tmp_path):
    rows = [{"id": i, "question": f"What is {i} plus {i}?", "answer": f"{i} + {i} = {2 * i}\n#### {2 * i}"} for i in range(10_000)]
    path = _task(tmp_path, 'type: generate\nprompt: "Q: {{ question }}\\nA:"\ntarget: "{{ answer.split(\'####\')[-1] | trim }}"\n', rows)
    spec = load_task(path)
    load_items(spec, limit=10)  # compile once, outside the clock
    from evalkit.suites.derived import item_target, render_prompt

    # CPU time, not wall time: the test machines are shared, and a busy neighbour would
    # otherwise fail a render that is fast enough.
    start = time.process_time()
    for i, rec in enumerate(rows):
        render_prompt(spec, rec, i + 1)
        item_target(spec, rec, i + 1)
    elapsed = time.process_time() - start
    assert elapsed < 1.0, f"{elapsed:.2f} s for 10,000 prompts and targets"


def test_a_pasted_fraction_in_a_plain_prompt_points_at_the_task_file_and_jinja(tmp_path):
    path = _task(tmp_path, 'type: generate\nfields: {target: answer}\nprompt: "Half is \\\\frac{1}{2}. {question}"\n')
    with pytest.raises(ConfigError) as exc:
        load_task(path)
    assert str(exc.value).startswith(f"{path}:{_line_of(path, 'prompt:')}: ") and "{{ question }}" in str(exc.value)


def test_template_syntax_in_the_data_is_text_not_code(tmp_path):
    rows = [{"id": "x", "question": "{{ 7 * 7 }} {% for i in range(3) %}i{% endfor %} {q}", "answer": "{{ 1 }}"}]
    path = _task(tmp_path, 'type: generate\nprompt: "Q: {{ question }}"\ntarget: "{{ answer }}"\n', rows)
    item = load_items(load_task(path))[0]
    assert item.prompt == "Q: " + rows[0]["question"] and item.target == "{{ 1 }}"
