"""YAML and JSONL reading with positions, so that every data error names its file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError, DataError


class Located:
    """A parsed YAML document plus the line of every mapping key and value, by path."""

    def __init__(self, data: Any, lines: dict[tuple, int]):
        self.data = data
        self._lines = lines

    def line(self, loc: tuple) -> int | None:
        """The line of the deepest known node on ``loc`` (1-based)."""
        loc = tuple(loc)
        while loc:
            if loc in self._lines:
                return self._lines[loc]
            loc = loc[:-1]
        return self._lines.get((), None)


def _walk(node, loc: tuple, lines: dict[tuple, int]) -> None:
    import yaml

    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = loc + (key.value,)
            lines[sub] = key.start_mark.line + 1
            _walk(value, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _walk(value, loc + (i,), lines)


def load_yaml(path: Path, *, error=ConfigError) -> Located:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", path=path) from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise error(f"cannot read: {exc.__class__.__name__}", path=path) from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    try:
        node = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"invalid YAML: {problem}", path=path, line=mark.line + 1 if mark else None) from None
    lines: dict[tuple, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return Located(data, lines)


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a bad line is a DataError naming it."""
    try:
        f = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise DataError("data file not found", path=path) from None
    except IsADirectoryError:
        raise DataError("expected a JSONL file, found a directory", path=path) from None
    with f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=n) from None
            if not isinstance(obj, dict):
                raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=n)
            yield n, obj
