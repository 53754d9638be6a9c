"""``type: classification`` over a fixed label set: like multiple choice with the labels as
choices (log-likelihood when available, else generation matched to a label); accuracy and
macro-F1."""

from __future__ import annotations

from evalkit.backends.base import GenerateRequest, RequestKind
from evalkit.metrics.base import Observation
from evalkit.tasks.base import Scored, normalize
from evalkit.tasks.multiple_choice import MultipleChoiceTask


class ClassificationTask(MultipleChoiceTask):
    def choices(self, item):
        # An item that lists its own options is scored over those only: a label the item
        # does not offer can never be predicted for it.
        return list(item.choices) or self.spec.labels

    def gold(self, item) -> int:
        return self.choices(item).index(item.target)

    def requests(self, item, fmt, method):
        if method is RequestKind.GENERATE:
            g = self.spec.generation
            prompt = item.render(self.spec.prompt)
            return [GenerateRequest(fmt.messages(prompt), max_tokens=min(g.max_tokens, 16), stop=tuple(g.stop) or ("\n",))]
        return super().requests(item, fmt, method)

    def shot(self, item, method):
        return item.render(self.spec.prompt), item.target

    def _match_label(self, text: str, labels) -> str | None:
        said = normalize(text, ["lower", "punctuation", "strip"])
        for label in labels:
            if said == normalize(label, ["lower", "punctuation", "strip"]):
                return label
        for label in labels:  # a label mentioned first wins over none at all
            if normalize(label, ["lower", "punctuation", "strip"]) in said.split():
                return label
        return None

    def score(self, item, responses, method):
        if method is RequestKind.LOGLIKELIHOOD:
            pred_i, _, extra = self.pick(item, responses, method)
            pred = self.choices(item)[pred_i]
        else:
            pred = self._match_label(responses[0].text, self.choices(item))
            extra = {"generated": responses[0].text, "unparsed": pred is None}
        obs = Observation(prediction=pred, references=(item.target,), correct=pred == item.target)
        return Scored(obs, pred, {**extra, "method": method.value})

    def reference(self, item):
        return item.target
