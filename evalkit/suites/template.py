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
            raise ValueError(f"{shown}: name the item field, e.g. {{question}}")
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
