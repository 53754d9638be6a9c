"""``type: generate``: the model writes an answer; extraction (or named filter chains) and
normalisation, then exact match, token F1, ROUGE-L, BLEU, chrF or scorer metrics against the
reference(s)."""

from __future__ import annotations

import json

from evalkit.backends.base import GenerateRequest, RequestKind
from evalkit.errors import BackendError, DataError
from evalkit.metrics.base import Observation
from evalkit.scorers.plan import plan_scoring
from evalkit.tasks.base import Scored, TaskType, Unsupported, extract, normalize
from evalkit.tasks.filters import parse_chain


def check_references(spec, items) -> None:
    """Run a task's target_filter over every reference now, so ``validate`` names a reference
    it cannot read (a DataError with the data line) before any model runs."""
    if spec.type == "generate" and spec.target_filter is not None:
        tt = GenerateTask(spec)
        for item in items:
            tt.reference(item)


class GenerateTask(TaskType):
    def __init__(self, spec):
        self.spec = spec
        plan = plan_scoring(spec)
        self.metrics, self.scorers = plan.metrics, plan.scorers
        self.filters = {name: parse_chain(chain) for name, chain in (spec.filters or {}).items()}
        self.target_filter = parse_chain(spec.target_filter) if spec.target_filter is not None else None

    def code_digest(self) -> str | None:
        """A digest of the user code this task's scorers run (None when there is none)."""
        import hashlib
        from pathlib import Path

        files = sorted({f for s in self.scorers for f in s.code_files()})
        others = [x for s in self.scorers if (x := s.fingerprint()) is not None]  # a judge's identity
        if not files and not others:
            return None
        h = hashlib.sha256()
        for f in files:
            h.update(f.encode() + b"\0" + Path(f).read_bytes())
        for x in others:
            h.update(json.dumps(x, sort_keys=True, default=str).encode())
        return h.hexdigest()

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

    def reference(self, item):
        refs = self._references(item)
        return refs if isinstance(item.target, list) else refs[0]

    def _references(self, item) -> list[str]:
        refs = item.target if isinstance(item.target, list) else [item.target]
        if self.target_filter is None:
            return list(refs)
        out = []
        for r in refs:
            value, parsed = self.target_filter.apply(r)
            if value is None or not parsed:
                raise DataError(f"item '{item.id}': target_filter found nothing in the reference {r!r}; fix the data or the filter",
                                path=self.spec.data_path, line=item.line)
            out.append(value)
        return out

    def _observe(self, item, answer: str | None, refs: list[str]) -> Observation:
        """One reading of the answer: normalised for the answer-matching metrics, raw (as
        the filter left it) for the scorers."""
        steps = self.spec.normalize
        values: dict[str, tuple[float, float]] = {}
        for s in self.scorers:
            try:
                values.update(s.score(answer, refs, item.record))
            except (TypeError, ValueError) as exc:
                raise DataError(f"item '{item.id}': scoring failed: {exc}", path=self.spec.data_path, line=item.line) from None
        prediction = None if answer is None else normalize(answer, steps)
        return Observation(prediction=prediction, references=tuple(normalize(r, steps) for r in refs), values=values)

    def _labels(self, item, answer, refs) -> dict:
        labels = [x for s in self.scorers if (x := s.label(answer, refs, item.record)) is not None]
        out = {"label": labels[0]} if labels else {}
        for s in self.scorers:
            out.update(s.details(answer, refs, item.record) or {})
        return out

    def prepare(self, items, responses_per_item) -> None:
        """Hand every answer the scorers will see, up front, to the scorers that batch their
        work (a rubric judge: one batch of requests, not one round trip per item)."""
        batching = [s for s in self.scorers if hasattr(s, "prepare")]
        if not batching:
            return
        calls = []
        for item, responses in zip(items, responses_per_item):
            if not responses or any(isinstance(r, BackendError) for r in responses):
                continue
            text, refs = responses[0].text, self._references(item)
            if self.filters:
                answers = [chain.apply(text)[0] for chain in self.filters.values()]
            else:
                answer, matched = extract(text, self.spec.extract)
                answers = [answer if matched else None]
            calls += [(a, refs, item.record) for a in answers]
        for s in batching:
            s.prepare(calls)

    def score(self, item, responses, method):
        text = responses[0].text
        refs = self._references(item)
        if not self.filters:
            answer, matched = extract(text, self.spec.extract)
            scored_answer = answer if matched else None  # nothing extracted: unparsed, scored as wrong
            obs = self._observe(item, scored_answer, refs)
            return Scored(obs, text, {"extracted": answer, "matched": matched, "unparsed": not matched, **self._labels(item, scored_answer, refs)})
        variants, readings = {}, {}
        for name, chain in self.filters.items():
            answer, parsed = chain.apply(text)
            variants[name] = self._observe(item, answer, refs)
            readings[name] = {"answer": answer, "parsed": parsed, **self._labels(item, answer, refs)}
        first = next(iter(readings.values()))
        obs = Observation(variants=variants)
        return Scored(obs, text, {"extracted": first["answer"], "matched": first["parsed"], "unparsed": not first["parsed"], "filters": readings})
