"""``type: generate``: the model writes an answer; extraction and normalisation, then
exact match, token F1, ROUGE-L, BLEU or chrF against the reference(s)."""

from __future__ import annotations

from evalkit.backends.base import GenerateRequest, RequestKind
from evalkit.metrics.base import Observation
from evalkit.tasks.base import Scored, TaskType, Unsupported, extract, normalize


class GenerateTask(TaskType):
    def method(self, supports):
        if RequestKind.GENERATE not in supports:
            raise Unsupported(RequestKind.GENERATE)
        return RequestKind.GENERATE

    def requests(self, item, fmt, method):
        g = self.spec.generation
        return [
            GenerateRequest(
                fmt.messages(item.render(self.spec.prompt)),
                max_tokens=g.max_tokens,
                stop=tuple(g.stop),
                temperature=g.temperature,
            )
        ]

    def score(self, item, responses, method):
        text = responses[0].text
        answer, matched = extract(text, self.spec.extract)
        refs = item.target if isinstance(item.target, list) else [item.target]
        steps = self.spec.normalize
        obs = Observation(prediction=normalize(answer, steps), references=tuple(normalize(r, steps) for r in refs))
        return Scored(obs, text, {"extracted": answer, "matched": matched, "unparsed": not matched})
