"""``type: perplexity``: rolling log-likelihood of whole documents; bits per byte and word
perplexity are the headline, token perplexity sits beside them."""

from __future__ import annotations

import re

from evalkit.backends.base import RequestKind, RollingRequest
from evalkit.metrics.base import Observation
from evalkit.tasks.base import Scored, TaskType, Unsupported


class PerplexityTask(TaskType):
    def method(self, supports):
        if RequestKind.ROLLING not in supports:
            raise Unsupported(RequestKind.ROLLING)
        return RequestKind.ROLLING

    def requests(self, item, fmt, method):
        # No system prompt or template: perplexity is a property of the model on raw text.
        return [RollingRequest(item.text)]

    def score(self, item, responses, method):
        r = responses[0]
        # Words as lm-eval counts them for word_perplexity: split on runs of white space.
        words = len(re.split(r"\s+", item.text))
        obs = Observation(nll=-r.logprob, n_bytes=len(item.text.encode("utf-8")), n_words=words, n_tokens=r.n_tokens)
        return Scored(obs, None, {"logprob": r.logprob, "tokens": r.n_tokens})

    def prompt_for_display(self, item, fmt, method=None):
        return item.text

    def reference(self, item):
        return None
