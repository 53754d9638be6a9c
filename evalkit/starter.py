"""``evalkit init``: a commented starter evalkit.yaml and a task from the user's JSONL.

The task's fields are guessed from the records (the first key found of each list below that
every record has); the YAML says what was guessed so that a wrong guess is one edit away.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import DataError

PROMPT_KEYS = ("prompt", "input", "question", "instruction", "query", "problem", "text")
TARGET_KEYS = ("answer", "target", "reference", "label", "output", "completion", "solution", "gold")
CHOICE_KEYS = ("choices", "options", "endings")
ID_KEYS = ("id", "idx", "uid", "qid", "example_id")
MAX_LABELS = 10  # a target with this many distinct short values or fewer reads as a label set
SAMPLE_ROWS = 1000
FIRST_METRIC = {"generate": "exact_match", "classification": "accuracy", "multiple_choice": "accuracy"}


@dataclass(frozen=True)
class Guess:
    type: str
    prompt: str
    target: str
    choices: str | None
    id: str | None
    labels: tuple[str, ...] = ()


def _first(keys, common: set[str]) -> str | None:
    return next((k for k in keys if k in common), None)


def guess_fields(path: Path) -> tuple[Guess, int]:
    """(the guess, records read) from the first records of a JSONL file."""
    from evalkit.yamlio import iter_jsonl

    rows = []
    for _, obj in iter_jsonl(path, strict=True):
        rows.append(obj)
        if len(rows) >= SAMPLE_ROWS:
            break
    if not rows:
        raise DataError("no records; evalkit init needs a JSONL file with one JSON object per line", path=path)
    common = set(rows[0]).intersection(*rows[1:])
    prompt, target = _first(PROMPT_KEYS, common), _first(TARGET_KEYS, common)
    if prompt is None or target is None:
        missing = "prompt field (" + ", ".join(PROMPT_KEYS) + ")" if prompt is None else \
            "target field (" + ", ".join(TARGET_KEYS) + ")"
        raise DataError(f"cannot guess the task: no {missing} in every record (fields: {', '.join(sorted(common)) or 'none'}); "
                        "rename the field, or write the task YAML by hand (see the README's task section)", path=path)
    choices = _first(CHOICE_KEYS, {k for k in common if all(isinstance(r[k], list) for r in rows)})
    ident = _first(ID_KEYS, {k for k in common if len({str(r[k]) for r in rows}) == len(rows)})
    values = {str(r[target]) for r in rows}
    if choices is not None:
        return Guess("multiple_choice", prompt, target, choices, ident), len(rows)
    # a label set: few short values, each seen several times (answers to questions rarely repeat so)
    if len(values) <= MAX_LABELS and len(rows) >= 5 * len(values) and all(len(v) <= 40 for v in values):
        return Guess("classification", prompt, target, None, ident, tuple(sorted(values))), len(rows)
    return Guess("generate", prompt, target, None, ident), len(rows)


def task_yaml(name: str, data: str, guess: Guess, n: int) -> str:
    """The task file's text, commented."""
    prompt = "Question: {%s}\\nAnswer:" % guess.prompt if guess.prompt == "question" else "{%s}" % guess.prompt
    fields = {"id": guess.id, "target": guess.target}
    if guess.choices:
        fields["choices"] = guess.choices
    field_map = ", ".join(f"{k}: {v if v is not None else 'null'}" for k, v in fields.items())
    lines = [
        f"# Written by `evalkit init` from {data} (fields guessed from {n} records: check them).",
        f"name: {name}",
        f"type: {guess.type}  # generate | multiple_choice | classification | perplexity",
        f"data: {data}",
        f"fields: {{{field_map}}}  # id: null numbers the items by line",
        f'prompt: "{prompt}"  # {{field}} placeholders are filled from each record',
    ]
    if guess.type == "generate":
        lines += ['generation: {max_tokens: 64, stop: ["\\n"]}',
                  "normalize: [strip, lower, punctuation]  # applied to answer and reference before matching",
                  "metrics: [exact_match, f1]  # also: rouge_l, bleu, chrf"]
    elif guess.type == "classification":
        lines += [f"labels: [{', '.join(_quote(v) for v in guess.labels)}]", "metrics: [accuracy, macro_f1]"]
    else:
        lines += ["metrics: [accuracy, acc_norm]"]
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    import json

    return value if re.fullmatch(r"[A-Za-z0-9_.\- ]+", value) and not value[0].isspace() else json.dumps(value)


def project_yaml(config: dict[str, Any], task: str, command: str, metric: str = "METRIC") -> str:
    """evalkit.yaml with a comment on each part."""
    import yaml

    def block(key):
        return yaml.safe_dump({key: config[key]}, sort_keys=False, allow_unicode=True, width=100)

    gate = (f"#  - {{type: must_improve, task: {task}, metric: {metric}, min_effect: 0.05}}\n"
            f"#  - {{type: must_not_regress, task: forgetting, metric: accuracy, margin: 0.02}}  # a suite of probes\n")
    return (
        f"# evalkit project, written by: {command}\n"
        "# Next: `evalkit validate`, then `evalkit compare base ft` (add --limit 20 for a smoke test).\n\n"
        "seed: 1234  # every resampling and sampling draws from it; recorded in the results\n\n"
        "# Task files (globs are relative to this file); each says where its data is and how to score it.\n"
        + block("tasks")
        + "\n# Suites group tasks: role target = what the fine-tune is for; role forgetting = what it must not lose\n"
        "# (add general probes there, e.g. lm-eval:arc_easy or the preset general_forgetting).\n"
        + block("suites")
        + "\n# The models: backend hf (local or hub checkpoint, adapter: a PEFT folder), openai (API, also\n"
        "# vLLM or any OpenAI-compatible server via base_url), ngram (the built-in demo model), lm-eval.\n"
        + block("models")
        + "\n# Gates for CI (`evalkit compare base ft --gate`): uncomment and set the numbers.\n"
        "# gates:\n" + gate
    )


def data_reference(data: Path, tasks_dir: Path) -> str | None:
    """The data path as the task file names it, when the file lies inside the project; None
    when it must be copied in (a project should not point outside its folder)."""
    root = tasks_dir.parent.resolve()
    src = data.resolve()
    if src.is_relative_to(root):
        return os.path.relpath(src, tasks_dir.resolve())
    return None
