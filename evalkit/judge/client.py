"""Asking the judge: any configured model, through the runner's cache.

The judge's answers are cached like any model's, under the judge's own identity, so a repeated
compare asks nothing again and a changed judge asks everything afresh. Its tokens, cost and
latency are added up here and reported apart from those of the models under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, Message
from evalkit.errors import BackendError

MAX_TOKENS = 512  # room for a short explanation before the verdict


@dataclass
class Usage:
    """What the judge cost: requests (and how many came from the cache), tokens, USD, seconds."""

    requests: int = 0
    cached: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0  # None once any answer's price is unknown
    latencies: list[float] = field(default_factory=list)

    def add(self, out, cached: bool) -> None:
        self.requests += 1
        self.cached += cached
        if isinstance(out, BackendError):
            self.failed += 1
            return
        self.prompt_tokens += getattr(out, "prompt_tokens", 0)
        self.completion_tokens += getattr(out, "completion_tokens", 0)
        cost = getattr(out, "extra", {}).get("cost_usd")
        self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost
        latency = getattr(out, "latency_s", None)
        if latency is not None:  # as the models' latency: the time recorded when it was answered, cached or not
            self.latencies.append(latency)

    def summary(self) -> dict:
        import numpy as np

        lat = np.percentile(self.latencies, [50, 95]).tolist() if self.latencies else [None, None]
        return {"requests": self.requests, "cached": self.cached, "failed": self.failed,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost_usd": self.cost_usd, "latency_p50_s": lat[0], "latency_p95_s": lat[1]}


class _Quiet:
    def advance(self, n: int) -> None:
        pass


class Judge:
    """One configured model used as a judge. ``ask`` returns, per prompt, the judgment's text
    or the BackendError of a request that failed (missing data, not a verdict)."""

    def __init__(self, project, name: str, cache, max_tokens: int = MAX_TOKENS):
        self.name = name
        self.project, self.cache, self.max_tokens = project, cache, max_tokens
        self.usage = Usage()
        self._backend = None

    @property
    def backend(self):
        if self._backend is None:
            self._backend = self.project.backend(self.name)
        return self._backend

    def _answers(self, reqs: list, chunk: int = 64, meta: list | None = None) -> list:
        from evalkit.runner.answer import _fetch, _lookup

        identity = self.backend.identity()
        keys, found, todo = _lookup(identity, self.cache, reqs)
        cached = set(found)
        _fetch(self.backend, self.cache, todo, chunk, _Quiet(), found)
        outs = []
        for k in keys:
            out = found[k]
            self.usage.add(out, k in cached)
            if meta is not None:
                failed = isinstance(out, BackendError)
                meta.append({"cached": k in cached, "cost_usd": None if failed else getattr(out, "extra", {}).get("cost_usd"),
                             "latency_s": None if failed else getattr(out, "latency_s", None)})
            outs.append(out)
        return outs

    def likelihoods(self, contexts: list[str], continuations: list[str]) -> list[float | BackendError]:
        """Mean log-probability per token of each continuation after its context: the verdict
        of a judge that cannot follow instructions (the embedded n-gram model of the demo)."""
        outs = self._answers([LoglikelihoodRequest(c, x) for c, x in zip(contexts, continuations)])
        return [o if isinstance(o, BackendError) else o.logprob / max(o.n_tokens, 1) for o in outs]

    def ask(self, prompts: list[str], chunk: int = 64, meta: list | None = None) -> list[str | BackendError]:
        """``meta``: when given, gets per prompt {cached, cost_usd, latency_s} (a rubric stores
        it with the item, so the judge's cost can be added up apart from the model's)."""
        reqs = [GenerateRequest((Message("user", p),), max_tokens=self.max_tokens, temperature=0.0) for p in prompts]
        return [o if isinstance(o, BackendError) else o.text for o in self._answers(reqs, chunk, meta)]
