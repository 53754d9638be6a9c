"""mode: batch for the openai backend, against the fake server's Batch API (files, batches):
the same answers as online at half the price, failed and expired lines retried online, and a
compare killed while it polls resumes the same batch instead of paying for another."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")
pytest.importorskip("openai")

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from fake_openai_server import FakeOpenAIServer, ServerConfig, answer_words  # noqa: E402

from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, Message  # noqa: E402
from evalkit.backends.openai_api import OpenAIBackend, OpenAIConfig  # noqa: E402
from evalkit.backends.pricing import BATCH_DISCOUNT  # noqa: E402

DEMO_TASKS = Path(__file__).resolve().parents[2] / "benchmarks" / "demo" / "tasks"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def backend(server, tmp_path, **cfg) -> OpenAIBackend:
    cfg = {"model": "gpt-4o-mini", "batch_poll_interval": 0.01, "max_retries": 1, **cfg}
    config = OpenAIConfig(base_url=server.base_url, **cfg)
    return OpenAIBackend(config, batch_dir=tmp_path / "batches")


def answers(b, reqs):
    try:
        out = dict(b.submit(reqs))
    finally:
        b.close()
    assert sorted(out) == list(range(len(reqs)))
    return [out[i] for i in range(len(reqs))]


REQS = [GenerateRequest((Message("user", f"Question {i}: what is the code word?"),), max_tokens=8) for i in range(20)]


def test_batch_answers_equal_online_at_half_the_price(tmp_path):
    with FakeOpenAIServer(ServerConfig(batch_polls=2)) as server:
        online = answers(backend(server, tmp_path), REQS)
        assert server.stats["requests"] == len(REQS)
        batch = answers(backend(server, tmp_path, mode="batch"), REQS)
        assert server.stats["requests"] == len(REQS), "batch mode sent nothing online"
        assert server.stats["batches_created"] == 1 and server.stats["files_uploaded"] == 1
        assert server.stats["batch_polls"] == 3  # two in progress, then final
    for req, on, ba in zip(REQS, online, batch):
        assert ba.text == on.text == " ".join(answer_words("gpt-4o-mini", req.as_text())[:8])
        assert ba.extra["cost_usd"] == pytest.approx(on.extra["cost_usd"] * BATCH_DISCOUNT)
        assert ba.extra["batch"] is True
    assert not list((tmp_path / "batches").rglob("*.json")), "a collected batch leaves no pending state"


def test_echo_loglikelihoods_go_through_the_completions_endpoint(tmp_path):
    reqs = [LoglikelihoodRequest("The capital of France is", " Paris"), LoglikelihoodRequest("2 + 2 =", " 4")]
    with FakeOpenAIServer() as server:
        online = answers(backend(server, tmp_path, model="davinci-002", api="completions"), reqs)
        batch = answers(backend(server, tmp_path, model="davinci-002", api="completions", mode="batch"), reqs)
        assert server.batches["batch_1"]["endpoint"] == "/v1/completions"
    for on, ba in zip(online, batch):
        assert (ba.logprob, ba.is_greedy, ba.n_tokens) == (on.logprob, on.is_greedy, on.n_tokens)
        assert ba.extra["cost_usd"] == pytest.approx(on.extra["cost_usd"] * BATCH_DISCOUNT)


@pytest.mark.parametrize("faults", [{"batch_fail_rate": 0.3}, {"batch_expire": True}])
def test_failed_and_expired_lines_are_retried_online(tmp_path, faults):
    with FakeOpenAIServer(ServerConfig(**faults)) as server:
        got = answers(backend(server, tmp_path, mode="batch"), REQS)
        failed = server.batches["batch_1"]["request_counts"]["failed"]
        assert 0 < failed < len(REQS)
        assert server.stats["requests"] == failed, "exactly the unanswered lines go online"
    on_batch = [g for g in got if g.extra.get("batch")]
    assert len(on_batch) == len(REQS) - failed
    for i, g in enumerate(got):
        assert g.text == " ".join(answer_words("gpt-4o-mini", REQS[i].as_text())[:8])
        list_price = g.extra["cost_usd"] / (BATCH_DISCOUNT if g.extra.get("batch") else 1)
        assert list_price > 0


# --- through the CLI: a compare, a kill while polling, a resume -----------------------------


def _project(root: Path, base_url: str, mode: str) -> Path:
    (root / "tasks" / "data").mkdir(parents=True)
    shutil.copy(DEMO_TASKS / "arithmetic.yaml", root / "tasks")
    shutil.copy(DEMO_TASKS / "data" / "arithmetic.jsonl", root / "tasks" / "data")
    common = f"backend: openai, base_url: '{base_url}', mode: {mode}, batch_poll_interval: 0.05, max_retries: 1"
    (root / "evalkit.yaml").write_text(
        "tasks: [tasks/*.yaml]\n"
        "models:\n"
        f"  base: {{{common}, model: gpt-4o-mini}}\n"
        f"  ft: {{{common}, model: 'ft:gpt-4o-mini:acme::abc123'}}\n"
    )
    return root / "evalkit.yaml"


def _costs(out: Path) -> dict:
    """USD per item of base and ft as the compare report states them (compare.json), and the
    run totals from samples.jsonl."""
    found: dict = {}

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("cost_base", "cost_ft") and v is not None:
                    found.setdefault(k, []).append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads((out / "compare.json").read_text()))
    for run in ("base", "ft"):
        samples = [json.loads(x) for x in (out / "runs" / run / "samples.jsonl").read_text().splitlines() if x.strip()]
        found[run] = sum(s["cost_usd"] for s in samples)
    return found


def test_batch_compare_survives_a_kill_while_polling_and_costs_half(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache-batch"))
    with FakeOpenAIServer(ServerConfig(batch_polls=10**9)) as server:  # never done until released
        cfg = _project(tmp_path / "batch", server.base_url, "batch")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-test", "EVALKIT_CACHE_DIR": str(tmp_path / "cache-batch")}
        args = ["compare", "base", "ft", "--config", str(cfg), "--limit", "10", "--output", str(tmp_path / "out-batch"), "--quiet"]
        child = subprocess.Popen([sys.executable, "-m", "evalkit.cli.main", *args], env=env, cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while server.stats["batch_polls"] < 3 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert child.poll() is None, child.stderr.read().decode()
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert server.stats["batches_created"] == 1 and server.stats["requests"] == 0
        pending = list((tmp_path / "cache-batch" / "openai-batches").rglob("*.json"))
        assert len(pending) == 1 and json.loads(pending[0].read_text())["batch_id"] == "batch_1"

        server.batch_polls = 1  # the provider finishes the work
        code, _, err = cli(*args)
        assert code in (0, 1), err
        # base resumed batch_1 (not a new upload); ft got its own batch; nothing went online
        assert server.stats["batches_created"] == 2 and server.stats["files_uploaded"] == 2
        assert server.stats["requests"] == 0
        assert not list((tmp_path / "cache-batch" / "openai-batches").rglob("*.json"))
        batch_costs = _costs(tmp_path / "out-batch")

        monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache-online"))
        cfg = _project(tmp_path / "online", server.base_url, "online")
        code, _, err = cli("compare", "base", "ft", "--config", cfg, "--limit", "10", "--output", tmp_path / "out-online", "--quiet")
        assert code in (0, 1), err
        online_costs = _costs(tmp_path / "out-online")
    assert set(batch_costs) == set(online_costs) == {"cost_base", "cost_ft", "base", "ft"}
    for name in ("cost_base", "cost_ft"):  # the report's per-item cost, task by task
        assert all(c > 0 for c in online_costs[name])
        assert batch_costs[name] == pytest.approx([c * BATCH_DISCOUNT for c in online_costs[name]])
    for run in ("base", "ft"):
        assert online_costs[run] > 0
        assert batch_costs[run] == pytest.approx(online_costs[run] * BATCH_DISCOUNT)
