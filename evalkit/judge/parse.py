"""Reading a judge's verdict out of its text. A judgment with no readable verdict is None:
the caller counts it and shows it; it never turns silently into a tie or a score."""

from __future__ import annotations

import re

# The last [[...]] of the text is the verdict: a judge may quote the format before using it.
_BRACKETS = re.compile(r"\[\[\s*([^\[\]]{1,64}?)\s*\]\]")
_PAIRWISE = {"a": "A", "b": "B", "c": "tie", "tie": "tie"}


def _last(text: str | None) -> str | None:
    found = _BRACKETS.findall(text or "")
    return found[-1] if found else None


def pairwise_verdict(text: str | None) -> str | None:
    """"A", "B" or "tie" from a judgment ending in [[A]], [[B]] or [[C]]; None when unreadable."""
    last = _last(text)
    return None if last is None else _PAIRWISE.get(last.lower())


def score_verdict(text: str | None, low: float, high: float) -> float | None:
    """The rating N of [[N]] when it is a number within [low, high]; None otherwise (a rating
    off the scale is as unreadable as none)."""
    last = _last(text)
    try:
        value = float(last) if last is not None else None
    except ValueError:
        return None
    return value if value is not None and low <= value <= high else None


def label_verdict(text: str | None, labels: list[str]) -> str | None:
    """The label of [[LABEL]] (case-insensitive) when it is one of ``labels``; None otherwise."""
    last = _last(text)
    if last is None:
        return None
    by_lower = {x.lower(): x for x in labels}
    return by_lower.get(last.lower())
