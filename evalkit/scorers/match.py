"""Regex match and contains: pattern and substring checks of the answer.

``regex``: 1 when ``pattern`` is found in the answer (``re.search``; ``fullmatch: true`` for
the whole answer); without ``pattern`` each reference is the pattern. ``contains``: 1 when a
reference occurs in the answer. Both take ``ignore_case``. An answer a filter found nothing in
(None) matches nothing.
"""

from __future__ import annotations

import re

from evalkit.scorers.base import BinaryScorerMetric, Scorer


class RegexMatch(BinaryScorerMetric):
    name = "regex_match"
    source = "regex"


class Contains(BinaryScorerMetric):
    name = "contains"
    source = "contains"


class RegexScorer(Scorer):
    def __init__(self, pattern: str | None = None, fullmatch: bool = False, ignore_case: bool = False):
        self.flags = re.IGNORECASE if ignore_case else 0
        self.pattern = re.compile(pattern, self.flags) if pattern is not None else None
        self.fullmatch = fullmatch

    def metrics(self):
        return [RegexMatch()]

    def _hit(self, pattern: re.Pattern, answer: str) -> bool:
        return bool(pattern.fullmatch(answer) if self.fullmatch else pattern.search(answer))

    def score(self, answer, references, record):
        if answer is None:
            return {"regex_match": (0.0, 1.0)}
        patterns = [self.pattern] if self.pattern is not None else [re.compile(r, self.flags) for r in references]
        return {"regex_match": (float(any(self._hit(p, answer) for p in patterns)), 1.0)}


class ContainsScorer(Scorer):
    def __init__(self, ignore_case: bool = False):
        self.ignore_case = ignore_case

    def metrics(self):
        return [Contains()]

    def score(self, answer, references, record):
        if answer is None:
            return {"contains": (0.0, 1.0)}
        fold = str.casefold if self.ignore_case else str
        hit = any(fold(r) in fold(answer) for r in references)
        return {"contains": (float(hit), 1.0)}
