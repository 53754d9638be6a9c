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


_ALIAS_HELP = "anchors and aliases (&name / *name) are not allowed in evalkit files; write the value out"


def _walk(root, lines: dict[tuple, int], path: Path, error) -> None:
    """Record the line of every key; reject duplicate keys, non-scalar keys and aliases.

    Iterative, and every node is visited once: an alias (a node reached twice) is refused
    before anything expands it, so a "billion laughs" file costs as much as its own size."""
    import yaml

    seen: set[int] = set()
    stack = [(root, (), root.start_mark.line + 1)]
    while stack:
        node, loc, line = stack.pop()
        if id(node) in seen:
            raise error(_ALIAS_HELP, path=path, line=line)
        seen.add(id(node))
        lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple, int] = {}
            children = []
            for key, value in node.value:
                kline = key.start_mark.line + 1
                if id(key) in seen:
                    raise error(_ALIAS_HELP, path=path, line=kline)
                if not isinstance(key, yaml.ScalarNode):
                    raise error("a mapping key must be a plain name, not a list or mapping", path=path, line=kline)
                if key.tag == "tag:yaml.org,2002:merge":
                    raise error(_ALIAS_HELP, path=path, line=kline)
                ident = (key.tag, key.value)
                if ident in first:
                    raise error(
                        f"duplicate key '{key.value}' (first on line {first[ident]}); keep one", path=path, line=kline
                    )
                first[ident] = kline
                seen.add(id(key))
                sub = loc + (key.value,)
                lines[sub] = kline
                children.append((value, sub, kline))
            stack.extend(reversed(children))  # visited in document order: the second use is the alias
        elif isinstance(node, yaml.SequenceNode):
            # An alias node carries its anchor's position, so an alias in a list is reported
            # at the line of the key that holds the list.
            stack.extend((value, loc + (i,), line) for i, value in reversed(list(enumerate(node.value))))


def load_yaml(path: Path, *, error=ConfigError) -> Located:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", path=path) from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise error(f"cannot read: {exc.__class__.__name__}", path=path) from None
    except PermissionError:
        raise error("cannot read: permission denied; check the file's permissions", path=path) from None
    except OSError as exc:  # a symlink loop, an I/O error: one line, not a traceback
        raise error(f"cannot read: {exc.strerror or type(exc).__name__}", path=path) from None
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    loader = loader_cls(text)
    try:
        # One parse: compose the node graph, check it, then construct from the same nodes.
        node = loader.get_single_node()
        lines: dict[tuple, int] = {}
        if node is not None:
            _walk(node, lines, path, error)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"invalid YAML: {problem}", path=path, line=mark.line + 1 if mark else None) from None
    except RecursionError:
        raise error("invalid YAML: nested too deeply", path=path) from None
    finally:
        loader.dispose()
    return Located(data, lines)


def _no_constant(name: str):
    raise ValueError(name)


def iter_jsonl(path: Path, *, strict: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a bad line is a DataError naming it.
    ``strict`` (eval data): NaN and Infinity, which Python reads but JSON does not have, are
    refused, since a target of NaN would be scored against the string "nan"."""
    try:  # utf-8-sig: a byte-order mark (Windows editors) is not part of the first record
        f = path.open(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("data file not found", path=path) from None
    except IsADirectoryError:
        raise DataError("expected a JSONL file, found a directory", path=path) from None
    with f:
        try:
            yield from _records(f, path, strict)
        except UnicodeDecodeError:  # raised while reading ahead: find the line it is on
            from evalkit.textfiles import undecodable_line

            line, reason = undecodable_line(path)
            raise DataError(f"not UTF-8 text: {reason}; save the file as UTF-8", path=path, line=line) from None


def _records(f, path: Path, strict: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    for n, raw in enumerate(f, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw, parse_constant=_no_constant if strict else None)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=n) from None
        except ValueError as exc:  # from _no_constant
            raise DataError(f"invalid JSON: {exc} is not a JSON value; write null, or the number as a string",
                            path=path, line=n) from None
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=n)
        yield n, obj
