"""The task-type interface and the pieces every type shares: prompt formatting, answer
extraction and normalisation."""

from __future__ import annotations

import re
import string
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, Message, Request, RequestKind, Response
from evalkit.metrics.base import Observation
from evalkit.metrics.registry import metrics_for
from evalkit.suites.items import Item
from evalkit.suites.spec import TaskSpec


class Unsupported(Exception):
    """The backend lacks a request kind this task needs."""

    def __init__(self, kind: RequestKind):
        self.kind = kind
        super().__init__(kind.value)


@dataclass(frozen=True)
class PromptFormat:
    """A model's own prompt handling: its system prompt and the template around each prompt."""

    system_prompt: str | None = None
    template: str = "{prompt}"
    shots: tuple[tuple[str, str], ...] = ()  # few-shot (prompt, answer) pairs, before the prompt
    shot_delimiter: str = "\n\n"
    target_delimiter: str = " "
    multiturn: bool = False  # shots as user/assistant turns rather than text before the prompt

    def user(self, prompt: str) -> str:
        if self.shots and not self.multiturn:
            prompt = "".join(q + self.target_delimiter + a + self.shot_delimiter for q, a in self.shots) + prompt
        return self.template.replace("{prompt}", prompt)

    def messages(self, prompt: str) -> tuple[Message, ...]:
        msgs = [Message("system", self.system_prompt)] if self.system_prompt else []
        if self.multiturn:
            for q, a in self.shots:
                msgs += [Message("user", self.template.replace("{prompt}", q)), Message("assistant", a)]
        return tuple(msgs + [Message("user", self.user(prompt))])

    def text(self, prompt: str) -> str:
        """The same prompt for a plain-text request (log-likelihood scoring)."""
        return GenerateRequest(self.messages(prompt)).as_text()


@dataclass(frozen=True)
class Scored:
    observation: Observation
    response: Any  # what the model answered, for people to read
    extra: dict[str, Any]  # "unparsed": True when no answer could be read out of the text


def outcome(scored: Scored) -> str:
    """The item's status: "empty" (the model wrote nothing), "unparsed" (the extractor found no
    answer in what it wrote) or "ok". Every one of them is scored: they are the model's
    behaviour, not missing data (only a failed request is)."""
    text = scored.extra.get("generated", scored.response)
    if isinstance(text, str) and not text.strip():
        return "empty"
    return "unparsed" if scored.extra.get("unparsed") else "ok"


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _canonical_number(m: re.Match) -> str:
    raw = m.group(0).replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        return m.group(0)
    return str(int(value)) if value == int(value) else repr(value)


def normalize(text: str, steps: Sequence[str]) -> str:
    """Apply normalisation steps in a fixed order, whatever order the task lists them in
    (numbers before punctuation, so "1,000.0" becomes "1000" rather than "10000")."""
    s = set(steps)
    if "numbers" in s:
        text = _NUMBER.sub(_canonical_number, text)
    if "lower" in s:
        text = text.lower()
    if "punctuation" in s:
        text = text.translate(_PUNCT)
    if "articles" in s:
        text = _ARTICLES.sub(" ", text)
    if s & {"punctuation", "articles", "whitespace"}:
        text = " ".join(text.split())
    if "strip" in s:
        text = text.strip()
    return text


def extract(text: str, pattern: str | None) -> tuple[str, bool]:
    """(answer, whether the pattern matched). No pattern: the whole text."""
    if pattern is None:
        return text, True
    m = re.search(pattern, text)
    if m is None:
        return "", False
    if not m.re.groups:
        return m.group(0), True
    # "(a)|(b)" (lm-eval's flexible extract): group 1 may not take part; use the one that did.
    return next((g for g in m.groups() if g is not None), ""), True


def sent_text(request: Request) -> str:
    if isinstance(request, GenerateRequest):
        return request.as_text()
    if isinstance(request, LoglikelihoodRequest):
        return request.context
    return getattr(request, "text", "")


class TaskType(ABC):
    def __init__(self, spec: TaskSpec):
        self.spec = spec
        self.metrics = metrics_for(spec)

    @abstractmethod
    def method(self, supports: frozenset[RequestKind]) -> RequestKind:
        """How this task will be scored on a backend; raise Unsupported when it cannot be."""

    @abstractmethod
    def requests(self, item: Item, fmt: PromptFormat, method: RequestKind) -> list[Request]: ...

    @abstractmethod
    def score(self, item: Item, responses: Sequence[Response], method: RequestKind) -> Scored: ...

    def shot(self, item: Item, method: RequestKind) -> tuple[str, str]:
        """``item`` as a few-shot example: its prompt and its answer, as the model is asked."""
        target = item.target[0] if isinstance(item.target, list) else item.target
        return item.render(self.spec.prompt), str(target)

    def prompt_for_display(self, item: Item, fmt: PromptFormat, method: RequestKind) -> str:
        """The text actually sent: taken from the request itself, so it cannot drift from it."""
        return sent_text(self.requests(item, fmt, method)[0])

    def reference(self, item: Item) -> Any:
        return item.target
