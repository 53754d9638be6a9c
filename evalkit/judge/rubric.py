"""``scorer: rubric``: the judge rates one answer on a declared scale, or gives it a label from
a declared set, following the rubric written in the task file; the reference goes into the
judge's prompt when the item has one (reference-guided grading).

    scorer: {name: rubric, args: {rubric: "5: complete and correct ... 1: wrong", scale: [1, 5]}}
    scorer: {name: rubric, args: {rubric: "...", labels: [resolved, partly, unresolved], pass: [resolved]}}
    judge: gpt-4o          # a model entry of the config

The metric is ``judge_score``: the mean rating, or the share of answers whose label is in
``pass`` (default: the first label). An unreadable judgment or a failed judge request has no
value (weight 0: left out of the mean); the sample's label says ``judge unreadable`` or
``judge failed``, and the raw judgment is stored with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.scorers.base import BinaryScorerMetric, Scorer, ScorerMetric

DEFAULT_RUBRIC = "Rate how well the answer answers the question: correct, complete, relevant and clear."


class RubricScorer(Scorer):
    def __init__(self, rubric: str = DEFAULT_RUBRIC, scale: Sequence[float] | None = None, labels: Sequence[str] | None = None,
                 template: str | None = None, max_tokens: int = 512, *, judge: str | None = None,
                 base_dir: Path | None = None, prompt: str | None = None, template_style: str = "auto", **kw):
        from evalkit.judge.prompts import load_template

        passing = kw.pop("pass", None)
        if kw:
            raise TypeError(f"unexpected argument(s) {', '.join(sorted(kw))}")
        if scale is not None and labels is not None:
            raise ValueError("give scale or labels, not both")
        if labels is not None and (len(labels) < 2 or len(set(labels)) != len(labels)):
            raise ValueError("labels must be at least two distinct strings")
        self.labels = list(labels) if labels is not None else None
        self.passing = set(passing or (self.labels[:1] if self.labels else []))
        if self.labels is not None and not self.passing <= set(self.labels):
            raise ValueError(f"pass must name labels of {self.labels}")
        low, high = (float(scale[0]), float(scale[1])) if scale is not None else (1.0, 10.0)
        if not low < high:
            raise ValueError("scale must be [low, high] with low < high")
        self.low, self.high = low, high
        self.rubric, self.judge_name, self.max_tokens = rubric, judge, int(max_tokens)
        self.prompt, self.template_style = prompt, template_style
        self.template, self.template_path = load_template("rubric", template, base_dir)
        self._seen: dict[str, tuple[str | None, Any, dict]] = {}

    def metrics(self) -> list[ScorerMetric]:
        source = f"judge:{self.judge_name}:rubric"
        if self.labels is not None:
            return [BinaryScorerMetric("judge_score", higher_is_better=True, source=source)]
        return [ScorerMetric("judge_score", higher_is_better=True, binary=False, value_range=(self.low, self.high), source=source)]

    def code_files(self) -> list[str]:
        # The template's text is part of the run's cache key: an edited template re-judges.
        return [str(self.template_path)]

    def fingerprint(self) -> dict | None:
        from evalkit.errors import EvalkitError
        from evalkit.judge.session import current_judge

        try:
            judge = current_judge(self.judge_name, self.max_tokens) if self.judge_name else None
        except EvalkitError:  # outside a run there is no session: the name stands in
            return {"judge": self.judge_name}
        return {"judge": self.judge_name, "identity": judge.backend.identity() if judge else None}

    def _judge_prompt(self, answer, references, record) -> str:
        from evalkit.judge.prompts import render
        from evalkit.suites.template import fill

        question = fill(self.prompt, dict(record), self.template_style) if self.prompt else ""
        reference = "\n".join(str(r) for r in references if r not in (None, "")) or None
        fields = {"prompt": question, "reference": reference, "answer": "" if answer is None else answer,
                  "rubric": self.rubric, "labels": self.labels, "low": _num(self.low), "high": _num(self.high)}
        return render(self.template, self.template_path, fields)

    def prepare(self, calls) -> None:
        """Ask the judge about every (answer, references, record) at once (the runner calls this
        before scoring item by item, which then finds each judgment ready)."""
        from evalkit.judge.session import current_judge

        if self.judge_name is None:
            return
        prompts = list(dict.fromkeys(p for a, refs, rec in calls if (p := self._judge_prompt(a, refs, rec)) not in self._seen))
        if not prompts:
            return
        meta: list = []
        raws = current_judge(self.judge_name, self.max_tokens).ask(prompts, meta=meta)
        for text, raw, m in zip(prompts, raws, meta):
            self._seen[text] = self._verdict(raw if isinstance(raw, str) else None, m)

    def _verdict(self, raw: str | None, meta: dict) -> tuple[str | None, Any, dict]:
        from evalkit.judge.parse import label_verdict, score_verdict

        verdict = label_verdict(raw, self.labels) if self.labels is not None else score_verdict(raw, self.low, self.high)
        return raw, verdict, meta

    def _judgment(self, answer, references, record) -> tuple[str | None, Any, dict]:
        """(raw judgment or None when the request failed, parsed verdict or None, its cost and latency)."""
        from evalkit.judge.session import current_judge

        text = self._judge_prompt(answer, references, record)
        if text not in self._seen:
            if self.judge_name is None:
                raise ValueError("scorer rubric needs judge: MODEL in the task file")
            meta: list = []
            raw = current_judge(self.judge_name, self.max_tokens).ask([text], meta=meta)[0]
            self._seen[text] = self._verdict(raw if isinstance(raw, str) else None, meta[0])
        return self._seen[text]

    def score(self, answer, references, record: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
        _, verdict, _ = self._judgment(answer, references, record)
        if verdict is None:
            return {"judge_score": (0.0, 0.0)}
        value = float(verdict in self.passing) if self.labels is not None else float(verdict)
        return {"judge_score": (value, 1.0)}

    def label(self, answer, references, record) -> str | None:
        raw, verdict, _ = self._judgment(answer, references, record)
        if raw is None:
            return "judge failed"
        return "judge unreadable" if verdict is None else f"judge {_num(verdict) if self.labels is None else verdict}"

    def details(self, answer, references, record) -> dict | None:
        raw, verdict, meta = self._judgment(answer, references, record)
        return {"judge": {"model": self.judge_name, "raw": raw, "verdict": verdict, **meta}}


def _num(x):
    return int(x) if isinstance(x, float) and x.is_integer() else x
