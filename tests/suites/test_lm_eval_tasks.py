"""lm-eval tasks in evalkit suites (through lm-eval's real task machinery, offline, on local
YAML + JSONL), lm-eval's numbers reproduced by the hf backend, the forgetting preset, the
MMLU probe, and the end-to-end compare of a local checkpoint with its LoRA fine-tune."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import make_project, write_jsonl

from evalkit.errors import ConfigError
from evalkit.suites.lm_eval_spec import LmEvalTask, parse_entry


def test_suite_entries_parse_strictly():
    assert parse_entry("lm-eval:arc_easy") == LmEvalTask("lm-eval:arc_easy", "arc_easy")
    t = parse_entry("lm-eval:arc_easy?limit=100&seed=1&num_fewshot=5")
    assert (t.name, t.limit, t.seed, t.num_fewshot) == ("lm-eval:arc_easy", 100, 1, 5)
    for bad in ("lm-eval:", "lm-eval:arc easy", "lm-eval:arc?limit=x", "lm-eval:arc?limit=0", "lm-eval:arc?seed=1",
                "lm-eval:arc?shots=5", "lm-eval:arc?limit=1&limit=2", "lm-eval:arc?junk"):
        with pytest.raises(ConfigError):
            parse_entry(bad)


# --- everything below runs lm-eval ------------------------------------------------------------

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval tasks need lm-eval (pip install 'evalkit[lm-eval]')")

CAPITALS = [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Norway", "Oslo"), ("Peru", "Lima"), ("Egypt", "Cairo")]

MC_YAML = """task: tiny_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: What is the capital of {{{{country}}}}?\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
  - metric: acc_norm
"""
PPL_YAML = """task: tiny_ppl
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{text}}}}"
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
"""
GEN_YAML = """task: tiny_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: What is the capital of {{{{country}}}}?\\nAnswer:"
doc_to_target: "{{{{city}}}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
  do_sample: false
metric_list:
  - metric: exact_match
"""


def write_lm_eval_tasks(folder: Path) -> Path:
    """Three lm-eval task YAMLs (multiple choice, rolling perplexity, generation) with JSONL
    data given by absolute path, as lm-eval's offline json loader wants it."""
    folder.mkdir(parents=True, exist_ok=True)
    mc, gen = [], []
    for i in range(24):
        country, city = CAPITALS[i % 6]
        others = [k for _, k in CAPITALS if k != city][i % 3 :][:3]
        choices = others[: i % 4] + [city] + others[i % 4 :]
        mc.append({"country": country, "choices": choices, "label": choices.index(city)})
        gen.append({"country": country, "city": city})
    docs = [{"text": f"The capital of {c} is {k}. " * (1 + i % 7) + "People travel there by train."} for i, (c, k) in enumerate(CAPITALS * 2)]
    for name, rows, yaml in (("mc", mc, MC_YAML), ("ppl", docs, PPL_YAML), ("gen", gen, GEN_YAML)):
        write_jsonl(folder / f"{name}.jsonl", rows)
        (folder / f"{name}.yaml").write_text(yaml.format(data=(folder / f"{name}.jsonl").resolve()))
    # The same multiple-choice data as an evalkit task file, to compare the two harnesses.
    write_jsonl(folder.parent / "tasks" / "data" / "mc_same.jsonl", [dict(r, id=i) for i, r in enumerate(mc)])
    (folder.parent / "tasks" / "mc_same.yaml").write_text(
        "name: mc_same\ntype: multiple_choice\ndata: data/mc_same.jsonl\nfields: {target: label}\n"
        'prompt: "Question: What is the capital of {country}?\\nAnswer:"\n'
    )
    return folder


def project_with(tmp_path: Path, models: str, suites: str, extra: str = "") -> Path:
    cfg = make_project(tmp_path, models)
    write_lm_eval_tasks(tmp_path / "lm_tasks")
    text = cfg.read_text()
    head, _, tail = text.partition("suites:\n")
    _, _, models_part = tail.partition("models:\n")
    cfg.write_text(f"{head}suites:\n{suites}models:\n{models_part}lm_eval: {{include_path: [lm_tasks], include_defaults: false}}\n{extra}")
    return cfg


def test_any_backend_runs_lm_eval_tasks_and_caches_them(tmp_path):
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    cfg = project_with(tmp_path, None, "  general: {role: forgetting, tasks: [mc, 'lm-eval:tiny_mc', 'lm-eval:tiny_ppl', 'lm-eval:tiny_gen']}\n")
    run = run_model(load_project(cfg), "base")
    mc, ppl, gen = run.task("lm-eval:tiny_mc"), run.task("lm-eval:tiny_ppl"), run.task("lm-eval:tiny_gen")
    assert (mc.n, ppl.n, gen.n) == (24, 12, 24) and all(t.status == "ok" for t in (mc, ppl, gen))
    assert set(mc.metrics) == {"accuracy", "acc_norm"} and set(ppl.metrics) == {"word_perplexity", "bits_per_byte"}
    assert set(gen.metrics) == {"exact_match"} and mc.data_sha256 and 0 < mc.requests <= 24 * 4  # distinct requests
    s = run.samples_for("lm-eval:tiny_mc")[0]
    assert s["id"] == "0" and s["prompt"].startswith("Question: What is the capital of France") and s["reference"] == "Paris"
    assert s["stats"]["accuracy"][1] == 1.0 and len(s["extra"]["loglikelihoods"]) == 4
    p = run.samples_for("lm-eval:tiny_ppl")[0]
    assert p["stats"]["bits_per_byte"][1] == len(p["prompt"].encode()) and p["stats"]["bits_per_byte"][0] > 0
    again = run_model(load_project(cfg), "base")
    lm_tasks = [t for t in again.tasks if t.task.startswith("lm-eval:")]
    assert all(t.cache_hits == t.requests > 0 for t in lm_tasks)
    assert [x["metrics"] for x in again.samples] == [x["metrics"] for x in run.samples]


def test_limit_with_seed_draws_a_reproducible_subset(tmp_path):
    from evalkit.config import load_project
    from evalkit.runner.run import RunOptions, run_model

    suites = ("  a: {tasks: ['lm-eval:tiny_mc?limit=5&seed=1']}\n  b: {tasks: ['lm-eval:tiny_gen?limit=5&seed=2']}\n"
              "  c: {tasks: ['lm-eval:tiny_ppl?limit=3']}\n")
    cfg = project_with(tmp_path, None, suites)
    run = run_model(load_project(cfg), "base")
    ids = [s["id"] for s in run.samples_for("lm-eval:tiny_mc")]
    assert len(ids) == 5 and ids != ["0", "1", "2", "3", "4"]
    assert ids == [s["id"] for s in run_model(load_project(cfg), "ft").samples_for("lm-eval:tiny_mc")]
    assert ids != [s["id"] for s in run.samples_for("lm-eval:tiny_gen")]
    assert [s["id"] for s in run.samples_for("lm-eval:tiny_ppl")] == ["0", "1", "2"]
    smoke = run_model(load_project(cfg), "base", RunOptions(limit=2))
    assert len(smoke.samples_for("lm-eval:tiny_mc")) == 2 and len(smoke.samples_for("lm-eval:tiny_ppl")) == 2


def test_missing_request_kinds_skip_and_backend_errors_are_not_scores(tmp_path):
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    models = "  chat: {backend: 'fakes:GenerateOnly', answer: Paris}\n  flaky: {backend: 'fakes:GenerateOnly', fail_every: 3, answer: Paris}\n"
    cfg = project_with(tmp_path, models, "  g: {tasks: ['lm-eval:tiny_ppl', 'lm-eval:tiny_gen']}\n")
    chat = run_model(load_project(cfg), "chat")
    assert chat.task("lm-eval:tiny_ppl").status == "skipped"
    assert chat.task("lm-eval:tiny_ppl").reason == "generate-only cannot loglikelihood_rolling"
    assert chat.task("lm-eval:tiny_gen").metrics["exact_match"].value == pytest.approx(4 / 24)
    flaky = run_model(load_project(cfg), "flaky")
    gen = flaky.task("lm-eval:tiny_gen")
    errors = [s for s in flaky.samples_for("lm-eval:tiny_gen") if s["status"] == "error"]
    assert 0 < gen.n_errors == len(errors) and not flaky.complete and all(s["stats"] == {} for s in errors)


def test_unknown_lm_eval_task_and_name_clashes(tmp_path):
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    cfg = project_with(tmp_path, None, "  g: {tasks: ['lm-eval:no_such_task']}\n")
    run = run_model(load_project(cfg), "base")
    assert run.task("lm-eval:no_such_task").reason == "lm-eval has no task 'no_such_task'"
    clash = project_with(tmp_path / "2", None, "  g: {tasks: ['lm-eval:tiny_mc', 'lm-eval:tiny_mc?limit=3']}\n")
    with pytest.raises(ConfigError, match="both lm-eval:tiny_mc"):
        load_project(clash)


def test_a_dataset_that_cannot_be_fetched_is_one_line_and_never_hangs(tmp_path, monkeypatch):
    from evalkit.suites import lm_eval_run
    from evalkit.suites.lm_eval_spec import LmEvalSettings

    with pytest.raises(lm_eval_run.Unavailable, match="more than 0.2 s"):
        t = time.perf_counter()
        lm_eval_run._timeboxed(lambda: time.sleep(3), 0.2)
    assert time.perf_counter() - t < 1.5
    folder = write_lm_eval_tasks(tmp_path / "lm_tasks")
    (folder / "remote.yaml").write_text("task: remote_only\ndataset_path: evalkit-test/not-a-dataset\noutput_type: multiple_choice\n"
                                        "test_split: test\ndoc_to_text: q\ndoc_to_choice: [a, b]\ndoc_to_target: 0\n")
    settings = LmEvalSettings(include_path=[str(folder)], include_defaults=False)
    monkeypatch.setattr(lm_eval_run, "_hub_reachable", lambda timeout=3.0: False)
    import os

    import huggingface_hub.constants

    before, before_flag = os.environ.get("HF_HUB_OFFLINE"), huggingface_hub.constants.HF_HUB_OFFLINE
    with pytest.raises(lm_eval_run.Unavailable, match="offline: dataset not in the local"):
        lm_eval_run.load_tasks(parse_entry("lm-eval:remote_only"), settings, tmp_path)
    with pytest.raises(lm_eval_run.Unavailable, match="download: false"):
        lm_eval_run.load_tasks(parse_entry("lm-eval:remote_only"), settings.model_copy(update={"download": False}), tmp_path)
    import os

    import huggingface_hub.constants

    assert os.environ.get("HF_HUB_OFFLINE") == before and huggingface_hub.constants.HF_HUB_OFFLINE == before_flag  # restored


def test_forgetting_preset_offline_says_one_line_per_task_and_runs_the_probes(tmp_path, cli, monkeypatch):
    from evalkit.suites import lm_eval_run

    cfg = make_project(tmp_path / "p")
    text = cfg.read_text().replace("  forgetting: {role: forgetting, tasks: [mc, ppl]}\n", "  forgetting: {preset: forgetting-standard, tasks: [mc]}\n")
    cfg.write_text(text)
    monkeypatch.setattr(lm_eval_run, "_hub_reachable", lambda timeout=3.0: False)  # hermetic, whatever CI can reach
    started = time.perf_counter()
    code, out, err = cli("run", "base", "--suite", "forgetting", "--limit", "20", "--output", tmp_path / "run", cwd=tmp_path / "p")
    assert code == 0 and "Traceback" not in out + err
    assert time.perf_counter() - started < 60
    for task in ("hellaswag", "arc_challenge", "winogrande", "mmlu"):
        lines = [line for line in out.splitlines() if f"lm-eval:{task} " in line]
        assert len(lines) == 1 and "skipped" in lines[0] and "offline" in lines[0], out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    ran = {t["task"]: t for t in results["tasks"]}
    assert ran["mmlu-dev-probe"]["status"] == "ok" and ran["mmlu-dev-probe"]["n"] == 20 and ran["mc"]["status"] == "ok"
    assert all(t["role"] == "forgetting" for t in results["tasks"])


def test_mmlu_dev_probe_is_parsed_from_lm_eval_at_run_time(tmp_path):
    from evalkit.suites import mmlu_probe
    from evalkit.suites.items import load_items

    report = mmlu_probe.parse(json.loads(mmlu_probe.source_file().read_text()))
    assert len(report.items) >= 250 and len({i["subject"] for i in report.items}) == 57
    assert report.seen == len(report.items) + report.skipped and report.skipped <= 10
    assert all(len(i["choices"]) == 4 and 0 <= i["answer"] < 4 for i in report.items)
    broken = {"x": "The following are...\n\nQ: fine?\n(A) a (B) b (C) c (D) d\nA: Let's think. The answer is (B).\n\n"
                   "Q: five options\n(A) a (B) b (C) c (D) d (E) e\nA: The answer is (E).\n\nQ: no answer\n(A) a (B) b (C) c (D) d\nA: hmm",
              "y": 42}
    small = mmlu_probe.parse(broken)
    assert [i["answer"] for i in small.items] == [1] and (small.seen, small.skipped) == (3, 2)
    spec = mmlu_probe.build_spec(tmp_path / "cache")
    assert spec.data_path.is_relative_to((tmp_path / "cache").resolve())
    assert len(load_items(spec)) == len(report.items) and "skipped" in spec.description


def test_hf_backend_reproduces_lm_eval_hflm_numbers(tmp_path):
    pytest.importorskip("torch", reason="needs torch (pip install 'evalkit[hf]')")
    pytest.importorskip("transformers", reason="needs transformers (pip install 'evalkit[hf]')")
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from evalkit.backends.hf_tiny import build_tiny_model
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    build_tiny_model(tmp_path / "models" / "base", n_positions=32)  # short: documents span several windows
    models = "  base: {backend: hf, model: models/base, batch_size: 4, device: cpu}\n  ft: {backend: hf, model: models/base, batch_size: 4, device: cpu}\n"
    cfg = project_with(tmp_path, models, "  g: {tasks: [mc_same, 'lm-eval:tiny_mc', 'lm-eval:tiny_ppl']}\n")
    run = run_model(load_project(cfg), "base")
    hflm = HFLM(pretrained=str(tmp_path / "models" / "base"), device="cpu", batch_size=4)
    tm = TaskManager(include_path=str(tmp_path / "lm_tasks"), include_defaults=False)
    ref = {}
    for task in ("tiny_mc", "tiny_ppl"):  # one call per task: lm-eval batches a call's requests together
        out = simple_evaluate(model=hflm, tasks=[task], task_manager=tm, log_samples=True, bootstrap_iters=0,
                              random_seed=None, numpy_random_seed=None, torch_random_seed=None)
        ref.update(out["results"])
        ref[task + "/samples"] = out["samples"][task]
    mc, ppl = run.task("lm-eval:tiny_mc"), run.task("lm-eval:tiny_ppl")
    assert mc.metrics["accuracy"].value == pytest.approx(ref["tiny_mc"]["acc,none"], abs=1e-6)
    assert mc.metrics["acc_norm"].value == pytest.approx(ref["tiny_mc"]["acc_norm,none"], abs=1e-6)
    assert ppl.metrics["bits_per_byte"].value == pytest.approx(ref["tiny_ppl"]["bits_per_byte,none"], abs=1e-6)
    assert ppl.metrics["word_perplexity"].value == pytest.approx(ref["tiny_ppl"]["word_perplexity,none"], rel=1e-6)
    ours = [s["extra"]["loglikelihoods"] for s in run.samples_for("lm-eval:tiny_mc")]
    theirs = [[r[0] for r in s["filtered_resps"]] for s in sorted(ref["tiny_mc/samples"], key=lambda s: s["doc_id"])]
    assert max(abs(a - b) for x, y in zip(ours, theirs) for a, b in zip(x, y)) <= 1e-6
    assert 0 < mc.metrics["acc_norm"].value < 1 and len({tuple(x) for x in ours}) > 1  # not a degenerate model
    native = run.task("mc_same")  # evalkit's own multiple_choice task on the same data: the same scores
    assert native.metrics["accuracy"].value == pytest.approx(mc.metrics["accuracy"].value, abs=1e-6)
    assert native.metrics["acc_norm"].value == pytest.approx(mc.metrics["acc_norm"].value, abs=1e-6)


def test_compare_a_checkpoint_with_its_lora_fine_tune_end_to_end(tmp_path, cli):
    pytest.importorskip("torch", reason="needs torch (pip install 'evalkit[hf]')")
    pytest.importorskip("peft", reason="needs peft (pip install 'evalkit[hf]')")
    from evalkit.backends import hf_loading
    from evalkit.backends.hf_tiny import build_lora_adapter, build_tiny_model

    build_tiny_model(tmp_path / "models" / "base")
    build_lora_adapter(tmp_path / "models" / "base", tmp_path / "models" / "lora")
    models = ("  base: {backend: hf, model: models/base, batch_size: 8, device: cpu}\n"
              "  ft: {backend: hf, model: models/base, adapter: models/lora, batch_size: 8, device: cpu}\n")
    suites = ("  support: {role: target, tasks: [qa, intent, 'lm-eval:tiny_gen']}\n"
              "  forgetting: {role: forgetting, tasks: [mc, ppl, 'lm-eval:tiny_mc', 'lm-eval:tiny_ppl?limit=8']}\n")
    gates = "gates:\n  - {type: must_not_regress, task: 'lm-eval:tiny_mc', metric: accuracy, margin: 0.5, inconclusive: pass}\n"
    cfg = project_with(tmp_path, models, suites, gates)
    hf_loading.clear_loaded()
    loads = hf_loading.LOAD_COUNT["n"]
    code, out, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "cmp", "--resamples", 500, "--gate")
    assert code in (0, 1) and "Traceback" not in out + err, err
    assert hf_loading.LOAD_COUNT["n"] - loads == 1  # base weights loaded once, the adapter switched on and off
    comparison = json.loads((tmp_path / "cmp" / "compare.json").read_text())["comparisons"][0]
    rows = {t["task"]: t for t in comparison["tasks"]}
    assert set(rows) == {"qa", "intent", "lm-eval:tiny_gen", "mc", "ppl", "lm-eval:tiny_mc", "lm-eval:tiny_ppl"}
    assert all(t["status"] == "ok" for t in rows.values()) and rows["lm-eval:tiny_ppl"]["n"] == 8
    assert {m["metric"] for m in rows["lm-eval:tiny_mc"]["metrics"]} == {"accuracy", "acc_norm"}
    assert any(m["delta"] != 0 for m in rows["lm-eval:tiny_ppl"]["metrics"])  # the adapter changes the model
    assert "lm-eval:tiny_mc" in (tmp_path / "cmp" / "gate.json").read_text()
    code, _, err = cli("compare", "base", "ft", "--config", cfg, "--output", tmp_path / "again", "--resamples", 500)
    assert code == 0, err
    for model in ("base", "ft"):
        results = json.loads((tmp_path / "again" / "runs" / model / "results.json").read_text())
        assert all(t["cache_hits"] == t["requests"] for t in results["tasks"])


def test_validate_checks_lm_eval_task_names_without_fetching(tmp_path, cli):
    suites = "  general: {role: forgetting, tasks: [mc, 'lm-eval:tiny_mc']}\n"
    cfg = project_with(tmp_path, None, suites)
    code, out, err = cli("validate", "--config", cfg)
    assert code == 0 and "lm-eval:tiny_mc" in out, err
    cfg.write_text(cfg.read_text().replace("lm-eval:tiny_mc", "lm-eval:tiny_mcq"))
    code, _, err = cli("validate", "--config", cfg)
    assert code == 2 and "no task or group 'tiny_mcq'" in err and "did you mean: tiny_mc" in err
