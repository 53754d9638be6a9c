"""Imported per-item rows -> a RunResult, aggregated the way evalkit's runner aggregates its own.

Every imported metric is a mean of per-item (numerator, denominator) statistics, so compare
and gates read it exactly as they read a run of evalkit; a name evalkit knows (accuracy,
exact_match, bits_per_byte...) is read by that metric, any other by the generic
numerator/denominator metric with the direction and range the importer recorded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalkit.errors import DataError

from evalkit.results import MetricValue, RunResult, TaskResult


@dataclass(frozen=True)
class MetricInfo:
    higher_is_better: bool
    binary: bool
    value_range: tuple[float, float] | None
    signature: str


@dataclass
class ImportedTask:
    name: str
    type: str  # generate | multiple_choice | perplexity | classification | loglikelihood
    method: str | None
    samples: list[dict[str, Any]]  # task, id, status, prompt, response, reference, metrics, stats, extra
    metrics: dict[str, MetricInfo]
    item_hashes: dict[str, str] = field(default_factory=dict)  # id -> hash of the item's content


def load_json_log(path: Path, harness: str) -> Any:
    """A log's JSON document; one line naming the file (and the JSON error's line) otherwise."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"not UTF-8 text; not a file {harness} wrote", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None


def sample(task: str, sid: str, *, prompt, response, reference, metrics: dict, stats: dict, extra: dict,
           error: str | None = None, prompt_tokens: int = 0, completion_tokens: int = 0,
           group: str | None = None, latency_s: float | None = None) -> dict[str, Any]:
    """One evalkit sample. An empty generated answer is the model's behaviour and is scored
    ("empty"); only a failed request ("error") is missing data."""
    if error is not None:
        status = "error"
    elif isinstance(response, str) and not response.strip():
        status = "empty"
    else:
        status = "ok"
    row = {"task": task, "suite": "", "id": sid, "group": group, "prompt": prompt, "reference": reference,
           # latency None where the log does not say (lm-eval never does): the reports show "-", not 0
           "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "latency_s": latency_s, "cost_usd": None,
           "status": status, "response": response, "metrics": {} if error else metrics, "stats": {} if error else stats,
           "extra": extra}
    if error is not None:
        row["error"] = error
    return row


def unscored_as_missing(task: ImportedTask) -> None:
    """A sample that lacks one of its task's metrics (the log's score was NaN, or not a
    number) was not scored: missing data, like a failed request, so that a gate counts it at
    its worst instead of leaving it out and reading the rest as the whole."""
    for s in task.samples:
        missing = sorted(set(task.metrics) - set(s["stats"]))
        if s["status"] != "error" and missing:
            s.update(status="error", error=f"the log has no numeric score for {', '.join(missing)}", metrics={}, stats={})


def _task_result(task: ImportedTask, suite: str) -> TaskResult:
    import numpy as np

    from evalkit.metrics.registry import metric_for_result

    ok = [s for s in task.samples if s["status"] != "error"]
    result = TaskResult(task=task.name, suite=suite, role=suite, type=task.type, status="ok", method=task.method,
                        n=len(task.samples), n_errors=len(task.samples) - len(ok),
                        n_empty=sum(s["status"] == "empty" for s in task.samples))
    for name, info in task.metrics.items():
        mv = MetricValue(None, info.higher_is_better, info.signature, info.binary,
                         list(info.value_range) if info.value_range else None)
        rows = [s["stats"][name] for s in ok if name in s["stats"]]
        if rows:
            value = float(metric_for_result(name, mv).from_stats(np.sum(rows, axis=0)))
            mv.value = value if np.isfinite(value) else None
        result.metrics[name] = mv
    if ok:
        result.prompt_tokens_mean = sum(s["prompt_tokens"] for s in ok) / len(ok)
        result.completion_tokens_mean = sum(s["completion_tokens"] for s in ok) / len(ok)
    h = hashlib.sha256()
    for sid in sorted(task.item_hashes):  # the items, not the answers: equal for base and fine-tune
        h.update(f"{sid}\0{task.item_hashes[sid]}\n".encode())
    result.data_sha256 = h.hexdigest() if task.item_hashes else None
    return result


def build_run(model: str, backend: str, identity: dict[str, Any], tasks: list[ImportedTask], *, source: str,
              forgetting: set[str] = frozenset(), started: str | None = None,
              versions: dict[str, str] | None = None) -> RunResult:
    """The run folder's content. ``forgetting``: task names reported as forgetting probes
    (the rest are targets), as a suite's role would say."""
    from importlib.metadata import version

    results, samples = [], []
    for task in tasks:
        unscored_as_missing(task)
        suite = "forgetting" if task.name in forgetting else "target"
        for s in task.samples:
            s["suite"] = suite
        samples += task.samples
        results.append(_task_result(task, suite))
    return RunResult(
        model=model, backend=backend, identity=identity, model_config={"imported_from": source},
        project=source, tasks=results, samples=samples,
        started=started or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions={"evalkit": version("evalkit"), **(versions or {})},  # the harness's, from its log
        data_hashes={r.task: r.data_sha256 for r in results if r.data_sha256},
    )
