"""The requests a run would send, built by the runner's own planning step without a backend.

A task's method (generate or log-likelihood) depends on what the backend answers; the backend
class says that from its config (``Backend.supports_for``) without being built, so no weights
load and no connection opens. The requests then come from ``evalkit.runner.run._plan_task``
itself, so the counts cannot drift from what ``evalkit run`` sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evalkit.backends.base import Request, RequestKind
from evalkit.errors import EvalkitError


@dataclass(frozen=True)
class _Declared:
    """What ``_plan_task`` reads of a backend: its name and the kinds it answers."""

    name: str
    supports: frozenset[RequestKind]


@dataclass
class TaskRequests:
    model: str
    task: str
    suite: str
    items: int = 0
    method: str | None = None
    skipped: str | None = None  # why the task will not run for this model
    requests: list[Request] = field(default_factory=list)  # each distinct request once
    keys: list[str] = field(default_factory=list)  # their cache keys (None identity: dedupe only)


def declared_backend(project, model: str) -> _Declared:
    from evalkit.backends.registry import backend_class

    cfg = project.model(model)
    cls = backend_class(cfg.backend)
    return _Declared(cls.name, cls.supports_for(cfg))


def identity_of(project, model: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the model's cache identity, None) when it can be known without a heavy import or a
    model load, else (None, why not)."""
    from evalkit.backends.registry import backend_class

    cfg = project.model(model)
    if not backend_class(cfg.backend).identity_is_cheap:
        return None, f"backend '{cfg.backend}' needs its model library to name its cache entries"
    try:
        return project.backend(model).identity(), None
    except EvalkitError as exc:
        return None, str(exc)


def plan_requests(project, model: str, options, identity: dict[str, Any] | None) -> list[TaskRequests]:
    """Every selected task's distinct requests for ``model``, as the runner would build them."""
    from evalkit.runner.cache import NullCache, request_key
    from evalkit.runner.run import SilentProgress, _plan_task
    from evalkit.suites.lm_eval_spec import LmEvalTask
    from evalkit.tasks import task_type
    from evalkit.tasks.base import PromptFormat

    cfg = project.model(model)
    backend = declared_backend(project, model)
    fmt = PromptFormat(cfg.system_prompt, cfg.template)
    key_identity = identity if identity is not None else {"planned": model}
    out = []
    for suite, spec in project.selected_tasks(list(options.suites) or None):
        if isinstance(spec, LmEvalTask):
            out.append(TaskRequests(model, spec.name, suite, skipped="lm-eval task: built by lm-eval at run time, not planned"))
            continue
        planned = _plan_task(task_type(spec), suite, project.role(suite), backend, key_identity, NullCache(), fmt,
                             options, SilentProgress())
        if not hasattr(planned, "per_item"):  # (result, samples): the backend cannot answer this task
            result = planned[0]
            out.append(TaskRequests(model, spec.name, suite, items=result.n, skipped=result.reason))
            continue
        distinct: dict[str, Request] = {}
        for reqs in planned.per_item:
            for r in reqs:
                distinct.setdefault(request_key(key_identity, r), r)
        out.append(TaskRequests(model, spec.name, suite, len(planned.items), planned.method.value,
                                requests=list(distinct.values()), keys=list(distinct)))
    return out
