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
        return [GenerateRequest(fmt.messages(lettered(prompt, self.choices(item))), max_tokens=5, stop=("\n",))]

    def pick(self, item, responses, method) -> tuple[int | None, int | None, dict]:
        """(chosen index, length-normalised chosen index, details)."""
        choices = self.choices(item)
        if method is RequestKind.LOGLIKELIHOOD:
            lls = np.array([r.logprob for r in responses])
            # lm-eval's acc_norm: log-likelihood per character of the choice as given.
            lengths = np.array([float(len(c)) for c in choices])
            return int(np.argmax(lls)), int(np.argmax(lls / lengths)), {"loglikelihoods": lls.tolist()}
        m = _LETTER.search(responses[0].text.upper())
        idx = LETTERS.index(m.group(1)) if m and LETTERS.index(m.group(1)) < len(choices) else None
        return idx, idx, {"generated": responses[0].text}

    def score(self, item, responses, method):
        pred, pred_norm, extra = self.pick(item, responses, method)
        gold = self.gold(item)
        obs = Observation(correct=pred == gold, correct_norm=pred_norm == gold)
        shown = self.choices(item)[pred] if pred is not None else None
        return Scored(obs, shown, {**extra, "method": method.value, "pred_index": pred})

    def reference(self, item):
        return self.choices(item)[self.gold(item)]
