"""Per-item choices: options parsed out of the question text, the target as index, label or
text, and the rule that an item is only ever scored over its own options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CAPITALS, make_project, write_jsonl
from evalkit.backends.base import Generation, Loglikelihood, LoglikelihoodRequest, RequestKind
from evalkit.config import load_task
from evalkit.errors import ConfigError, DataError
from evalkit.suites.choices import ChoicesFromText, from_text
from evalkit.suites.items import load_items
from evalkit.tasks import task_type
from evalkit.tasks.base import PromptFormat

PATTERN = r"^\(([A-E])\) (.*)$"
ANY_LETTER = r"^\(([A-Z])\) (.*)$"


def _embedded(n_options: int, i: int = 0) -> tuple[str, list[str], str]:
    """A question with ``n_options`` options written into its text, and the right letter."""
    country, city = CAPITALS[i % len(CAPITALS)]
    others = [k for _, k in CAPITALS if k != city][i % 3 : i % 3 + n_options - 1]
    options = others[: (i % n_options)] + [city] + others[(i % n_options) :]
    text = f"What is the capital of {country}?\n" + "\n".join(f"({'ABCDE'[j]}) {o}" for j, o in enumerate(options))
    return text, options, "ABCDE"[options.index(city)]


def _task(tmp_path: Path, body: str, rows, name="t") -> Path:
    write_jsonl(tmp_path / "data.jsonl", rows)
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\ndata: data.jsonl\n" + body)
    return path


def test_options_are_parsed_with_their_labels():
    spec = ChoicesFromText(from_text="q", pattern=PATTERN)
    texts, labels = from_text(spec, {"q": "Pick one:\n(A) red\n(B) dark blue\n(C) green"})
    assert texts == ("red", "dark blue", "green") and labels == ("A", "B", "C")
    inline = ChoicesFromText(from_text="q", pattern=r"\((?P<label>[a-e])\)\s*(?P<text>[^(]*[^(\s])")
    assert from_text(inline, {"q": "Pick: (a) 12 (b) 15 (c) 1.5"}) == (("12", "15", "1.5"), ("a", "b", "c"))
    default = ChoicesFromText(from_text="q")
    assert from_text(default, {"q": "Pick:\nA. red\n(B) blue\nC: green "}) == (("red", "blue", "green"), ("A", "B", "C"))


def test_multiple_choice_target_as_letter_index_or_text(tmp_path):
    q = "Pick:\n(A) red\n(B) blue\n(C) green"
    rows = [{"id": "a", "q": q, "gold": "B"}, {"id": "b", "q": q, "gold": "b"}, {"id": "c", "q": q, "gold": 1}, {"id": "d", "q": q, "gold": "blue"}]
    path = _task(tmp_path, f"type: multiple_choice\nprompt: '{{{{ q }}}}'\nfields: {{target: gold}}\nchoices: {{from_text: q, pattern: {json.dumps(PATTERN)}}}\n", rows)
    items = load_items(load_task(path))
    assert {it.target for it in items} == {1} and items[0].choices == ("red", "blue", "green")


@pytest.mark.parametrize("kind", ["multiple_choice", "classification"])
def test_a_target_not_among_the_items_own_choices_names_the_data_line(tmp_path, kind):
    rows = [{"id": f"x{i}", "q": _embedded(2 + i % 3, i)[0], "gold": _embedded(2 + i % 3, i)[2]} for i in range(4)]
    rows[2]["gold"] = "E"  # the item offers A-C (or fewer): E exists in the task, not in this item
    labels = "labels: [A, B, C, D, E]\n" if kind == "classification" else ""
    path = _task(tmp_path, f"type: {kind}\n{labels}prompt: '{{{{ q }}}}'\nfields: {{target: gold}}\nchoices: {{from_text: q, pattern: {json.dumps(PATTERN)}}}\n", rows)
    with pytest.raises(DataError) as exc:
        load_items(load_task(path))
    assert str(exc.value).startswith(f"{tmp_path / 'data.jsonl'}:3: target 'E' is not among this item's")


def test_a_parsed_option_outside_the_task_labels_is_an_error(tmp_path):
    rows = [{"id": "a", "q": "(A) x\n(B) y\n(F) z", "gold": "A"}]
    path = _task(tmp_path, f"type: classification\nlabels: [A, B, C]\nprompt: '{{{{ q }}}}'\nfields: {{target: gold}}\nchoices: {{from_text: q, pattern: {json.dumps(ANY_LETTER)}}}\n", rows)
    with pytest.raises(DataError) as exc:
        load_items(load_task(path))
    assert ":1: option 'F' of this item is not in the task's labels" in str(exc.value)


def test_too_few_options_found_is_an_error(tmp_path):
    path = _task(tmp_path, f"type: multiple_choice\nprompt: '{{{{ q }}}}'\nfields: {{target: gold}}\nchoices: {{from_text: q, pattern: {json.dumps(PATTERN)}}}\n", [{"id": "a", "q": "no options here", "gold": "A"}])
    with pytest.raises(DataError) as exc:
        load_items(load_task(path))
    assert ":1: choices.pattern finds 0 option(s)" in str(exc.value)


@pytest.mark.parametrize(
    "choices, words",
    [
        ("{from_text: q, pattern: '(['}", "choices: pattern: pattern is not a valid regex"),
        ("{from_text: q, pattern: 'no groups'}", "needs a group"),
        ("{from_text: q, patern: '(x)'}", "unknown key 'patern'"),
        ("options", "choices: expected a template: write {{ options }}"),
    ],
)
def test_a_bad_choices_key_names_the_task_file_and_line(tmp_path, choices, words):
    path = _task(tmp_path, f"type: multiple_choice\nprompt: '{{{{ q }}}}'\nfields: {{target: gold}}\nchoices: {choices}\n", [{"id": "a", "q": "x", "gold": 0}])
    with pytest.raises(ConfigError) as exc:
        load_task(path)
    assert str(exc.value).startswith(f"{path}:6: ") and words in str(exc.value)


def test_classification_only_scores_the_options_an_item_has(tmp_path):
    rows = [{"id": "two", "q": "(A) yes\n(B) no", "gold": "A"}, {"id": "five", "q": "(A) a\n(B) b\n(C) c\n(D) d\n(E) e", "gold": "E"}]
    path = _task(tmp_path, f"type: classification\nlabels: [A, B, C, D, E]\nprompt: '{{{{ q }}}}'\nfields: {{target: gold}}\nchoices: {{from_text: q, pattern: {json.dumps(PATTERN)}}}\n", rows)
    spec = load_task(path)
    two, five = load_items(spec)
    task = task_type(spec)
    reqs = task.requests(two, PromptFormat(), RequestKind.LOGLIKELIHOOD)
    assert [r.continuation for r in reqs] == [" A", " B"] and all(isinstance(r, LoglikelihoodRequest) for r in reqs)
    assert len(task.requests(five, PromptFormat(), RequestKind.LOGLIKELIHOOD)) == 5
    # A model that names an option the item does not have has not picked one of its options.
    scored = task.score(two, [Generation("D")], RequestKind.GENERATE)
    assert scored.response is None and scored.observation.correct is False
    picked = task.score(two, [Loglikelihood(-3.0, False, 1), Loglikelihood(-1.0, False, 1)], RequestKind.LOGLIKELIHOOD)
    assert picked.response == "B"


def _embedded_project(tmp_path: Path) -> Path:
    project = make_project(tmp_path / "proj")
    rows = []
    for i in range(24):
        text, _, letter = _embedded(2 + i % 3, i)
        rows.append({"id": f"e{i}", "question": text, "answer": letter})
    write_jsonl(project.parent / "tasks" / "data" / "embedded.jsonl", rows)
    (project.parent / "tasks" / "embedded.yaml").write_text(
        "name: embedded\ntype: multiple_choice\ndata: data/embedded.jsonl\nfields: {target: answer}\n"
        # The first line of the question, put as the corpus says it: "The capital of X is".
        'prompt: "{{ question.split(\'\\n\')[0] | replace(\'What is the\', \'The\') | replace(\'?\', \' is\') }}"\n'
        f"choices: {{from_text: question, pattern: {json.dumps(PATTERN)}}}\n"
    )
    project.write_text(project.read_text().replace("suites:\n", "suites:\n  embedded: {role: target, tasks: [embedded]}\n"))
    return project


def test_embedded_options_end_to_end_with_compare(cli, tmp_path):
    project = _embedded_project(tmp_path)
    code, out, err = cli("validate", "--config", project)
    assert code == 0, out + err
    code, out, err = cli("compare", "base", "ft", "--suite", "embedded", "--config", project, "--output", tmp_path / "out")
    assert code == 0, out + err
    task = json.loads((tmp_path / "out" / "compare.json").read_text())["comparisons"][0]["tasks"][0]
    accuracy = next(m for m in task["metrics"] if m["metric"] == "accuracy")
    # The base model's corpus states every capital: scored over the parsed options with the
    # letter mapped to the right one, it gets nearly all; a wrong mapping would be near chance.
    assert task["n"] == 24 and accuracy["base"] >= 0.9, accuracy
    samples = [json.loads(line) for line in (tmp_path / "out" / "runs" / "base" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 24
    by_id = {s["id"]: s for s in samples}
    for i in range(24):
        _, options, letter = _embedded(2 + i % 3, i)
        s = by_id[f"e{i}"]
        assert s["reference"] == options["ABCDE".index(letter)]
        assert s["response"] in options  # never an option the item does not have


def test_classification_options_from_a_template_limit_the_labels(tmp_path):
    rows = [{"id": "a", "m": "refund?", "allowed": ["billing", "other"], "gold": "billing"},
            {"id": "b", "m": "crash", "allowed": ["sync", "other"], "gold": "billing"}]
    path = _task(tmp_path, "type: classification\nlabels: [billing, sync, other]\nprompt: '{{ m }}'\nfields: {target: gold}\nchoices: '{{ allowed }}'\n", rows)
    with pytest.raises(DataError) as exc:
        load_items(load_task(path))
    assert ":2: target 'billing' is not among this item's options (sync, other)" in str(exc.value)
    rows[1]["gold"] = "sync"
    write_jsonl(tmp_path / "data.jsonl", rows)
    items = load_items(load_task(path))
    assert [it.choices for it in items] == [("billing", "other"), ("sync", "other")]


@pytest.mark.parametrize("body, key, words", [
    ("type: generate\nprompt: '{{ q }}'\nfields: {target: q}\nchoices: '{{ q }}'\n", "choices:", "only multiple_choice and classification"),
    ("type: perplexity\nfields: {text: q}\ntarget: '{{ q }}'\n", "target:", "has no target"),
])
def test_choices_or_target_on_a_task_type_without_them(tmp_path, body, key, words):
    path = _task(tmp_path, body, [{"id": "a", "q": "x"}])
    with pytest.raises(ConfigError) as exc:
        load_task(path)
    line = next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if ln.startswith(key))
    assert str(exc.value).startswith(f"{path}:{line}: ") and words in str(exc.value)
