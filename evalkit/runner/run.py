"""Run one model over the selected tasks: plan requests, answer them through the cache,
score every item. Scoring here is per item; comparing models is ``evalkit.compare``."""

from __future__ import annotations

import functools
import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from evalkit.backends.base import Backend, Request
from evalkit.errors import BackendError
from evalkit.results import MetricValue, RunResult, TaskResult
from evalkit.runner.cache import (
    NullCache,
    ResponseCache,
    code_version,
    digest,
    request_key,
)
from evalkit.suites.items import Item, load_items
from evalkit.suites.lm_eval_spec import LmEvalTask
from evalkit.tasks import task_type
from evalkit.tasks.base import PromptFormat, TaskType, Unsupported


class Progress(Protocol):
    def task(self, label: str, total: int, done: int): ...  # a context manager with .advance(n)


class _Silent:
    def advance(self, n: int) -> None:
        pass


class SilentProgress:
    def task(self, label, total, done):
        return nullcontext(_Silent())


@dataclass(frozen=True)
class RunOptions:
    suites: tuple[str, ...] = ()
    limit: int | None = None  # smoke tests only: the first N items of every task
    use_cache: bool = True
    chunk_size: int = 64


def open_cache(project, use_cache: bool):
    return ResponseCache(project.cache_dir / "responses.sqlite") if use_cache else NullCache()


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    return tuple(_package_versions().items())


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape results (read once per process)."""
    return dict(_versions())


def _package_versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for pkg in ("evalkit", "numpy", "scipy", "scikit-learn", "sacrebleu", "rouge-score", "pydantic",
                "torch", "transformers", "peft", "lm_eval"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return found


def _sha256_file(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


FLUSH_EVERY = 64  # answers per cache commit: what a kill -9 can lose at most


def _answer(backend: Backend, identity, cache, reqs: list[Request], chunk: int, bar):
    """Responses (or BackendErrors) for ``reqs`` by key; only cache misses reach the backend.

    The backend gets the misses in chunks of its preferred size (an API backend wants
    thousands in flight at once); answers are committed to the cache every FLUSH_EVERY, so a
    killed run keeps nearly everything it was told.
    """
    keys = [request_key(identity, r) for r in reqs]
    found: dict[str, Any] = cache.get_many(list(dict.fromkeys(keys)))
    hits = len(found)
    todo: dict[str, Request] = {}
    for k, r in zip(keys, reqs):
        if k not in found and k not in todo:
            todo[k] = r
    pending = list(todo.items())
    chunk = getattr(backend, "preferred_chunk_size", None) or chunk
    fresh: list = []
    for start in range(0, len(pending), chunk):
        batch = pending[start : start + chunk]
        for i, out in backend.submit([r for _, r in batch]):
            key, req = batch[i]
            found[key] = out
            if not isinstance(out, BackendError):
                fresh.append((key, req, out))
            if len(fresh) >= FLUSH_EVERY:
                cache.put_many(fresh)
                fresh = []
            bar.advance(1)
    cache.put_many(fresh)
    return keys, found, hits, len(pending)


def _sample(tt: TaskType, item: Item, suite: str, fmt: PromptFormat, outs: list) -> dict[str, Any]:
    errors = [str(o) for o in outs if isinstance(o, BackendError)]
    answered = [o for o in outs if not isinstance(o, BackendError)]
    sample: dict[str, Any] = {
        "task": tt.spec.name,
        "suite": suite,
        "id": item.id,
        "group": item.group,
        "prompt": tt.prompt_for_display(item, fmt),
        "reference": tt.reference(item),
        "prompt_tokens": max((getattr(o, "prompt_tokens", 0) for o in answered), default=0),
        "completion_tokens": sum(getattr(o, "completion_tokens", 0) for o in answered),
        "latency_s": round(sum(getattr(o, "latency_s", 0.0) for o in answered), 6),
        "cost_usd": _cost(answered),
    }
    if errors:
        return {**sample, "status": "error", "error": errors[0], "response": None, "metrics": {}, "stats": {}}
    return sample


def _cost(answered) -> float | None:
    """The item's list price, when the backend knows it for every request (else None, not 0)."""
    costs = [getattr(o, "extra", {}).get("cost_usd") for o in answered]
    if not costs or any(c is None for c in costs):
        return None
    return round(sum(costs), 10)


def run_task(tt: TaskType, suite: str, role: str, backend: Backend, identity, cache, fmt, options, progress):
    spec = tt.spec
    started = time.perf_counter()
    result = TaskResult(task=spec.name, suite=suite, role=role, type=spec.type, status="ok")
    result.data_sha256 = _sha256_file(spec.data_path)
    memo_key = digest({
        "v": 1, "code": code_version(), "model": identity, "spec": spec.model_dump(mode="json"),
        "data": result.data_sha256, "limit": options.limit, "format": [fmt.system_prompt, fmt.template],
        "supports": sorted(k.value for k in backend.supports),
        "scorer_code": getattr(tt, "code_digest", lambda: None)(),  # a task's own scorer files
    })
    memo = cache.memo_get(memo_key)
    if memo is not None:
        return _from_memo(memo, progress, started)
    items = load_items(spec, options.limit)
    try:
        method = tt.method(backend.supports)
    except Unsupported as exc:
        result.status, result.reason = "skipped", f"{backend.name} cannot {exc.kind.value}"
        result.n = len(items)
        return result, []
    result.method = method.value
    per_item = [tt.requests(item, fmt, method) for item in items]
    flat = [r for reqs in per_item for r in reqs]
    with progress.task(f"{spec.name}", total=len(set(request_key(identity, r) for r in flat)), done=0) as bar:
        keys, found, hits, sent = _answer(backend, identity, cache, flat, options.chunk_size, bar)
        bar.advance(hits)
    result.cache_hits, result.requests = hits, hits + sent

    samples, observations = [], []
    pos = 0
    for item, reqs in zip(items, per_item):
        outs = [found[k] for k in keys[pos : pos + len(reqs)]]
        pos += len(reqs)
        sample = _sample(tt, item, suite, fmt, outs)
        if sample.get("status") != "error":
            scored = tt.score(item, outs, method)
            empty = isinstance(scored.response, str) and not scored.response.strip()
            stats = {m.name: m.item_stats(scored.observation) for m in tt.metrics}
            sample.update(
                status="empty" if empty else "ok",
                response=scored.response,
                metrics={m.name: m.item_score(stats[m.name]) for m in tt.metrics},
                stats=stats,
                extra=scored.extra,
            )
            observations.append(scored.observation)
        samples.append(sample)

    result.n = len(items)
    result.scoring = dict(Counter(s["extra"]["scored_by"] for s in samples if "scored_by" in (s.get("extra") or {})))
    result.n_errors = sum(s["status"] == "error" for s in samples)
    result.n_empty = sum(s["status"] == "empty" for s in samples)
    for m in tt.metrics:
        value = m.compute(observations) if observations else None
        vr = list(m.value_range) if m.value_range is not None else None
        result.metrics[m.name] = MetricValue(value, m.higher_is_better, m.signature(), m.binary, vr)
    ok = [s for s in samples if s["status"] != "error"]
    if ok:
        result.prompt_tokens_mean = sum(s["prompt_tokens"] for s in ok) / len(ok)
        result.completion_tokens_mean = sum(s["completion_tokens"] for s in ok) / len(ok)
    result.seconds = round(time.perf_counter() - started, 4)
    if result.n_errors == 0:  # a run with errors is redone, so its failures are retried
        cache.memo_put(memo_key, "task", {"result": asdict(result), "samples": samples})
    return result, samples


def _from_memo(memo, progress, started):
    result = TaskResult.from_dict(memo["result"])
    with progress.task(result.task, total=result.requests, done=result.requests):
        pass
    result.cache_hits = result.requests
    result.seconds = round(time.perf_counter() - started, 4)
    return result, memo["samples"]


def run_model(project, model_name: str, options: RunOptions = RunOptions(), progress: Progress | None = None) -> RunResult:
    """Evaluate one configured model on the selected suites."""
    progress = progress or SilentProgress()
    cfg = project.model(model_name)
    selected = project.selected_tasks(list(options.suites) or None)
    backend = project.backend(model_name)
    identity = backend.identity()
    fmt = PromptFormat(cfg.system_prompt, cfg.template)
    cache = open_cache(project, options.use_cache)
    started = time.perf_counter()
    run = RunResult(
        model=model_name,
        backend=backend.name,
        identity=identity,
        model_config=cfg.model_dump(mode="json"),
        project=str(project.path),
        tasks=[],
        seed=project.file.seed,
        limit=options.limit,
        started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions=package_versions(),
        config_sha256=_sha256_file(project.path),
    )
    try:
        for suite, spec in selected:
            if isinstance(spec, LmEvalTask):  # lm-eval's own task machinery, our backend and cache
                from evalkit.suites.lm_eval_run import run_lm_eval_task

                result, samples = run_lm_eval_task(
                    spec, suite, project.role(suite), backend, identity, cache, options, progress,
                    settings=project.file.lm_eval, root=project.root,
                )
            else:
                tt = task_type(spec)
                result, samples = run_task(tt, suite, project.role(suite), backend, identity, cache, fmt, options, progress)
            run.tasks.append(result)
            run.samples.extend(samples)
            if result.data_sha256 is not None:
                run.data_hashes[result.task] = result.data_sha256
    finally:
        cache.close()
    run.seconds = round(time.perf_counter() - started, 4)
    info = getattr(backend, "run_info", None)
    if info is not None:  # the batch size in use and the like (results.json, once RunResult has the field)
        run.backend_info = info()
    return run


def run_models(project, names: Sequence[str], options: RunOptions, progress=None) -> list[RunResult]:
    try:
        return [run_model(project, n, options, progress) for n in names]
    finally:
        project.close_backends(names)
