"""Loading a task's JSONL into validated items, with a file:line error for every bad one."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import DataError
from evalkit.suites import sources
from evalkit.suites.derived import item_choices, item_target, render_prompt
from evalkit.suites.select import filter_records, sample
from evalkit.suites.spec import TaskSpec
from evalkit.suites.template import fill
from evalkit.textfiles import undecodable_line

LETTERS = string.ascii_uppercase


@dataclass(frozen=True)
class Item:
    id: str
    line: int
    record: dict[str, Any] = field(repr=False)
    target: Any = None  # str (generate, classification), int index (multiple_choice)
    choices: tuple[str, ...] = ()  # multiple_choice: the texts; classification: this item's labels, if limited
    text: str | None = None
    group: str | None = None
    choice_labels: tuple[str, ...] = ()  # multiple_choice: each choice's label (A, B, ... or as parsed)
    # The task's prompt, rendered once when the item is read; ``render`` hands it back.
    prompt: str | None = field(default=None, repr=False, compare=False)
    prompt_source: str | None = field(default=None, repr=False, compare=False)
    template_style: str = field(default="auto", repr=False, compare=False)

    def render(self, template: str) -> str:
        if template == self.prompt_source and self.prompt is not None:
            return self.prompt
        return fill(template, self.record, self.template_style)


def _field(spec: TaskSpec, rec: dict, key: str | None, line: int, what: str):
    if key not in rec:
        raise DataError(
            f"item has no field '{key}' (fields.{what} in {spec.source.name if spec.source else 'task'}; "
            f"the item's fields are: {', '.join(sorted(rec)) or 'none'})",
            path=spec.data_path,
            line=line,
        )
    if rec[key] is None:  # str(None) would make the reference the word "None"
        raise DataError(f"field '{key}' is null (fields.{what}); write the {what}, or leave the item out",
                        path=spec.data_path, line=line)
    return rec[key]


def _group(spec: TaskSpec, rec: dict, line: int) -> str:
    """The item's cluster label. With ``fields.group`` set every item needs one: an item
    without would leave the task half clustered, and its intervals as if items were independent."""
    raw = rec.get(spec.fields.group)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise DataError(
            f"item has no group (field '{spec.fields.group}', fields.group in "
            f"{spec.source.name if spec.source else 'task'}); give every item one, or drop fields.group",
            path=spec.data_path, line=line,
        )
    return str(raw)


def _make_item(spec: TaskSpec, line: int, rec: dict) -> Item:
    f = spec.fields
    item_id = str(_field(spec, rec, f.id, line, "id")) if f.id else str(line)
    group = _group(spec, rec, line) if f.group else None
    if spec.type == "perplexity":
        text = _field(spec, rec, f.text, line, "text")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"field '{f.text}' must be a non-empty string", path=spec.data_path, line=line)
        return Item(item_id, line, rec, text=text, group=group)
    raw = item_target(spec, rec, line) if spec.target else _field(spec, rec, f.target, line, "target")
    texts, labels = item_choices(spec, rec, line)
    target, choices, choice_labels = _resolve(spec, raw, texts, labels, line)
    prompt = render_prompt(spec, rec, line)
    return Item(
        item_id, line, rec, target=target, choices=choices, group=group, choice_labels=choice_labels,
        prompt=prompt, prompt_source=spec.prompt, template_style=spec.template_style,
    )


def _resolve(spec: TaskSpec, raw, texts, labels, line: int):
    """(target, choices, choice labels) as the task type needs them."""
    from evalkit.suites.choices import ChoiceError, target_index

    try:
        if spec.type == "multiple_choice":
            return target_index(raw, texts, labels), texts, labels
        if spec.type == "classification":
            return _label_target(spec, raw, texts, labels), labels, ()
    except ChoiceError as exc:
        raise DataError(str(exc), path=spec.data_path, line=line) from None
    target = [str(t) for t in raw] if isinstance(raw, list) else str(raw)
    return target, (), ()


def _label_target(spec: TaskSpec, raw, texts, labels) -> str:
    """A classification target: one of the task's labels and, when the item limits its
    options, one of this item's (given as the label or as the option's text)."""
    from evalkit.suites.choices import ChoiceError

    target = str(raw)
    if not labels:
        if target not in spec.labels:
            raise ChoiceError(f"label {target!r} is not in the task's labels ({', '.join(spec.labels)})")
        return target
    if target not in labels and target in texts:
        target = labels[texts.index(target)]
    if target not in labels:
        raise ChoiceError(f"target {target!r} is not among this item's options ({', '.join(labels)})")
    return target


def load_items(spec: TaskSpec, limit: int | None = None, seed: int | None = None) -> list[Item]:
    """The task's items (those passing ``where:``, then ``sample:`` drawn with ``seed``, the
    project's), validated; the first ``limit`` of them when given."""
    try:
        return _load_items(spec, limit, seed)
    except UnicodeDecodeError:
        line, reason = undecodable_line(spec.data_path)
        raise DataError(f"not UTF-8 text: {reason}; save the file as UTF-8", path=spec.data_path, line=line) from None


def _load_items(spec: TaskSpec, limit: int | None, seed: int | None) -> list[Item]:
    items: list[Item] = []
    seen: dict[str, int] = {}
    records = sources.read(spec.data, spec.source)
    for line, rec in filter_records(records, spec.where, spec.data_path):
        item = _make_item(spec, line, rec)
        if item.id in seen:
            raise DataError(f"duplicate id {item.id!r} (first on line {seen[item.id]})", path=spec.data_path, line=line)
        seen[item.id] = line
        items.append(item)
        if limit is not None and spec.sample is None and len(items) >= limit:
            break
    if not items:
        what = "no record passes where:" if spec.where else "the dataset is empty"
        raise DataError(f"{what} (task {spec.source})", path=spec.data_path)
    return sample(items, spec.sample, seed)[:limit]


def order_key(seed: int, task: str, item_id: str) -> str:
    """An item's place in its task's seeded random order: a hash, so the order does not depend
    on the file's order or on which other items exist (a growing prefix stays a prefix)."""
    import hashlib

    return hashlib.sha256(f"{seed}/{task}/{item_id}".encode()).hexdigest()


def seeded_prefix(items: list[Item], seed: int, task: str, fraction: float) -> list[Item]:
    """The first ``ceil(fraction * n)`` items of the task's seeded random order (at least 2),
    for ``compare --sequential``: each look evaluates a longer prefix of the same order."""
    import math

    ordered = sorted(items, key=lambda it: order_key(seed, task, it.id))
    return ordered[: max(2, math.ceil(fraction * len(ordered)))]
