"""``evalkit plan`` as a user runs it: on the demo (counts checked against a real compare
that counts what reaches the backend) and on an OpenAI config (nothing is sent: the server
address is a closed port and no server runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from evalkit.backends.pricing import BATCH_DISCOUNT, PRICES_AS_OF

DEMO = Path(__file__).resolve().parents[2] / "benchmarks" / "demo"
LIMIT = "12"


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """The demo in a temporary folder with its own, empty cache."""
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("*.py", "README.md"))
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return root


def plan_json(cli, *args) -> dict:
    code, out, err = cli("plan", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_demo_plan_matches_what_a_real_compare_sends(cli, demo, monkeypatch):
    before = plan_json(cli, "base", "ft", "--config", demo, "--limit", LIMIT)
    assert before["prices_as_of"] == PRICES_AS_OF
    rows = {(t["model"], t["task"]): t for t in before["tasks"]}
    assert all(t["cached"] == 0 and t["to_send"] == t["requests"] > 0 and t["prompt_tokens"] > 0 for t in rows.values())
    assert all(t["cost"]["list_usd"] is None for t in rows.values())  # a local model has no bill

    from evalkit.backends.ngram import NgramBackend

    sent: Counter = Counter()
    submit = NgramBackend.submit

    def counting(self, requests):
        sent[self.config.model] += len(requests)
        return submit(self, requests)

    monkeypatch.setattr(NgramBackend, "submit", counting)
    code, _, err = cli("compare", "base", "ft", "--config", demo, "--limit", LIMIT, "--output", "cmp")
    assert code == 0, err
    totals = before["totals"]
    # The judge of the demo's support_judged task (compare time) is planned on its own line.
    assert before["judge"]["totals"]["judge"]["requests"] == 2 * int(LIMIT)
    assert sent == {"nimbus-base": totals["base"]["to_send"], "nimbus-ft": totals["ft"]["to_send"],
                    "nimbus-judge": before["judge"]["totals"]["judge"]["requests"]}
    for model in ("base", "ft"):
        run = json.loads(Path("cmp", "runs", model, "results.json").read_text())
        for t in run["tasks"]:
            assert rows[(model, t["task"])]["requests"] == t["requests"], t["task"]
            assert rows[(model, t["task"])]["items"] == t["n"]

    after = plan_json(cli, "base", "ft", "--config", demo, "--limit", LIMIT)
    assert all(t["cached"] == t["requests"] and t["to_send"] == 0 for t in after["tasks"])
    assert after["baseline"] is None  # found by default only under ./evalkit-runs; this compare wrote ./cmp
    stored = plan_json(cli, "base", "ft", "--config", demo, "--limit", LIMIT, "--baseline", "cmp")
    gates = stored["gates"]
    assert len(gates) == 7 and stored["baseline"] == "cmp"
    # With stored runs even the unbounded metric (bits_per_byte) gets a detectable effect.
    assert all(g["basis"].startswith("stored runs") and g["detectable"] is not None for g in gates)


def test_demo_plan_table_fits_80_columns_and_names_every_gate(cli, demo):
    code, out, _ = cli("plan", "--config", demo, "--limit", LIMIT)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    assert f"prices as of {PRICES_AS_OF}" in out and "detectable" in out and "n needed" in out
    for task in ("support_qa", "intent", "translate_es", "general_mc", "arithmetic", "general_text"):
        assert task in out
    # Without a stored run the unbounded metric says why it has no number.
    assert "unbounded metric" in out and "assumed p = 0.5, discordance 0.2" in out


def test_plan_imports_no_model_library_and_writes_no_cache(demo, tmp_path):
    code = (
        "import sys\nfrom evalkit.cli.main import main\n"
        f"assert main(['plan', '--config', {str(demo)!r}, '--limit', '3', '--json']) == 0\n"
        "print('HEAVY:' + ','.join(m for m in ('torch', 'transformers', 'lm_eval') if m in sys.modules))"
    )
    env = {"EVALKIT_CACHE_DIR": str(tmp_path / "c2"), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:"
    assert not (tmp_path / "c2" / "responses.sqlite").exists()


def openai_project(root: Path) -> Path:
    tasks = DEMO / "tasks"
    common = {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "EVALKIT_TEST_PLAN_KEY", "rpm": 600}
    cfg = {
        "cache_dir": "cache",
        "tasks": [str(tasks / "support_qa.yaml"), str(tasks / "intent.yaml"), str(tasks / "general_text.yaml")],
        "suites": {"support": {"tasks": ["support_qa", "intent"]},
                   "forgetting": {"role": "forgetting", "tasks": ["general_text"]}},
        "models": {
            "base": {"backend": "openai", "model": "gpt-4o-mini-2024-07-18", **common},
            "ft": {"backend": "openai", "model": "ft:gpt-4o-mini-2024-07-18:acme::abc123", **common},
            "legacy": {"backend": "openai", "model": "davinci-002", "api": "completions", **common},
        },
        "gates": [
            {"type": "must_improve", "task": "support_qa", "metric": "exact_match", "min_effect": 0.05},
            {"type": "must_not_regress", "task": "intent", "metric": "macro_f1", "margin": 0.05},
        ],
    }
    root.mkdir(parents=True)
    (root / "evalkit.yaml").write_text(json.dumps(cfg))
    return root / "evalkit.yaml"


def test_openai_plan_prices_tokens_and_time_without_sending(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_TEST_PLAN_KEY", "sk-not-used")
    monkeypatch.chdir(tmp_path)
    cfg = openai_project(tmp_path / "proj")
    data = plan_json(cli, "base", "ft", "legacy", "--config", cfg)
    rows = {(t["model"], t["task"]): t for t in data["tasks"]}
    # chat models cannot score perplexity: skipped, said why; the completions model can.
    assert rows[("base", "general_text")]["skipped"] and rows[("legacy", "general_text")]["method"] == "loglikelihood_rolling"
    assert rows[("legacy", "intent")]["method"] == "loglikelihood"
    for model in ("base", "ft", "legacy"):
        tot = data["totals"][model]
        assert tot["prompt_tokens"] > 0 and tot["cost_list_usd"] > 0 and tot["seconds"] > 0
        assert tot["cost_batch_usd"] == pytest.approx(BATCH_DISCOUNT * tot["cost_list_usd"])
    # Log-likelihood requests are priced too (their prompt at the input rate).
    assert rows[("legacy", "general_text")]["cost"]["list_usd"] > 0
    # The same prompts cost more at the fine-tuned rate; a fine-tune's list rate is that rate.
    base, ft = data["totals"]["base"], data["totals"]["ft"]
    assert base["cost_fine_tuned_usd"] > base["cost_list_usd"]
    assert ft["cost_list_usd"] == pytest.approx(ft["cost_fine_tuned_usd"])
    # rpm 600: at least requests / 10 seconds.
    assert base["seconds"] >= base["to_send"] / 10 - 1e-9
    assert {g["gate"] for g in data["gates"]} == {"must_improve support_qa exact_match", "must_not_regress intent macro_f1"}
    assert all(g["detectable"] > 0 and g["n_needed"] for g in data["gates"])

    code, out, _ = cli("plan", "base", "ft", "--config", cfg)
    assert code == 0 and f"prices as of {PRICES_AS_OF}" in out and "detectable" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert not (tmp_path / "proj" / "cache").exists()  # nothing was sent, nothing stored


def test_unknown_model_and_bad_baseline_are_one_line_errors(cli, demo):
    code, _, err = cli("plan", "nope", "--config", demo)
    assert code == 2 and err.startswith("evalkit: error:") and "unknown model 'nope'" in err
    code, _, err = cli("plan", "--config", demo, "--limit", "2", "--baseline", "missing-folder")
    assert code == 2 and "--baseline" in err and len(err.strip().splitlines()) == 1


def test_hf_model_is_planned_without_torch_and_its_cache_hits_are_unknown(tmp_path):
    (tmp_path / "weights").mkdir()
    tasks = DEMO / "tasks"
    (tmp_path / "evalkit.yaml").write_text(json.dumps({
        "cache_dir": "cache", "tasks": [str(tasks / "general_mc.yaml"), str(tasks / "support_qa.yaml")],
        "models": {"base": {"backend": "hf", "model": "weights"}}}))
    code = (
        "import sys, json, io, contextlib\nfrom evalkit.cli.main import main\nbuf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n    assert main(['plan', '--limit', '4', '--json']) == 0\n"
        "data = json.loads(buf.getvalue())\n"
        "print(json.dumps([[t['task'], t['requests'], t['cached']] for t in data['tasks']]))\n"
        "print('HEAVY:' + ','.join(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    rows, heavy = out.strip().splitlines()[-2:]
    assert heavy == "HEAVY:"
    assert json.loads(rows) == [["general_mc", 16, None], ["support_qa", 4, None]]  # 4 items x 4 choices; unknown, not 0


def test_a_batch_mode_model_is_planned_at_the_batch_rate_it_pays(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_TEST_PLAN_KEY", "sk-not-used")
    monkeypatch.chdir(tmp_path)
    cfg = openai_project(tmp_path / "proj")
    data = json.loads(cfg.read_text())
    data["models"]["bulk"] = {**data["models"]["base"], "mode": "batch"}
    cfg.write_text(json.dumps(data))
    tot = plan_json(cli, "base", "bulk", "--config", cfg)["totals"]
    # Same model, same prompts: the same list price, but the batch one pays half of it.
    assert tot["base"]["cost_list_usd"] > 0
    assert tot["bulk"]["cost_list_usd"] == pytest.approx(tot["base"]["cost_list_usd"])
    assert tot["base"]["pays"] == "list" and tot["base"]["cost_usd"] == pytest.approx(tot["base"]["cost_list_usd"])
    assert tot["bulk"]["pays"] == "batch" and tot["bulk"]["cost_usd"] == pytest.approx(BATCH_DISCOUNT * tot["bulk"]["cost_list_usd"])
    # a batch answers within its window, not at the online rate limits
    assert tot["base"]["seconds"] > 0 and tot["bulk"]["seconds"] is None
    code, out, _ = cli("plan", "base", "bulk", "--config", cfg)
    assert code == 0
    bulk = next(line for line in out.splitlines() if line.split()[:1] == ["bulk"] and "$" in line)
    base = next(line for line in out.splitlines() if line.split()[:1] == ["base"] and "$" in line)
    # the starred column is the one each pays: base's list (the first price), bulk's batch (the second)
    assert [c.endswith("*") for c in bulk.split() if c.startswith("$")][:2] == [False, True]
    assert [c.endswith("*") for c in base.split() if c.startswith("$")][:2] == [True, False]


def test_judge_requests_are_planned_apart_from_the_models(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_TEST_PLAN_KEY", "sk-not-used")
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "proj"
    (root / "tasks" / "data").mkdir(parents=True)
    (root / "tasks" / "data" / "open.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "q": f"Question {i}?", "a": "Yes."}) + "\n"
                                                      for i in range(9)))
    common = 'type: generate\ndata: data/open.jsonl\nfields: {target: a}\nprompt: "{q}"\ngeneration: {max_tokens: 50}\n'
    (root / "tasks" / "paired.yaml").write_text("name: paired\n" + common + "scorer: pairwise\njudge: judge\n")
    (root / "tasks" / "rated.yaml").write_text("name: rated\n" + common + 'judge: judge\n'
                                     'scorer: {name: rubric, args: {rubric: "5: good; 1: bad", scale: [1, 5], max_tokens: 20}}\n')
    m = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "EVALKIT_TEST_PLAN_KEY"}
    models = {"base": {**m, "model": "gpt-4o-mini-2024-07-18"}, "ft1": {**m, "model": "ft:gpt-4o-mini-2024-07-18:acme::a1"},
              "ft2": {**m, "model": "ft:gpt-4o-mini-2024-07-18:acme::a2"},
              "judge": {**m, "model": "gpt-4o-2024-08-06", "mode": "batch"}}
    (root / "evalkit.yaml").write_text(json.dumps({"cache_dir": "cache", "tasks": ["tasks/*.yaml"], "models": models}))
    data = plan_json(cli, "base", "ft1", "ft2", "--config", root / "evalkit.yaml")
    rows = {(j["task"], j["model"]): j for j in data["judge"]["tasks"]}
    # pairwise: 2 per item per candidate (the base is not judged against itself); rubric: 1 per item per model
    assert {k: r["requests"] for k, r in rows.items()} == {
        ("paired", "ft1"): 18, ("paired", "ft2"): 18, ("rated", "base"): 9, ("rated", "ft1"): 9, ("rated", "ft2"): 9}
    assert rows[("rated", "base")]["completion_tokens_max"] == 9 * 20
    # a pairwise prompt holds both answers: more prompt tokens per request than a rubric prompt
    assert rows[("paired", "ft1")]["prompt_tokens"] / 18 > rows[("rated", "ft1")]["prompt_tokens"] / 9
    tot = data["judge"]["totals"]["judge"]
    assert tot["requests"] == 63 and tot["pays"] == "batch" and tot["cost_list_usd"] > 0
    assert tot["cost_usd"] == pytest.approx(BATCH_DISCOUNT * tot["cost_list_usd"])
    # and not in the models' own totals
    assert all(t["model"] != "judge" for t in data["tasks"]) and "judge" not in data["totals"]
    code, out, _ = cli("plan", "base", "ft1", "ft2", "--config", root / "evalkit.yaml")
    assert code == 0 and "judge judge" in out and max(len(line) for line in out.splitlines()) <= 80
