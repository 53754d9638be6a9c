"""The result of running one model: per-task aggregates and per-item samples, written to and
read back from a run directory (``results.json`` + ``samples.jsonl``)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from evalkit.errors import DataError

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"
FORMAT = "evalkit.run/1"


@dataclass
class MetricValue:
    value: float | None
    higher_is_better: bool
    signature: str
    # How to read the per-item statistics when the name is not a built-in metric (a scorer's):
    # compare and gates rebuild the metric from these, not from user code.
    binary: bool = False
    value_range: list[float] | None = None


@dataclass
class TaskResult:
    task: str
    suite: str
    role: str  # target | forgetting
    type: str
    status: str  # ok | skipped
    reason: str | None = None
    method: str | None = None  # generate | loglikelihood | loglikelihood_rolling
    n: int = 0
    n_errors: int = 0
    n_empty: int = 0
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    data_sha256: str | None = None
    selection: dict[str, Any] | None = None  # where:, sample: and few-shot as run, with the seeds used
    seconds: float = 0.0
    prompt_tokens_mean: float | None = None
    completion_tokens_mean: float | None = None
    cache_hits: int = 0
    requests: int = 0
    scoring: dict[str, int] = field(default_factory=dict)  # how items were scored, e.g. {"top_logprobs": 196}
    # A group row: {"of": "tasks" | "lm-eval", "tasks": [members], "weighting": {metric: "size_weighted" | "mean"}}
    members: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TaskResult":
        d = dict(d)
        d["metrics"] = {k: MetricValue(**v) for k, v in d.get("metrics", {}).items()}
        return cls(**d)


@dataclass
class RunResult:
    model: str
    backend: str
    identity: dict[str, Any]
    model_config: dict[str, Any]
    project: str
    tasks: list[TaskResult]
    samples: list[dict[str, Any]] = field(default_factory=list, repr=False)
    seed: int = 0
    limit: int | None = None
    started: str = ""
    seconds: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    data_hashes: dict[str, str] = field(default_factory=dict)
    config_sha256: str | None = None
    backend_info: dict[str, Any] = field(default_factory=dict)  # e.g. the batch size a local model ran at
    format: str = FORMAT
    source: str | None = None  # the run directory it was read from

    @property
    def complete(self) -> bool:
        return all(t.n_errors == 0 for t in self.tasks)

    def task(self, name: str) -> TaskResult | None:
        return next((t for t in self.tasks if t.task == name), None)

    def samples_for(self, task: str) -> list[dict[str, Any]]:
        return [s for s in self.samples if s["task"] == task]

    def to_json(self) -> dict[str, Any]:
        # Field by field: asdict() would deep-copy every sample only to drop them.
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("samples", "source")}
        d["tasks"] = [asdict(t) for t in self.tasks]
        d["complete"] = self.complete
        return d

    def write(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # Each file whole or not at all: a full disk must not leave a truncated results.json
        # that a later compare would take for a stored run (is_run_dir looks for it).
        _write_atomic(directory / SAMPLES_FILE, (json.dumps(s, ensure_ascii=False) + "\n" for s in self.samples))
        from evalkit import sample_columns

        sample_columns.write(directory, self.samples)  # what compare reads, without the dicts
        _write_atomic(directory / RESULTS_FILE, [json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"])
        return directory

    @classmethod
    def load(cls, directory: Path) -> "RunResult":
        directory = Path(directory)
        path = directory / RESULTS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"not a run directory: no {RESULTS_FILE}", path=directory) from None
        except IsADirectoryError:
            raise DataError(f"not a run directory: {RESULTS_FILE} is a folder", path=path) from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); not a file evalkit wrote", path=path) from None
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
        if not isinstance(data, dict):
            raise DataError(f"expected a JSON object, got {type(data).__name__}; not a file evalkit wrote", path=path)
        if data.get("format") != FORMAT:
            raise DataError(f"unsupported run format {data.get('format')!r} (expected {FORMAT})", path=path)
        data.pop("complete", None)
        run = _validated_run(cls, data, path)
        tasks = {t.task for t in run.tasks}
        from evalkit.sample_columns import open_columns

        stored = open_columns(directory, tasks)
        if stored is None:
            run.samples = _read_samples(directory / SAMPLES_FILE, tasks)
        else:  # compare reads the columns; the dicts only if something asks for them
            run.__dict__["_read_samples"] = lambda: _read_samples(directory / SAMPLES_FILE, tasks)
            run.__dict__["_stored_columns"] = stored
        run.source = str(directory)
        return run

    def samples_edited(self) -> None:
        """The sample dicts were changed in place (the judge adds ``win_rate`` to them): the
        stored columns no longer describe them, so compare reads the dicts from now on."""
        _ = self.samples  # read them before the columns go, or nothing would be left to read
        self.__dict__.pop("_stored_columns", None)

    def stored_columns(self):
        """The columns this run was loaded with (``sample_columns.StoredColumns``), while
        ``samples`` was neither replaced nor grown since; else None."""
        stored = self.__dict__.get("_stored_columns")
        if stored is None:
            return None
        read = self.__dict__.get("_samples")
        return stored if read is None or len(read) == stored.n else None


class _Samples:
    """``RunResult.samples``: a plain list, read from samples.jsonl on first use when the run
    was loaded with its columns (a compare of 100,000 items may never need the dicts)."""

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        d = obj.__dict__
        if "_samples" not in d:
            read = d.get("_read_samples")
            d["_samples"] = read() if read is not None else []  # a DataError leaves the reader for the next try
            d.pop("_read_samples", None)
        return d["_samples"]

    def __set__(self, obj, value) -> None:
        obj.__dict__.pop("_read_samples", None)
        obj.__dict__.pop("_stored_columns", None)  # they described the samples read, not these
        obj.__dict__["_samples"] = value


RunResult.samples = _Samples()  # after @dataclass, which keeps the field (its default_factory included)


def _write_atomic(path: Path, chunks) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for chunk in chunks:
                f.write(chunk)
        tmp.replace(path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # write() names no file: say which
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def _problem(exc) -> str:
    """pydantic's first error as ``where: what``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "top level"
    return f"{where}: {err['msg']}"


def _validated_run(cls, data: dict[str, Any], path: Path) -> "RunResult":
    """A RunResult whose every field has the type it is declared with; a file of another
    shape (hand-edited, truncated, another tool's) is a DataError naming the field."""
    from pydantic import TypeAdapter, ValidationError

    data.pop("samples", None)
    data.pop("source", None)
    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as exc:
        raise DataError(f"not an evalkit run: {_problem(exc)}", path=path) from None


def _sample_model():
    from pydantic import BaseModel, ConfigDict

    class Sample(BaseModel):
        """The fields of a sample that compare and the reports read."""

        model_config = ConfigDict(extra="allow")
        task: str
        id: str
        status: str
        metrics: dict[str, Any] = {}
        stats: dict[str, Any] = {}
        group: str | None = None
        prompt_tokens: int | None = 0
        completion_tokens: int | None = 0
        latency_s: float | None = 0.0
        cost_usd: float | None = None

    return Sample


def _read_samples(path: Path, tasks: set[str]) -> list[dict[str, Any]]:
    from pydantic import ValidationError

    from evalkit.yamlio import iter_jsonl

    sample = _sample_model()
    out = []
    try:
        for line, obj in iter_jsonl(path):
            try:
                sample.model_validate(obj)
            except ValidationError as exc:
                raise DataError(f"not an evalkit sample: {_problem(exc)}", path=path, line=line) from None
            if obj["task"] not in tasks:
                raise DataError(f"sample of task {obj['task']!r}, which results.json does not list", path=path, line=line)
            out.append(obj)
    except UnicodeDecodeError:
        from evalkit.textfiles import undecodable_line

        bad, reason = undecodable_line(path)
        raise DataError(f"not UTF-8 text: {reason}; not a file evalkit wrote", path=path, line=bad) from None
    return out


def is_run_dir(path: str | Path) -> bool:
    """A folder holding a results.json of any kind: a damaged one is then reported as such
    (by RunResult.load), not as an unknown model name."""
    import os

    return Path(path).is_dir() and os.path.lexists(Path(path) / RESULTS_FILE)
