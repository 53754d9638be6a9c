"""lm-eval groups as lm-eval aggregates them (``aggregate_metric_list`` with ``weight_by_size``
true and false), every filter of a task as its own metric variant, and each task's own stop
sequences: evalkit's numbers against lm-eval's ``simple_evaluate`` on the same model."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_project, write_jsonl

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval tasks need lm-eval (pip install 'evalkit[lm-eval]')")

CAPITALS = [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Norway", "Oslo"), ("Peru", "Lima"), ("Egypt", "Cairo")]
ANSWER = "Paris, I think Lima"  # strict (first word) says Paris, flexible (last word) says Lima

GEN = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: What is the capital of {{{{country}}}}?\\nAnswer:"
doc_to_target: "{{{{city}}}}"
generation_kwargs:
  until: [{until}]
  max_gen_toks: 8
  do_sample: false
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "^\\\\s*(\\\\w+)"
      - function: take_first
  - name: flexible-extract
    filter:
      - function: regex
        regex_pattern: "(\\\\w+)"
        group_select: -1
      - function: take_first
metric_list:
  - metric: exact_match
"""
MC = """task: {name}
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


def group_yaml(name: str, tasks: list[str], weight_by_size: bool, metric: str, filters: list[str] | None = None) -> str:
    flist = f"\n    filter_list: [{', '.join(filters)}]" if filters else ""
    return (f"group: {name}\ntask: [{', '.join(tasks)}]\naggregate_metric_list:\n"
            f"  - metric: {metric}\n    weight_by_size: {str(weight_by_size).lower()}{flist}\n")


def write_group_tasks(folder: Path) -> Path:
    """Two generation tasks (6 and 10 documents, two filters, different stop sequences) and two
    multiple-choice tasks (6 and 15), grouped size-weighted and not."""
    folder.mkdir(parents=True, exist_ok=True)
    one = [{"country": c, "city": k} for c, k in CAPITALS]
    two = [{"country": c, "city": k} for c, k in [CAPITALS[0]] * 3 + [CAPITALS[4]] + CAPITALS[1:4] * 2]
    for name, rows, until in (("g_one", one, '"\\n"'), ("g_two", two, '"\\n\\n", "Question:"')):
        write_jsonl(folder / f"{name}.jsonl", rows)
        (folder / f"{name}.yaml").write_text(GEN.format(name=name, data=(folder / f"{name}.jsonl").resolve(), until=until))
    for name, n in (("m_one", 6), ("m_two", 15)):
        rows = []
        for i in range(n):
            country, city = CAPITALS[(i * 5 + n) % 6]
            others = [k for _, k in CAPITALS if k != city][i % 3 :][:3]
            choices = others[: i % 4] + [city] + others[i % 4 :]
            rows.append({"country": country, "choices": choices, "label": choices.index(city)})
        write_jsonl(folder / f"{name}.jsonl", rows)
        (folder / f"{name}.yaml").write_text(MC.format(name=name, data=(folder / f"{name}.jsonl").resolve()))
    groups = {
        "gen_w": group_yaml("gen_w", ["g_one", "g_two"], True, "exact_match"),
        "gen_u": group_yaml("gen_u", ["g_one", "g_two"], False, "exact_match"),
        "gen_flex": group_yaml("gen_flex", ["g_one", "g_two"], False, "exact_match", ["flexible-extract"]),
        "mc_w": group_yaml("mc_w", ["m_one", "m_two"], True, "acc"),
        "mc_u": group_yaml("mc_u", ["m_one", "m_two"], False, "acc") + "  - metric: acc_norm\n    weight_by_size: false\n",
    }
    for name, text in groups.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def project(tmp_path: Path, models: str, tasks: list[str]) -> Path:
    cfg = make_project(tmp_path, models)
    write_group_tasks(tmp_path / "lm_tasks")
    head, _, tail = cfg.read_text().partition("suites:\n")
    _, _, models_part = tail.partition("models:\n")
    entries = ", ".join(f"'lm-eval:{t}'" for t in tasks)
    cfg.write_text(f"{head}suites:\n  g: {{tasks: [{entries}]}}\nmodels:\n{models_part}"
                   "lm_eval: {include_path: [lm_tasks], include_defaults: false}\n")
    return cfg


def reference(model, folder: Path, task: str) -> dict:
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(folder), include_defaults=False)
    out = simple_evaluate(model=model, tasks=[task], task_manager=tm, bootstrap_iters=0,
                          random_seed=None, numpy_random_seed=None, torch_random_seed=None)
    return out["results"]


class FixedAnswerLM:
    """An lm-eval LM that says ANSWER to everything (built lazily: lm-eval is optional)."""

    def __new__(cls):
        from lm_eval.api.model import LM

        class _LM(LM):
            def generate_until(self, requests, disable_tqdm: bool = False):
                return [ANSWER for _ in requests]

            def loglikelihood(self, requests, disable_tqdm: bool = False):
                raise NotImplementedError

            def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
                raise NotImplementedError

        return _LM()


def test_groups_and_every_filter_equal_lm_eval(tmp_path):
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    models = f"  base: {{backend: 'fakes:GenerateOnly', answer: '{ANSWER}'}}\n"
    cfg = project(tmp_path, models, ["g_one", "gen_w", "gen_u", "gen_flex"])
    run = run_model(load_project(cfg), "base")
    folder = tmp_path / "lm_tasks"
    one = run.task("lm-eval:g_one")
    assert set(one.metrics) == {"exact_match[strict-match]", "exact_match[flexible-extract]"}
    ref = reference(FixedAnswerLM(), folder, "g_one")["g_one"]
    assert one.metrics["exact_match[strict-match]"].value == pytest.approx(ref["exact_match,strict-match"], abs=1e-9)
    assert one.metrics["exact_match[flexible-extract]"].value == pytest.approx(ref["exact_match,flexible-extract"], abs=1e-9)
    s = run.samples_for("lm-eval:g_one")[0]
    assert s["extra"]["filtered"] == {"strict-match": "Paris", "flexible-extract": "Lima"}
    for group in ("gen_w", "gen_u", "gen_flex"):
        ours, theirs = run.task(f"lm-eval:{group}"), reference(FixedAnswerLM(), folder, group)[group]
        keys = sorted(k for k in theirs if k.startswith("exact_match,"))
        assert keys and {f"exact_match[{k.split(',')[1]}]" for k in keys} == set(ours.metrics)
        for k in keys:
            assert ours.metrics[f"exact_match[{k.split(',')[1]}]"].value == pytest.approx(theirs[k], abs=1e-9), (group, k)
    weighted, equal = run.task("lm-eval:gen_w"), run.task("lm-eval:gen_u")
    name = "exact_match[strict-match]"  # 1/6 and 3/10: the two weightings differ
    assert weighted.metrics[name].value == pytest.approx(4 / 16) and equal.metrics[name].value == pytest.approx((1 / 6 + 3 / 10) / 2)
    assert weighted.members == {"of": "lm-eval", "tasks": ["g_one", "g_two"],
                                "weighting": {name: "size_weighted", "exact_match[flexible-extract]": "size_weighted"}}
    assert set(run.task("lm-eval:gen_flex").metrics) == {"exact_match[flexible-extract]"}


def test_multiple_choice_groups_equal_lm_eval_on_the_tiny_hf_model(tmp_path):
    pytest.importorskip("torch", reason="needs torch (pip install 'evalkit[hf]')")
    pytest.importorskip("transformers", reason="needs transformers (pip install 'evalkit[hf]')")
    from lm_eval.models.huggingface import HFLM

    from evalkit.backends.hf_tiny import build_tiny_model
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    build_tiny_model(tmp_path / "models" / "base")
    models = "  base: {backend: hf, model: models/base, batch_size: 4, device: cpu}\n"
    cfg = project(tmp_path, models, ["mc_w", "mc_u"])
    run = run_model(load_project(cfg), "base")
    hflm = HFLM(pretrained=str(tmp_path / "models" / "base"), device="cpu", batch_size=4)
    for group, metrics in (("mc_w", ["acc"]), ("mc_u", ["acc", "acc_norm"])):
        theirs = reference(hflm, tmp_path / "lm_tasks", group)
        ours = run.task(f"lm-eval:{group}")
        assert set(ours.metrics) == {{"acc": "accuracy", "acc_norm": "acc_norm"}[m] for m in metrics}
        for m in metrics:
            value = ours.metrics[{"acc": "accuracy", "acc_norm": "acc_norm"}[m]].value
            assert value == pytest.approx(theirs[group][f"{m},none"], abs=1e-9), (group, m)
    w, u = run.task("lm-eval:mc_w").metrics["accuracy"].value, run.task("lm-eval:mc_u").metrics["accuracy"].value
    assert w != pytest.approx(u)  # different sizes and leaf means: the weighting matters


def test_compare_of_an_unweighted_lm_eval_group_combines_its_leaves(tmp_path):
    from evalkit.compare.compare import compare_runs
    from evalkit.config import load_project
    from evalkit.runner.run import run_model

    models = (f"  base: {{backend: 'fakes:GenerateOnly', answer: '{ANSWER}'}}\n"
              "  ft: {backend: 'fakes:GenerateOnly', answer: 'Madrid, I think Paris'}\n")
    project_ = load_project(project(tmp_path, models, ["gen_u"]))
    base, ft = run_model(project_, "base"), run_model(project_, "ft")
    row = compare_runs(base, ft, seed=1, n_resamples=200).tasks[0]
    assert row.task == "lm-eval:gen_u" and row.n == 16
    for m in row.metrics:
        want_b, want_f = base.task("lm-eval:gen_u").metrics[m.metric].value, ft.task("lm-eval:gen_u").metrics[m.metric].value
        assert (m.base, m.ft) == (pytest.approx(want_b, abs=1e-12), pytest.approx(want_f, abs=1e-12))
        assert m.delta == pytest.approx(want_f - want_b, abs=1e-12) and m.ci_low < m.delta < m.ci_high
    strict = next(m for m in row.metrics if m.metric == "exact_match[strict-match]")
    assert strict.delta == pytest.approx(((1 / 6 - 1 / 6) + (2 / 10 - 3 / 10)) / 2)  # not the pooled -1/16
