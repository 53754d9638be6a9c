"""Where a task's items come from: a file (JSONL, JSON, CSV, TSV, Parquet) or a Hugging Face
dataset in the local cache. ``data:`` in a task file is one of these; a bare path stays the
short form of a file source, so every existing task keeps working unchanged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, model_validator

from evalkit.config_base import StrictModel

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet")
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}


class FileData(StrictModel):
    path: Path
    format: Literal["jsonl", "json", "csv", "tsv", "parquet"] | None = Field(
        None, description="default: from the file's extension (.jsonl, .json, .csv, .tsv, .parquet)"
    )
    records: str | None = Field(None, description="json: dotted path to the list of records, e.g. data.items")

    @model_validator(mode="after")
    def _known_format(self):
        fmt = self.format or _BY_SUFFIX.get(self.path.suffix.lower())
        if fmt is None:
            raise ValueError(
                f"cannot tell the format of '{self.path}' from its extension; add format: one of {', '.join(FORMATS)}"
            )
        if self.records is not None and fmt != "json":
            raise ValueError("records: (a record path) applies to JSON files only")
        return self

    @property
    def kind(self) -> str:
        return self.format or _BY_SUFFIX[self.path.suffix.lower()]


class HfParams(StrictModel):
    path: str = Field(..., description="hub id (owner/name) or a local dataset folder")
    name: str | None = Field(None, description="the dataset's configuration (subset)")
    split: str = "test"
    revision: str | None = None


class HfData(StrictModel):
    hf: HfParams


def _which(v: Any) -> str:
    return "hf" if isinstance(v, dict) and "hf" in v or isinstance(v, HfData) else "file"


# A callable discriminator: a typo inside one form is reported against that form only,
# not as a failure of every alternative.
DataSource = Annotated[Union[Annotated[FileData, Tag("file")], Annotated[HfData, Tag("hf")]], Discriminator(_which)]


def coerce(v: Any) -> Any:
    """``data: file.jsonl`` is short for ``data: {path: file.jsonl}``."""
    return {"path": v} if isinstance(v, (str, Path)) else v


def base_dir(task_file: Path | None) -> Path:
    return task_file.parent if task_file else Path.cwd()


def location(src, task_file: Path | None) -> Path:
    """What errors name as the data file: the file itself, or ``hf:ID[/NAME]/SPLIT`` (where
    the number after the colon is a row, counted from 1)."""
    if isinstance(src, HfData):
        p = src.hf
        return Path(f"hf:{p.path}" + (f"/{p.name}" if p.name else "") + f"/{p.split}")
    return base_dir(task_file) / src.path


def read(src, task_file: Path | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line or row number, record) for every record, in the source's order."""
    if isinstance(src, HfData):
        from evalkit.suites.hf_data import iter_rows

        return iter_rows(src.hf, base_dir(task_file), task_file)
    from evalkit.suites import readers

    return readers.READERS[src.kind](location(src, task_file), task_file, src.records)


def fingerprint(src, task_file: Path | None) -> str:
    """The data's content hash for results.json: sha256 of the file's bytes, or the Hugging
    Face dataset's own fingerprint (which covers its files and revision)."""
    if isinstance(src, HfData):
        from evalkit.suites.hf_data import dataset_fingerprint

        return dataset_fingerprint(src.hf, base_dir(task_file), task_file)
    from evalkit.suites.readers import open_bytes

    return hashlib.sha256(open_bytes(location(src, task_file), task_file)).hexdigest()
