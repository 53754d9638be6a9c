"""``backend: lm-eval``: any model lm-eval can run (``hf``, ``vllm``, ``local-completions``...).

The model is built with lm-eval's own registry, ``get_model(model).create_from_arg_obj(
model_args, {batch_size, max_batch_size, device})``, on the first request; evalkit requests
become lm-eval ``Instance`` objects and go through the model's ``loglikelihood``,
``loglikelihood_rolling`` and ``generate_until`` in one call per kind, so the model batches
them as it would inside lm-eval.

The identity records lm-eval's version, the model name and its arguments; an argument that
names a local folder (``pretrained``, ``peft``, ``tokenizer``...) is recorded by a hash of
the folder, so changed weights never reuse cached answers.
"""

from __future__ import annotations

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

Kind = Literal["generate", "loglikelihood", "loglikelihood_rolling"]


class LmEvalModelConfig(ModelConfigBase):
    backend: Literal["lm-eval"] = "lm-eval"
    model: str = Field(..., description="lm-eval's model name: hf, vllm, local-completions, ...")
    model_args: dict[str, Any] = Field(default_factory=dict, description="the model's arguments, as lm-eval's --model_args")
    batch_size: int | str = Field(1, description="as lm-eval's --batch_size (an integer, auto or auto:N)")
    max_batch_size: int | None = Field(None, ge=1)
    device: str | None = Field(None, description="as lm-eval's --device")
    supports: list[Kind] = Field(
        ["generate", "loglikelihood", "loglikelihood_rolling"], min_length=1,
        description="request kinds the model answers (chat APIs: [generate])",
    )


class LmEvalBackend(Backend):
    name = "lm-eval"
    Config = LmEvalModelConfig
    preferred_chunk_size = 10**9  # lm-eval models sort and batch what they are given

    @classmethod
    def supports_for(cls, config: LmEvalModelConfig) -> frozenset[RequestKind]:
        return frozenset(RequestKind(k) for k in config.supports)

    @classmethod
    def create(cls, config: LmEvalModelConfig, ctx) -> LmEvalBackend:
        return cls(config, ctx.root)

    def __init__(self, config: LmEvalModelConfig, root: Path):
        self.config = config
        self.root = Path(root)
        self.supports = self.supports_for(config)
        self._args, self._recorded = self._resolve_args()
        self._lm = None

    def _resolve_args(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(arguments for lm-eval, arguments for the identity): local folders are made
        absolute for lm-eval and recorded by their fingerprint."""
        from evalkit.backends.hf_loading import folder_fingerprint

        args, recorded = {}, {}
        for key, value in sorted(self.config.model_args.items()):
            args[key] = recorded[key] = value
            if isinstance(value, str) and value and not value.startswith(("http://", "https://")):
                local = (self.root / value).expanduser()
                if local.is_dir():
                    args[key] = str(local.resolve())
                    recorded[key] = {"name": local.name, "fingerprint": folder_fingerprint(local)}
        return args, recorded

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            lm_eval_version = version("lm_eval")
        except PackageNotFoundError:
            raise MissingExtra("lm_eval", "lm-eval") from None
        return {"backend": self.name, "lm_eval": lm_eval_version, "model": self.config.model, "model_args": self._recorded}

    def run_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"batch_size_configured": self.config.batch_size}
        if self._lm is not None and hasattr(self._lm, "batch_size"):
            info["batch_size"] = str(self._lm.batch_size)
        return info

    def lm(self):
        if self._lm is None:
            try:
                from lm_eval.api.registry import get_model
            except ImportError as exc:
                raise MissingExtra(exc.name or "lm_eval", "lm-eval") from None
            extra = {"batch_size": self.config.batch_size, "max_batch_size": self.config.max_batch_size, "device": self.config.device}
            try:
                cls = get_model(self.config.model)
                self._lm = cls.create_from_arg_obj(dict(self._args), {k: v for k, v in extra.items() if v is not None})
            except (ValueError, KeyError, OSError, ImportError) as exc:
                raise FatalBackendError(f"lm-eval model '{self.config.model}' cannot be built: {exc}") from None
        return self._lm

    def submit(self, requests: Sequence[Request]) -> Iterator[tuple[int, Outcome]]:
        lm = self.lm()
        by_kind = indices_by_kind(requests)
        for kind, idx in by_kind.items():
            reqs = [requests[i] for i in idx]
            start = time.perf_counter()
            try:
                answers = self._call(lm, kind, reqs)
            except NotImplementedError:
                raise FatalBackendError(
                    f"lm-eval model '{self.config.model}' cannot answer {kind.kind.value} requests; "
                    "list what it can under 'supports:'"
                ) from None
            except Exception as exc:  # noqa: BLE001 - recorded per item, retried on the next run
                for i in idx:
                    yield i, BackendError(f"lm-eval model failed: {type(exc).__name__}: {exc}")
                continue
            each = (time.perf_counter() - start) / max(1, len(idx))
            for i, req, ans in zip(idx, reqs, answers):
                yield i, self._response(lm, req, ans, each)

    @staticmethod
    def _call(lm, kind, reqs):
        from lm_eval.api.instance import Instance

        def inst(rtype, args, n):
            return Instance(request_type=rtype, doc={}, arguments=args, idx=0, metadata=("evalkit", n, 1))

        def call(method, instances):
            try:  # lm-eval's own models take disable_tqdm; the LM interface does not promise it
                return method(instances, disable_tqdm=True)
            except TypeError:
                return method(instances)

        if kind is LoglikelihoodRequest:
            return call(lm.loglikelihood, [inst("loglikelihood", (r.context, r.continuation), n) for n, r in enumerate(reqs)])
        if kind is RollingRequest:
            return call(lm.loglikelihood_rolling, [inst("loglikelihood_rolling", (r.text,), n) for n, r in enumerate(reqs)])
        gen = []
        for n, r in enumerate(reqs):
            kwargs = {"until": list(r.stop), "max_gen_toks": r.max_tokens, "do_sample": r.temperature > 0}
            if r.temperature > 0:
                kwargs["temperature"] = r.temperature
            gen.append(inst("generate_until", (r.as_text(), kwargs), n))
        return call(lm.generate_until, gen)

    @staticmethod
    def _response(lm, req, ans, latency: float):
        if isinstance(req, LoglikelihoodRequest):
            ctx_n, cont_n = _pair_tokens(lm, req.context, req.continuation)
            return Loglikelihood(float(ans[0]), bool(ans[1]), cont_n, prompt_tokens=ctx_n, latency_s=latency)
        if isinstance(req, RollingRequest):
            value = ans[0] if isinstance(ans, (tuple, list)) else ans
            return RollingLoglikelihood(float(value), _text_tokens(lm, req.text), latency_s=latency)
        assert isinstance(req, GenerateRequest)
        return Generation(str(ans), prompt_tokens=_text_tokens(lm, req.as_text()), latency_s=latency)


def _pair_tokens(lm, context: str, continuation: str) -> tuple[int, int]:
    try:
        if context:
            ctx, cont = lm._encode_pair(context, continuation)
            return len(ctx), len(cont)
        return 1, len(lm.tok_encode(continuation, add_special_tokens=False))
    except Exception:  # noqa: BLE001 - a model without a tokenizer (an API): counts unknown
        return 0, 0


def _text_tokens(lm, text: str) -> int:
    try:
        return len(lm.tok_encode(text))
    except Exception:  # noqa: BLE001 - see above
        return 0
