"""``backend: vllm``: a local or hub model in an in-process ``vllm.LLM``, with LoRA adapters
served per request.

A base model and every fine-tune that is an adapter of it (``adapter:`` on a model entry with
the same ``model:`` and engine settings) share ONE engine (``vllm_engine``): the fine-tunes'
requests carry a ``LoRARequest``, the base's none. ``tensor_parallel_size`` and
``pipeline_parallel_size`` are passed through to ``vllm.LLM``, as is anything under
``engine_args``; ``data_parallel_size: N`` runs N engines in their own processes, each on its
own GPUs (``vllm_replicas``: vLLM's offline ``LLM`` class does no data parallelism itself).

Scoring uses vLLM's prompt log-probabilities (``SamplingParams(prompt_logprobs=1)``, one
generated token) on exactly the token ids the hf backend scores (``hf_scoring.Tokens`` and
``rolling_windows``, lm-eval's rules), so ``evalkit parity`` can hold the two side by side:
log P(continuation | context) is the sum of the continuation's prompt log-probabilities, and
it is greedy when every continuation token is the most probable one at its position.

The cache key pins the weights and the adapter (folder fingerprints or hub commits), the
tokenizer, the vLLM version and the engine settings that change what is computed (dtype,
quantization, context length, tensor and pipeline parallel sizes, seed, eager mode,
engine_args). ``data_parallel_size`` and ``gpu_memory_utilization`` are left out: they decide
how many replicas answer and how much memory they get, not the model, so scaling a run out
reuses its cache.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from evalkit.backends.base import (
    Backend,
    GenerateRequest,
    Generation,
    Loglikelihood,
    LoglikelihoodRequest,
    Outcome,
    Request,
    RequestKind,
    RollingLoglikelihood,
    RollingRequest,
    indices_by_kind,
)
from evalkit.config_base import ModelConfigBase
from evalkit.errors import BackendError, FatalBackendError, MissingExtra

# vLLM accepts only these max_lora_rank values (vllm.config.LoRAConfig).
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class VLLMConfig(ModelConfigBase):
    backend: Literal["vllm"] = "vllm"
    revision: str | None = Field(None, description="hub branch, tag or commit (pinned to its commit sha)")
    adapter: str | None = Field(None, description="a LoRA adapter (PEFT folder relative to the config, or hub id) served on the base's engine")
    adapter_revision: str | None = Field(None, description="hub revision of the adapter")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="auto: the checkpoint's own")
    quantization: str | None = Field(None, description="vLLM quantization method (awq, gptq, fp8...)")
    max_model_len: int | None = Field(None, ge=2, le=10_000_000, description="context length in tokens (default: the model's)")
    tensor_parallel_size: int = Field(1, ge=1, le=1024, description="GPUs each replica is split over")
    pipeline_parallel_size: int = Field(1, ge=1, le=1024, description="pipeline stages per replica")
    data_parallel_size: int = Field(1, ge=1, le=1024, description="replicas answering the requests (not in the cache key)")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="share of each GPU's memory vLLM may take (not in the cache key)")
    enforce_eager: bool = Field(False, description="no CUDA graphs")
    seed: int = Field(0, ge=0, lt=2**63, description="the engine's seed")
    max_lora_rank: int | None = Field(None, ge=1, le=512, description="default: the largest adapter rank among the models sharing this engine")
    max_loras: int | None = Field(None, ge=1, le=1024, description="adapters held at once (default: the number sharing this engine, at most 8)")
    chat_template: bool = Field(False, description="wrap generation prompts in the tokenizer's chat template")
    engine_args: dict[str, Any] = Field(default_factory=dict, description="more vllm.LLM keyword arguments, passed through")


def engine_fields(cfg: VLLMConfig) -> tuple:
    """The settings that make an engine: two entries equal here share one ``vllm.LLM``."""
    return (
        cfg.model, cfg.revision, cfg.dtype, cfg.quantization, cfg.max_model_len, cfg.tensor_parallel_size,
        cfg.pipeline_parallel_size, cfg.data_parallel_size, cfg.gpu_memory_utilization, cfg.enforce_eager, cfg.seed,
        json.dumps(cfg.engine_args, sort_keys=True, default=str),
    )


class VLLMBackend(Backend):
    name = "vllm"
    supports = frozenset(RequestKind)
    Config = VLLMConfig
    # vLLM schedules a whole chunk itself; chunks keep the cache (and a resumed run) close behind.
    preferred_chunk_size = 4096

    @classmethod
    def create(cls, config: VLLMConfig, ctx) -> "VLLMBackend":
        from evalkit.backends.hf_loading import resolve_source

        model = resolve_source(config.model, ctx.root, config.revision, what=f"model '{config.model}'")
        adapter = resolve_source(config.adapter, ctx.root, config.adapter_revision, what="adapter") if config.adapter else None
        peers = [c for c in getattr(ctx, "peers", {}).values() if isinstance(c, VLLMConfig) and engine_fields(c) == engine_fields(config)]
        return cls(config, model, adapter, lora_settings(config, peers, ctx.root))

    def __init__(self, config: VLLMConfig, model_source, adapter_source=None, lora=None):
        from evalkit.backends.vllm_engine import LoraSettings

        self.config = config
        self.source = model_source
        self.adapter_source = adapter_source
        if lora is None and adapter_source is not None:
            lora = LoraSettings(config.max_lora_rank or 16, config.max_loras or 1)
        self.lora = lora
        self._engine = None
        self._tokens = None

    # --- identity (nothing loaded) -------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        from evalkit.backends.hf_loading import tokenizer_source

        c = self.config
        return {
            "backend": self.name,
            "model": self.source.record(),
            "adapter": self.adapter_source.record() if self.adapter_source else None,
            "tokenizer": tokenizer_source(self.source, self.adapter_source).record()["fingerprint"],
            "vllm": _vllm_version(),
            "engine": {
                "dtype": c.dtype, "quantization": c.quantization, "max_model_len": c.max_model_len,
                "tensor_parallel_size": c.tensor_parallel_size, "pipeline_parallel_size": c.pipeline_parallel_size,
                "enforce_eager": c.enforce_eager, "seed": c.seed, "engine_args": c.engine_args,
            },
            "chat_template": c.chat_template,
            "scoring": "prompt-logprobs-lm-eval-tokens-v1",
        }

    def engine_key(self) -> tuple:
        return ("vllm", self.source.path, self.source.revision, *engine_fields(self.config)[2:])

    def engine_kwargs(self) -> dict[str, Any]:
        c = self.config
        kwargs: dict[str, Any] = {
            "model": self.source.path, "revision": self.source.revision, "dtype": c.dtype,
            "tensor_parallel_size": c.tensor_parallel_size, "gpu_memory_utilization": c.gpu_memory_utilization,
            "enforce_eager": c.enforce_eager, "seed": c.seed,
            # Prompt log-probabilities and the prefix cache have a history together: refused
            # (vllm#11910), crashing (vllm#8268) and, as late as 2026, stale values at cached
            # positions (vllm#42019). Scores must not depend on what ran before: off, unless
            # engine_args turns it on.
            "enable_prefix_caching": False,
        }
        # Only what the user set: older vLLM releases reject keywords they do not know.
        optional = {"quantization": c.quantization, "max_model_len": c.max_model_len}
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        if c.pipeline_parallel_size > 1:
            kwargs["pipeline_parallel_size"] = c.pipeline_parallel_size
        return {**kwargs, **c.engine_args}

    def compare_warnings(self, base: Backend) -> list[str]:
        if isinstance(base, VLLMBackend) and base.engine_key() != self.engine_key():
            return ["base and fine-tune have different vLLM engine settings: two engines are loaded, "
                    "and their answers differ by the settings as well as the weights"]
        return []

    # --- loading -------------------------------------------------------------------------

    def _ensure_engine(self):
        if self._engine is not None:
            return self._engine
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise MissingExtra("vllm", "vllm") from None
        from evalkit.backends.hf_scoring import Tokens
        from evalkit.backends.vllm_engine import acquire

        try:
            engine = acquire(self.engine_key(), self.engine_kwargs(), self.lora, replicas=self.config.data_parallel_size)
        except Exception as exc:  # noqa: BLE001 - a broken checkpoint or GPU is one line, not a traceback
            raise FatalBackendError(f"cannot start vLLM for '{self.config.model}': {type(exc).__name__}: {exc}") from None
        if self.adapter_source is not None and engine.lora is None:
            raise FatalBackendError(f"model '{self.config.model}': its vLLM engine was started without LoRA; give it max_loras: 1")
        self._engine = engine
        self._tokenizer = engine.llm.get_tokenizer()
        self._tokens = Tokens(self._tokenizer)
        self._max_len = self.config.max_model_len or _engine_max_len(engine.llm)
        self._lora_request = None
        if self.adapter_source is not None:
            a = self.adapter_source
            self._lora_request = engine.lora_request(a.record()["name"], a.fingerprint or f"{a.path}@{a.revision}", _local_path(a))
        return engine

    # --- requests ------------------------------------------------------------------------

    def submit(self, requests: Sequence[Request]) -> Iterator[tuple[int, Outcome]]:
        self._ensure_engine()
        by_kind = indices_by_kind(requests)
        if LoglikelihoodRequest in by_kind:
            yield from self._loglikelihood(requests, by_kind[LoglikelihoodRequest])
        if RollingRequest in by_kind:
            yield from self._rolling(requests, by_kind[RollingRequest])
        if GenerateRequest in by_kind:
            yield from self._generate(requests, by_kind[GenerateRequest])

    def _run(self, prompts: list, params: list) -> tuple[list, float]:
        """vLLM's outputs, one per prompt (a BackendError where that prompt failed), and the
        seconds per prompt. A batch that raises is retried prompt by prompt, so one prompt
        vLLM refuses (too long) fails alone."""
        started = time.perf_counter()
        try:
            outs = list(self._engine.llm.generate(prompts, params, lora_request=self._lora_request, use_tqdm=False))
        except Exception:  # noqa: BLE001 - find the prompt(s) at fault below
            outs = []
            for p, sp in zip(prompts, params):
                try:
                    outs.append(self._engine.llm.generate([p], [sp], lora_request=self._lora_request, use_tqdm=False)[0])
                except Exception as exc:  # noqa: BLE001 - this prompt's failure, recorded against its item
                    outs.append(BackendError(f"vLLM: {type(exc).__name__}: {exc}"))
        return outs, (time.perf_counter() - started) / max(1, len(prompts))

    def _score(self, pairs: list[tuple[list[int], list[int]]]) -> list[tuple[float, bool] | BackendError]:
        """(log P(cont | ctx), greedy) per token pair, from prompt log-probabilities."""
        from vllm import SamplingParams

        self._seconds = 0.0
        if not pairs:
            return []
        prompts, spans = [], []
        for ctx, cont in pairs:
            # lm-eval cuts the context on the left. vLLM's prompt must hold the last scored
            # token too, so it keeps max_model_len tokens where hf keeps its max_length + 1.
            ids = (ctx + cont)[-self._max_len :]
            prompts.append({"prompt_token_ids": ids})
            spans.append((len(ids) - len(cont), ids))
        params = [SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=1)] * len(prompts)
        outs, self._seconds = self._run(prompts, params)
        results: list[tuple[float, bool] | BackendError] = []
        for (start, ids), out in zip(spans, outs):
            if isinstance(out, BackendError):
                results.append(out)
                continue
            total, greedy = 0.0, True
            for pos in range(start, len(ids)):
                at = out.prompt_logprobs[pos]
                total += at[ids[pos]].logprob
                greedy = greedy and max(at, key=lambda t: at[t].logprob) == ids[pos]
            results.append((total, greedy))
        return results

    def _loglikelihood(self, requests, idx: list[int]):
        encoded = self._tokens.pairs([(requests[i].context, requests[i].continuation) for i in idx])
        ok = []
        for i, (ctx, cont) in zip(idx, encoded):
            if not cont:
                yield i, BackendError("the continuation is empty after tokenization")
            elif len(cont) >= self._max_len:  # not one context token left
                yield i, BackendError(f"the continuation is {len(cont)} tokens, the context length {self._max_len}")
            else:
                ok.append((i, ctx, cont))
        for (i, ctx, cont), res in zip(ok, self._score([(c, t) for _, c, t in ok])):
            if isinstance(res, BackendError):
                yield i, res
            else:
                yield i, Loglikelihood(res[0], res[1], len(cont), prompt_tokens=len(ctx), latency_s=self._seconds)

    def _rolling(self, requests, idx: list[int]):
        from evalkit.backends.hf_scoring import rolling_windows

        texts = [requests[i].text for i in idx]
        enc = self._tokens.encode_many(texts)
        size = self._max_len - 1  # each window plus its first context token must fit (see _score)
        windows = [(k, w) for k, t in enumerate(texts) for w in rolling_windows(enc[t], self._tokens.prefix_id, size)]
        scores = self._score([w for _, w in windows])
        totals: list[float | BackendError] = [0.0] * len(texts)
        for (k, _), res in zip(windows, scores):
            if not isinstance(totals[k], BackendError):  # one failed window fails the text
                totals[k] = res if isinstance(res, BackendError) else totals[k] + res[0]
        for k, i in enumerate(idx):
            if isinstance(totals[k], BackendError):
                yield i, totals[k]
            else:
                yield i, RollingLoglikelihood(totals[k], len(enc[texts[k]]), latency_s=self._seconds)

    def _generate(self, requests, idx: list[int]):
        from vllm import SamplingParams

        reqs = [requests[i] for i in idx]
        if not reqs:
            return
        params = [
            SamplingParams(
                temperature=r.temperature, max_tokens=r.max_tokens, stop=list(r.stop) or None, seed=r.seed,
                logprobs=r.top_logprobs or None,
            )
            for r in reqs
        ]
        outs, seconds = self._run([self._prompt(r) for r in reqs], params)
        for i, r, out in zip(idx, reqs, outs):
            if isinstance(out, BackendError):
                yield i, out
                continue
            c = out.outputs[0]
            extra = {"top_logprobs": self._top_logprobs(c)} if r.top_logprobs and c.logprobs else {}
            yield i, Generation(
                c.text, prompt_tokens=len(out.prompt_token_ids or ()), completion_tokens=len(c.token_ids),
                finish_reason=c.finish_reason or "stop", latency_s=seconds, extra=extra,
            )

    def _top_logprobs(self, completion) -> dict[str, float]:
        first = completion.logprobs[0]
        return {
            (lp.decoded_token if lp.decoded_token is not None else self._tokenizer.decode([tid])): lp.logprob
            for tid, lp in first.items()
        }

    def _prompt(self, req: GenerateRequest) -> str:
        from evalkit.backends.hf_scoring import chat_prompt

        return chat_prompt(self._tokenizer, req, model=self.config.model, use_template=self.config.chat_template)

    def run_info(self) -> dict[str, Any]:
        """How the run went, for results.json (not part of cache keys)."""
        info: dict[str, Any] = {"engine_settings": {k: v for k, v in self.engine_kwargs().items() if k != "model"},
                                "replicas": self.config.data_parallel_size}
        if self.lora is not None:
            info["lora"] = {"max_lora_rank": self.lora.max_lora_rank, "max_loras": self.lora.max_loras}
        return info

    def close(self) -> None:
        if self._engine is not None:
            from evalkit.backends.vllm_engine import release

            release(self._engine)
            self._engine = None


def lora_settings(config: VLLMConfig, peers: list[VLLMConfig], root: Path):
    """LoRA settings for the engine ``config`` shares with ``peers`` (itself included): None
    when none of them has an adapter, so a base-only engine runs without LoRA's overhead."""
    from evalkit.backends.vllm_engine import LoraSettings

    adapters = [p for p in peers if p.adapter] or ([config] if config.adapter else [])
    if not adapters and not (config.max_lora_rank or config.max_loras):
        return None
    ranks = [r for p in adapters if (r := _adapter_rank(root / p.adapter)) is not None]
    rank = config.max_lora_rank or max(ranks, default=16)
    rank = next((r for r in LORA_RANKS if r >= rank), rank)  # vLLM takes only these
    distinct = len({(p.adapter, p.adapter_revision) for p in adapters})
    return LoraSettings(rank, config.max_loras or min(max(distinct, 1), 8))


def _adapter_rank(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))["r"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a hub adapter or no PEFT config: vLLM's default rank unless configured


def _local_path(source) -> str:
    """A folder vLLM can load the adapter from: LoRARequest takes no revision, so a hub
    adapter is fetched at the commit its identity pins (from the local cache when there)."""
    if source.is_local:
        return source.path
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(source.path, revision=source.revision)
    except Exception as exc:  # noqa: BLE001 - offline, no access: one line
        raise FatalBackendError(f"cannot fetch adapter '{source.path}' at {source.revision}: {type(exc).__name__}: {exc}") from None


def _engine_max_len(llm) -> int:
    engine = getattr(llm, "llm_engine", None)
    value = getattr(getattr(engine, "model_config", None), "max_model_len", None)
    return int(value) if value else 2048


def _vllm_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vllm")
    except PackageNotFoundError:
        import sys

        return getattr(sys.modules.get("vllm"), "__version__", None)  # a stand-in in tests
