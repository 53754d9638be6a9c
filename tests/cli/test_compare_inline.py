"""``evalkit compare --base ... --ft ... --tasks ...``: the config the flags make is the one a
user would write, and a compare run from it gives the YAML compare's numbers."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import make_project

from evalkit.inline_config import parse_gate, parse_model

BASE = "ngram:corpora/general.txt+order=6+system_prompt=You are a careful, detailed and very helpful assistant."
FT = "ngram:corpora/support.txt+order=6+init=base+weight=3+system_prompt=Support."
FLAGS = ["--base", BASE, "--ft", FT, "--tasks", "tasks/qa.yaml,tasks/intent.yaml", "--forgetting", "tasks/mc.yaml,tasks/ppl.yaml"]


def _metrics(path):
    """{(task, metric): every number compare reports for it} of a compare.json."""
    data = json.loads(path.read_text())
    keys = ("base", "ft", "delta", "ci_low", "ci_high", "p_value", "p_adjusted", "n", "fixed", "broke")
    return {(t["task"], m["metric"]): tuple(m[k] for k in keys)
            for c in data["comparisons"] for t in c["tasks"] for m in t["metrics"]}


def test_the_config_free_command_reproduces_the_yaml_compare(cli, tmp_path, monkeypatch):
    root = tmp_path / "proj"
    make_project(root)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, _, err = cli("compare", "base", "ft", "--output", tmp_path / "yaml", cwd=root)
    assert code == 0, err
    (root / "evalkit.yaml").rename(root / "project.yaml")  # nothing to fall back on
    code, _, err = cli("compare", *FLAGS, "--seed", 7, "--resamples", 2000, "--output", tmp_path / "flags", cwd=root)
    assert code == 0, err
    want, got = _metrics(tmp_path / "yaml" / "compare.json"), _metrics(tmp_path / "flags" / "compare.json")
    assert {task for task, _ in want} == {"qa", "intent", "mc", "ppl"}
    assert got == want
    assert want[("qa", "exact_match")][2] != 0  # a comparison with something in it
    # the folder holds the config it ran with: it runs again as a YAML project
    written = yaml.safe_load((tmp_path / "flags" / "evalkit.yaml").read_text())
    assert set(written["models"]) == {"base", "ft"} and written["seed"] == 7


def test_print_config_writes_the_yaml_and_runs_nothing(cli, tmp_path, monkeypatch):
    root = tmp_path / "proj"
    make_project(root)
    (root / "evalkit.yaml").unlink()
    code, out, err = cli("compare", *FLAGS, "--gate-not-regress", "mc:accuracy:0.02", "--gate-improve", "qa:exact_match:0.1",
                         "--print-config", cwd=root)
    assert code == 0, err
    assert not (root / "evalkit-runs").exists()
    config = yaml.safe_load(out)
    assert config["models"]["ft"] == {"backend": "ngram", "train": ["corpora/support.txt"], "order": 6, "init": "base",
                                      "weight": 3, "system_prompt": "Support."}
    assert config["suites"] == {"target": {"role": "target", "tasks": ["qa", "intent"]},
                                "forgetting": {"role": "forgetting", "tasks": ["mc", "ppl"]}}
    assert config["gates"] == [{"type": "must_improve", "task": "qa", "metric": "exact_match", "min_effect": 0.1},
                               {"type": "must_not_regress", "task": "mc", "metric": "accuracy", "margin": 0.02}]
    # saved where it was printed, it is a valid project with those gates
    (root / "evalkit.yaml").write_text(out)
    from evalkit.config import load_project

    project = load_project(root / "evalkit.yaml")
    assert [g.type for g in project.gates] == ["must_improve", "must_not_regress"]


def test_gate_flags_evaluate_gates(cli, tmp_path, monkeypatch):
    root = tmp_path / "proj"
    make_project(root)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, _, err = cli("compare", *FLAGS, "--gate-min", "qa:exact_match:1.01", "--output", tmp_path / "out", cwd=root)
    assert code == 1, err  # no model scores above 1: the gate fails
    assert json.loads((tmp_path / "out" / "gate.json").read_text())


@pytest.mark.parametrize("text, entry", [
    ("hf:gpt2", {"backend": "hf", "model": "gpt2"}),
    ("hf:gpt2+adapter=./lora+dtype=float32", {"backend": "hf", "model": "gpt2", "adapter": "./lora", "dtype": "float32"}),
    ("openai:gpt-4o-mini", {"backend": "openai", "model": "gpt-4o-mini"}),
    ("openai:ft:gpt-4o-mini-2024-07-18:acme:support:AbC123",
     {"backend": "openai", "model": "ft:gpt-4o-mini-2024-07-18:acme:support:AbC123"}),
    ("openai:my+model+base_url=http://localhost:8000/v1", {"backend": "openai", "model": "my+model", "base_url": "http://localhost:8000/v1"}),
    ("ngram:a.txt,b.txt+order=3", {"backend": "ngram", "train": ["a.txt", "b.txt"], "order": 3}),
])
def test_model_strings(text, entry):
    assert parse_model(text) == entry


def test_the_demo_models_continue_the_base_they_name():
    demo = parse_model("ngram:demo")
    assert demo["backend"] == "ngram" and demo["model"] == "nimbus-base"
    assert parse_model("ngram:demo-ft")["init"] == "demo-base"


@pytest.mark.parametrize("args, message", [
    (["--base", "gpt2", "--ft", "hf:x", "--tasks", "lm-eval:arc_easy"], "expected BACKEND:MODEL"),
    (["--base", "nope:x", "--ft", "hf:x", "--tasks", "lm-eval:arc_easy"], "backend 'nope' is not available"),
    # vllm is a registered backend: a model it cannot find is one line too (nothing is downloaded)
    (["--base", "vllm:meta/llama", "--ft", "hf:x", "--tasks", "lm-eval:arc_easy"], "is not in the local Hugging Face cache"),
    (["--base", "hf:x+backend=openai", "--ft", "hf:x", "--tasks", "lm-eval:arc_easy"], "the part before the first colon"),
    (["--base", "hf:x", "--ft", "hf:y"], "--tasks: name at least one task"),
    (["--base", "hf:x", "--tasks", "lm-eval:arc_easy"], "--base and at least one --ft"),
    (["--base", "hf:x", "--ft", "hf:y", "--tasks", "missing.yaml"], "'missing.yaml' matches no file"),
    (["--base", "hf:x", "--ft", "hf:y", "--tasks", "lm-eval:arc_easy", "--gate-improve", "arc_easy:acc"], "TASK:METRIC:NUMBER"),
    (["base", "ft", "--base", "hf:x"], "not both"),
    ([], "name BASE and at least one CANDIDATE"),
])
def test_bad_flags_are_one_line_exit_2(cli, tmp_path, args, message):
    code, _, err = cli("compare", *args, cwd=tmp_path)
    assert code == 2
    assert message in err and err.startswith("evalkit: error:") and len(err.strip().splitlines()) == 1


def test_gate_strings():
    assert parse_gate("must_not_regress", "lm-eval:arc_easy:acc_norm:0.01") == {
        "type": "must_not_regress", "task": "lm-eval:arc_easy", "metric": "acc_norm", "margin": 0.01}


def test_the_config_free_command_reproduces_a_yaml_compare_of_a_local_checkpoint_and_its_lora(cli, tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="needs torch (pip install 'evalkit[hf]')")
    pytest.importorskip("peft", reason="needs peft (pip install 'evalkit[hf]')")
    from evalkit.backends.hf_tiny import build_lora_adapter, build_tiny_model

    root = tmp_path / "proj"
    make_project(root, models=(
        "  base: {backend: hf, model: models/base, batch_size: 8, device: cpu}\n"
        "  ft: {backend: hf, model: models/base, adapter: models/lora, batch_size: 8, device: cpu}\n"))
    build_tiny_model(root / "models" / "base")
    build_lora_adapter(root / "models" / "base", root / "models" / "lora")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, _, err = cli("compare", "base", "ft", "--suite", "forgetting", "--limit", 8, "--no-cache", "--output", tmp_path / "yaml",
                       cwd=root)
    assert code == 0, err
    (root / "evalkit.yaml").unlink()
    flags = ["--base", "hf:./models/base+batch_size=8+device=cpu", "--ft", "hf:./models/base+adapter=./models/lora+batch_size=8+device=cpu",
             "--forgetting", "tasks/mc.yaml,tasks/ppl.yaml", "--tasks", "tasks/qa.yaml"]
    code, out, err = cli("compare", *flags, "--print-config", cwd=root)
    assert code == 0, err
    assert yaml.safe_load(out)["models"]["ft"] == {"backend": "hf", "model": "./models/base", "adapter": "./models/lora",
                                                 "batch_size": 8, "device": "cpu"}
    code, _, err = cli("compare", *flags, "--suite", "forgetting", "--limit", 8, "--no-cache", "--seed", 7, "--resamples", 2000,
                       "--output", tmp_path / "flags", cwd=root)
    assert code == 0, err
    want, got = _metrics(tmp_path / "yaml" / "compare.json"), _metrics(tmp_path / "flags" / "compare.json")
    assert set(want) == set(got) and {task for task, _ in want} == {"mc", "ppl"}
    assert got == want
    assert any(v[2] != 0 for v in want.values())  # the adapter changes the model


@pytest.mark.parametrize("sequential", [[], ["--sequential"]])
def test_config_free_names_are_models_even_where_a_run_folder_has_that_name(cli, tmp_path, monkeypatch, sequential):
    root = tmp_path / "proj"
    make_project(root)
    (root / "evalkit.yaml").unlink()
    (root / "base").mkdir()
    (root / "base" / "results.json").write_text("{}")  # a stored run called base would be refused as damaged
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, _, err = cli("compare", *FLAGS, "--gate-not-regress", "mc:accuracy:0.5", *sequential, "--quiet",
                       "--output", tmp_path / "out", cwd=root)
    assert code in (0, 1) and "error" not in err, err
    assert json.loads((tmp_path / "out" / "gate.json").read_text())["gates"][0]["target"] == "mc"


def test_config_free_without_output_writes_under_evalkit_runs_with_a_latest_link(cli, tmp_path, monkeypatch):
    import os

    root = tmp_path / "proj"
    make_project(root)
    (root / "evalkit.yaml").unlink()
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, out, err = cli("compare", *FLAGS, "--quiet", cwd=root)
    assert code == 0, err
    [folder] = [p for p in (root / "evalkit-runs").iterdir() if p.name != "latest"]
    assert folder.name.endswith("-base-vs-ft") and os.readlink(root / "evalkit-runs" / "latest") == folder.name
    assert (folder / "evalkit.yaml").is_file() and f"wrote evalkit-runs/{folder.name}/compare.json" in out
