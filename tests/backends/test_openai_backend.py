"""The openai backend against a real local HTTP server (tests/fake_openai_server.py): faults
survived with identical answers, bad keys fatal at once and never written anywhere, log-
likelihoods from echo, retry budgets, fine-tuned ids and prices. Nothing contacts the internet."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from fake_openai_server import (  # noqa: E402
    FakeOpenAIServer, Faults, ServerConfig, answer_words, is_greedy_token, token_logprob, tokenize,
)

from evalkit.backends.base import GenerateRequest, Generation, LoglikelihoodRequest, Message, RollingRequest  # noqa: E402
from evalkit.backends.http_engine import _Concurrency, retry_after_seconds  # noqa: E402
from evalkit.backends.openai_api import OpenAIBackend, OpenAIConfig, parse_ft_id  # noqa: E402
from evalkit.backends.pricing import FINE_TUNED_PRICES, PRICES, cost_usd  # noqa: E402
from evalkit.errors import BackendError, FatalBackendError  # noqa: E402
from evalkit.runner.cache import ANSWERS  # noqa: E402

KEY_ENV = "EVALKIT_TEST_OPENAI_KEY"
SENTINEL = "sk-test-SENTINEL-7f3a9c21d04e"
FLAKY = Faults(rate_429=0.10, rate_500=0.03, rate_503=0.02, rate_reset=0.02, rate_slow=0.01, rate_truncated=0.01,
               rate_malformed=0.01)


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SENTINEL)


@contextmanager
def serve(**kw):
    kw.setdefault("api_key", SENTINEL)
    with FakeOpenAIServer(ServerConfig(**kw)) as server:
        yield server


@contextmanager
def backend(server, **kw):
    cfg = dict(model="gpt-4o-mini", base_url=server.base_url, api_key_env=KEY_ENV, timeout=0.5, retry_base_delay=0.02)
    b = OpenAIBackend(OpenAIConfig(**{**cfg, **kw}))
    try:
        yield b
    finally:
        b.close()


def ask(b, reqs):
    outs = dict(b.submit(reqs))
    assert sorted(outs) == list(range(len(reqs)))
    return [outs[i] for i in range(len(reqs))]


def chat_requests(n):
    return [GenerateRequest((Message("system", "Be brief."), Message("user", f"Question {i}?")), max_tokens=3) for i in range(n)]


def expected_ll(model, context, continuation):
    """What the fake server's model says, computed directly from its definition."""
    toks = tokenize(context + continuation)
    n_ctx = len(tokenize(context))
    pairs = [(toks[i - 1], toks[i]) for i in range(max(1, n_ctx), len(toks))]
    return sum(token_logprob(model, p, t) for p, t in pairs), all(is_greedy_token(model, p, t) for p, t in pairs)


# --- faults ------------------------------------------------------------------------------------

@pytest.mark.parametrize("api", ["chat", "completions"])
def test_faults_are_survived_with_identical_answers(api):
    reqs = chat_requests(300)
    with serve() as clean, backend(clean, api=api) as b:
        want = ask(b, reqs)
    with serve(faults=FLAKY, seed=3, slow_seconds=1.5) as flaky, backend(flaky, api=api) as b:
        got = ask(b, reqs)
        stats = flaky.stats
    assert not any(isinstance(o, BackendError) for o in got), [o for o in got if isinstance(o, BackendError)][:3]
    def seen(outs):
        return [(o.text, o.prompt_tokens, o.completion_tokens) for o in outs]

    assert seen(got) == seen(want)
    assert want[0].text.strip() == " ".join(answer_words("gpt-4o-mini", reqs[0].as_text())[:3])
    for fault in ("429", "500", "503", "reset", "slow", "truncated", "malformed"):
        assert stats[fault] > 0, (fault, stats)


def test_loglikelihoods_survive_faults_and_match_the_server():
    model = "davinci-002"
    reqs = [LoglikelihoodRequest(f"Question {i}: the capital of France is", c)
            for i in range(40) for c in (" Paris", " Rome today")]
    reqs.append(RollingRequest("The quick brown fox jumps over the lazy dog."))
    with serve(faults=FLAKY, seed=5, slow_seconds=1.5) as server, backend(server, model=model, api="completions") as b:
        outs = ask(b, reqs)
    for req, out in zip(reqs[:-1], outs, strict=False):
        lp, greedy = expected_ll(model, req.context, req.continuation)
        assert out.logprob == pytest.approx(lp) and out.is_greedy == greedy
        assert out.n_tokens == len(tokenize(req.continuation))
        assert out.prompt_tokens == len(tokenize(req.context))
    assert any(o.is_greedy for o in outs[:-1]) and not all(o.is_greedy for o in outs[:-1])
    rolling = outs[-1]
    toks = tokenize(reqs[-1].text)
    assert rolling.n_tokens == len(toks) - 1  # the first token has no log-probability
    assert rolling.logprob == pytest.approx(sum(token_logprob(model, a, b) for a, b in zip(toks, toks[1:], strict=False)))


def test_chat_backend_only_generates():
    with serve() as server, backend(server) as b:
        assert [k.value for k in b.supports] == ["generate"]


def test_first_token_top_logprobs_for_chat_multiple_choice():
    from dataclasses import replace

    reqs = [replace(r, top_logprobs=5) for r in chat_requests(4)]
    with serve() as server, backend(server) as b:
        outs = ask(b, reqs)
    for req, out in zip(reqs, outs):
        top = out.extra["top_logprobs"]
        assert len(top) == 5 and max(top, key=top.get) == answer_words("gpt-4o-mini", req.as_text())[0]
    with serve() as server, backend(server) as b:
        assert "top_logprobs" not in ask(b, chat_requests(1))[0].extra  # only when asked for


def test_permanent_401_stops_at_once_with_one_line_naming_the_variable():
    with serve(permanent_401=True) as server, backend(server, concurrency=8) as b:
        start = time.perf_counter()
        with pytest.raises(FatalBackendError) as info:
            ask(b, chat_requests(500))
        assert time.perf_counter() - start < 2
        # what was in flight (and the one GET /models/{id}): no retries, nothing queued sent
        assert server.stats["401"] <= 8 + 1
    msg = str(info.value)
    assert KEY_ENV in msg and "401" in msg and "\n" not in msg
    assert SENTINEL not in msg  # the server echoed the key; the message is scrubbed
    assert info.value.exit_code == 2  # re-running cannot help: not 3 ("incomplete")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("url, why", [(None, "connection refused"), ("http://no-such-host.invalid/v1", "DNS")])
def test_unreachable_server_stops_at_once_with_the_cause(url, why):
    url = url or f"http://127.0.0.1:{_closed_port()}/v1"
    b = OpenAIBackend(OpenAIConfig(model="gpt-4o-mini", base_url=url, api_key_env=KEY_ENV, retry_base_delay=0.5))
    start = time.perf_counter()
    try:
        with pytest.raises(FatalBackendError) as info:
            ask(b, chat_requests(200))
    finally:
        b.close()
    assert time.perf_counter() - start < 5  # not minutes of back-off
    msg = str(info.value)
    assert why in msg and url.rstrip("/") in msg and "\n" not in msg and info.value.exit_code == 2


def test_refused_connections_after_the_server_answered_are_retried_not_fatal():
    with serve() as server, backend(server) as b:
        assert not isinstance(ask(b, chat_requests(1))[0], BackendError)
    with backend(server, max_retries=1) as b:  # the same URL, the server gone after answering
        b._start().reached = True
        outs = ask(b, chat_requests(3))
    assert all(isinstance(o, BackendError) and "connection refused" in str(o) for o in outs)


def test_ten_percent_429_does_not_collapse_throughput():
    """Fault-free vs 10 % 429 (Retry-After 0.25 s): same answers, well under twice the time.
    With back-off inside the slot and a halving per 429 this took several times as long."""
    reqs = chat_requests(400)

    def timed(**kw):
        with serve(latency=0.05, retry_after=0.25, **kw) as server, backend(server, concurrency=16, timeout=5) as b:
            b._start()
            start = time.perf_counter()
            outs = ask(b, reqs)
            return time.perf_counter() - start, [o.text for o in outs], server.stats

    clean, want, _ = timed()
    slow, got, stats = timed(faults=Faults(rate_429=0.10), seed=1)
    assert stats["429"] > 20
    assert got == want
    assert slow < 2 * clean, (slow, clean)


def test_missing_aiohttp_asks_for_the_extra(monkeypatch):
    from evalkit.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # as if not installed
    with serve() as server, backend(server) as b:
        with pytest.raises(MissingExtra, match=r"evalkit\[openai\]"):
            ask(b, chat_requests(1))


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with serve() as server, backend(server) as b:
        with pytest.raises(FatalBackendError, match=KEY_ENV):
            ask(b, chat_requests(1))


def test_retry_budget_caps_the_whole_run():
    with serve(faults=Faults(rate_500=1.0)) as server, backend(server, max_retries=3, total_retry_budget=5) as b:
        outs = ask(b, chat_requests(20))
        assert server.stats["requests"] == 20 + 5
    assert all(isinstance(o, BackendError) for o in outs)
    assert any("retry budget" in str(o) for o in outs)


def test_no_usage_falls_back_to_estimated_tokens():
    with serve(omit_usage=True) as server, backend(server) as b:
        out = ask(b, chat_requests(1))[0]
    assert out.prompt_tokens > 0 and out.completion_tokens > 0 and out.extra["tokens_estimated"]


def test_model_near_or_past_shutdown_warns_once(recwarn, monkeypatch):
    monkeypatch.setattr("evalkit.backends.openai_api._WARNED", set())
    soon = time.time() + 10 * 86400
    meta = {"ft:gpt-4o-mini-2024-07-18:acme::old1": {"shutdown_date": "2020-01-01"},
            "gpt-4o-mini-2024-07-18": {"deprecation_date": soon}, "gpt-4.1-mini": {"shutdown_date": "2999-01-01"}}
    for model in list(meta) + [next(iter(meta))]:
        with serve(model_meta=meta) as server, backend(server, model=model) as b:
            ask(b, chat_requests(1))
            b.close()  # joins the metadata check
            assert server.stats["get_model"] == 1
    said = [str(w.message) for w in recwarn if issubclass(w.category, UserWarning)]
    assert len(said) == 2, said  # the past and the near date, each once; not the far one
    assert "ft:gpt-4o-mini-2024-07-18:acme::old1" in said[0] and "passed" in said[0]
    assert "deprecation_date" in said[1] and ("in 9 days" in said[1] or "in 10 days" in said[1])


# --- pieces ------------------------------------------------------------------------------------

def test_parse_ft_id():
    ft = parse_ft_id("ft:gpt-4o-mini-2024-07-18:acme::abc123")
    assert (ft.base_model, ft.org, ft.suffix, ft.id, ft.checkpoint) == ("gpt-4o-mini-2024-07-18", "acme", "", "abc123", None)
    ft = parse_ft_id("ft:gpt-4.1-nano-2025-04-14:my-org:support-v2:B8xK2z:ckpt-step-90")
    assert (ft.base_model, ft.suffix, ft.id, ft.checkpoint) == ("gpt-4.1-nano-2025-04-14", "support-v2", "B8xK2z", "ckpt-step-90")
    assert parse_ft_id("gpt-4o-mini") is None and parse_ft_id("ft:gpt-4o-mini") is None


def test_ft_identity_records_the_base_model_and_no_key():
    b = OpenAIBackend(OpenAIConfig(model="ft:gpt-4o-mini-2024-07-18:acme::abc123", base_url="http://127.0.0.1:9/v1/"))
    assert b.identity() == {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "api": "chat",
                            "model": "ft:gpt-4o-mini-2024-07-18:acme::abc123", "base_model": "gpt-4o-mini-2024-07-18"}


def test_prices_resolve_fine_tunes_to_their_fine_tuned_rate():
    assert cost_usd("gpt-4o-mini-2024-07-18", 1_000_000, 0) == PRICES["gpt-4o-mini"][0]
    ft = cost_usd("ft:gpt-4o-mini-2024-07-18:acme::abc123", 1_000_000, 1_000_000)
    assert ft == pytest.approx(sum(FINE_TUNED_PRICES["gpt-4o-mini"])) and ft > sum(PRICES["gpt-4o-mini"])
    assert cost_usd("gpt-4o", 10, 10, prices={"gpt-4o": {"input": 1, "output": 2}}) == pytest.approx(30 / 1e6)
    assert cost_usd("ft:gpt-4o-2024-08-06:a::b", 1_000_000, 0, prices={"ft:gpt-4o": (9, 9)}) == 9
    assert cost_usd("my-local-llama", 10, 10) is None  # unknown, not free


def test_generation_carries_its_cost():
    with serve() as server, backend(server, model="ft:gpt-4o-mini-2024-07-18:acme::abc123") as b:
        out = ask(b, chat_requests(1))[0]
    assert isinstance(out, Generation)
    assert out.extra["cost_usd"] == pytest.approx(cost_usd(b.config.model, out.prompt_tokens, out.completion_tokens))


def test_retry_after_seconds_ms_and_http_date():
    from email.utils import formatdate

    assert retry_after_seconds({"retry-after": "3"}) == 3
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert 25 <= retry_after_seconds({"retry-after": formatdate(time.time() + 30, usegmt=True)}) <= 30
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _gate(maximum):
    import asyncio

    async def build():  # its Event belongs to a loop
        return _Concurrency(maximum, clock=clock)

    clock = _Clock()
    return asyncio.run(build()), clock


def test_isolated_429s_never_cut_concurrency():
    gate, clock = _gate(32)
    for i in range(2000):  # one answer in ten throttled, 200 answers a second
        clock.t = i / 200
        gate.record(i % 10 == 0, 1.0 if i % 10 == 0 else None)
    assert gate.limit == 32


def test_frequent_429s_cut_once_per_window_down_to_a_floor_and_regrow_fast():
    gate, clock = _gate(32)
    for i in range(40):  # half the answers throttled, all within 0.2 s: one window
        clock.t = i / 200
        gate.record(i % 2 == 0, 1.0 if i % 2 == 0 else None)
    assert gate.limit == 24  # one cut by a quarter, not one per 429
    for i in range(2000):  # throttling goes on for 10 s: a cut a window, never below the floor
        clock.t = 1.0 + i / 200
        gate.record(i % 2 == 0, 1.0 if i % 2 == 0 else None)
    assert gate.limit == gate.floor == 4
    clock.t = 20.0  # the throttling is over
    for _ in range(40):  # one slot per limit / 4 successes
        gate.record(False)
    assert gate.limit >= 14


def test_rpm_limit_spaces_requests():
    with serve() as server, backend(server, rpm=600) as b:  # 10 per second, bursts of 10
        start = time.perf_counter()
        ask(b, chat_requests(15))
        assert time.perf_counter() - start >= 0.4


# --- end to end through the CLI ----------------------------------------------------------------

def write_project(root: Path, base_url: str, **model_kw) -> Path:
    """A generate task whose first half matches the fake chat model's answers, a multiple
    choice and a perplexity task; a chat model and a completions fine-tune."""
    data = root / "tasks" / "data"
    data.mkdir(parents=True)
    qa = []
    for i in range(20):
        q = f"What is item {i}?"
        right = " ".join(answer_words("gpt-4o-mini", f"Question: {q}\nAnswer:")[:4])
        qa.append({"id": f"q{i}", "question": q, "answer": right if i < 10 else "nothing"})
    (data / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in qa))
    mc = [{"id": f"m{i}", "stem": f"Pick {i}:", "choices": ["red", "green", "blue"], "answer": i % 3} for i in range(6)]
    (data / "mc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mc))
    ppl = [{"id": f"p{i}", "text": f"Line {i} of plain text."} for i in range(4)]
    (data / "ppl.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ppl))
    tasks = root / "tasks"
    (tasks / "qa.yaml").write_text(
        'name: qa\ntype: generate\ndata: data/qa.jsonl\nfields: {target: answer}\n'
        'prompt: "Question: {question}\\nAnswer:"\ngeneration: {max_tokens: 4}\nmetrics: [exact_match]\n'
    )
    (tasks / "mc.yaml").write_text(
        'name: mc\ntype: multiple_choice\ndata: data/mc.jsonl\nfields: {target: answer}\nprompt: "{stem}"\n'
    )
    (tasks / "ppl.yaml").write_text("name: ppl\ntype: perplexity\ndata: data/ppl.jsonl\n")
    common = {"base_url": base_url, "api_key_env": KEY_ENV, "timeout": 0.5, "retry_base_delay": 0.02, **model_kw}
    models = {"chat": {"backend": "openai", "model": "gpt-4o-mini", **common},
              "ft": {"backend": "openai", "model": "ft:davinci-002:acme::xyz789", "api": "completions", **common}}
    cfg = {"cache_dir": "cache", "tasks": ["tasks/*.yaml"], "models": models}
    (root / "evalkit.yaml").write_text(json.dumps(cfg))  # JSON is YAML
    return root / "evalkit.yaml"


def evalkit(*args) -> int:
    from evalkit.cli.main import main

    return main([str(a) for a in args])


def test_a_full_run_never_writes_the_key(tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level("DEBUG")
    monkeypatch.chdir(tmp_path)
    with serve(faults=FLAKY, seed=11, slow_seconds=1.5) as server:
        cfg = write_project(tmp_path / "proj", server.base_url)
        assert evalkit("run", "chat", "--config", cfg, "--output", tmp_path / "runs" / "chat") == 0
        assert evalkit("run", "ft", "--config", cfg, "--output", tmp_path / "runs" / "ft") == 0
    results = json.loads((tmp_path / "runs" / "chat" / "results.json").read_text())
    qa = next(t for t in results["tasks"] if t["task"] == "qa")
    assert qa["n_errors"] == 0 and qa["metrics"]["exact_match"]["value"] == pytest.approx(0.5)
    ft = json.loads((tmp_path / "runs" / "ft" / "results.json").read_text())
    methods = {t["task"]: t["method"] for t in ft["tasks"]}
    assert methods == {"mc": "loglikelihood", "ppl": "loglikelihood_rolling", "qa": "generate"}
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "responses.sqlite" for p in written) and len(written) > 8
    for path in written:
        assert SENTINEL.encode() not in path.read_bytes(), path
    out, err = capsys.readouterr()
    assert SENTINEL not in out + err + caplog.text


def test_bad_key_run_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with serve(permanent_401=True) as server:
        cfg = write_project(tmp_path / "proj", server.base_url)
        assert evalkit("run", "chat", "--config", cfg, "--output", tmp_path / "runs" / "chat") == 2
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith("evalkit:")]  # past the progress bar
    assert len(said) == 1 and KEY_ENV in said[0] and SENTINEL not in err


def test_closed_port_run_exits_2_at_once_saying_why(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    cfg = write_project(tmp_path / "proj", url, retry_base_delay=0.5)
    start = time.perf_counter()
    assert evalkit("run", "chat", "--config", cfg, "--output", tmp_path / "run") == 2
    assert time.perf_counter() - start < 10
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("evalkit:")]
    assert len(said) == 1 and "connection refused" in said[0] and url in said[0], said


def test_spent_retry_budget_records_errors_and_exits_3(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with serve(faults=Faults(rate_503=1.0), retry_after=0.01) as server:
        cfg = write_project(tmp_path / "proj", server.base_url, max_retries=2, total_retry_budget=10)
        assert evalkit("run", "chat", "--config", cfg, "--suite", "all", "--output", tmp_path / "run") == 3
    out = capsys.readouterr().out
    reasons = [line.strip() for line in out.splitlines() if " x " in line and "HTTP 503" in line]
    assert 1 <= len(reasons) <= 3, out  # the most frequent failure reasons, with their counts
    counts = [int(line.split(" x ")[0]) for line in reasons]
    assert counts == sorted(counts, reverse=True) and sum(counts) == 26  # every failed item (qa + mc)
    assert "retry budget of the run (10) spent" in reasons[0] or "gave up after 3 attempts" in reasons[0]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["complete"] is False
    qa = next(t for t in results["tasks"] if t["task"] == "qa")
    assert qa["n_errors"] == qa["n"] == 20
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert {s["status"] for s in samples} == {"error"}
    assert any("retry budget" in s["error"] for s in samples)


def test_compare_two_openai_models_on_the_demo_tasks(tmp_path, monkeypatch, capsys):
    """The issue's 'done when': two `backend: openai` models on an OpenAI-compatible server,
    `evalkit compare` over the demo's generate and classification tasks, faults included."""
    demo = Path(__file__).resolve().parents[2] / "benchmarks" / "demo" / "tasks"
    monkeypatch.chdir(tmp_path)
    with serve(faults=FLAKY, seed=5, slow_seconds=1.5) as server:
        common = {"base_url": server.base_url, "api_key_env": KEY_ENV, "timeout": 0.5, "retry_base_delay": 0.02}
        cfg = {
            "cache_dir": "cache",
            "tasks": [str(demo / "support_qa.yaml"), str(demo / "intent.yaml")],
            "suites": {"support": {"role": "target", "tasks": ["support_qa", "intent"]}},
            "models": {
                "base": {"backend": "openai", "model": "gpt-4o-mini-2024-07-18", "system_prompt": "A long instruction. " * 40, **common},
                "ft": {"backend": "openai", "model": "ft:gpt-4o-mini-2024-07-18:acme::abc123", "system_prompt": "Be brief.", **common},
            },
        }
        (tmp_path / "evalkit.yaml").write_text(json.dumps(cfg))
        assert evalkit("compare", "base", "ft", "--output", tmp_path / "cmp") == 0
    assert "ft:gpt-4o-mini-2024-07-18:acme::abc123 is a fine-tune of gpt-4o-mini-2024-07-18" in capsys.readouterr().out
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())["comparisons"][0]
    tasks = {t["task"]: t for t in data["tasks"]}
    assert tasks["support_qa"]["n"] == 205 and tasks["intent"]["n"] == 196
    assert tasks["support_qa"]["dropped"] == 0 and tasks["intent"]["dropped"] == 0
    qa = tasks["support_qa"]
    assert qa["prompt_tokens_base"] > qa["prompt_tokens_ft"]
    assert qa["cost_base"] > 0 and qa["cost_ft"] > 0  # gpt-4o-mini list price; ft: its fine-tuned rate
    assert qa["latency_p50_base"] > 0 and qa["latency_p95_ft"] >= qa["latency_p50_ft"]
    ft = json.loads((tmp_path / "cmp" / "runs" / "ft" / "results.json").read_text())
    assert {t["task"]: t["method"] for t in ft["tasks"]} == {"support_qa": "generate", "intent": "generate"}
    assert ft["identity"]["base_model"] == "gpt-4o-mini-2024-07-18"


def test_ctrl_c_stores_the_answers_already_received(tmp_path):
    """SIGINT to a real `evalkit run` mid-way: every answer the server had sent a moment before
    is in the cache (it used to keep only multiples of 64), and the same command resumes."""
    import os
    import signal
    import sqlite3
    import subprocess

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), KEY_ENV: SENTINEL}
    with serve(latency=0.25) as server:
        cfg = write_project(tmp_path / "proj", server.base_url, concurrency=2)
        cmd = [sys.executable, "-m", "evalkit.cli.main", "run", "chat", "--config", str(cfg), "--output", str(tmp_path / "run")]
        # A shell that started this test run in the background (nohup, `&` without job control)
        # leaves SIGINT ignored, and Python then installs no KeyboardInterrupt handler: give the
        # child the default disposition, as a terminal's Ctrl-C would find it.
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while server.stats["answered"] < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        answered = server.stats["answered"]
        time.sleep(0.1)  # those answers reach the client; the next ones are 0.25 s away
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        with sqlite3.connect(tmp_path / "proj" / "cache" / "responses.sqlite") as db:
            stored, = db.execute(f"SELECT COUNT(*) FROM {ANSWERS}").fetchone()
        total = 20 + 6  # the chat model: qa and mc, one request an item (ppl is skipped)
        assert 10 <= answered <= stored < total  # all below one commit batch of 64: the flush kept them
        before = server.stats["requests"]
        assert subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True).returncode == 0
        assert server.stats["requests"] - before == total - stored  # nothing stored is asked again


@pytest.mark.parametrize("omit_usage", [False, True])
def test_loglikelihood_and_rolling_answers_carry_their_cost(omit_usage):
    """Echo requests are billed like completions: the echoed prompt at the input rate, the one
    token generated past it at the output rate (from usage, else from the echoed tokens)."""
    model = "davinci-002"
    reqs = [LoglikelihoodRequest("Question: the capital of France is", " Paris"),
            RollingRequest("The quick brown fox jumps over the lazy dog.")]
    with serve(omit_usage=omit_usage) as server, backend(server, model=model, api="completions") as b:
        outs = ask(b, reqs)
    for req, out in zip(reqs, outs):
        prompt = req.context + req.continuation if isinstance(req, LoglikelihoodRequest) else req.text
        want = cost_usd(model, len(tokenize(prompt)), b.config.echo_max_tokens)
        assert want > 0 and out.extra["cost_usd"] == pytest.approx(want)


def test_a_run_prices_its_loglikelihood_and_perplexity_items(tmp_path, monkeypatch):
    """The runner's per-item cost was '-' for echo requests; now every item has one."""
    monkeypatch.chdir(tmp_path)
    with serve() as server:
        cfg = write_project(tmp_path / "proj", server.base_url)
        assert evalkit("run", "ft", "--config", cfg, "--output", tmp_path / "ft") == 0
    samples = [json.loads(line) for line in (tmp_path / "ft" / "samples.jsonl").read_text().splitlines()]
    by_task = {s["task"]: s for s in samples}
    assert set(by_task) == {"qa", "mc", "ppl"}
    assert all(s["cost_usd"] is not None and s["cost_usd"] > 0 for s in samples)
