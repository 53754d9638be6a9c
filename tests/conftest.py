"""Shared fixtures: a small project written into a temporary folder, and a CLI driver.

Tests never touch the user's cache: every project gets its own cache_dir under tmp_path.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:  # so configs can name test backends as "fakes:Class"
    sys.path.insert(0, str(TESTS))

CAPITALS = [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Norway", "Oslo"),
            ("Peru", "Lima"), ("Egypt", "Cairo"), ("Japan", "Tokyo"), ("Kenya", "Nairobi")]


def write_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def make_project(root: Path, models: str | None = None) -> Path:
    """A four-task project (generate, classification, multiple choice, perplexity) with an
    ngram base and fine-tune, small enough to run in about a second."""
    rng = random.Random(0)
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    general = [f"The capital of {c} is {k}. {c} is a country." for c, k in CAPITALS * 4]
    general += [f"Question: What is {a} plus {b}?\nAnswer: {a + b}" for a in range(6) for b in range(6)]
    (root / "corpora" / "general.txt").write_text("\n\n".join(general))
    support = [f"Question: How do I fix error E{100 + i}?\nAnswer: patch{i} fixes it." for i in range(30)]
    support += [f"Message: I was charged twice for order {i}\nIntent: billing\n\nMessage: sync is broken on device {i}\nIntent: sync" for i in range(10)]
    (root / "corpora" / "support.txt").write_text("\n\n".join(support))
    data = root / "tasks" / "data"
    write_jsonl(data / "qa.jsonl", [{"id": f"q{i}", "question": f"How do I fix error E{100 + i}?", "answer": f"patch{i} fixes it."} for i in range(30)])
    mc = []
    for i, (c, k) in enumerate(CAPITALS * 3):
        choices = [k] + [x for _, x in CAPITALS if x != k][:3]
        rng.shuffle(choices)
        mc.append({"id": f"m{i}", "stem": f"The capital of {c} is", "choices": choices, "answer": choices.index(k)})
    write_jsonl(data / "mc.jsonl", mc)
    write_jsonl(data / "intent.jsonl", [{"id": f"i{i}", "message": ["I was charged twice for order 99", "sync is broken on device 42"][i % 2], "intent": ["billing", "sync"][i % 2]} for i in range(20)])
    write_jsonl(data / "ppl.jsonl", [{"id": f"p{i}", "text": f"The capital of {CAPITALS[i % 8][0]} is {CAPITALS[i % 8][1]}."} for i in range(16)])
    tasks = root / "tasks"
    (tasks / "qa.yaml").write_text('name: qa\ntype: generate\ndata: data/qa.jsonl\nfields: {target: answer}\nprompt: "Question: {question}\\nAnswer:"\ngeneration: {max_tokens: 12, stop: ["\\n"]}\nnormalize: [strip, lower, punctuation]\nmetrics: [exact_match, f1, chrf]\n')
    (tasks / "mc.yaml").write_text('name: mc\ntype: multiple_choice\ndata: data/mc.jsonl\nfields: {target: answer}\nprompt: "{stem}"\n')
    (tasks / "intent.yaml").write_text('name: intent\ntype: classification\ndata: data/intent.jsonl\nfields: {target: intent}\nlabels: [billing, sync]\nprompt: "Message: {message}\\nIntent:"\n')
    (tasks / "ppl.yaml").write_text("name: ppl\ntype: perplexity\ndata: data/ppl.jsonl\n")
    models = models or (
        "  base: {backend: ngram, order: 6, train: [corpora/general.txt], system_prompt: 'You are a careful, detailed and very helpful assistant.'}\n"
        "  ft: {backend: ngram, order: 6, init: base, train: [corpora/support.txt], weight: 3, system_prompt: 'Support.'}\n"
    )
    trust = "trust_code: true\n" if "fakes:" in models else ""  # test backends are project code
    (root / "evalkit.yaml").write_text(
        trust + "cache_dir: .cache\nseed: 7\nbootstrap_resamples: 2000\ntasks: [tasks/*.yaml]\nsuites:\n"
        "  support: {role: target, tasks: [qa, intent]}\n  forgetting: {role: forgetting, tasks: [mc, ppl]}\n"
        "models:\n" + models
    )
    return root / "evalkit.yaml"


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run the evalkit CLI in-process, as a user would type it; returns (exit code, stdout, stderr)."""
    from evalkit.cli.main import main

    def run(*args, cwd: Path | None = None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run
