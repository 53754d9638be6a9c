"""``type: multiple_choice``: scored by log-likelihood of each choice after the prompt when the
backend has it (acc and lm-eval's length-normalised acc_norm), else by generating a letter."""

from __future__ import annotations

import re

import numpy as np

from evalkit.backends.base import GenerateRequest, LoglikelihoodRequest, RequestKind
from evalkit.metrics.base import Observation
from evalkit.suites.items import LETTERS
from evalkit.tasks.base import Scored, TaskType, Unsupported

_LETTER = re.compile(r"\b([A-Z])\b")


def lettered(prompt: str, choices) -> str:
    lines = [prompt] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)] + ["Answer:"]
    return "\n".join(lines)


def _letter_logprobs(top: dict[str, float], n_choices: int) -> dict[str, float]:
    """The first token's log-probability for each answer letter among the top tokens
    (" B", "B", "B." all count as B)."""
    found: dict[str, float] = {}
    for token, logprob in top.items():
        letter = token.strip().rstrip(".):").upper()
        if len(letter) == 1 and letter in LETTERS[:n_choices]:
            found[letter] = max(found.get(letter, float("-inf")), logprob)
    return found


class MultipleChoiceTask(TaskType):
    def method(self, supports):
        for kind in (RequestKind.LOGLIKELIHOOD, RequestKind.GENERATE):
            if kind in supports:
                return kind
        raise Unsupported(RequestKind.LOGLIKELIHOOD)

    def choices(self, item):
        return item.choices

    def gold(self, item) -> int:
        return item.target

    def requests(self, item, fmt, method):
        prompt = item.render(self.spec.prompt)
        if method is RequestKind.LOGLIKELIHOOD:
            context = fmt.text(prompt)
            return [LoglikelihoodRequest(context, self.spec.choice_prefix + c) for c in self.choices(item)]
        # top_logprobs: a chat API that returns them lets the letter's probability decide,
        # rather than whatever text the model wrote first.
        return [
            GenerateRequest(fmt.messages(lettered(prompt, self.choices(item))), max_tokens=5, stop=("\n",), top_logprobs=20)
        ]

    def shot(self, item, method):
        prompt = item.render(self.spec.prompt)
        if method is RequestKind.GENERATE:
            return lettered(prompt, self.choices(item)), LETTERS[self.gold(item)]
        return prompt, self.choices(item)[self.gold(item)]

    def pick(self, item, responses, method) -> tuple[int | None, int | None, dict]:
        """(chosen index, length-normalised chosen index, details)."""
        choices = self.choices(item)
        if method is RequestKind.LOGLIKELIHOOD:
            lls = np.array([r.logprob for r in responses])
            # lm-eval's acc_norm: log-likelihood per character of the choice as given.
            lengths = np.array([float(len(c)) for c in choices])
            return int(np.argmax(lls)), int(np.argmax(lls / lengths)), {"loglikelihoods": lls.tolist()}
        gen = responses[0]
        letters = _letter_logprobs((gen.extra or {}).get("top_logprobs") or {}, len(choices))
        if letters:
            idx = LETTERS.index(max(letters, key=letters.get))
            return idx, idx, {"generated": gen.text, "scored_by": "top_logprobs", "letter_logprobs": letters}
        m = _LETTER.search(gen.text.upper())
        idx = LETTERS.index(m.group(1)) if m and LETTERS.index(m.group(1)) < len(choices) else None
        return idx, idx, {"generated": gen.text, "scored_by": "letter", "unparsed": idx is None}

    def score(self, item, responses, method):
        pred, pred_norm, extra = self.pick(item, responses, method)
        gold = self.gold(item)
        obs = Observation(correct=pred == gold, correct_norm=pred_norm == gold)
        shown = self.choices(item)[pred] if pred is not None else None
        return Scored(obs, shown, {**extra, "method": method.value, "pred_index": pred})

    def reference(self, item):
        return self.choices(item)[self.gold(item)]
