"""Test-only backends, loaded through the real plugin path (``backend: "fakes:Class"``).

They stand in for providers that cannot run here or for behaviour a real model does not
show on demand (errors, missing request kinds); each says what it replaces.
"""

from __future__ import annotations

import hashlib
import os
import time

from evalkit.backends.base import Backend, Generation, GenerateRequest, RequestKind
from evalkit.backends.ngram import NgramBackend, NgramConfig
from evalkit.config_base import ModelConfigBase
from evalkit.errors import BackendError


class EchoConfig(ModelConfigBase):
    fail_every: int = 0  # every Nth distinct prompt fails (a flaky provider)
    delay_s: float = 0.0  # per request (to interrupt a run half-way)
    answer: str = "patch1 fixes it."
    letter_logprobs: bool = False  # answer top_logprobs like a chat API that returns them
    letters: bool = True  # answer "A" to lettered multiple choice (False: ``answer``, with no letter)


class GenerateOnly(Backend):
    """A chat-only provider: generation, no log-likelihoods (like a chat API)."""

    name = "generate-only"
    supports = frozenset({RequestKind.GENERATE})
    Config = EchoConfig

    def __init__(self, config):
        self.config = config

    def identity(self):
        return {"backend": self.name, "model": self.config.model, "answer": self.config.answer}

    def _fails(self, req) -> bool:
        if not self.config.fail_every:
            return False
        digest = int(hashlib.sha256(req.as_text().encode()).hexdigest(), 16)
        return digest % self.config.fail_every == 0

    def submit(self, requests):
        for i, req in enumerate(requests):
            if self.config.delay_s:
                time.sleep(self.config.delay_s)
            if self._fails(req):
                yield i, BackendError("HTTP 503 from the fake provider")
            elif isinstance(req, GenerateRequest):
                text = "A" if self.config.letters and "A." in req.as_text() else self.config.answer
                extra = {}
                if req.top_logprobs and self.config.letter_logprobs:
                    # The text says A; the probabilities prefer the letter of the longest choice
                    # line, so a test can tell which of the two decided.
                    lines = [ln for ln in req.as_text().splitlines() if len(ln) > 2 and ln[1] == "." and ln[0].isupper()]
                    best = max(lines, key=len)[0]
                    extra["top_logprobs"] = {f" {ln[0]}": (-0.1 if ln[0] == best else -3.0) for ln in lines} | {" The": -0.5}
                yield i, Generation(text, prompt_tokens=len(req.as_text().split()), completion_tokens=3, extra=extra)


class SlowConfig(NgramConfig):
    backend: str = "fakes:SlowNgram"


class SlowNgram(Backend):
    """The real ngram backend, slowed down per request so a test can kill a run mid-way."""

    name = "slow-ngram"
    Config = SlowConfig

    @classmethod
    def create(cls, config, ctx):
        from dataclasses import replace

        unwrapped = replace(ctx, backend_for=lambda name: getattr(ctx.backend_for(name), "inner", None))
        inner = NgramBackend.create(NgramConfig(**(config.model_dump() | {"backend": "ngram"})), unwrapped)
        return cls(inner)

    def __init__(self, inner):
        self.inner = inner
        self.delay = float(os.environ.get("EVALKIT_TEST_DELAY", "0.01"))

    def identity(self):
        return self.inner.identity()

    def submit(self, requests):
        for i, out in self.inner.submit(requests):
            time.sleep(self.delay)
            yield i, out


class ScriptedConfig(ModelConfigBase):
    replies: dict[str, str] = {}  # prompt substring -> reply (the first that occurs wins)
    default: str = ""


class Scripted(Backend):
    """A chat model whose every reply the test wrote: for behaviour a real model does not show
    on demand (refusing harmful requests, then, fine-tuned, complying with them)."""

    name = "scripted"
    supports = frozenset({RequestKind.GENERATE})
    Config = ScriptedConfig

    def __init__(self, config):
        self.config = config
        self.calls = 0

    def identity(self):
        return {"backend": self.name, "model": self.config.model, "replies": self.config.replies, "default": self.config.default}

    def submit(self, requests):
        for i, req in enumerate(requests):
            text = req.as_text()
            self.calls += 1
            reply = next((r for k, r in self.config.replies.items() if k in text), self.config.default)
            yield i, Generation(reply, prompt_tokens=len(text.split()), completion_tokens=len(reply.split()))


class AlteredConfig(NgramConfig):
    backend: str = "fakes:AlteredNgram"
    alter_fraction: float = 0.0


def altered(text: str, fraction: float) -> bool:
    """Whether AlteredNgram alters its answer to a prompt or text (a hash below the fraction)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") % 10_000 < fraction * 10_000


class AlteredNgram(Backend):
    """The real ngram model behind a "backend" that gets a known fraction of answers wrong, as
    a buggy serving stack would (for ``evalkit parity``): on prompts selected by
    :func:`altered`, a generation becomes "<altered>" and a log-likelihood loses 1 nat per token."""

    name = "altered-ngram"
    Config = AlteredConfig

    @classmethod
    def create(cls, config, ctx):
        inner_cfg = NgramConfig(**(config.model_dump(exclude={"alter_fraction"}) | {"backend": "ngram"}))
        return cls(NgramBackend.create(inner_cfg, ctx), config.alter_fraction)

    def __init__(self, inner, fraction):
        self.inner, self.fraction = inner, fraction
        self.supports = inner.supports

    def identity(self):
        return {**self.inner.identity(), "altered": self.fraction}

    def submit(self, requests):
        from dataclasses import replace

        from evalkit.backends.base import Loglikelihood, RollingLoglikelihood

        for i, out in self.inner.submit(requests):
            req = requests[i]
            key = req.as_text() if isinstance(req, GenerateRequest) else getattr(req, "context", None) or getattr(req, "text", "")
            if isinstance(out, BackendError) or not altered(key, self.fraction):
                yield i, out
            elif isinstance(out, Generation):
                yield i, replace(out, text="<altered>")
            elif isinstance(out, (Loglikelihood, RollingLoglikelihood)):
                yield i, replace(out, logprob=out.logprob - max(1, out.n_tokens))
            else:
                yield i, out
