"""Numeric answer match: the number in the answer equals the reference's number.

Sign and decimals count (``-5`` is not ``5``, ``1.5`` is not ``15``); thousands separators,
currency symbols, a trailing period and surrounding words do not (``1,000`` is ``1000``,
``$3.50`` is ``3.5``). Numbers compare as decimals, so ``2.50`` equals ``2.5`` exactly and
no float rounding can make two different answers equal. When the text holds several numbers
the last one is the answer (the usual "the answer is 42" ending); an answer with no number is
wrong. A reference with no number is a data error.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from evalkit.scorers.base import BinaryScorerMetric, Scorer

# A comma is a thousands separator only between a digit and exactly three digits, so that
# "1,5" is not read as 15.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"[-−]?(?:\d+(?:\.\d+)?|\.\d+)")


def parse_number(text: str | None) -> Decimal | None:
    """The last number in ``text``, or None."""
    if not text:
        return None
    cleaned = _THOUSANDS.sub("", text)
    found = _NUMBER.findall(cleaned)
    if not found:
        return None
    try:
        return Decimal(found[-1].replace("−", "-"))
    except InvalidOperation:
        return None


class NumericMatch(BinaryScorerMetric):
    name = "numeric_match"
    source = "numeric:decimal-equal/v1"


class NumericScorer(Scorer):
    def __init__(self, abs_tol: float = 0.0):
        self.abs_tol = Decimal(str(abs_tol))

    def metrics(self):
        return [NumericMatch()]

    def score(self, answer, references, record):
        got = parse_number(answer)
        refs = [parse_number(r) for r in references]
        if any(r is None for r in refs):
            raise ValueError(f"a reference has no number ({references!r})")
        hit = got is not None and any(abs(got - r) <= self.abs_tol for r in refs)
        return {"numeric_match": (float(hit), 1.0)}
