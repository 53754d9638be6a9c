"""Run one model over the selected tasks: plan requests, answer them through the cache,
score every item. Scoring here is per item; comparing models is ``evalkit.compare``."""

from __future__ import annotations

import functools
import hashlib
import itertools
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from evalkit.backends.base import Backend
from evalkit.errors import BackendError
from evalkit.results import MetricValue, RunResult, TaskResult
from evalkit.runner.answer import _fetch, _lookup
from evalkit.runner.cache import (
    NullCache,
    ResponseCache,
    code_version,
    digest,
)
from evalkit.suites import sources
from evalkit.suites.fewshot import load_pool, pool_fingerprint, with_shots
from evalkit.suites.items import Item, load_items, seeded_prefix
from evalkit.suites.select import selection
from evalkit.suites.lm_eval_spec import LmEvalTask
from evalkit.tasks import task_type
from evalkit.tasks.base import PromptFormat, TaskType, Unsupported, outcome


class Progress(Protocol):
    # A context manager with .advance(n), n requests. items: per item, the request count at
    # which the item is complete (sorted), for a display that counts items; optional.
    def task(self, label: str, total: int, done: int, items: list[int] | None = None): ...


class _Silent:
    def advance(self, n: int) -> None:
        pass


class SilentProgress:
    def task(self, label, total, done, items=None):
        return nullcontext(_Silent())


@dataclass(frozen=True)
class RunOptions:
    suites: tuple[str, ...] = ()
    limit: int | None = None  # smoke tests only: the first N items of every task
    fraction: float | None = None  # compare --sequential: this share of each task's seeded order
    order_seed: int = 0
    use_cache: bool = True
    chunk_size: int = 64
    seed: int | None = None  # the project's: sample: and few-shot draws (set by run_model)


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


def _sample(tt: TaskType, item: Item, suite: str, fmt: PromptFormat, outs: list, method) -> dict[str, Any]:
    errors = [str(o) for o in outs if isinstance(o, BackendError)]
    answered = [o for o in outs if not isinstance(o, BackendError)]
    sample: dict[str, Any] = {
        "task": tt.spec.name,
        "suite": suite,
        "id": item.id,
        "group": item.group,
        "prompt": tt.prompt_for_display(item, fmt, method),
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


@dataclass
class _Plan:
    """A task whose requests are known and not yet answered."""

    tt: TaskType
    suite: str
    fmt: PromptFormat
    result: TaskResult
    memo_key: str
    items: list
    method: Any
    per_item: list
    started: float
    fmts: list = field(default_factory=list)  # per item: the model's format with its few-shot turns
    keys: list = field(default_factory=list)


def run_task(tt: TaskType, suite: str, role: str, backend: Backend, identity, cache, fmt, options, progress):
    """One task on its own (run_model answers all its tasks through one submission)."""
    plan = _plan_task(tt, suite, role, backend, identity, cache, fmt, options, progress)
    if not isinstance(plan, _Plan):
        return plan
    found = _answer_plans([plan], backend, identity, cache, options, progress)
    return _score_task(plan, found, cache)


def _plan_task(tt: TaskType, suite: str, role: str, backend: Backend, identity, cache, fmt, options, progress):
    """The task's plan, or its finished (result, samples) when memoised or not supported."""
    spec = tt.spec
    started = time.perf_counter()
    result = TaskResult(task=spec.name, suite=suite, role=role, type=spec.type, status="ok")
    result.data_sha256 = sources.fingerprint(spec.data, spec.source)
    result.selection = selection(spec, options.seed)
    memo_key = digest({
        "v": 1, "code": code_version(), "model": identity, "spec": spec.model_dump(mode="json"),
        "data": result.data_sha256, "limit": options.limit, "format": [fmt.system_prompt, fmt.template],
        "fraction": options.fraction, "order_seed": options.order_seed if options.fraction else None,
        "shots": pool_fingerprint(spec), "seed": options.seed if spec.sample or spec.fewshot else None,
        "supports": sorted(k.value for k in backend.supports),
        "scorer_code": getattr(tt, "code_digest", lambda: None)(),  # a task's own scorer files
    })
    memo = cache.memo_get(memo_key)
    if memo is not None:
        return _from_memo(memo, tt.metrics, progress, started)
    items = load_items(spec, options.limit, options.seed)
    if options.fraction is not None:
        items = seeded_prefix(items, options.order_seed, spec.name, options.fraction)
    try:
        method = tt.method(backend.supports)
    except Unsupported as exc:
        result.status, result.reason = "skipped", f"{backend.name} cannot {exc.kind.value}"
        result.n = len(items)
        return result, []
    result.method = method.value
    pool = load_pool(spec, options.seed)
    fmts = [with_shots(fmt, tt, item, method, pool) for item in items]
    per_item = [tt.requests(item, f, method) for item, f in zip(items, fmts)]
    return _Plan(tt, suite, fmt, result, memo_key, items, method, per_item, started, fmts)


def _answer_plans(plans: list[_Plan], backend: Backend, identity, cache, options, progress) -> dict[str, Any]:
    """The answers to every plan's requests, by key, through ONE submission: with a task at a
    time, every task waited for its slowest request (1 % of requests hanging 30 s cost 14 x 30 s
    over the demo)."""
    flat = [r for plan in plans for reqs in plan.per_item for r in reqs]
    keys, found, todo = _lookup(identity, cache, flat)
    cached, pos = set(found), 0
    for plan in plans:
        n = sum(len(reqs) for reqs in plan.per_item)
        plan.keys, pos = keys[pos : pos + n], pos + n
        unique = set(plan.keys)
        plan.result.cache_hits, plan.result.requests = len(unique & cached), len(unique)
    label = plans[0].tt.spec.name if len(plans) == 1 else f"{len(plans)} tasks"
    # done= rather than advance(): a display must not take the cached answers for a speed
    items = _item_ends(plans, todo, len(cached))
    with progress.task(label, total=len(cached) + len(todo), done=len(cached), items=items) as bar:
        _fetch(backend, cache, todo, options.chunk_size, bar, found)
    return found


def _item_ends(plans: list[_Plan], todo: dict, cached: int) -> list[int]:
    """Per item, the number of requests done when its last one is answered (sorted). Misses
    are sent in order, so this is exact for a backend that answers in order and close for one
    that answers a chunk concurrently."""
    order = {key: i for i, key in enumerate(todo, start=cached + 1)}
    ends = []
    for plan in plans:
        pos = 0
        for reqs in plan.per_item:
            ends.append(max((order.get(k, cached) for k in plan.keys[pos : pos + len(reqs)]), default=cached))
            pos += len(reqs)
    return sorted(ends)


def _score_task(plan: _Plan, found: dict[str, Any], cache):
    tt, suite, fmt, result, method, items, per_item, keys = (
        plan.tt, plan.suite, plan.fmt, plan.result, plan.method, plan.items, plan.per_item, plan.keys)
    samples = []
    if hasattr(tt, "prepare"):  # a judging scorer asks its judge for every item in one batch
        ends = list(itertools.accumulate(len(r) for r in per_item))
        tt.prepare(items, [[found[k] for k in keys[e - len(r) : e]] for r, e in zip(per_item, ends)])
    pos = 0
    for item, reqs, item_fmt in zip(items, per_item, plan.fmts):
        outs = [found[k] for k in keys[pos : pos + len(reqs)]]
        pos += len(reqs)
        sample = _sample(tt, item, suite, item_fmt, outs, method)
        if sample.get("status") != "error":
            scored = tt.score(item, outs, method)
            stats = {m.name: m.item_stats(scored.observation) for m in tt.metrics}
            sample.update(
                status=outcome(scored),
                response=scored.response,
                metrics={m.name: m.item_score(stats[m.name]) for m in tt.metrics},
                stats=stats,
                extra=scored.extra,
            )
        samples.append(sample)

    result.n = len(items)
    result.scoring = dict(Counter(s["extra"]["scored_by"] for s in samples if "scored_by" in (s.get("extra") or {})))
    result.n_errors = sum(s["status"] == "error" for s in samples)
    result.n_empty = sum(s["status"] == "empty" for s in samples)
    result.metrics = _metrics_from_samples(tt.metrics, samples)
    ok = [s for s in samples if s["status"] != "error"]
    if ok:
        result.prompt_tokens_mean = sum(s["prompt_tokens"] for s in ok) / len(ok)
        result.completion_tokens_mean = sum(s["completion_tokens"] for s in ok) / len(ok)
    result.seconds = round(time.perf_counter() - plan.started, 4)
    if result.n_errors == 0:  # a run with errors is redone, so its failures are retried
        cache.memo_put(plan.memo_key, "task", {"result": asdict(result), "samples": samples})
    return result, samples


def _metrics_from_samples(metrics, samples, signatures=None) -> dict[str, MetricValue]:
    """Task metrics from the samples' sufficient statistics (the numbers compare tests), on
    the fresh and the memoised path alike, so results.json can never disagree with
    samples.jsonl. Each metric's from_stats is tested against its library's own value.
    ``signatures``: the memo's, since a sacrebleu metric knows its own only after scoring."""
    import numpy as np

    ok = [s for s in samples if s["status"] != "error"]
    out = {}
    for m in metrics:
        value = float(m.from_stats(np.array([s["stats"][m.name] for s in ok], dtype=float).sum(axis=0))) if ok else None
        signature = (signatures or {}).get(m.name) or m.signature()
        vr = list(m.value_range) if m.value_range is not None else None  # compare rebuilds scorer metrics from these
        out[m.name] = MetricValue(value, m.higher_is_better, signature, m.binary, vr)
    return out


def _from_memo(memo, metrics, progress, started):
    result = TaskResult.from_dict(memo["result"])
    signatures = {name: v.signature for name, v in result.metrics.items()}
    result.metrics = _metrics_from_samples(metrics, memo["samples"], signatures)
    with progress.task(result.task, total=result.requests, done=result.requests, items=[result.requests] * result.n):
        pass
    result.cache_hits = result.requests
    result.seconds = round(time.perf_counter() - started, 4)
    return result, memo["samples"]


def run_model(project, model_name: str, options: RunOptions = RunOptions(), progress: Progress | None = None) -> RunResult:
    """Evaluate one configured model on the selected suites."""
    progress = progress or SilentProgress()
    options = replace(options, seed=project.file.seed)
    cfg = project.model(model_name)
    selected = project.selected_tasks(list(options.suites) or None)
    project.use_cache = project.use_cache and options.use_cache  # --no-cache writes nothing, models included
    from evalkit.runner.executor import with_executor

    backend = with_executor(project, model_name, project.backend(model_name))  # executor: ray shards the misses
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
    from evalkit.judge.session import close_session, open_session

    judges = open_session(project, cache)  # a rubric scorer asks its judge while it scores
    try:
        # Plan every task first, answer all their requests in one pipeline, then score each.
        planned = [
            (suite, spec) if isinstance(spec, LmEvalTask) else
            _plan_task(task_type(spec), suite, project.role(suite), backend, identity, cache, fmt, options, progress)
            for suite, spec in selected
        ]
        plans = [p for p in planned if isinstance(p, _Plan)]
        found = _answer_plans(plans, backend, identity, cache, options, progress) if plans else {}
        for entry in planned:
            if isinstance(entry, _Plan):
                result, samples = _score_task(entry, found, cache)
            elif isinstance(entry[1], LmEvalTask):  # lm-eval's own task machinery, our backend and cache
                from evalkit.suites.lm_eval_run import run_lm_eval_task

                suite, spec = entry
                result, samples = run_lm_eval_task(
                    spec, suite, project.role(suite), backend, identity, cache, options, progress,
                    settings=project.file.lm_eval, root=project.root,
                )
            else:
                result, samples = entry
            run.tasks.append(result)
            run.samples.extend(samples)
            if result.data_sha256 is not None:
                run.data_hashes[result.task] = result.data_sha256
    finally:
        close_session(judges)
        cache.close()
    from evalkit.suites.groups import native_group_rows

    run.tasks.extend(native_group_rows(project, list(dict.fromkeys(s for s, _ in selected)), run))
    run.seconds = round(time.perf_counter() - started, 4)
    info = getattr(backend, "run_info", None)
    if info is not None:  # the batch size in use and the like (results.json, once RunResult has the field)
        run.backend_info = info()
    return run


def failure_reasons(runs, top: int = 3) -> list[str]:
    """The most frequent reasons items failed, one line each with its count, for the console
    after an incomplete run (they are otherwise only in samples.jsonl)."""
    counts = Counter(" ".join(str(s.get("error")).split())[:200]
                     for run in runs for s in run.samples if s.get("status") == "error")
    return [f"{n} x {reason}" for reason, n in counts.most_common(top)]


def run_models(project, names: Sequence[str], options: RunOptions, progress=None) -> list[RunResult]:
    try:
        return [run_model(project, n, options, progress) for n in names]
    finally:
        project.close_backends(names)
