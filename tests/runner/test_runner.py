"""The runner: cache keys, cache hits, errors never cached nor scored, skipped kinds,
fallbacks, and the run directory's contents."""

from __future__ import annotations

import json

from evalkit.backends.base import GenerateRequest, Message
from evalkit.config import load_project
from evalkit.results import RunResult
from evalkit.runner.cache import ResponseCache, request_key
from evalkit.runner.run import RunOptions, run_model

FAKE_MODELS = (
    "  chat: {backend: 'fakes:GenerateOnly'}\n"
    "  flaky: {backend: 'fakes:GenerateOnly', fail_every: 4}\n"
)


def test_cache_key_separates_models_and_never_uses_the_prompt_alone():
    req = GenerateRequest((Message("user", "hi"),), max_tokens=5)
    a = request_key({"backend": "ngram", "model_hash": "a"}, req)
    b = request_key({"backend": "ngram", "model_hash": "b"}, req)
    longer = request_key({"backend": "ngram", "model_hash": "a"}, GenerateRequest((Message("user", "hi"),), max_tokens=6))
    assert len({a, b, longer}) == 3


def test_second_run_is_served_from_the_cache(project):
    p = load_project(project)
    first = run_model(p, "ft")
    second = run_model(load_project(project), "ft")
    assert sum(t.cache_hits for t in first.tasks) == 0
    assert all(t.cache_hits == t.requests > 0 for t in second.tasks)
    strip = lambda r: [(s["id"], s["response"], s["metrics"]) for s in r.samples]  # noqa: E731
    assert strip(first) == strip(second)


def test_run_directory_contents(project, tmp_path):
    run = run_model(load_project(project), "base")
    out = run.write(tmp_path / "run")
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "base" and results["seed"] == 7 and "numpy" in results["versions"]
    assert set(results["data_hashes"]) == {"qa", "intent", "mc", "ppl"}
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 30 + 20 + 24 + 16
    for key in ("task", "id", "prompt", "response", "reference", "metrics"):
        assert key in samples[0]
    again = RunResult.load(out)
    assert [t.metrics["accuracy"].value for t in again.tasks if t.task == "mc"] == [run.task("mc").metrics["accuracy"].value]


def test_missing_kind_is_skipped_with_reason_and_mc_falls_back_to_generation(tmp_path):
    from conftest import make_project

    project = make_project(tmp_path / "p", FAKE_MODELS)
    run = run_model(load_project(project), "chat")
    ppl = run.task("ppl")
    assert ppl.status == "skipped" and ppl.reason == "generate-only cannot loglikelihood_rolling"
    assert run.task("mc").method == "generate" and run.task("mc").n == 24
    assert run.task("intent").method == "generate"


def test_backend_errors_are_counted_not_scored_and_never_cached(tmp_path):
    from conftest import make_project

    project = make_project(tmp_path / "p", FAKE_MODELS)
    p = load_project(project)
    run = run_model(p, "flaky", RunOptions(suites=("support",)))
    qa = run.task("qa")
    errors = [s for s in run.samples_for("qa") if s["status"] == "error"]
    assert qa.n_errors == len(errors) > 0 and not run.complete
    assert all(s["metrics"] == {} and s["response"] is None and "503" in s["error"] for s in errors)
    # The aggregate covers answered items only: errors are not zeros.
    answered = [s for s in run.samples_for("qa") if s["status"] != "error"]
    assert qa.metrics["exact_match"].value == sum(s["metrics"]["exact_match"] for s in answered) / len(answered)
    cache = ResponseCache(p.cache_dir / "responses.sqlite")
    stored = cache.info()["entries"]
    assert stored == sum(t.requests for t in run.tasks) - sum(t.n_errors for t in run.tasks)
    again = run_model(load_project(project), "flaky", RunOptions(suites=("support",)))
    assert sum(t.requests - t.cache_hits for t in again.tasks) == sum(t.n_errors for t in run.tasks)


def test_chat_multiple_choice_is_scored_by_letter_logprobs_when_given(tmp_path):
    from conftest import make_project

    models = "  chat: {backend: 'fakes:GenerateOnly'}\n  chat_lp: {backend: 'fakes:GenerateOnly', letter_logprobs: true}\n"
    p = load_project(make_project(tmp_path / "p", models))
    plain = run_model(p, "chat", RunOptions(suites=("forgetting",))).task("mc")
    with_lp = run_model(p, "chat_lp", RunOptions(suites=("forgetting",)))
    mc = with_lp.task("mc")
    assert plain.scoring == {"letter": 24} and mc.scoring == {"top_logprobs": 24}
    for s in with_lp.samples_for("mc"):
        letters = s["extra"]["letter_logprobs"]
        assert s["extra"]["pred_index"] == "ABCD".index(max(letters, key=letters.get))
