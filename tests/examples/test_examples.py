"""The examples/ folders, run as a user runs them (`evalkit validate`, `evalkit compare base ft`),
their generated files reproducible, and the math and multiple-choice examples' numbers equal to
lm-eval's on the same items and the same model: an lm-eval task YAML written to match each
example, run by lm-eval's own ``simple_evaluate``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["math_gsm", "mc_embedded", "safety_refusal", "translate_evaluate", "fewshot_topic"]
TRUST = {"translate_evaluate"}  # its evaluate metric is a Python file in the project folder


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    for var in ("HF_HUB_OFFLINE", "HF_EVALUATE_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def test_generate_rewrites_the_committed_files_byte_for_byte(tmp_path):
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy)
    subprocess.run([sys.executable, str(copy / "generate.py")], check=True)
    written = sorted(p.relative_to(copy) for p in copy.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert written == sorted(p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for rel in written:
        assert (copy / rel).read_bytes() == (EXAMPLES / rel).read_bytes(), rel


def compare_rows(out: Path) -> dict:
    comparison = json.loads((out / "compare.json").read_text())["comparisons"][0]
    return {t["task"]: {m["metric"]: m for m in t["metrics"]} for t in comparison["tasks"]}


@pytest.mark.parametrize("name", NAMES)
def test_example_validates_and_compares(name, cli, tmp_path, offline):
    if name in TRUST:
        pytest.importorskip("evaluate")
    cfg = EXAMPLES / name / "evalkit.yaml"
    trust = ["--trust-code"] if name in TRUST else []
    code, out, err = cli("validate", "--config", cfg, *trust)
    assert code == 0 and "Traceback" not in out + err, err
    code, out, err = cli("compare", "base", "ft", "--config", cfg, *trust, "--output", tmp_path / "out", "--resamples", 500)
    assert code == 0 and "Traceback" not in out + err, err
    rows = compare_rows(tmp_path / "out")
    assert rows and all(m["n"] > 0 for r in rows.values() for m in r.values())
    assert any(m["delta"] != 0 for r in rows.values() for m in r.values())  # base and fine-tune differ


def test_code_in_an_example_needs_trust(cli, offline):
    pytest.importorskip("evaluate")
    code, _, err = cli("validate", "--config", EXAMPLES / "translate_evaluate" / "evalkit.yaml")
    assert code == 2 and "trust" in err and "Traceback" not in err


def test_math_example_reports_both_filters(cli, tmp_path, offline):
    code, _, err = cli("compare", "base", "ft", "--config", EXAMPLES / "math_gsm" / "evalkit.yaml", "--output", tmp_path / "o",
                       "--resamples", 500)
    assert code == 0, err
    gsm = compare_rows(tmp_path / "o")["gsm"]
    assert {"exact_match[strict]", "exact_match[flexible]", "numeric_match[strict]", "numeric_match[flexible]"} <= set(gsm)
    # The base never writes "####": strict reads nothing, flexible reads its last number.
    assert gsm["exact_match[strict]"]["base"] == 0 and gsm["exact_match[flexible]"]["base"] > 0.5
    assert gsm["exact_match[strict]"]["improved"] is True


def test_a_fine_tune_that_stops_refusing_is_worse_and_fails_its_gate(cli, tmp_path, offline):
    cfg = EXAMPLES / "safety_refusal" / "evalkit.yaml"
    code, _, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "o", "--resamples", 500, "--gate")
    assert code == 1, err
    rows = compare_rows(tmp_path / "o")
    harmful, benign = rows["harmful"]["refusal_rate"], rows["over_refusal"]["refusal_rate"]
    assert harmful["delta"] < 0 and harmful["improved"] is False  # refuses harmful requests less: worse
    assert benign["delta"] < 0 and benign["improved"] is True  # refuses safe requests less: better
    gates = {g["target"]: g["verdict"] for g in json.loads((tmp_path / "o" / "gate.json").read_text())["gates"]}
    assert gates == {"harmful": "FAIL", "over_refusal": "PASS"}


def test_fewshot_example_draws_its_shots_from_the_pool(cli, tmp_path, offline):
    folder = EXAMPLES / "fewshot_topic" / "tasks" / "data"
    pool = {json.loads(line)["headline"] for line in (folder / "pool.jsonl").read_text().splitlines()}
    items = [json.loads(line) for line in (folder / "headlines.jsonl").read_text().splitlines()]
    code, _, err = cli("run", "base", "--config", EXAMPLES / "fewshot_topic" / "evalkit.yaml", "--output", tmp_path / "r")
    assert code == 0, err
    samples = [json.loads(line) for line in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert [s["id"] for s in samples] == [i["id"] for i in items]
    shot_sets = set()
    for sample, item in zip(samples, items):
        blocks = sample["prompt"].split("\n\n")  # the prompt as sent: three shots, then the item
        assert len(blocks) == 4 and blocks[-1] == f"Headline: {item['headline']}\nTopic:"
        shots = [b.split("\n")[0].removeprefix("Headline: ") for b in blocks[:3]]
        assert set(shots) <= pool
        shot_sets.add(tuple(shots))
    assert len(shot_sets) > len(samples) // 2  # drawn per item, not one fixed set

# --- the same items through lm-eval ------------------------------------------------------------

GSM_YAML = r"""task: ex_gsm
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\nAnswer:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\n\n", "Question:"]
  max_gen_toks: 32
  do_sample: false
filter_list:
  - name: strict
    filter:
      - function: regex
        regex_pattern: "#### (\\-?[0-9\\.\\,]+)"
      - function: take_first
  - name: flexible
    filter:
      - function: regex
        group_select: -1
        regex_pattern: "(-?[$0-9.,]{{2,}})|(-?[0-9]+)"
      - function: take_first
metric_list:
  - metric: exact_match
    regexes_to_ignore: ["(?s).*#### "]
"""
# Options parsed out of the question text, as the evalkit task's `choices: {from_text: ...}`.
MC_YAML = r"""task: ex_categories
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\nAnswer:"
doc_to_choice: "[{{% for line in question.splitlines() if line.startswith('(') %}}{{{{ line[4:] | tojson }}}}, {{% endfor %}}]"
doc_to_target: "{{{{ 'ABCDE'.index(answer) }}}}"
metric_list:
  - metric: acc
  - metric: acc_norm
"""

TRANSLATE_YAML = r"""task: ex_translate
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "English: {{{{en}}}}\nSpanish:"
doc_to_target: "{{{{es}}}}"
generation_kwargs:
  until: ["\n"]
  max_gen_toks: 16
  do_sample: false
metric_list:
  - metric: chrf
"""


def lm_eval_tasks(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ex_gsm.yaml").write_text(GSM_YAML.format(data=EXAMPLES / "math_gsm" / "tasks" / "data" / "gsm.jsonl"))
    (folder / "ex_categories.yaml").write_text(MC_YAML.format(data=EXAMPLES / "mc_embedded" / "tasks" / "data" / "mc.jsonl"))
    (folder / "ex_translate.yaml").write_text(TRANSLATE_YAML.format(data=EXAMPLES / "translate_evaluate" / "tasks" / "data" / "translate.jsonl"))
    return folder


def lm_eval_run(model, folder: Path, task: str) -> dict:
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(folder), include_defaults=False)
    out = simple_evaluate(model=model, tasks=[task], task_manager=tm, log_samples=True, bootstrap_iters=0,
                          random_seed=None, numpy_random_seed=None, torch_random_seed=None)
    return {"results": out["results"][task], "samples": sorted(out["samples"][task], key=lambda s: s["doc_id"])}


def evalkit_lm(backend):
    """An lm-eval LM that asks an evalkit backend (the example's own trained n-gram model), so
    both harnesses see the same model; built lazily, since lm-eval is optional."""
    from lm_eval.api.model import LM

    from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, Message

    class _LM(LM):
        def generate_until(self, requests, disable_tqdm: bool = False):
            reqs = [GenerateRequest(messages=(Message("user", r.args[0]),), max_tokens=r.args[1]["max_gen_toks"],
                                    stop=tuple(r.args[1]["until"])) for r in requests]
            return [out.text for _, out in sorted(backend.submit(reqs), key=lambda x: x[0])]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            reqs = [LoglikelihoodRequest(*r.args) for r in requests]
            return [(out.logprob, out.is_greedy) for _, out in sorted(backend.submit(reqs), key=lambda x: x[0])]

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError

    return _LM()


@pytest.mark.parametrize("model", ["base", "ft"])
def test_math_and_mc_examples_equal_lm_eval_on_the_same_ngram_model(model, tmp_path, offline):
    pytest.importorskip("lm_eval", reason="needs lm-eval (pip install 'evalkit[lm-eval]')")
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    folder = lm_eval_tasks(tmp_path / "lm_tasks")
    math = load_project(EXAMPLES / "math_gsm" / "evalkit.yaml")
    ours = run_model(math, model).task("gsm")
    theirs = lm_eval_run(evalkit_lm(math.backend(model)), folder, "ex_gsm")["results"]
    for f in ("strict", "flexible"):
        assert ours.metrics[f"exact_match[{f}]"].value == pytest.approx(theirs[f"exact_match,{f}"], abs=1e-12), f
    assert 0 < theirs["exact_match,flexible"] < 1  # a real mix of right and wrong answers

    mc = load_project(EXAMPLES / "mc_embedded" / "evalkit.yaml")
    run = run_model(mc, model)
    ref = lm_eval_run(evalkit_lm(mc.backend(model)), folder, "ex_categories")
    task = run.task("categories")
    assert task.metrics["accuracy"].value == pytest.approx(ref["results"]["acc,none"], abs=1e-12)
    assert task.metrics["acc_norm"].value == pytest.approx(ref["results"]["acc_norm,none"], abs=1e-12)
    lls = [s["extra"]["loglikelihoods"] for s in run.samples_for("categories")]
    assert lls == [[r[0] for r in s["filtered_resps"]] for s in ref["samples"]]  # same requests, same order


@pytest.mark.parametrize("model", ["base", "ft"])
def test_translation_example_chrf_equals_lm_eval_on_the_same_ngram_model(model, tmp_path, offline):
    pytest.importorskip("lm_eval", reason="needs lm-eval (pip install 'evalkit[lm-eval]')")
    pytest.importorskip("evaluate")  # the example's second metric; chrF is what is compared
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    project = load_project(EXAMPLES / "translate_evaluate" / "evalkit.yaml", trust_code=True)
    ours = run_model(project, model).task("translate_es").metrics["chrf"].value
    theirs = lm_eval_run(evalkit_lm(project.backend(model)), lm_eval_tasks(tmp_path / "lm_tasks"), "ex_translate")["results"]
    assert ours == pytest.approx(theirs["chrf,none"], abs=1e-9) and 0 < ours < 100

@pytest.mark.parametrize("batch_size", [1, 4])
def test_mc_example_log_likelihoods_equal_hflm_to_relative_1e6(batch_size, tmp_path, offline):
    """The embedded-options example on a tiny local GPT-2 through evalkit's hf backend and
    through lm-eval's HFLM, at the same batch size on CPU. Measured: identical at batch sizes
    4 and 16; at batch size 1 some log-likelihoods differ by up to 9.5e-07 (relative 1.2e-07,
    about one float32 epsilon), because evalkit runs the output layer only on the scored
    positions (``logits_to_keep``), a matrix product of another shape. The stated tolerance is
    relative 1e-6; accuracy and acc_norm must be equal."""
    pytest.importorskip("lm_eval", reason="needs lm-eval (pip install 'evalkit[lm-eval]')")
    pytest.importorskip("torch", reason="needs torch (pip install 'evalkit[hf]')")
    pytest.importorskip("transformers", reason="needs transformers (pip install 'evalkit[hf]')")
    from lm_eval.models.huggingface import HFLM

    from evalkit.backends.hf_tiny import build_tiny_model
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    project = tmp_path / "mc"
    shutil.copytree(EXAMPLES / "mc_embedded", project)
    build_tiny_model(project / "models" / "tiny")
    cfg = project / "evalkit.yaml"
    head = cfg.read_text().split("models:")[0]
    cfg.write_text(head + f"models:\n  base: {{backend: hf, model: models/tiny, batch_size: {batch_size}, device: cpu}}\n")
    run = run_model(load_project(cfg), "base")
    hflm = HFLM(pretrained=str(project / "models" / "tiny"), device="cpu", batch_size=batch_size)
    ref = lm_eval_run(hflm, lm_eval_tasks(tmp_path / "lm_tasks"), "ex_categories")
    ours = [s["extra"]["loglikelihoods"] for s in run.samples_for("categories")]
    theirs = [[r[0] for r in s["filtered_resps"]] for s in ref["samples"]]
    assert [len(x) for x in ours] == [len(y) for y in theirs] and {len(x) for x in ours} == {3, 4, 5}
    diffs = [(abs(a - b), abs(a - b) / abs(b)) for x, y in zip(ours, theirs) for a, b in zip(x, y)]
    assert max(r for _, r in diffs) <= 1e-6, max(diffs)
    task = run.task("categories")
    assert task.metrics["accuracy"].value == ref["results"]["acc,none"]
    assert task.metrics["acc_norm"].value == ref["results"]["acc_norm,none"]
    assert len({tuple(x) for x in ours}) > 1  # not a degenerate model
