"""What a task's templates make of one item: its prompt, its target and its choices.

Each template was compiled when the task file was read; what can still go wrong is the
item (a field it lacks, a value of the wrong kind). Those errors name the data file and
line, and say which key of which task file asked for the field.
"""

from __future__ import annotations

from evalkit.errors import DataError
from evalkit.suites.choices import ChoiceError, ChoicesFromText, as_list, from_text, positional_labels
from evalkit.suites.jinja import RenderError
from evalkit.suites.spec import TaskSpec
from evalkit.suites.template import fill, value


def _task_name(spec: TaskSpec) -> str:
    return spec.source.name if spec.source else "the task file"


def _fail(spec: TaskSpec, key: str, exc: RenderError, rec: dict, line: int) -> DataError:
    if exc.field is not None:
        shown = f"'{exc.field}'" if exc.jinja else "{" + exc.field + "}"
        msg = (
            f"the {key} in {_task_name(spec)} uses {shown} but the item has no field '{exc.field}' "
            f"(the item's fields are: {', '.join(sorted(map(str, rec))) or 'none'})"
        )
    else:
        msg = f"the {key} in {_task_name(spec)} cannot be filled for this item: {exc}"
    return DataError(msg, path=spec.data_path, line=line)


def render_prompt(spec: TaskSpec, rec: dict, line: int) -> str | None:
    if spec.prompt is None:
        return None
    try:
        return fill(spec.prompt, rec, spec.template_style)
    except RenderError as exc:
        raise _fail(spec, "prompt", exc, rec, line) from None


def item_target(spec: TaskSpec, rec: dict, line: int):
    """The target from the ``target`` template: a one-expression Jinja template keeps its
    value's type (an index stays an int, a list of references stays a list)."""
    try:
        return value(spec.target, rec, spec.template_style)
    except RenderError as exc:
        raise _fail(spec, "target", exc, rec, line) from None


def _field_choices(spec: TaskSpec, rec: dict, line: int) -> tuple[str, ...]:
    key = spec.fields.choices
    if key not in rec:
        raise DataError(
            f"item has no field '{key}' (fields.choices in {_task_name(spec)}; the item's fields are: "
            f"{', '.join(sorted(rec)) or 'none'})",
            path=spec.data_path, line=line,
        )
    raw = rec[key]
    if not isinstance(raw, list):
        raise DataError(f"field '{key}' must be a list of at least two choices", path=spec.data_path, line=line)
    return as_list(raw, f"field '{key}'")


def item_choices(spec: TaskSpec, rec: dict, line: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(texts, labels) of this item's choices; ((), ()) for a task without per-item choices
    (generate, and classification over the task's fixed labels only)."""
    c = spec.choices
    if spec.type not in ("multiple_choice", "classification") or (c is None and spec.type == "classification"):
        return (), ()
    try:
        if isinstance(c, ChoicesFromText):
            texts, labels = from_text(c, rec)
        elif isinstance(c, str):
            texts = as_list(value(c, rec, spec.template_style), f"the choices template in {_task_name(spec)}")
            labels = positional_labels(len(texts))
        elif isinstance(c, list):
            texts = tuple(fill(t, rec, spec.template_style) for t in c)
            labels = positional_labels(len(texts))
        else:
            texts = _field_choices(spec, rec, line)
            labels = positional_labels(len(texts))
    except RenderError as exc:
        raise _fail(spec, "choices", exc, rec, line) from None
    except ChoiceError as exc:
        raise DataError(str(exc), path=spec.data_path, line=line) from None
    if spec.type == "classification":
        # The item's own options are what may be scored: options parsed from the text are
        # known by their labels, a template's list by its values. Each must be a task label.
        own = labels if isinstance(c, ChoicesFromText) else texts
        unknown = [x for x in own if x not in spec.labels]
        if unknown:
            raise DataError(
                f"option {unknown[0]!r} of this item is not in the task's labels ({', '.join(spec.labels)})",
                path=spec.data_path, line=line,
            )
        if not isinstance(c, ChoicesFromText):
            labels = texts
    return texts, labels
