"""The backend interface: three request kinds, their responses, and one abstract method.

A backend does I/O and nothing else. Caching, batching, progress and error accounting are the
runner's job (``evalkit.runner``), so that every backend gets them the same way.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from evalkit.config_base import ModelConfigBase
from evalkit.errors import BackendError


class RequestKind(str, enum.Enum):
    """What a backend can be asked. A backend declares the kinds it supports."""

    GENERATE = "generate"
    LOGLIKELIHOOD = "loglikelihood"
    ROLLING = "loglikelihood_rolling"


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class GenerateRequest:
    """Generate a completion for chat messages (a text backend sees them joined)."""

    messages: tuple[Message, ...]
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int | None = None
    # Ask for the top log-probabilities of the first generated token (chat multiple choice);
    # backends that cannot give them ignore it, and the answer's text is used instead.
    top_logprobs: int = 0
    kind: ClassVar[RequestKind] = RequestKind.GENERATE

    def as_text(self) -> str:
        """The prompt as one plain text, for backends without a chat format."""
        return "\n\n".join(m.content for m in self.messages if m.content)


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context), and whether greedy decoding would produce it."""

    context: str
    continuation: str
    kind: ClassVar[RequestKind] = RequestKind.LOGLIKELIHOOD


@dataclass(frozen=True)
class RollingRequest:
    """Total log-probability of a whole text (no context), for perplexity."""

    text: str
    kind: ClassVar[RequestKind] = RequestKind.ROLLING


Request = Union[GenerateRequest, LoglikelihoodRequest, RollingRequest]


@dataclass(frozen=True)
class Generation:
    """``extra`` may hold ``top_logprobs`` ({token: logprob} of the first generated token)
    and ``cost_usd``."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    latency_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Loglikelihood:
    logprob: float  # natural log
    is_greedy: bool
    n_tokens: int  # tokens in the continuation
    prompt_tokens: int = 0  # tokens in the context
    latency_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)  # ``cost_usd`` (an API's list price)


@dataclass(frozen=True)
class RollingLoglikelihood:
    logprob: float  # natural log, summed over all tokens of the text
    n_tokens: int
    latency_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)  # ``cost_usd`` (an API's list price)


Response = Union[Generation, Loglikelihood, RollingLoglikelihood]
RESPONSE_TYPES: dict[RequestKind, type] = {
    RequestKind.GENERATE: Generation,
    RequestKind.LOGLIKELIHOOD: Loglikelihood,
    RequestKind.ROLLING: RollingLoglikelihood,
}
Outcome = Union[Response, BackendError]


def indices_by_kind(requests: Sequence[Request]) -> dict[type, list[int]]:
    """{request class: positions in ``requests``}, in order: a backend answers each kind in bulk."""
    by_kind: dict[type, list[int]] = {}
    for i, r in enumerate(requests):
        by_kind.setdefault(type(r), []).append(i)
    return by_kind


class Backend(ABC):
    """One model behind one provider.

    Construction must be cheap (no weights loaded, no network): the runner builds backends to
    compute cache keys, and a fully cached run never loads a model. Load on the first
    :meth:`submit`.
    """

    name: ClassVar[str]
    supports: frozenset[RequestKind] = frozenset(RequestKind)
    Config: ClassVar[type] = ModelConfigBase  # the pydantic model of its config entry
    # False where building the backend or its identity imports a heavy library (torch):
    # ``evalkit plan`` then leaves its cache hits uncounted rather than import it.
    identity_is_cheap: ClassVar[bool] = True

    @classmethod
    def supports_for(cls, config) -> frozenset[RequestKind]:
        """The request kinds a backend built from ``config`` answers, known without building
        it (``evalkit plan``); a backend whose kinds depend on its config overrides this."""
        return cls.supports

    @classmethod
    def create(cls, config, ctx) -> "Backend":
        """Build from a validated config; ``ctx`` is a registry.BackendContext."""
        return cls(config)

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """Everything about this model that determines its answers (weights hash, adapter,
        revision, server model id...), JSON-serialisable and free of secrets. Part of every
        cache key, so two different models can never share a cache entry."""

    @abstractmethod
    def submit(self, requests: Sequence[Request]) -> Iterator[tuple[int, Outcome]]:
        """Answer ``requests``; yield ``(index, response or BackendError)`` in any order,
        exactly once per request. Raise :class:`evalkit.errors.FatalBackendError` for
        failures no retry can fix (bad credentials)."""

    def close(self) -> None:
        """Release connections and memory. Called once by the runner."""

    def compare_warnings(self, base: "Backend") -> list[str]:
        """Reasons, found without running anything, why comparing this model with ``base``
        may mislead (for example different tokenizers). Shown by ``evalkit compare``."""
        return []

