"""Reading fine-tuning files as a stream of documents, never whole: a 1 GB file is read a
chunk at a time (``chunk_chars``), so memory stays bounded by the chunk and the longest
JSONL line.

Formats: OpenAI chat JSONL (``messages``), prompt/completion JSONL, ``text`` JSONL, and
plain text (documents separated by blank lines; a document longer than a chunk is cut at
whitespace and the pieces say that they continue, so n-grams across the cut are still seen).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evalkit.config_base import StrictModel
from evalkit.errors import DataError
from evalkit.suites.sources import HfParams
from evalkit.yamlio import iter_jsonl

CHUNK_CHARS = 1 << 22  # 4 Mi characters: large enough for numpy to pay off, small next to memory
_PARAGRAPH = re.compile(r"\n[ \t\r]*\n")


class HfTrainingParams(HfParams):
    split: str = "train"  # a fine-tuning set's split, not a test set's


class HfTraining(StrictModel):
    """``{hf: {path, name, split, revision}}``: a Hugging Face dataset read offline from the
    local cache (or a local dataset folder), row by row from its memory-mapped Arrow files."""

    hf: HfTrainingParams


@dataclass(frozen=True)
class HfSource:
    params: HfTrainingParams
    base: Path  # a relative dataset folder is relative to the config

    def __str__(self) -> str:
        p = self.params
        return f"hf:{p.path}" + (f"/{p.name}" if p.name else "") + f"/{p.split}"


@dataclass(frozen=True)
class Piece:
    text: str
    continues: bool  # True when this piece continues the previous one's document


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def iter_pieces(path: Path | HfSource, chunk_chars: int = CHUNK_CHARS) -> Iterator[Piece]:
    if isinstance(path, HfSource):
        from evalkit.suites.hf_data import iter_rows

        for row, record in iter_rows(path.params, path.base, None):
            yield Piece(record_text(record, Path(str(path)), row), False)
        return
    if not path.is_file():
        raise DataError("training file not found; fix contamination.training in evalkit.yaml", path=path)
    try:
        if is_jsonl(path):
            yield from _jsonl(path)
            return
        with path.open(encoding="utf-8") as f:
            yield from _plain(f, chunk_chars)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start} of a chunk); convert the file to UTF-8", path=path) from None


def _plain(f, chunk_chars: int) -> Iterator[Piece]:
    buf, cont = "", False
    while chunk := f.read(chunk_chars):
        parts = _PARAGRAPH.split(buf + chunk)
        buf = parts.pop()  # maybe incomplete: the next chunk may continue it
        for p in parts:
            if p.strip():
                yield Piece(p, cont)
            cont = False
        if len(buf) > chunk_chars:  # one long document: emit it in pieces, cut at whitespace
            cut = max(buf.rfind(" "), buf.rfind("\n"))
            cut = cut if cut > 0 else len(buf)
            yield Piece(buf[:cut], cont)
            buf, cont = buf[cut:], True
    if buf.strip():
        yield Piece(buf, cont)


def _jsonl(path: Path) -> Iterator[Piece]:
    # The project's JSONL reader streams line by line and names a bad line.
    for line_no, record in iter_jsonl(path):
        yield Piece(record_text(record, path, line_no), False)


def record_text(record, path: Path, line: int) -> str:
    """The text of one fine-tuning record, whichever common format it is in."""
    if isinstance(record, dict):
        if isinstance(record.get("messages"), list):
            return "\n".join(_content(m.get("content")) for m in record["messages"] if isinstance(m, dict))
        if "prompt" in record or "completion" in record:
            return f"{_content(record.get('prompt'))}\n{_content(record.get('completion'))}"
        if isinstance(record.get("text"), str):
            return record["text"]
    raise DataError(
        "a training record needs 'messages' (OpenAI chat), 'prompt'/'completion' or 'text'; "
        "convert the file to one of these", path=path, line=line,
    )


def _content(value) -> str:
    """A message's content: a string, or OpenAI's list of parts ({type: text, text: ...})."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(p.get("text", "") for p in value if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
