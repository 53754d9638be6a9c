"""Prompt templates: ``{field}`` and nothing else.

A task's prompt is filled with ``str.format_map`` over an item's fields. Python's format
language can do much more: ``{x.attr}`` and ``{x[k]}`` reach into objects, ``!r`` changes
the text, and a width such as ``{x:>1000000}`` makes a megabyte per item. A template is
checked once, when its task file is read, so that a mistake names the task file and line
instead of surfacing item by item (or as a traceback) while the data is read.
"""

from __future__ import annotations

import re
import string

# A field is the item's key as written: anything but the characters the format language
# gives a meaning (attribute, index, conversion, spec, braces); digits alone are positional.
_FIELD = re.compile(r"^[^.\[\]!:{}]+$")
# The standard format-spec mini-language, with width and precision read as numbers.
_SPEC = re.compile(r"^(?:.?[<>=^])?[+\- ]?z?#?0?(?P<width>\d+)?[_,]?(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?$")
MAX_WIDTH = 1000


def check_template(template: str) -> list[str]:
    """The field names of ``template``; ValueError (one sentence) when it is not plain fields."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc} (write a literal brace as {{{{ or }}}})") from None
    fields = []
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if not name or name.isdigit():
            # Most often a pasted formula such as \frac{1}{2}: in a Jinja template single
            # braces are text.
            raise ValueError(
                f"{shown}: name the item field, e.g. {{question}} (or write the prompt as Jinja, "
                f"{{{{ question }}}}, where single braces are text)"
            )
        if not _FIELD.match(name):
            raise ValueError(f"{shown}: only plain field names are allowed, not attributes or indexes")
        if conversion:
            raise ValueError(f"{shown}: conversions (!r, !s, !a) are not allowed; use {{{name}}}")
        if spec:
            m = _SPEC.match(spec)
            if m is None:
                raise ValueError(f"{shown}: not a plain format spec (nested fields are not allowed)")
            too_big = [v for v in (m["width"], m["precision"]) if v and int(v) > MAX_WIDTH]
            if too_big:
                raise ValueError(f"{shown}: width and precision are limited to {MAX_WIDTH}")
        fields.append(name)
    return fields


# Two styles share the ``prompt``/``target``/``choices`` keys: a template that uses ``{{ }}``
# or ``{% %}`` is Jinja (see evalkit.suites.jinja), any other is the plain style above.
# ``template_style`` in the task file settles a plain template that writes literal braces.
STYLES = ("auto", "jinja", "format")
_JINJA_HINT = " (a {field} template writes a literal brace as {{ or }}: set template_style: format for that)"


def uses_jinja(template: str, style: str = "auto") -> bool:
    from evalkit.suites.jinja import is_jinja

    return style == "jinja" or (style == "auto" and is_jinja(template))


def check_any(template: str, style: str = "auto") -> None:
    """Compile or check ``template`` in its style; ValueError (one sentence) when it is bad."""
    if not uses_jinja(template, style):
        check_template(template)
        return
    from evalkit.suites.jinja import TemplateError, check

    try:
        check(template)
    except TemplateError as exc:
        hint = _JINJA_HINT if style == "auto" and "not a valid Jinja" in str(exc) else ""
        raise ValueError(f"{exc}{hint}") from None


def fill(template: str, record: dict, style: str = "auto") -> str:
    """``template`` filled with one item's fields; jinja.RenderError (with ``field`` set when
    a field is missing) when it cannot be."""
    from evalkit.suites.jinja import RenderError, render

    if uses_jinja(template, style):
        return render(template, record)
    try:
        # a null field would be sent as the word "None": the data is missing, not the text "None"
        nulls = [name for _, name, _, _ in string.Formatter().parse(template) if name and record.get(name, "") is None]
        if nulls:
            raise RenderError(f"field '{nulls[0]}' is null (write the text, or leave the item out)", jinja=False)
        return template.format_map(record)
    except KeyError as exc:
        raise RenderError(f"no field '{exc.args[0]}'", field=str(exc.args[0]), jinja=False) from None
    except (IndexError, ValueError, TypeError) as exc:
        raise RenderError(str(exc), jinja=False) from None


def value(template: str, record: dict, style: str = "auto"):
    """Like ``fill``, but a Jinja template that is one ``{{ expression }}`` gives the
    expression's value (a list of choices stays a list, an index stays an integer)."""
    if uses_jinja(template, style):
        from evalkit.suites.jinja import evaluate

        return evaluate(template, record)
    return fill(template, record, style)
