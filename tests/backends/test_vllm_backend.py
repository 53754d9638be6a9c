"""backend: vllm, through a STAND-IN for ``vllm.LLM`` (tests/vllm_standin.py): vLLM needs a
CUDA GPU and cannot run on this CPU-only machine. The stand-in has vLLM's offline API shapes
and a real tiny transformers model behind them, so the vllm backend's prompt-logprob scoring
is checked here against the hf backend on the same weights and adapters, and the engine count
of a compare is read from what the stand-in constructed."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the stand-in runs a tiny transformers model (pip install 'evalkit[hf]')")
pytest.importorskip("peft", reason="the stand-in applies adapters with peft (pip install 'evalkit[hf]')")

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import vllm_standin  # noqa: E402

from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, Message, RollingRequest  # noqa: E402
from evalkit.backends.hf import HFBackend, HFConfig  # noqa: E402
from evalkit.backends.hf_tiny import build_lora_adapter, build_tiny_model  # noqa: E402
from evalkit.backends.registry import BackendContext  # noqa: E402
from evalkit.backends.vllm import VLLMBackend, VLLMConfig  # noqa: E402
from evalkit.errors import MissingExtra  # noqa: E402

DEMO_TASKS = Path(__file__).resolve().parents[2] / "benchmarks" / "demo" / "tasks"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("vllm")
    build_tiny_model(root / "base")
    build_lora_adapter(root / "base", root / "lora1", seed=1)
    build_lora_adapter(root / "base", root / "lora2", seed=2, r=16)
    return root


@pytest.fixture
def standin(monkeypatch):
    return vllm_standin.install(monkeypatch)


def ctx(root, peers=None):
    return BackendContext(root=root, cache_dir=root / ".cache", backend_for=lambda n: None, peers=peers or {})


def vllm_backend(root, **cfg) -> VLLMBackend:
    config = VLLMConfig(**{"model": "base", **cfg})
    return VLLMBackend.create(config, ctx(root, {"m": config}))


def answers(b, reqs):
    out = dict(b.submit(reqs))
    assert sorted(out) == list(range(len(reqs)))
    return [out[i] for i in range(len(reqs))]


PAIRS = [
    ("The capital of France is", " Paris"),
    ("The capital of France is", " Rome, a city in Italy"),
    ("Question: What is 2 plus 2?\nAnswer:", " 4"),
    ("trailing space moves ", "to the continuation"),
    ("", "A text with no context at all."),
    ("Millbrook is a small town by a river, home to about two thousand people. " * 30, " Visitors come."),
]
TEXTS = ["A short text.", "Sofia got up before sunrise on Monday and made a cup of hot chocolate. " * 20]


@pytest.mark.parametrize("adapter", [None, "lora1"])
def test_scores_equal_the_hf_backend_on_the_same_weights(models, standin, adapter):
    """Prompt log-probabilities summed over the same tokens lm-eval scores: the hf backend's
    numbers (themselves checked against lm-eval's HFLM), base and adapter alike; the long
    context is cut on the left at the same context length (vLLM's max_model_len counts the
    last scored token, which hf's max_length leaves out: 129 here is hf's 128)."""
    hf = HFBackend.create(HFConfig(model="base", adapter=adapter, device="cpu", batch_size=4, max_length=128), ctx(models))
    vl = vllm_backend(models, adapter=adapter, max_model_len=129)
    reqs = [LoglikelihoodRequest(*p) for p in PAIRS] + [RollingRequest(t) for t in TEXTS]
    want, got = answers(hf, reqs), answers(vl, reqs)
    for w, g in zip(want, got):
        assert g.logprob == pytest.approx(w.logprob, rel=1e-6, abs=1e-4) and g.n_tokens == w.n_tokens
    assert [w.is_greedy for w in want[: len(PAIRS)]] == [g.is_greedy for g in got[: len(PAIRS)]]
    hf.close()
    vl.close()


def test_greedy_continuation_is_greedy(models, standin):
    """A continuation the model itself generated greedily must score as greedy, and its
    log-probability must equal the sum of the generated tokens' own log-probabilities."""
    vl = vllm_backend(models)
    gen = answers(vl, [GenerateRequest((Message("user", "The weather today is"),), max_tokens=5, top_logprobs=3)])[0]
    assert gen.completion_tokens > 0 and gen.finish_reason in ("stop", "length")
    assert len(gen.extra["top_logprobs"]) == 3
    ll = answers(vl, [LoglikelihoodRequest("The weather today is", gen.text)])[0]
    if ll.n_tokens == gen.completion_tokens:  # re-tokenising the text gave the same tokens
        assert ll.is_greedy
    vl.close()


def test_base_and_adapters_share_one_engine(models, standin):
    peers = {
        "base": VLLMConfig(model="base"),
        "ft1": VLLMConfig(model="base", adapter="lora1"),
        "ft2": VLLMConfig(model="base", adapter="lora2"),
        "other": VLLMConfig(model="base", dtype="float16"),  # another engine: not counted
    }
    backends = {n: VLLMBackend.create(c, ctx(models, peers)) for n, c in peers.items() if n != "other"}
    for name, b in backends.items():
        answers(b, [LoglikelihoodRequest(f"{name} says", " hello")])
    assert len(vllm_standin.CONSTRUCTED) == 1
    engine = vllm_standin.CONSTRUCTED[0]
    # lora2 has rank 16, lora1 rank 4: the engine takes the larger (on vLLM's list of ranks)
    assert engine["enable_lora"] is True and engine["max_lora_rank"] == 16 and engine["max_loras"] == 2
    assert engine["enable_prefix_caching"] is False  # prompt logprobs must not depend on what ran before
    assert [a for _, a in vllm_standin.REQUESTS] == [None, "lora1", "lora2"]
    for b in backends.values():
        b.close()


def test_a_base_without_adapters_runs_without_lora(models, standin):
    b = vllm_backend(models, tensor_parallel_size=2, engine_args={"enable_prefix_caching": True})
    answers(b, [RollingRequest("Some text.")])
    engine = vllm_standin.CONSTRUCTED[0]
    assert "enable_lora" not in engine and "data_parallel_size" not in engine
    assert engine["tensor_parallel_size"] == 2 and engine["enable_prefix_caching"] is True
    b.close()


def test_data_parallel_replicas_answer_like_one_engine(models, standin, tmp_path, monkeypatch):
    """data_parallel_size: 2 -> two engines in two processes, each on its own GPUs (its own
    CUDA_VISIBLE_DEVICES), the requests split between them, the answers as from one engine."""
    from evalkit.backends import vllm_engine

    vllm_standin.write_shim(tmp_path / "shim")
    monkeypatch.syspath_prepend(str(tmp_path / "shim"))  # the spawned replicas import vllm from here
    monkeypatch.setenv("VLLM_STANDIN_LOG", str(tmp_path / "log.jsonl"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    reqs = [LoglikelihoodRequest(*p) for p in PAIRS] + [GenerateRequest((Message("user", f"Story {i}:"),), max_tokens=4) for i in range(3)]
    one = vllm_backend(models, adapter="lora1")
    want = answers(one, reqs)
    one.close()
    two = vllm_backend(models, adapter="lora1", data_parallel_size=2, tensor_parallel_size=2)
    try:
        got = answers(two, reqs)
    finally:
        two.close()
        vllm_engine.clear()  # stops the replica processes
    for w, g in zip(want, got):
        assert type(w) is type(g)
        assert (w.text == g.text) if hasattr(w, "text") else (w.logprob == pytest.approx(g.logprob) and w.is_greedy == g.is_greedy)
    log = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    built = [r for r in log if r["event"] == "construct" and r["pid"] != os.getpid()]  # not the one-engine run
    assert sorted(r["devices"] for r in built) == ["4,5", "6,7"]
    workers = {r["pid"] for r in log if r["event"] == "generate" and r["pid"] != os.getpid()}
    assert workers == {r["pid"] for r in built}, "both replicas answered a share"


def test_identity_pins_weights_adapter_and_engine_settings(models):
    base = vllm_backend(models).identity()
    assert vllm_backend(models, adapter="lora1").identity() != base
    assert vllm_backend(models, adapter="lora1").identity() != vllm_backend(models, adapter="lora2").identity()
    for change in ({"dtype": "float16"}, {"tensor_parallel_size": 2}, {"max_model_len": 64},
                   {"quantization": "fp8"}, {"engine_args": {"kv_cache_dtype": "fp8"}}, {"chat_template": True}):
        assert vllm_backend(models, **change).identity() != base, change
    # replicas and memory share decide speed, not answers: a scaled-out run reuses the cache
    assert vllm_backend(models, data_parallel_size=8, gpu_memory_utilization=0.5).identity() == base
    json.dumps(base)  # JSON-serialisable, part of every cache key


def test_without_vllm_the_user_is_told_which_extra(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(MissingExtra, match=r"evalkit\[vllm\]"):
        answers(vllm_backend(models), [RollingRequest("x")])


def _project(root: Path, models: Path) -> Path:
    (root / "tasks" / "data").mkdir(parents=True)
    for name in ("arithmetic", "general_mc", "general_text"):
        shutil.copy(DEMO_TASKS / f"{name}.yaml", root / "tasks")
        shutil.copy(DEMO_TASKS / "data" / f"{name}.jsonl", root / "tasks" / "data")
    (root / "evalkit.yaml").write_text(
        f"tasks: [tasks/*.yaml]\n"
        f"models:\n"
        f"  base: {{backend: vllm, model: {models / 'base'}, max_model_len: 200}}\n"
        f"  ft1: {{backend: vllm, model: {models / 'base'}, max_model_len: 200, adapter: {models / 'lora1'}}}\n"
        f"  ft2: {{backend: vllm, model: {models / 'base'}, max_model_len: 200, adapter: {models / 'lora2'}}}\n"
    )
    return root


def test_compare_base_ft1_ft2_loads_one_engine(cli, models, standin, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    project = _project(tmp_path / "p", models)
    code, out, err = cli("compare", "base", "ft1", "ft2", "--config", project, "--limit", "3", "--output", tmp_path / "out", "--quiet")
    assert code in (0, 1), err  # 1: a gate verdict, not an error
    assert len(vllm_standin.CONSTRUCTED) == 1, "base, ft1 and ft2 must be served by one engine"
    sent = {a for _, a in vllm_standin.REQUESTS}
    assert sent == {None, "lora1", "lora2"}
    results = {m: json.loads((tmp_path / "out" / "runs" / m / "results.json").read_text()) for m in ("base", "ft1", "ft2")}
    assert all(r["backend"] == "vllm" for r in results.values())
    assert results["ft1"]["identity"]["adapter"]["name"] == "lora1"
    # Everything is cached: a second compare sends nothing and builds no engine.
    vllm_standin.CONSTRUCTED.clear()
    vllm_standin.REQUESTS.clear()
    from evalkit.backends import vllm_engine

    vllm_engine.clear()
    code, _, err = cli("compare", "base", "ft1", "ft2", "--config", project, "--limit", "3", "--output", tmp_path / "out2", "--quiet")
    assert code in (0, 1), err
    assert vllm_standin.REQUESTS == [] and vllm_standin.CONSTRUCTED == []


def test_building_the_backend_imports_neither_vllm_nor_torch(models):
    """A fully cached run, `evalkit plan` and `evalkit ls` build backends and identities only."""
    import subprocess

    code = (
        "import sys\nfrom pathlib import Path\n"
        "from evalkit.backends.registry import BackendContext, backend_class\n"
        "cls = backend_class('vllm')\n"
        f"ctx = BackendContext(root=Path({str(models)!r}), cache_dir=None, backend_for=None)\n"
        "cls.create(cls.Config(model='base', adapter='lora1'), ctx).identity()\n"
        "print('HEAVY:' + ','.join(n for n in ('vllm', 'torch', 'transformers') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY:", out


def test_a_prompt_vllm_refuses_fails_alone(models, standin):
    """vLLM raises for a whole batch when one prompt is too long: that prompt is recorded as
    failed (missing data) and the others are answered."""
    from evalkit.errors import BackendError

    b = vllm_backend(models, max_model_len=64)
    long = GenerateRequest((Message("user", "word " * 400),), max_tokens=4)
    short = GenerateRequest((Message("user", "Hello"),), max_tokens=4)
    got = answers(b, [short, long, short])
    assert isinstance(got[1], BackendError) and "maximum model length" in str(got[1])
    assert got[0].text == got[2].text and got[0].completion_tokens > 0
    b.close()
