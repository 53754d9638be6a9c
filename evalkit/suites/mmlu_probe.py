"""``mmlu-dev-probe``: an offline general-knowledge probe from real MMLU questions.

lm-eval ships the MMLU development questions of all 57 subjects, with their answers, inside
its chain-of-thought few-shot prompts (``tasks/mmlu/flan_cot_fewshot/_cot_prompts.json``).
This module parses them at run time into a multiple-choice task (question, four choices, the
answer's index): no download, and no copy of the data in this repository. Blocks that do not
parse cleanly (five options, a missing answer, options that cannot be separated) are skipped
and counted in the task's description.

Items are scored like MMLU's cloze form: the log-likelihood of each choice's text after
"Answer:", so ``accuracy`` and ``acc_norm`` apply; ``group`` is the subject (items of one
subject are not independent).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import ConfigError, MissingExtra

NAME = "mmlu-dev-probe"
RELATIVE = Path("tasks") / "mmlu" / "flan_cot_fewshot" / "_cot_prompts.json"
PARSER_VERSION = "1"
_BLOCK = re.compile(r"(?:^|\n\n)Q: ")
_ANSWER = re.compile(r"answer is \(?([A-J])\)", re.IGNORECASE)
_OPTION = re.compile(r"\(([A-J])\)\s")


@dataclass(frozen=True)
class ParseReport:
    items: list[dict]
    seen: int
    skipped: int


def source_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("lm_eval")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra("lm_eval", "lm-eval")
    path = Path(next(iter(spec.submodule_search_locations))) / RELATIVE
    if not path.is_file():
        raise ConfigError(f"{NAME}: this lm-eval version has no {RELATIVE.as_posix()}")
    return path


def _options(question_part: str) -> tuple[str, list[str]] | None:
    """(question, [A, B, C, D]) from the text before the answer, or None."""
    marks = list(_OPTION.finditer(question_part))
    # The last "(A)" that is followed by (B), (C), (D) in order starts the options.
    for start in range(len(marks) - 1, -1, -1):
        if marks[start].group(1) != "A":
            continue
        seq = marks[start:]
        letters = [m.group(1) for m in seq]
        if letters != ["A", "B", "C", "D"]:
            continue
        question = question_part[: seq[0].start()].strip()
        bounds = [m.start() for m in seq] + [len(question_part)]
        choices = [question_part[seq[i].end() : bounds[i + 1]].strip() for i in range(4)]
        if question and all(choices) and len(set(choices)) == 4:
            return question, choices
        return None
    return None


def parse(prompts: dict[str, str]) -> ParseReport:
    items: list[dict] = []
    seen = skipped = 0
    known: set[tuple] = set()
    for subject in sorted(prompts):
        text = prompts[subject]
        if not isinstance(text, str):
            continue
        blocks = _BLOCK.split(text)[1:]
        for k, block in enumerate(blocks):
            seen += 1
            cut = block.find("\nA:")
            answers = _ANSWER.findall(block[cut:]) if cut >= 0 else []
            parsed = _options(block[:cut]) if cut >= 0 else None
            if parsed is None or not answers or answers[-1].upper() not in "ABCD":
                skipped += 1
                continue
            question, choices = parsed
            key = (question, tuple(choices))
            if key in known:
                skipped += 1
                continue
            known.add(key)
            items.append({
                "id": f"{subject}-{k}",
                "subject": subject,
                "topic": subject.replace("_", " "),
                "question": question,
                "choices": choices,
                "answer": "ABCD".index(answers[-1].upper()),
            })
    return ParseReport(items, seen, skipped)


def build_spec(cache_dir: Path):
    """The probe's TaskSpec; its JSONL is written under ``cache_dir`` (named by a hash of the
    source file and this parser), never into the project."""
    from evalkit.suites.spec import TaskSpec

    src = source_file()
    raw = src.read_bytes()
    digest = hashlib.sha256(raw + PARSER_VERSION.encode()).hexdigest()[:16]
    data = Path(cache_dir).expanduser().resolve() / "builtin" / f"{NAME}-{digest}.jsonl"
    try:
        prompts = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{NAME}: cannot read {src}: {exc}") from None
    report = parse(prompts if isinstance(prompts, dict) else {})
    if not report.items:
        raise ConfigError(f"{NAME}: no question could be parsed from {src}")
    if not data.is_file():
        data.parent.mkdir(parents=True, exist_ok=True)
        tmp = data.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in report.items), encoding="utf-8")
        tmp.replace(data)
    return TaskSpec(
        name=NAME,
        type="multiple_choice",
        description=(
            f"MMLU development questions from lm-eval's package ({len(report.items)} of {report.seen} parsed, "
            f"{report.skipped} skipped)"
        ),
        data=data,
        fields={"id": "id", "target": "answer", "choices": "choices", "group": "subject"},
        prompt="The following is a multiple choice question about {topic}.\n\n{question}\nAnswer:",
    )
