"""File readers: each yields (line number, record) so that an item's errors name the line a
user can open. Parquet has no lines; its number is the row, counted from 1."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalkit.errors import DataError
from evalkit.yamlio import iter_jsonl


def _task(task_file: Path | None) -> str:
    return f" (data: of task {task_file})" if task_file else ""


def open_bytes(path: Path, task_file: Path | None, limit: int | None = None) -> bytes:
    """The file's bytes (the first ``limit`` of them when given: a cheap existence check),
    with one DataError naming the file and its task for every way it cannot be read."""
    try:
        with path.open("rb") as f:
            return f.read() if limit is None else f.read(limit)
    except FileNotFoundError:
        if path.is_symlink():  # open follows links: a dangling one reads as absent
            raise DataError(f"a symbolic link that leads nowhere (dangling, or a loop){_task(task_file)}; "
                            "fix or remove the link", path=path) from None
        raise DataError(f"data file not found{_task(task_file)}", path=path) from None
    except IsADirectoryError:
        raise DataError(f"expected a data file, found a directory{_task(task_file)}", path=path) from None
    except OSError:
        if path.is_symlink():  # a loop (ELOOP)
            raise DataError(f"a symbolic link that leads nowhere (dangling, or a loop){_task(task_file)}; "
                            "fix or remove the link", path=path) from None
        raise


def open_first_byte(path: Path, task_file: Path | None) -> bytes:
    """A pre-flight check that the data file can be read, without reading it."""
    return open_bytes(path, task_file, limit=1)


def _text(path: Path, task_file: Path | None) -> str:
    try:
        return open_bytes(path, task_file).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start}){_task(task_file)}", path=path) from None


def read_jsonl(path, task_file, _records=None):
    open_first_byte(path, task_file)  # a missing file names its task too
    yield from iter_jsonl(path, strict=True)


def read_csv(path, task_file, _records=None, delimiter=","):
    """Header row = field names; every value stays a string (the field mapping and ``where``
    convert where they must)."""
    text = _text(path, task_file)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)  # newline="" as csv wants
    header, end = None, 0
    try:
        for row in rows:
            start, end = end + 1, rows.line_num  # a quoted value may span lines: the row starts here
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [h.strip() for h in row]
                dup = sorted({h for h in header if header.count(h) > 1})
                if dup or "" in header:
                    raise DataError(f"the header row has {'a duplicate column ' + repr(dup[0]) if dup else 'an empty column name'}; "
                                    f"give every column a distinct name{_task(task_file)}", path=path, line=start)
                continue
            if len(row) != len(header):
                raise DataError(f"row has {len(row)} values but the header has {len(header)} columns; "
                                f"quote values that contain '{delimiter}'{_task(task_file)}", path=path, line=start)
            yield start, dict(zip(header, row))
    except csv.Error as exc:
        raise DataError(f"invalid {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}{_task(task_file)}", path=path, line=rows.line_num) from None
    if header is None:
        raise DataError(f"empty file: expected a header row then one item per row{_task(task_file)}", path=path)


def read_tsv(path, task_file, records=None):
    return read_csv(path, task_file, records, delimiter="\t")


def read_json(path, task_file, records=None):
    """A list of objects, or the list found at ``records`` (a dotted path into the document)."""
    text = _text(path, task_file)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno}){_task(task_file)}", path=path, line=exc.lineno) from None
    keys = records.split(".") if records else []
    node = doc
    for i, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            found = ", ".join(sorted(node)) if isinstance(node, dict) else type(node).__name__
            raise DataError(f"records: '{records}': no key '{key}' at '{'.'.join(keys[:i]) or 'top level'}' "
                            f"(found: {found}){_task(task_file)}", path=path)
        node = node[key]
    if not isinstance(node, list):
        raise DataError(f"expected a list of records at '{records or 'top level'}', got {type(node).__name__}; "
                        f"name the list with data: {{path: ..., records: a.b}}{_task(task_file)}", path=path)
    for line, obj in zip(_element_lines(text, keys), node):
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}{_task(task_file)}", path=path, line=line)
        yield line, obj


_WS = " \t\r\n"


def _element_lines(text: str, keys: list[str]) -> Iterator[int]:
    """The line on which each element of the list at ``keys`` starts. The document is known to
    be valid JSON; this walks it once with the decoder's own raw_decode to skip values."""
    dec = json.JSONDecoder()

    def skip(i):
        while i < len(text) and text[i] in _WS:
            i += 1
        return i

    i = skip(1 if text.startswith("\ufeff") else 0)
    for key in keys:  # descend into the object member named ``key``
        i = skip(i + 1)  # past "{"
        while True:
            name, i = dec.raw_decode(text, i)
            i = skip(skip(i) + 1)  # past ":"
            if name == key:
                break
            _, i = dec.raw_decode(text, i)
            i = skip(skip(i) + 1)  # past ","
    i = skip(i + 1)  # past "["
    line, counted = 1, 0  # lines counted incrementally: one pass over the text, not one per record
    while i < len(text) and text[i] != "]":
        line, counted = line + text.count("\n", counted, i), i
        yield line
        _, i = dec.raw_decode(text, i)
        i = skip(i)
        if text[i] != ",":
            return
        i = skip(i + 1)


def read_parquet(path, task_file, _records=None):
    open_bytes(path, task_file)
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise DataError(f"reading Parquet needs the pyarrow package: pip install pyarrow{_task(task_file)}", path=path) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors are many; the user needs one line
        raise DataError(f"cannot read Parquet: {' '.join(str(exc).split())[:160]}{_task(task_file)}", path=path) from None
    for row, rec in enumerate(table.to_pylist(), start=1):
        yield row, rec


READERS: dict[str, Any] = {
    "jsonl": read_jsonl, "json": read_json, "csv": read_csv, "tsv": read_tsv, "parquet": read_parquet,
}
