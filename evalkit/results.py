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
    seconds: float = 0.0
    prompt_tokens_mean: float | None = None
    completion_tokens_mean: float | None = None
    cache_hits: int = 0
    requests: int = 0
    scoring: dict[str, int] = field(default_factory=dict)  # how items were scored, e.g. {"top_logprobs": 196}

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
        tmp = directory / (SAMPLES_FILE + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for s in self.samples:
                f.write(json.dumps(s, ensure_ascii=False) + "\n")
        tmp.replace(directory / SAMPLES_FILE)
        (directory / RESULTS_FILE).write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")
        return directory

    @classmethod
    def load(cls, directory: Path) -> "RunResult":
        directory = Path(directory)
        path = directory / RESULTS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"not a run directory: no {RESULTS_FILE}", path=directory) from None
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
        if data.get("format") != FORMAT:
            raise DataError(f"unsupported run format {data.get('format')!r} (expected {FORMAT})", path=path)
        data.pop("complete", None)
        data["tasks"] = [TaskResult.from_dict(t) for t in data["tasks"]]
        run = cls(**data)
        run.samples = _read_samples(directory / SAMPLES_FILE)
        run.source = str(directory)
        return run


def _read_samples(path: Path) -> list[dict[str, Any]]:
    from evalkit.yamlio import iter_jsonl

    return [obj for _, obj in iter_jsonl(path)]


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / RESULTS_FILE).is_file()
