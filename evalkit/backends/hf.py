"""``backend: hf``: a local or hub causal LM with transformers, optionally with a PEFT adapter.

Construction and :meth:`identity` read only small files (the fingerprint, config.json): a
fully cached run never loads weights. The first request loads the model through the
process-wide registry in ``hf_loading``, so a base model and its LoRA fine-tune share one
copy of the base weights; the adapter is switched on for the fine-tune's forward passes and
off for the base's.

Scoring follows lm-eval's HFLM exactly (``hf_scoring``); generation is batched greedy
decoding with stop sequences (``hf_generate``). The batch size in use, and how often it was
halved on out-of-memory, is reported by :meth:`run_info` for results.json.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from pydantic import Field, field_validator

from evalkit.backends.base import (
    Backend,
    GenerateRequest,
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
from evalkit.errors import BackendError, FatalBackendError

log = logging.getLogger("evalkit.hf")


class HFConfig(ModelConfigBase):
    backend: Literal["hf"] = "hf"
    revision: str | None = Field(None, description="hub branch, tag or commit (pinned to its commit sha)")
    adapter: str | None = Field(None, description="a PEFT adapter: folder (relative to the config) or hub id")
    adapter_revision: str | None = Field(None, description="hub revision of the adapter")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="auto: the checkpoint's own")
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="auto: cuda, else mps, else cpu")
    batch_size: int | Literal["auto"] = Field("auto", description="requests per forward pass; auto: max_batch_size, halved on out-of-memory")
    max_batch_size: int = Field(64, ge=1, le=65_536, description="where batch_size auto starts")
    chat_template: bool = Field(False, description="wrap generation prompts in the tokenizer's chat template")
    max_length: int | None = Field(None, ge=2, le=10_000_000, description="context length in tokens (default: the model's)")

    @field_validator("batch_size")
    @classmethod
    def _positive(cls, v):
        if isinstance(v, int) and not 1 <= v <= 65_536:
            raise ValueError("batch_size must be 1 to 65536 or 'auto'")
        return v


class HFBackend(Backend):
    name = "hf"
    supports = frozenset(RequestKind)
    identity_is_cheap = False  # it resolves the device through torch: evalkit plan skips it
    Config = HFConfig
    preferred_chunk_size = 10**9  # all misses at once: lm-eval sorts and batches a whole task

    @classmethod
    def create(cls, config: HFConfig, ctx) -> HFBackend:
        from evalkit.backends.hf_loading import resolve_source

        model = resolve_source(config.model, ctx.root, config.revision, what=f"model '{config.model}'")
        adapter = None
        if config.adapter:
            adapter = resolve_source(config.adapter, ctx.root, config.adapter_revision, what="adapter")
        return cls(config, model, adapter, cache_dir=ctx.cache_dir)

    def __init__(self, config: HFConfig, model_source, adapter_source=None, cache_dir=None):
        self.config = config
        self.cache_dir = cache_dir  # where the device found for 'auto' is kept
        self.source = model_source
        self.adapter_source = adapter_source
        self._base = None  # hf_loading.LoadedBase, on first use
        self._adapter_name: str | None = None
        self._tokenizer = None
        self._scorer = None
        self._generator = None
        self._identity: dict[str, Any] | None = None

    # --- identity (no weights loaded) ----------------------------------------------------

    def resolved(self) -> tuple[str, str]:
        """(dtype, device) from config.json and the device memo: a fully cached run imports
        neither torch nor transformers (the extra is required when a model loads)."""
        from evalkit.backends.hf_loading import (
            read_model_config,
            resolve_device,
            resolve_dtype,
        )

        dtype = resolve_dtype(self.config.dtype, read_model_config(self.source))
        return dtype, resolve_device(self.config.device, self.cache_dir)

    def compare_warnings(self, base: Backend) -> list[str]:
        return pair_warnings(base, self)

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            from evalkit.backends.hf_loading import tokenizer_source

            dtype, device = self.resolved()
            self._identity = {
                "backend": self.name,
                "model": self.source.record(),
                "adapter": self.adapter_source.record() if self.adapter_source else None,
                "tokenizer": tokenizer_source(self.source, self.adapter_source).record()["fingerprint"],
                "dtype": dtype,
                "device": device.split(":")[0],  # results differ in the last bits between kinds
                "chat_template": self.config.chat_template,
                "max_length": self.config.max_length,
                "scoring": "lm-eval-0.4-hflm",
            }
        return self._identity

    def run_info(self) -> dict[str, Any]:
        """How the run went, for results.json (not part of cache keys)."""
        dtype, device = self.resolved()
        info: dict[str, Any] = {"dtype": dtype, "device": device, "batch_size_configured": self.config.batch_size}
        if self._scorer is not None:
            info["batch_size"] = self._scorer.batch_size
            info["oom_halvings"] = self._scorer.oom_halvings + (self._generator.oom_halvings if self._generator else 0)
            dd = self._base.dedup if self._base else None
            info["prefix_reuse"] = bool(dd and dd.verified.get(self._adapter_name))
        return info

    # --- loading -------------------------------------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._scorer is not None:
            return
        _require_extra()
        from evalkit.backends.hf_dedup import PrefixDedup
        from evalkit.backends.hf_generate import Generator
        from evalkit.backends.hf_loading import (
            acquire,
            load_tokenizer,
            tokenizer_source,
        )
        from evalkit.backends.hf_scoring import Scorer, Tokens, max_length_of

        dtype, device = self.resolved()
        from evalkit.backends.hf_loading import check_device

        if (why := check_device(self.config.device, device, self.cache_dir)) is not None:
            raise FatalBackendError(f"model '{self.config.model}': {why}")  # its answers would be cached under the wrong kind
        try:
            base = acquire(self.source, dtype, device)
        except Exception as exc:  # noqa: BLE001 - a broken checkpoint or device is one line, not a traceback
            raise FatalBackendError(f"cannot load model '{self.config.model}' on {device}: {type(exc).__name__}: {exc}") from None
        self._base = base
        if self.adapter_source is not None:
            try:
                self._adapter_name = base.add_adapter(self.adapter_source)
            except Exception as exc:  # noqa: BLE001 - as above
                raise FatalBackendError(f"cannot load adapter '{self.config.adapter}': {type(exc).__name__}: {exc}") from None
        if base.dedup is None:
            base.dedup = PrefixDedup()
        base.dedup.install(base.model)
        tok_source = tokenizer_source(self.source, self.adapter_source)
        self._tokenizer = load_tokenizer(tok_source)
        base.note_tokenizer(self.config.model + (f"+{self.config.adapter}" if self.config.adapter else ""), tok_source.fingerprint or tok_source.path)
        self._tokens = Tokens(self._tokenizer)
        max_len = max_length_of(base.model.config, self._tokenizer, self.config.max_length)
        bs = self.config.max_batch_size if self.config.batch_size == "auto" else self.config.batch_size
        self._keep_arg = _logits_to_keep_arg(base.model)
        self._scorer = Scorer(self._forward, max_len, bs, device, dedup=base.dedup, verify_key=self._adapter_name, lock=base.lock)
        self._generator = Generator(self._with_model, self._tokenizer, max_len, bs, device)

    def _with_model(self, fn):
        with self._base.using(self._adapter_name) as model:
            return fn(model)

    def _forward(self, ids, keep: int):
        import torch

        def run(model):
            with torch.inference_mode():
                if self._keep_arg:
                    return model(input_ids=ids, use_cache=False, **{self._keep_arg: keep}).logits
                return model(input_ids=ids, use_cache=False).logits[:, -keep:]

        return self._with_model(run)

    # --- requests ------------------------------------------------------------------------

    def submit(self, requests: Sequence[Request]) -> Iterator[tuple[int, Outcome]]:
        self._ensure_loaded()
        by_kind = indices_by_kind(requests)
        if LoglikelihoodRequest in by_kind:
            yield from self._loglikelihood(requests, by_kind[LoglikelihoodRequest])
        if RollingRequest in by_kind:
            yield from self._rolling(requests, by_kind[RollingRequest])
        if GenerateRequest in by_kind:
            yield from self._generate(requests, by_kind[GenerateRequest])

    def _loglikelihood(self, requests, idx: list[int]):
        encoded = self._tokens.pairs([(requests[i].context, requests[i].continuation) for i in idx])
        ok = [k for k, (_, cont) in enumerate(encoded) if cont]
        for k in set(range(len(idx))) - set(ok):
            yield idx[k], BackendError("the continuation is empty after tokenization")
        pairs = [encoded[k] for k in ok]
        for j, s in self._scorer.score(pairs):
            ctx, cont = pairs[j]
            yield idx[ok[j]], Loglikelihood(s.logprob, s.greedy, len(cont), prompt_tokens=len(ctx), latency_s=s.latency_s)

    def _rolling(self, requests, idx: list[int]):
        from evalkit.backends.hf_scoring import rolling_windows

        texts = [requests[i].text for i in idx]
        enc = self._tokens.encode_many(texts)
        windows: list[tuple[int, tuple[list[int], list[int]]]] = []
        for k, t in enumerate(texts):
            windows.extend((k, w) for w in rolling_windows(enc[t], self._tokens.prefix_id, self._scorer.max_length))
        totals = [0.0] * len(texts)
        seconds = [0.0] * len(texts)
        left = [0] * len(texts)
        for k, _ in windows:
            left[k] += 1
        for k in range(len(texts)):
            if left[k] == 0:
                yield idx[k], RollingLoglikelihood(0.0, 0)
        # As lm-eval: consecutive groups of batch_size windows, each sorted and run as one batch.
        step = self._scorer.batch_size
        for start in range(0, len(windows), step):
            group = windows[start : start + step]
            for j, s in self._scorer.score([w for _, w in group], batch_size=len(group)):
                k = group[j][0]
                totals[k] += s.logprob
                seconds[k] += s.latency_s
                left[k] -= 1
                if left[k] == 0:
                    yield idx[k], RollingLoglikelihood(totals[k], len(enc[texts[k]]), latency_s=seconds[k])

    def _generate(self, requests, idx: list[int]):
        reqs = [requests[i] for i in idx]
        prompts = [self._prompt(r) for r in reqs]
        for j, gen in self._generator.generate(prompts, reqs):
            yield idx[j], gen

    def _prompt(self, req: GenerateRequest) -> str:
        from evalkit.backends.hf_scoring import chat_prompt

        return chat_prompt(self._tokenizer, req, model=self.config.model, use_template=self.config.chat_template)

    def close(self) -> None:
        if self._base is not None:
            from evalkit.backends.hf_loading import release

            release(self._base)
            self._base = None
            self._scorer = None
            self._generator = None


def _require_extra() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        from evalkit.errors import MissingExtra

        raise MissingExtra(exc.name or "transformers", "hf") from None


def _logits_to_keep_arg(model) -> str | None:
    params = inspect.signature(model.forward).parameters
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in params:
            return name
    return None


# --- warnings about a base / fine-tune pair ------------------------------------------------


def pair_warnings(base: Backend, ft: Backend) -> list[str]:
    """Differences that make a hf base/fine-tune comparison suspect, without loading weights:
    different tokenizers or chat templates (prompts are then not the same tokens)."""
    if not (isinstance(base, HFBackend) and isinstance(ft, HFBackend)):
        return []
    from evalkit.backends.hf_loading import tokenizer_source

    out = []
    tb = tokenizer_source(base.source, base.adapter_source)
    tf = tokenizer_source(ft.source, ft.adapter_source)
    if tb.fingerprint != tf.fingerprint or tb.revision != tf.revision:
        if _tokenizer_files(tb) != _tokenizer_files(tf):
            out.append(f"base and fine-tune use different tokenizers ({tb.record()['name']} vs {tf.record()['name']}): the same prompt is not the same tokens")
        if _chat_template(tb) != _chat_template(tf):
            out.append("base and fine-tune have different chat templates")
    if base.config.chat_template != ft.config.chat_template:
        out.append("chat_template is on for one model and off for the other")
    return out


def _tokenizer_files(source) -> dict[str, bytes]:
    from pathlib import Path

    if not source.is_local:
        return {"hub": f"{source.path}@{source.revision}".encode()}
    names = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer.model", "special_tokens_map.json")
    return {n: (Path(source.path) / n).read_bytes() for n in names if (Path(source.path) / n).is_file()}


def _chat_template(source) -> str | None:
    import json
    from pathlib import Path

    if not source.is_local:
        return None
    folder = Path(source.path)
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8")
    try:
        return json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8")).get("chat_template")
    except (OSError, ValueError):
        return None


def warn_pair(base: Backend, ft: Backend) -> None:
    for msg in pair_warnings(base, ft):
        warnings.warn(msg, stacklevel=2)
