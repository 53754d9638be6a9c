"""A STAND-IN for the ``vllm`` package, injected through ``sys.modules`` by the tests.

vLLM needs a CUDA GPU and cannot run on this project's CPU-only machines, so the vllm backend
is tested against this module instead. It has the shapes of vLLM's offline API that
evalkit uses (checked against vLLM's docs and source): ``LLM(model=..., **engine_args)``,
``LLM.get_tokenizer()``, ``LLM.llm_engine.model_config.max_model_len``,
``LLM.generate(prompts, sampling_params, lora_request=..., use_tqdm=...)`` returning
``RequestOutput`` objects (``prompt_token_ids``, ``prompt_logprobs``: a list with ``None``
for the first token and ``{token_id: Logprob}`` after it, ``outputs[0]`` a
``CompletionOutput`` with ``text``, ``token_ids``, ``logprobs``, ``finish_reason``),
``SamplingParams(temperature, max_tokens, stop, seed, logprobs, prompt_logprobs)`` and
``vllm.lora.request.LoRARequest(lora_name, lora_int_id, lora_path)``.

Behind it is a real tiny transformers model (evalkit.backends.hf_tiny) with its PEFT
adapters, so its numbers are a model's numbers: the vllm backend's log-likelihoods can be
checked against the hf backend's. It records every engine it constructs and every request
(with the adapter it was sent with), so a test can count engines. Decoding is always greedy.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any

CONSTRUCTED: list[dict[str, Any]] = []  # the keyword arguments of every LLM(...)
REQUESTS: list[tuple[Any, str | None]] = []  # (prompt, adapter name or None) of every prompt


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


class SamplingParams:
    def __init__(self, temperature=1.0, max_tokens=16, stop=None, seed=None, logprobs=None, prompt_logprobs=None):
        self.temperature, self.max_tokens, self.stop, self.seed = temperature, max_tokens, stop, seed
        self.logprobs, self.prompt_logprobs = logprobs, prompt_logprobs


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None


@dataclass
class RequestOutput:
    prompt: str | None
    prompt_token_ids: list[int]
    prompt_logprobs: list[dict[int, Logprob] | None] | None
    outputs: list[CompletionOutput] = field(default_factory=list)


class LLM:
    def __init__(self, model: str, **kwargs):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        CONSTRUCTED.append({"model": model, **kwargs})
        self._log({"event": "construct", "devices": os.environ.get("CUDA_VISIBLE_DEVICES")})
        self._kwargs = kwargs
        self._tok = AutoTokenizer.from_pretrained(model)
        self._base = AutoModelForCausalLM.from_pretrained(model, torch_dtype=torch.float32).eval()
        self._loras: dict[int, Any] = {}
        limit = kwargs.get("max_model_len") or self._base.config.n_positions
        self.llm_engine = types.SimpleNamespace(model_config=types.SimpleNamespace(max_model_len=limit))

    def get_tokenizer(self):
        return self._tok

    def _model(self, lora: LoRARequest | None):
        if lora is None:
            return self._base
        if not self._kwargs.get("enable_lora"):
            raise ValueError("LoRA is not enabled!")  # vLLM's own refusal
        if lora.lora_int_id not in self._loras:
            from peft import PeftModel

            self._loras[lora.lora_int_id] = PeftModel.from_pretrained(copy.deepcopy(self._base), lora.lora_path).eval()
        return self._loras[lora.lora_int_id]

    @staticmethod
    def _log(record: dict) -> None:
        """In a replica process CONSTRUCTED is out of the test's reach: VLLM_STANDIN_LOG gets it."""
        if os.environ.get("VLLM_STANDIN_LOG"):
            with open(os.environ["VLLM_STANDIN_LOG"], "a") as fh:
                fh.write(json.dumps({"pid": os.getpid(), **record}) + "\n")

    def generate(self, prompts, sampling_params, lora_request=None, use_tqdm=True):
        self._log({"event": "generate", "n": len(prompts)})
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        return [self._one(p, sp, lora_request) for p, sp in zip(prompts, params)]

    def _one(self, prompt, sp: SamplingParams, lora: LoRARequest | None) -> RequestOutput:
        import torch

        REQUESTS.append((prompt, lora.lora_name if lora else None))
        model = self._model(lora)
        ids = list(prompt["prompt_token_ids"]) if isinstance(prompt, dict) else self._tok(prompt)["input_ids"]
        limit = self.llm_engine.model_config.max_model_len
        if len(ids) > limit:
            raise ValueError(f"prompt of {len(ids)} tokens is longer than the maximum model length {limit}")
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
        plp = None
        if sp.prompt_logprobs is not None:
            plp = [None] + [self._top(logp[i - 1], sp.prompt_logprobs, ids[i]) for i in range(1, len(ids))]
        out, steps, reason, text = list(ids), [], "length", ""
        with torch.inference_mode():
            for _ in range(min(sp.max_tokens, limit - len(ids))):
                nxt = torch.log_softmax(model(input_ids=torch.tensor([out])).logits[0, -1].double(), -1)
                tok = int(nxt.argmax())
                steps.append(self._top(nxt, sp.logprobs or 1, tok))
                if tok == self._tok.eos_token_id:
                    reason = "stop"
                    break
                out.append(tok)
                text = self._tok.decode(out[len(ids):])
                cut = [text.find(s) for s in (sp.stop or []) if s in text]
                if cut:  # vLLM leaves the stop string out of the text
                    text, reason = text[: min(cut)], "stop"
                    break
        gen = out[len(ids):]
        comp = CompletionOutput(0, text, gen, steps if sp.logprobs else None, reason)
        return RequestOutput(prompt if isinstance(prompt, str) else None, ids, plp, [comp])

    def _top(self, row, k: int, actual: int) -> dict[int, Logprob]:
        order = row.argsort(descending=True)
        ranks = {int(t): r + 1 for r, t in enumerate(order[: max(k, 1)].tolist())}
        keep = set(ranks) | {actual}
        rank_of = lambda t: ranks.get(t) or int((row > row[t]).sum()) + 1  # noqa: E731
        return {t: Logprob(float(row[t]), rank_of(t), self._tok.decode([t])) for t in keep}


SHIM = {  # a `vllm` package that a spawned replica process imports: this stand-in again
    "vllm/__init__.py": "from vllm_standin import LLM, SamplingParams\n__version__ = '0.0-standin'\n",
    "vllm/lora/__init__.py": "",
    "vllm/lora/request.py": "from vllm_standin import LoRARequest\n",
}


def write_shim(folder) -> None:
    """The stand-in as an importable ``vllm`` package under ``folder`` (for replica processes)."""
    from pathlib import Path

    for rel, text in SHIM.items():
        path = Path(folder) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def install(monkeypatch) -> types.ModuleType:
    """Put this stand-in where ``import vllm`` finds it, for one test."""
    CONSTRUCTED.clear()
    REQUESTS.clear()
    root = types.ModuleType("vllm")
    root.__version__ = "0.0-standin"
    root.LLM, root.SamplingParams = LLM, SamplingParams
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = LoRARequest
    lora.request = request
    root.lora = lora
    for name, mod in (("vllm", root), ("vllm.lora", lora), ("vllm.lora.request", request)):
        monkeypatch.setitem(sys.modules, name, mod)
    from evalkit.backends import vllm_engine

    vllm_engine.clear()
    return root
