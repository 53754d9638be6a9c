"""Filter chains: named ways of reading the answer (and the reference) out of a text.

A chain is a list of steps applied to a list of candidate strings, starting from the model's
whole generation. Steps:

* ``{regex: PATTERN, group: N, select: first | last | all | INDEX}``: every match in every
  candidate; the candidate becomes group N of the match (default: the first group that took
  part in the match, or the whole match when the pattern has no group), stripped of
  surrounding whitespace, as lm-eval's regex filter does; ``select`` keeps the first match
  (default), the last (``-1`` works too, as lm-eval's ``group_select``), one by index, or all.
* ``{fallback: VALUE}``: when nothing is left, the answer is VALUE (the item still counts
  as unparsed).
* ``take_first`` / ``take_last``: keep one candidate.
* ``strip``, ``lowercase``: applied to every candidate.
* ``{map: {FROM: TO, ...}, default: VALUE}``: replace whole candidates (others are kept, or
  become ``default`` when it is given).

The answer is the first candidate left; when a regex found nothing and no fallback applies
the answer is None: *unparsed*, which every metric scores as wrong (never dropped).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SIMPLE_STEPS = ("take_first", "take_last", "strip", "lowercase")
_KEYS = {"regex": {"regex", "group", "select", "group_select"}, "fallback": {"fallback"}, "map": {"map", "default"}}


@dataclass(frozen=True)
class Step:
    kind: str
    pattern: re.Pattern | None = None
    group: int | None = None
    select: str | int = "first"
    value: str | None = None  # fallback value, or map default
    mapping: dict[str, str] = field(default_factory=dict)

    def apply(self, values: list[str]) -> tuple[list[str], bool]:
        """(the candidates after this step, whether the step found what it looked for)."""
        k = self.kind
        if k == "regex":
            found = [self._pick(m) for v in values for m in self.pattern.finditer(v)]
            found = [f for f in found if f is not None]
            chosen = _select(found, self.select)
            return chosen, bool(chosen)
        if k == "fallback":
            return (values if values else [self.value]), True
        if k == "take_first":
            return values[:1], True
        if k == "take_last":
            return values[-1:], True
        if k == "strip":
            return [v.strip() for v in values], True
        if k == "lowercase":
            return [v.lower() for v in values], True
        if k == "map":
            return [self.mapping.get(v, v if self.value is None else self.value) for v in values], True
        raise AssertionError(k)

    def _pick(self, m: re.Match) -> str | None:
        if self.group is not None:
            g = m.group(self.group)
        elif m.re.groups:
            # lm-eval's flexible pattern "(a)|(b)": only one group takes part in a match.
            g = next((x for x in m.groups() if x), None)
        else:
            g = m.group(0)
        return None if g is None else g.strip()


def _select(found: list[str], select: str | int) -> list[str]:
    if select == "all":
        return found
    if select == "first":
        select = 0
    elif select == "last":
        select = -1
    try:
        return [found[select]]
    except IndexError:
        return []


def parse_step(raw: Any) -> Step:
    """One step from YAML; ValueError with a message a user can act on."""
    if isinstance(raw, str):
        if raw not in SIMPLE_STEPS:
            raise ValueError(f"unknown filter step '{raw}' (steps: {', '.join(SIMPLE_STEPS)}, or a mapping with regex, fallback or map)")
        return Step(raw)
    if not isinstance(raw, dict):
        raise ValueError(f"a filter step is a name or a mapping, not {type(raw).__name__}")
    kinds = [k for k in _KEYS if k in raw]
    if len(kinds) != 1:
        raise ValueError(f"a filter step mapping needs exactly one of regex, fallback, map (got: {', '.join(map(str, raw)) or 'nothing'})")
    kind = kinds[0]
    extra = set(raw) - _KEYS[kind]
    if extra:
        raise ValueError(f"filter step '{kind}': unknown key(s) {', '.join(sorted(map(str, extra)))} (allowed: {', '.join(sorted(_KEYS[kind]))})")
    if kind == "fallback":
        return Step("fallback", value=str(raw["fallback"]))
    if kind == "map":
        if not isinstance(raw["map"], dict):
            raise ValueError("filter step 'map' needs a mapping of answer -> replacement")
        default = raw.get("default")
        return Step("map", mapping={str(k): str(v) for k, v in raw["map"].items()}, value=None if default is None else str(default))
    return _regex_step(raw)


def _regex_step(raw: dict) -> Step:
    try:
        pattern = re.compile(str(raw["regex"]))
    except re.error as exc:
        raise ValueError(f"filter regex {raw['regex']!r} does not compile: {exc}") from None
    group = raw.get("group")
    if group is not None and (not isinstance(group, int) or isinstance(group, bool) or not 0 <= group <= pattern.groups):
        raise ValueError(f"filter regex group must be a number from 0 to {pattern.groups} (the pattern's groups), not {group!r}")
    if "select" in raw and "group_select" in raw:
        raise ValueError("filter regex: give select or group_select, not both")
    select = raw.get("select", raw.get("group_select", "first"))
    if not (select in ("first", "last", "all") or (isinstance(select, int) and not isinstance(select, bool))):
        raise ValueError(f"filter regex select must be first, last, all or a match index, not {select!r}")
    return Step("regex", pattern=pattern, group=group, select=select)


@dataclass(frozen=True)
class Chain:
    steps: tuple[Step, ...]

    def apply(self, text: str | None) -> tuple[str | None, bool]:
        """(answer, parsed): answer None when nothing is left; parsed False when a regex
        found nothing (even if a fallback then gave an answer)."""
        values = [text or ""]
        parsed = True
        for step in self.steps:
            values, ok = step.apply(values)
            parsed = parsed and ok
        return (values[0] if values else None), parsed


def parse_chain(raw: Sequence[Any]) -> Chain:
    if isinstance(raw, (str, dict)):
        raw = [raw]
    return Chain(tuple(parse_step(s) for s in raw))
