"""backend: hf on tiny random models built here: lm-eval's numbers bit for bit, shared base
weights with adapters switched on and off, pinned identities, generation, out-of-memory."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the hf backend needs torch (pip install 'evalkit[hf]')")
pytest.importorskip("transformers", reason="the hf backend needs transformers (pip install 'evalkit[hf]')")
pytest.importorskip("peft", reason="the hf backend needs peft (pip install 'evalkit[hf]')")

from evalkit.backends import hf_loading
from evalkit.backends.base import (
    GenerateRequest,
    LoglikelihoodRequest,
    Message,
    RollingRequest,
)
from evalkit.backends.hf import HFBackend, HFConfig, pair_warnings
from evalkit.compare.sanity import identical_warning
from evalkit.backends.hf_tiny import build_lora_adapter, build_tiny_model
from evalkit.backends.registry import BackendContext

CHAT = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    build_tiny_model(root / "base")
    build_lora_adapter(root / "base", root / "lora")
    build_lora_adapter(root / "base", root / "zero", zero=True)
    build_tiny_model(root / "chatty", chat_template=CHAT, vocab_size=400)
    return root


def backend(root: Path, **cfg) -> HFBackend:
    cfg = {"model": "base", "device": "cpu", "batch_size": 4, **cfg}
    ctx = BackendContext(root=root, cache_dir=root / ".cache", backend_for=lambda n: None)
    return HFBackend.create(HFConfig(**cfg), ctx)


def answers(b, reqs):
    out = dict(b.submit(reqs))
    assert sorted(out) == list(range(len(reqs)))
    return [out[i] for i in range(len(reqs))]


PAIRS = [
    ("The capital of France is", " Paris"),
    ("The capital of France is", " Madrid"),
    ("The capital of France is", " Rome, a city in Italy"),
    ("Question: What is 2 plus 2?\nAnswer:", " 4"),
    ("Question: What is 2 plus 2?\nAnswer:", " four"),
    ("trailing space moves ", "to the continuation"),
    ("", "A text with no context at all."),
    ("Millbrook is a small town by a river, home to about two thousand people. " * 12, " Visitors come."),
]


@pytest.fixture(scope="module")
def hflm(models):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(models / "base"), device="cpu", batch_size=4, max_length=64)


def test_loglikelihoods_equal_lm_eval_hflm(models, hflm):
    from lm_eval.api.instance import Instance

    ref = hflm.loglikelihood([Instance("loglikelihood", {}, p, 0) for p in PAIRS], disable_tqdm=True)
    ours = answers(backend(models, max_length=64), [LoglikelihoodRequest(*p) for p in PAIRS])
    for (lp, greedy), got in zip(ref, ours):
        assert abs(lp - got.logprob) <= 1e-6 and greedy == got.is_greedy
    assert ours[-1].prompt_tokens > 64 and ours[0].n_tokens >= 1


def test_rolling_loglikelihood_equals_lm_eval_over_many_windows(models, hflm):
    from lm_eval.api.instance import Instance
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

    from evalkit.backends.hf_scoring import rolling_windows

    docs = ["A short one.", "Kofi got up before sunrise and made a cup of mint tea. " * 9, "x " * 150]
    ref = hflm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (d,), 0) for d in docs], disable_tqdm=True)
    ours = answers(backend(models, max_length=64), [RollingRequest(d) for d in docs])
    assert all(abs(a - b.logprob) <= 1e-6 for a, b in zip(ref, ours))
    assert ours[1].n_tokens > 64  # really several windows
    for n in (1, 5, 63, 64, 65, 200):
        tokens = list(range(100, 100 + n))
        expected = [make_disjoint_window(w) for w in get_rolling_token_windows(tokens, 7, 64, 1)]
        assert rolling_windows(tokens, 7, 64) == expected


def test_shared_prefix_reuse_is_bitwise_exact(models):
    reqs = [LoglikelihoodRequest(c, k) for c, k in PAIRS] * 2
    fast = backend(models, batch_size=8)
    got = answers(fast, reqs)
    assert fast.run_info()["prefix_reuse"] is True
    plain = backend(models, batch_size=8)
    plain._ensure_loaded()
    plain._scorer.dedup = None
    assert [(a.logprob, a.is_greedy) for a in got] == [(a.logprob, a.is_greedy) for a in answers(plain, reqs)]


def test_base_and_lora_fine_tune_share_one_copy_of_the_weights(models):
    hf_loading.clear_loaded()
    before = hf_loading.LOAD_COUNT["n"]
    reqs = [LoglikelihoodRequest(*p) for p in PAIRS]
    base = backend(models)
    base_alone = answers(base, reqs)
    ft = backend(models, adapter="lora")
    tuned = answers(ft, reqs)
    again = answers(base, reqs)
    assert hf_loading.LOAD_COUNT["n"] - before == 1 and base._base is ft._base
    assert [a.logprob for a in again] == [a.logprob for a in base_alone]  # the adapter is off for base
    assert max(abs(a.logprob - b.logprob) for a, b in zip(base_alone, tuned)) > 1e-3
    # ...and on for the fine-tune: the same numbers as peft's own model, loaded separately.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(models / "base")), str(models / "lora")).eval()
    ctx, cont = ft._tokens.pairs([PAIRS[0]])[0]
    ids = torch.tensor([ctx + cont])
    with torch.inference_mode():
        logp = torch.log_softmax(ref(ids).logits[0, len(ctx) - 1 : -1], -1)
    assert abs(sum(logp[i, t].item() for i, t in enumerate(cont)) - tuned[0].logprob) < 1e-4
    assert base.identity() != ft.identity() and ft.identity()["adapter"]["name"] == "lora"


def test_an_untrained_adapter_is_reported(models, project):
    hf_loading.clear_loaded()
    with pytest.warns(UserWarning, match="changes nothing"):
        answers(backend(models, adapter="zero"), [LoglikelihoodRequest(*PAIRS[0])])

    class Run:
        def __init__(self, model, samples):
            self.model, self.samples = model, samples

    same = [{"task": "t", "id": "1", "status": "ok", "response": "a", "stats": {"accuracy": [1, 1]}, "extra": {"loglikelihoods": [-1.0]}}]
    differs = [dict(same[0], extra={"loglikelihoods": [-1.5]})]
    assert "changes nothing" in identical_warning(Run("base", same), Run("ft", same))
    assert identical_warning(Run("base", same), Run("ft", differs)) is None


def test_identity_is_pinned_to_the_files_not_the_path(models, tmp_path):
    import shutil

    a = backend(models).identity()
    assert a == backend(models).identity() and str(models) not in json.dumps(a)
    copy = tmp_path / "base"
    shutil.copytree(models / "base", copy)
    assert backend(tmp_path).identity()["model"] == a["model"]  # same files: same answers
    cfg = json.loads((copy / "config.json").read_text())
    cfg["layer_norm_epsilon"] = 1e-6
    (copy / "config.json").write_text(json.dumps(cfg))
    assert backend(tmp_path).identity()["model"] != a["model"]
    assert backend(models, dtype="bfloat16").identity() != a


def test_tokenizer_and_chat_template_differences_are_warned(models, tmp_path):
    import shutil

    shutil.copytree(models / "lora", tmp_path / "lora-chat")  # an adapter that brings its own tokenizer
    for path in (models / "chatty").iterdir():
        if path.name.startswith(("tokenizer", "chat_template", "special_tokens")):
            shutil.copy(path, tmp_path / "lora-chat" / path.name)
    shutil.copytree(models / "base", tmp_path / "base")
    base, ft = backend(tmp_path), backend(tmp_path, adapter="lora-chat")
    msgs = pair_warnings(base, ft)
    assert any("different tokenizers" in m for m in msgs) and any("chat templates" in m for m in msgs)
    assert pair_warnings(backend(models), backend(models, adapter="lora")) == []
    hf_loading.clear_loaded()
    answers(base, [LoglikelihoodRequest(*PAIRS[0])])
    with pytest.warns(UserWarning, match="share base weights but not their tokenizer"):
        answers(ft, [LoglikelihoodRequest(*PAIRS[0])])


def test_generation_stops_at_stop_sequences_and_uses_the_chat_template_only_when_asked(models, hflm):
    b = backend(models)
    prompts = ["The capital of France is", "Question: What is 2 plus 2?\nAnswer:", "Kofi got up"]
    free = answers(b, [GenerateRequest((Message("user", p),), max_tokens=12) for p in prompts])
    assert all(g.completion_tokens <= 12 for g in free)
    text = free[0].text
    stop = text[4:7]
    assert stop
    cut = answers(b, [GenerateRequest((Message("user", prompts[0]),), max_tokens=12, stop=(stop,))])[0]
    assert cut.text == text[: text.find(stop)] and cut.finish_reason == "stop"
    # The same greedy continuations as lm-eval's generate_until.
    from lm_eval.api.instance import Instance

    ref = hflm.generate_until(
        [Instance("generate_until", {}, (p, {"until": ["<never>"], "max_gen_toks": 12, "do_sample": False}), 0) for p in prompts],
        disable_tqdm=True,
    )
    assert [g.text for g in free] == ref
    chat = backend(models, model="chatty", chat_template=True)
    chat._ensure_loaded()
    req = GenerateRequest((Message("system", "Be brief."), Message("user", "Hi")), max_tokens=2)
    assert chat._prompt(req) == "<|system|>Be brief.\n<|user|>Hi\n<|assistant|>"
    assert backend(models, model="chatty")._prompt(req) == "Be brief.\n\nHi"


def test_out_of_memory_halves_the_batch_size_and_records_it(models):
    b = backend(models, batch_size=8)
    b._ensure_loaded()
    real = b._scorer.forward

    def small_memory(ids, keep):
        if ids.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(ids, keep)

    b._scorer.forward = small_memory
    reqs = [LoglikelihoodRequest(*p) for p in PAIRS]
    got = answers(b, reqs)
    info = b.run_info()
    assert info["batch_size"] == 2 and info["oom_halvings"] == 2 and info["batch_size_configured"] == 8
    ref = answers(backend(models, batch_size=2), reqs)
    assert all(abs(a.logprob - r.logprob) <= 1e-6 for a, r in zip(got, ref))


def test_lm_eval_models_are_evalkit_backends(models):
    from evalkit.backends.lm_eval_model import LmEvalBackend, LmEvalModelConfig

    cfg = LmEvalModelConfig(model="hf", model_args={"pretrained": "base", "max_length": 64}, batch_size=4, device="cpu")
    lm_backend = LmEvalBackend(cfg, models)
    assert lm_backend.identity()["model_args"]["pretrained"]["name"] == "base"
    reqs = [LoglikelihoodRequest(*p) for p in PAIRS[:4]] + [RollingRequest("A short one.")]
    ours = answers(backend(models, max_length=64), reqs)
    theirs = answers(lm_backend, reqs)
    assert all(abs(a.logprob - b.logprob) <= 1e-6 for a, b in zip(ours, theirs))
    assert theirs[0].n_tokens == ours[0].n_tokens and theirs[-1].n_tokens == ours[-1].n_tokens


MEMORY_PROBE = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
from pathlib import Path
import torch
from evalkit.backends.base import LoglikelihoodRequest
from evalkit.backends.hf import HFBackend, HFConfig
from evalkit.backends.registry import BackendContext

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096

root = Path(sys.argv[1])
ctx = BackendContext(root=root, cache_dir=root, backend_for=lambda n: None)
make = lambda **kw: HFBackend.create(HFConfig(device="cpu", batch_size=2, **kw), ctx)
reqs = [LoglikelihoodRequest("The capital of France is", " Paris")]
warm = make(model="warm"); list(warm.submit(reqs)); warm.close()
r0 = rss()
base = make(model="big"); list(base.submit(reqs))
r1 = rss()
ft = make(model="big", adapter="big-lora"); list(ft.submit(reqs))
r2 = rss()
other = make(model="big-copy"); list(other.submit(reqs))  # no sharing across folders: the control
r3 = rss()
print(json.dumps({"base": r1 - r0, "ft": r2 - r1, "copy": r3 - r2}))
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="resident memory is read from /proc (Linux)")
def test_peak_memory_of_base_plus_fine_tune_is_about_one_model(tmp_path):
    import shutil

    build_tiny_model(tmp_path / "warm", n_layer=1, n_embd=32)
    build_tiny_model(tmp_path / "big", n_layer=4, n_embd=512, n_head=4)  # ~12.6M parameters, ~50 MB
    build_lora_adapter(tmp_path / "big", tmp_path / "big-lora")
    shutil.copytree(tmp_path / "big", tmp_path / "big-copy")
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(tmp_path)], capture_output=True, text=True, check=True)
    grew = json.loads(out.stdout.strip().splitlines()[-1])
    weights = sum(p.stat().st_size for p in (tmp_path / "big").glob("*.safetensors"))
    assert grew["copy"] > 0.7 * weights, grew  # the measurement sees a second model
    assert grew["ft"] < 0.25 * weights, grew  # the fine-tune adds its adapter, not a model
    assert grew["base"] < 1.6 * weights, grew


def test_importing_the_backend_leaves_torch_unloaded():
    code = "import sys, evalkit.backends.hf, evalkit.backends.lm_eval_model; print('torch' in sys.modules, 'lm_eval' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_config_rejects_bad_options(models):
    from pydantic import ValidationError

    for bad in ({"dtype": "float64"}, {"device": "tpu"}, {"batch_size": 0}, {"colour": "red"}):
        with pytest.raises(ValidationError):
            HFConfig(model="base", **bad)
    assert math.isfinite(answers(backend(models, batch_size="auto"), [LoglikelihoodRequest(*PAIRS[0])])[0].logprob)


# --- inputs longer than the model's context (256 positions) ----------------------------------

LONG = "Millbrook is a small town by a river, home to about two thousand people. " * 32  # ~1,000 tokens
LONG2 = "Kofi got up before sunrise and made a cup of mint tea. " * 40  # ~1,200 tokens
STORY = " " + "A story about rivers. " * 12  # ~110 tokens
LONG_PAIRS = [
    (LONG, " Visitors come."),
    (LONG, " The river floods in spring and the town"),
    (LONG2, " tea"),
    ("short", " one"),
    (LONG2 + "Question: and then?", STORY),
    ("The capital of France is", " Paris"),
    (LONG, STORY),
    ("", LONG[:200]),
]


@pytest.fixture(scope="module")
def hflm_256(models):
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(models / "base"), device="cpu", batch_size=4)  # context from n_positions
    assert lm.max_length == 256
    return lm


def test_contexts_longer_than_the_model_are_cut_from_the_left_as_lm_eval_does(models, hflm_256):
    from lm_eval.api.instance import Instance

    b = backend(models)  # no max_length: the model's 256 positions, as HFLM resolves it
    ref = hflm_256.loglikelihood([Instance("loglikelihood", {}, p, 0) for p in LONG_PAIRS], disable_tqdm=True)
    # A continuation too long for any context rides along: the others keep lm-eval's batches.
    ours = answers(b, [LoglikelihoodRequest(*p) for p in LONG_PAIRS] + [LoglikelihoodRequest("", LONG)])
    assert b._scorer.max_length == 256
    assert max(o.prompt_tokens for o in ours) > 900  # really ~1,000-token inputs
    for (lp, greedy), got in zip(ref, ours):
        assert abs(lp - got.logprob) <= 1e-6 and greedy == got.is_greedy
    docs = [LONG, LONG2]
    ref_rolling = hflm_256.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (d,), 0) for d in docs], disable_tqdm=True)
    ours_rolling = answers(b, [RollingRequest(d) for d in docs])
    assert all(abs(a - o.logprob) <= 1e-6 for a, o in zip(ref_rolling, ours_rolling))


def test_prompts_longer_than_the_model_generate_as_lm_eval_does(models, hflm_256):
    from lm_eval.api.instance import Instance

    prompts = [LONG + "Question: who lives there?\nAnswer:", LONG2 + "And then"]
    b = backend(models)
    ours = answers(b, [GenerateRequest((Message("user", p),), max_tokens=16) for p in prompts])
    assert all(len(b._tokenizer(p)["input_ids"]) > 900 for p in prompts)
    ref = hflm_256.generate_until(
        [Instance("generate_until", {}, (p, {"until": ["<never>"], "max_gen_toks": 16, "do_sample": False}), 0) for p in prompts],
        disable_tqdm=True,
    )
    assert [g.text for g in ours] == ref


def test_a_continuation_longer_than_the_context_is_scored_as_lm_eval_scores_documents(models, hflm_256):
    from lm_eval.api.instance import Instance

    with pytest.raises(AssertionError):  # lm-eval's loglikelihood refuses it outright
        hflm_256.loglikelihood([Instance("loglikelihood", {}, ("", LONG), 0)], disable_tqdm=True)
    (rolling,) = hflm_256.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (LONG,), 0)], disable_tqdm=True)
    (got,) = answers(backend(models), [LoglikelihoodRequest("", LONG)])
    assert got.n_tokens > 3 * 256
    # Same windows, same rows; only the batches' padding differs, so float32 rounding may.
    assert math.isclose(got.logprob, rolling, rel_tol=1e-5)
    assert not got.is_greedy
