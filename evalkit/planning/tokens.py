"""Token estimates for planned requests.

An OpenAI model's text is counted with tiktoken (the ``openai`` extra) when its encoding
loads, through the backend's own counter (which gives up after 5 s offline); every other
model, and OpenAI ones without tiktoken, get ``characters / 4``, the usual rule of thumb for
English text (non-English text and code run higher). Completion tokens are an upper bound: a
generation is counted at its ``max_tokens``, an echo (log-likelihood) request at the one
token generated past the prompt.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, Request

CHARS_PER_TOKEN = 4
# OpenAI's chat format wraps each message in a few tokens (role and separators) and primes
# the reply with a few more: the figures of OpenAI's token-counting cookbook.
CHAT_TOKENS_PER_MESSAGE = 3
CHAT_TOKENS_PER_REPLY = 3


def rough(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Counter:
    count: Callable[[str], int]
    method: str  # "tiktoken" or "chars/4", shown with the numbers
    chat: bool  # messages are sent as chat (per-message overhead)
    echo_tokens: int  # tokens generated past an echoed prompt


@functools.lru_cache(maxsize=None)
def _tiktoken(model: str):
    """The backend's counter for ``model`` (loaded once per process: offline, each load
    waits up to 5 s before giving up)."""
    from evalkit.backends.openai_api import _TokenCounter

    return _TokenCounter(model)


def counter_for(cfg) -> Counter:
    """The counter for one configured model."""
    chat = getattr(cfg, "api", None) == "chat"
    echo = int(getattr(cfg, "echo_max_tokens", 0))
    if cfg.backend == "openai":
        from evalkit.backends.openai_api import parse_ft_id

        ft = parse_ft_id(cfg.model)
        counter = _tiktoken(ft.base_model if ft else cfg.model)
        if counter._enc is not None:
            return Counter(counter, "tiktoken", chat, echo)
    return Counter(rough, f"chars/{CHARS_PER_TOKEN}", chat, echo)


def request_tokens(req: Request, counter: Counter) -> tuple[int, int]:
    """(prompt tokens, completion tokens at most) of one request."""
    if isinstance(req, GenerateRequest):
        if counter.chat:
            prompt = sum(counter.count(m.content) + CHAT_TOKENS_PER_MESSAGE for m in req.messages) + CHAT_TOKENS_PER_REPLY
        else:
            prompt = counter.count(req.as_text())
        return prompt, req.max_tokens
    text = req.context + req.continuation if isinstance(req, LoglikelihoodRequest) else req.text
    return counter.count(text), counter.echo_tokens
