"""Per-item choices and the target among them.

An item's choices come from a field holding a list (``fields.choices``), from a template
(``choices: "{{ options }}"`` or a list of templates), or from its own text by a declared
pattern (``choices: {from_text: question, pattern: ...}``) for options written into the
question, as in "(A) 12 (B) 15 (C) 18". Each choice has a text and a label: the label is the
pattern's label group, else the letter of its position. The target may be an index, a label
or a choice's text; a target that is not one of the item's own choices is a data error.
"""

from __future__ import annotations

import ast
import re
import string
from typing import Any

from pydantic import Field, field_validator

from evalkit.config_base import StrictModel

LETTERS = string.ascii_uppercase
DEFAULT_PATTERN = r"^\s*\(?([A-Z])[).:]\s*(.+?)\s*$"


class ChoicesFromText(StrictModel):
    """Options written into one of the item's text fields, found by a regex."""

    from_text: str = Field(..., min_length=1, description="the item field whose text holds the options")
    pattern: str = Field(
        DEFAULT_PATTERN,
        description="regex matched over the text (multiline); groups: label and text, or named (?P<label>) (?P<text>); "
        "one group: the text, labelled A, B, ... by position",
    )

    @field_validator("pattern")
    @classmethod
    def _two_groups(cls, v):
        try:
            rx = re.compile(v, re.MULTILINE)
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regex: {exc}") from None
        names = set(rx.groupindex)
        if rx.groups == 0 or (names and "text" not in names) or (not names and rx.groups > 2):
            raise ValueError("pattern needs a group for the choice text: (label)(text), (text), or named (?P<label>...)(?P<text>...)")
        return v


class ChoiceError(ValueError):
    """An item's choices or target are unusable; the message is one sentence."""


def _pairs(rx: re.Pattern, text: str) -> list[tuple[str, str]]:
    out = []
    for i, m in enumerate(rx.finditer(text)):
        if "text" in rx.groupindex:
            label = m.group("label") if "label" in rx.groupindex else None
            body = m.group("text")
        elif rx.groups == 2:
            label, body = m.group(1), m.group(2)
        else:
            label, body = None, m.group(1)
        label = label.strip() if label else (LETTERS[i] if i < len(LETTERS) else str(i))
        out.append((label, (body or "").strip()))
    return out


def from_text(spec: ChoicesFromText, record: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(texts, labels) of the options written into ``record[spec.from_text]``."""
    if spec.from_text not in record:
        raise ChoiceError(f"item has no field '{spec.from_text}' (choices.from_text)")
    text = record[spec.from_text]
    if not isinstance(text, str):
        raise ChoiceError(f"field '{spec.from_text}' must be text to read choices from (choices.from_text)")
    pairs = _pairs(re.compile(spec.pattern, re.MULTILINE), text)
    if len(pairs) < 2:
        raise ChoiceError(f"choices.pattern finds {len(pairs)} option(s) in field '{spec.from_text}'; at least two are needed")
    labels = [label for label, _ in pairs]
    if len(set(labels)) != len(labels):
        raise ChoiceError(f"choices.pattern finds the labels {', '.join(labels)} in field '{spec.from_text}'; each must occur once")
    return tuple(t for _, t in pairs), tuple(labels)


def as_list(raw: Any, what: str) -> tuple[str, ...]:
    """A template's or field's choices as strings: a list, or text that reads as a list
    (what a template with words around its expression renders to)."""
    if isinstance(raw, str):
        try:
            raw = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ChoiceError(f"{what} must give a list of choices, got text") from None
    if isinstance(raw, tuple):
        raw = list(raw)
    if not isinstance(raw, list) or len(raw) < 2:
        raise ChoiceError(f"{what} must give a list of at least two choices")
    if any(isinstance(c, (dict, list)) for c in raw):
        raise ChoiceError(f"{what} must give a list of strings or numbers")
    return tuple(str(c) for c in raw)


def positional_labels(n: int) -> tuple[str, ...]:
    return tuple(LETTERS[i] if i < len(LETTERS) else str(i) for i in range(n))


def target_index(raw: Any, texts: tuple[str, ...], labels: tuple[str, ...]) -> int:
    """The index of the target among the item's choices: an index, a choice's text or its
    label (a letter in either case when the labels are letters)."""
    n = len(texts)
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, int) and 0 <= raw < n:
        return raw
    if isinstance(raw, str):
        if raw in texts:
            return texts.index(raw)
        if raw in labels:
            return labels.index(raw)
        folded = [label.upper() for label in labels]
        if len(raw) == 1 and raw.upper() in folded:
            return folded.index(raw.upper())
        if raw.isdigit() and int(raw) < n:
            return int(raw)
    shown = ", ".join(labels[:n])
    raise ChoiceError(f"target {raw!r} is not among this item's {n} choices (an index 0-{n - 1}, a label {shown}, or a choice's text)")
