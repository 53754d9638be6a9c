"""``backend: openai``: OpenAI and OpenAI-compatible servers (vLLM, llama.cpp, TGI...).

``api: chat`` (POST /chat/completions) generates. ``api: completions`` (POST /completions)
generates and scores log-likelihoods the way lm-eval's ``local-completions`` does: the context
and continuation are sent as one prompt with ``echo: true, logprobs: 1`` and ``max_tokens`` 1
(``echo_max_tokens``; vLLM rejects 0, OpenAI's legacy models accepted it), and the echoed prompt
tokens are split where their ``text_offset`` passes the end of the context. The first token of a
text has no log-probability (nothing to condition on), so rolling log-likelihoods start at the
second token and ``n_tokens`` counts the scored tokens.

Speed: the hot request path is a lean aiohttp client speaking the same wire protocol as the
openai SDK (Bearer key, User-Agent, JSON; the SDK's retry rules and Retry-After handling). On a
2-core AMD EPYC against a local server with 50 ms latency, 2,000 chat requests through the SDK
(AsyncOpenAI 3.52) cost 1.05-1.26 ms CPU each at concurrency 32 and 1.41-1.62 ms at 128, where
it topped out at 343-699 req/s (13-27 % of ideal); plain aiohttp cost 0.10-0.14 ms and reached
536-609 req/s (84-95 %) at 32 and 1,830-1,981 req/s at 128. The SDK stays off the hot path: it
reads the model's metadata (GET /models/{id}) once, on a side thread.

The loop runs on a daemon thread that lives as long as the backend, so the connection pool and
the workers stay warm across submissions. ``latency_s`` is the
successful attempt's round trip, without back-off waits; ``extra["cost_usd"]`` its list price
(log-likelihood and rolling answers too: an echo request is billed like any completion).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
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
)
from evalkit.config_base import ModelConfigBase, StrictModel
from evalkit.errors import ConfigError, FatalBackendError, MissingExtra

from evalkit.backends.http_engine import Engine, Job, _Malformed
from evalkit.backends.openai_ft_id import parse_ft_id

log = logging.getLogger("evalkit.openai")
_REASONING = re.compile(r"^(o\d|gpt-5)")  # take max_completion_tokens, reject temperature and stop
_WARNED: set[str] = set()  # models already warned about (once per process)


class LongContextPrice(StrictModel):
    above: int = Field(..., ge=1, description="prompt tokens past which the whole request is billed at this tier")
    input: float = Field(..., ge=0, description="USD per 1M input tokens")
    output: float = Field(..., ge=0, description="USD per 1M output tokens")


class Price(StrictModel):
    input: float = Field(..., ge=0, description="USD per 1M input tokens")
    output: float = Field(..., ge=0, description="USD per 1M output tokens")
    long_context: LongContextPrice | None = Field(None, description="a higher rate for long prompts")


class OpenAIConfig(ModelConfigBase):
    backend: Literal["openai"] = "openai"
    base_url: str = Field("https://api.openai.com/v1", description="the API root, ending in /v1")
    api: Literal["chat", "completions"] = Field("chat", description="completions adds log-likelihoods")
    api_key_env: str | None = Field("OPENAI_API_KEY", description="variable holding the key; null: send none")
    concurrency: int = Field(32, ge=1, le=1024, description="requests in flight at most")
    timeout: float = Field(60.0, gt=0, le=3600, description="seconds per attempt")
    max_retries: int = Field(6, ge=0, le=100, description="retries per request")
    total_retry_budget: int = Field(1000, ge=0, le=10_000_000, description="retries per run, all requests together")
    retry_base_delay: float = Field(0.5, gt=0, le=600, description="first back-off bound in s; doubles per retry")
    rpm: int | None = Field(None, gt=0, le=10**9, description="client-side requests-per-minute limit")
    tpm: int | None = Field(None, gt=0, le=10**12, description="client-side tokens-per-minute limit (estimated)")
    prices: dict[str, Price] | None = Field(None, description="USD per 1M tokens by model id, over the defaults")
    echo_max_tokens: Literal[0, 1] = Field(1, description="max_tokens of log-likelihood requests")
    mode: Literal["online", "batch"] = Field("online", description="batch: OpenAI's Batch API, half price, answers within 24 h")
    batch_poll_interval: float = Field(30.0, gt=0, le=3600, description="seconds between polls of a batch")
    batch_completion_window: Literal["24h"] = Field("24h", description="the batch's completion window")
    batch_max_requests: int = Field(50_000, ge=1, le=50_000, description="requests per batch file (the API's limit: 50,000)")



def _usage(data: dict) -> tuple[int, int]:
    u = data.get("usage") or {}  # -1: the server sent none; estimated later
    return u.get("prompt_tokens", -1), u.get("completion_tokens", -1)


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    # Servers take at most 4 stop sequences (some none): the rest are applied here.
    cuts = [text.find(s) for s in stops if s and s in text]
    return text[: min(cuts)] if cuts else text


def _parse_generation(data: dict, latency: float, *, chat: bool, stops: Sequence[str]) -> Generation:
    choice = data["choices"][0]
    text = (choice["message"].get("content") if chat else choice.get("text")) or ""
    pt, ct = _usage(data)
    extra = {}
    content = (choice.get("logprobs") or {}).get("content") if chat else None
    if content and content[0].get("top_logprobs"):  # only when asked for and the server gives them
        extra["top_logprobs"] = {t["token"]: t["logprob"] for t in content[0]["top_logprobs"]}
    return Generation(_cut_at_stop(text, stops), pt, ct, choice.get("finish_reason") or "stop", latency, extra)


def _parse_echo(data: dict, latency: float, *, context_len: int, prompt_len: int, rolling: bool, price=None):
    lp = data["choices"][0].get("logprobs")
    if not lp or not lp.get("token_logprobs"):
        raise _Malformed("no logprobs in the answer: the server must support echo with logprobs")
    toks, lps, offs = lp["tokens"], lp["token_logprobs"], lp["text_offset"]
    tops = lp.get("top_logprobs") or [None] * len(toks)
    ends = offs[1:] + [max(prompt_len, offs[-1] + len(toks[-1]))]
    # Tokens holding continuation text: those that end past the context and start inside the
    # prompt (the generated token past the prompt is dropped).
    picked = [i for i in range(len(toks)) if offs[i] < prompt_len and ends[i] > context_len]
    scored = [i for i in picked if lps[i] is not None]
    if not scored:
        raise _Malformed("the echoed logprobs hold no token of the continuation")
    total = sum(lps[i] for i in scored)
    extra = _echo_cost(data, offs, prompt_len, price)
    if rolling:
        return RollingLoglikelihood(total, len(scored), latency, extra)
    greedy = all(tops[i] and lps[i] >= max(tops[i].values()) - 1e-6 for i in scored)
    return Loglikelihood(total, greedy, len(picked), prompt_tokens=picked[0], latency_s=latency, extra=extra)


def _echo_cost(data: dict, offs: list, prompt_len: int, price) -> dict:
    """{"cost_usd": ...} of an echo request: it is billed like any completion, the echoed
    prompt at the input rate and the token generated past it at the output rate. Without a
    ``usage`` the echoed tokens themselves are the count (exact: they are the server's)."""
    if price is None:
        return {}
    pt, ct = _usage(data)
    in_prompt = sum(1 for o in offs if o < prompt_len)
    cost = price(pt if pt >= 0 else in_prompt, ct if ct >= 0 else len(offs) - in_prompt)
    return {} if cost is None else {"cost_usd": cost}


def _parse_date(value: Any) -> datetime | None:
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def check_model_lifecycle(base_url: str, model: str, key: str | None, timeout: float) -> None:
    """Warn once when GET /models/{model} names a shutdown or deprecation date that is past or
    less than 30 days away. Any failure is only logged: this check must never stop a run."""
    try:
        import openai

        with openai.OpenAI(api_key=key or "none", base_url=base_url, max_retries=0, timeout=min(timeout, 5.0)) as client:
            info = client.models.retrieve(model).model_dump()
    except Exception as exc:  # noqa: BLE001 - best effort, see above
        log.debug("model metadata unavailable for %s: %s", model, type(exc).__name__)
        return
    for name in ("shutdown_date", "deprecation_date", "deprecated_at", "sunset_date"):
        when = _parse_date(info.get(name)) if info.get(name) is not None else None
        if when is None or model in _WARNED:
            continue
        days = (when - datetime.now(timezone.utc)).days
        if days < 30:
            _WARNED.add(model)
            state = "passed" if days < 0 else f"is in {days} days"
            warnings.warn(f"model '{model}': its {name} ({when.date()}) {state}", stacklevel=1)


class _TokenCounter:
    """Token counts for servers that send no ``usage``: tiktoken when its encoding loads, else
    len(text) // 4. tiktoken downloads encodings at first use and has no timeout, so an
    offline machine would hang: the load gets 5 s on a side thread, then the rough rule wins."""

    def __init__(self, model: str):
        self._enc = None
        loader = threading.Thread(target=self._load, args=(model,), daemon=True)
        loader.start()
        loader.join(5.0)

    def _load(self, model: str) -> None:
        try:
            import tiktoken

            try:
                self._enc = tiktoken.encoding_for_model(model)
            except KeyError:
                self._enc = tiktoken.get_encoding("o200k_base")
        except Exception as exc:  # noqa: BLE001 - offline, not installed: estimate instead
            log.info("tiktoken unavailable (%s): token counts estimated as characters / 4", type(exc).__name__)

    def __call__(self, text: str) -> int:
        enc = self._enc
        return len(enc.encode(text, disallowed_special=())) if enc is not None else max(1, len(text) // 4)


class OpenAIBackend(Backend):
    name = "openai"
    Config = OpenAIConfig
    # All misses in one submission: the engine streams answers back as they come and the runner
    # commits them in small batches, so a chunk boundary would only make every chunk wait for
    # its slowest request.
    preferred_chunk_size = 10**9

    @classmethod
    def supports_for(cls, config: OpenAIConfig) -> frozenset[RequestKind]:
        return frozenset({RequestKind.GENERATE}) if config.api == "chat" else frozenset(RequestKind)

    @classmethod
    def create(cls, config: OpenAIConfig, ctx) -> "OpenAIBackend":
        return cls(config, batch_dir=ctx.cache_dir / "openai-batches" if ctx.cache_dir is not None else None)

    def __init__(self, config: OpenAIConfig, batch_dir=None):
        if not config.model:
            raise ConfigError("an openai model needs 'model' (the provider's model id)")
        if config.model.startswith("ft:") and parse_ft_id(config.model) is None:
            raise ConfigError(f"model '{config.model}' is not a fine-tuned model id (ft:BASE:ORG:SUFFIX:ID)")
        self.config = config
        self.ft = parse_ft_id(config.model)
        self.base_model = self.ft.base_model if self.ft else config.model
        self.supports = self.supports_for(config)
        self._engine = None
        self._counter: _TokenCounter | None = None
        self._checker: threading.Thread | None = None
        self._batch_dir = batch_dir  # pending batches' ids, so a killed run resumes them

    # mode is not part of the identity: a batch answer is the same model's answer (only its
    # price differs), and the batch lines' custom_id must be the cache key the runner uses.
    def identity(self) -> dict[str, Any]:
        ident = {"backend": self.name, "base_url": self.config.base_url.rstrip("/"), "model": self.config.model,
                 "api": self.config.api}
        if self.ft is not None:
            ident["base_model"] = self.ft.base_model
        return ident

    # --- requests -------------------------------------------------------------------------

    def _generate_job(self, req: GenerateRequest):
        chat = self.config.api == "chat"
        text = req.as_text()
        body: dict[str, Any] = {"model": self.config.model}
        if chat:
            body["messages"] = [{"role": m.role, "content": m.content} for m in req.messages]
        else:
            body["prompt"] = text
        reasoning = bool(_REASONING.match(self.base_model))
        body["max_completion_tokens" if reasoning else "max_tokens"] = req.max_tokens
        if not reasoning:
            body["temperature"] = req.temperature
            if req.stop:
                body["stop"] = list(req.stop[:4])
        if req.seed is not None:
            body["seed"] = req.seed
        if req.top_logprobs and chat:
            body.update(logprobs=True, top_logprobs=min(req.top_logprobs, 20))
        parse = partial(_parse_generation, chat=chat, stops=req.stop)
        path = "/chat/completions" if chat else "/completions"
        return Job(path, body, parse, len(text) // 4 + req.max_tokens)

    def _echo_job(self, context: str, continuation: str, rolling: bool = False):
        prompt = context + continuation
        body = {"model": self.config.model, "prompt": prompt, "max_tokens": self.config.echo_max_tokens,
                "echo": True, "logprobs": 1, "temperature": 0}
        from evalkit.backends.pricing import cost_usd

        price = partial(cost_usd, self.config.model, prices=self.config.prices)
        parse = partial(_parse_echo, context_len=len(context), prompt_len=len(prompt), rolling=rolling, price=price)
        return Job("/completions", body, parse, len(prompt) // 4 + 1)

    def _job(self, req: Request):
        if isinstance(req, GenerateRequest):
            return self._generate_job(req)
        if req.kind not in self.supports:
            raise TypeError(f"the chat API cannot answer {req.kind.value} requests (use api: completions)")
        if isinstance(req, LoglikelihoodRequest):
            return self._echo_job(req.context, req.continuation)
        return self._echo_job("", req.text, rolling=True)

    def submit(self, requests: Sequence[Request]) -> Iterator[tuple[int, Outcome]]:
        if self.config.mode == "batch":
            from evalkit.backends.openai_batch import submit_batch

            yield from submit_batch(self, requests)
            return
        engine = self._start()
        # yield from: a Ctrl-C the runner throws in reaches the engine, which hands over the
        # answers it already holds before the interrupt goes on.
        yield from engine.run([self._job(r) for r in requests], lambda i, out: self._finish(requests[i], out))

    def _finish(self, req: Request, out: Outcome) -> Outcome:
        """Token counts the server did not send, and the price (on the runner's thread, so a
        slow tiktoken load never stalls the requests in flight)."""
        if not isinstance(out, Generation):
            return out
        from evalkit.backends.pricing import cost_usd

        pt, ct, extra = out.prompt_tokens, out.completion_tokens, dict(out.extra)
        if pt < 0 or ct < 0:
            self._counter = self._counter or _TokenCounter(self.base_model)
            pt = pt if pt >= 0 else self._counter(req.as_text())
            ct = ct if ct >= 0 else self._counter(out.text)
            extra["tokens_estimated"] = True
        cost = cost_usd(self.config.model, pt, ct, self.config.prices)
        if cost is not None:
            extra["cost_usd"] = cost
        return replace(out, prompt_tokens=pt, completion_tokens=ct, extra=extra)

    # --- lifecycle ------------------------------------------------------------------------

    def _api_key(self) -> str | None:
        env = self.config.api_key_env
        if env is None:
            return None
        key = os.environ.get(env, "").strip()
        if not key:
            raise FatalBackendError(f"the environment variable {env} is not set: export the API key there (api_key_env)")
        return key

    def _start(self):
        if self._engine is not None:
            return self._engine
        key = self._api_key()
        try:
            self._engine = Engine(self.config, key)
        except ModuleNotFoundError as exc:
            raise MissingExtra(exc.name or "aiohttp", "openai") from None
        self._checker = threading.Thread(
            target=check_model_lifecycle, args=(self.config.base_url, self.config.model, key, self.config.timeout),
            name="evalkit-openai-models", daemon=True,
        )
        self._checker.start()
        return self._engine

    def close(self) -> None:
        failed = self._engine is not None and self._engine.fatal is not None
        if self._checker is not None and not failed:  # a dead server's metadata is not worth waiting for
            self._checker.join(6.0)  # its GET times out after 5 s
        if self._engine is not None:
            self._engine.close()
            self._engine = None
