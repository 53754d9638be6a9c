"""Put a plan together: per model and task the requests, what the cache already holds,
tokens, cost and time; per gate what this n can detect. Nothing is run or sent."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalkit.planning.cost import Costs, price_requests, seconds
from evalkit.planning.power import GatePower, gate_power
from evalkit.planning.requests import TaskRequests, identity_of, plan_requests
from evalkit.planning.tokens import counter_for, request_tokens


@dataclass(frozen=True)
class TaskPlan:
    model: str
    task: str
    suite: str
    items: int
    method: str | None
    skipped: str | None
    requests: int  # distinct requests of this task
    cached: int | None  # already answered in the cache (free); None: cannot tell
    to_send: int
    prompt_tokens: int  # of the requests to send
    completion_tokens_max: int  # upper bound: max_tokens of every generation
    cost: Costs
    seconds: float | None
    time_basis: str


@dataclass
class Plan:
    models: list[str]
    prices_as_of: str
    tokenizers: dict[str, str]
    cache_note: dict[str, str]  # model -> why its cache hits are unknown
    tasks: list[TaskPlan] = field(default_factory=list)
    gates: list[GatePower] = field(default_factory=list)
    baseline: str | None = None
    judges: list = field(default_factory=list)  # JudgePlan: the judge's own requests, apart from the models'

    def totals(self, model: str) -> dict[str, Any]:
        rows = [t for t in self.tasks if t.model == model and t.skipped is None]  # a skipped task sends nothing

        def add(values):
            values = list(values)
            return None if any(v is None for v in values) else sum(values)

        return {
            "requests": sum(t.requests for t in rows), "to_send": sum(t.to_send for t in rows),
            "cached": add(t.cached for t in rows),
            "prompt_tokens": sum(t.prompt_tokens for t in rows),
            "completion_tokens_max": sum(t.completion_tokens_max for t in rows),
            "cost_list_usd": add(t.cost.list_usd for t in rows), "cost_batch_usd": add(t.cost.batch_usd for t in rows),
            "cost_fine_tuned_usd": add(t.cost.fine_tuned_usd for t in rows),
            "cost_usd": add(t.cost.expected_usd for t in rows), "pays": next((t.cost.pays for t in rows if t.cost.pays), None),
            "seconds": add(t.seconds for t in rows),
        }

    def judge_totals(self) -> dict[str, dict[str, Any]]:
        """Per judge model: its requests, estimated tokens, cost and time over every judged task."""
        out: dict[str, dict[str, Any]] = {}
        for j in self.judges:
            t = out.setdefault(j.judge, {"requests": 0, "prompt_tokens": 0, "completion_tokens_max": 0, "cost_list_usd": 0.0,
                                         "cost_batch_usd": 0.0, "cost_usd": 0.0, "pays": j.cost.pays, "seconds": 0.0})
            t["requests"] += j.requests
            t["prompt_tokens"] += j.prompt_tokens
            t["completion_tokens_max"] += j.completion_tokens_max
            for key, value in (("cost_list_usd", j.cost.list_usd), ("cost_batch_usd", j.cost.batch_usd),
                               ("cost_usd", j.cost.expected_usd), ("seconds", j.seconds)):
                t[key] = None if t[key] is None or value is None else t[key] + value
        return out

    def to_json(self) -> dict[str, Any]:
        def clean(x):
            if isinstance(x, float) and not math.isfinite(x):
                return None if math.isnan(x) else "inf"
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x

        return clean({
            "prices_as_of": self.prices_as_of, "models": self.models, "tokenizers": self.tokenizers,
            "cache_unknown": self.cache_note, "baseline": self.baseline,
            "completion_tokens_note": "upper bound: every generation at its max_tokens",
            "tasks": [asdict(t) for t in self.tasks],
            "totals": {m: self.totals(m) for m in self.models},
            "gates": [asdict(g) for g in self.gates],
            "judge": {"tasks": [asdict(j) for j in self.judges], "totals": self.judge_totals(),
                      "note": "estimated: the answers judged do not exist yet (each at its max_tokens); cache not checked"},
        })


def _open_cache(project):
    """The response cache, read only where it exists: a plan creates nothing."""
    from evalkit.runner.cache import ResponseCache

    path = project.cache_dir / "responses.sqlite"
    return ResponseCache(path) if path.is_file() else None


def _task_plan(cfg, tr: TaskRequests, counter, found: dict, measured: float | None) -> TaskPlan:
    if tr.skipped is not None:
        return TaskPlan(tr.model, tr.task, tr.suite, tr.items, tr.method, tr.skipped, 0, 0, 0, 0, 0,
                        Costs(None, None, None), 0.0, "skipped")
    todo = [r for k, r in zip(tr.keys, tr.requests) if k not in found]
    tokens = [request_tokens(r, counter) for r in todo]
    secs, how = seconds(cfg, tokens, measured)
    return TaskPlan(
        tr.model, tr.task, tr.suite, tr.items, tr.method, None, len(tr.requests),
        len(tr.requests) - len(todo), len(todo), sum(p for p, _ in tokens), sum(c for _, c in tokens),
        price_requests(cfg, tokens), secs, how,
    )


def _mean_latency(answers) -> float | None:
    lat = [getattr(a, "latency_s", 0.0) for a in answers]
    lat = [x for x in lat if x is not None and x > 0]
    return sum(lat) / len(lat) if lat else None


def make_plan(project, models: list[str], options, baseline: Path | None = None) -> Plan:
    from evalkit.backends.pricing import PRICES_AS_OF

    cache = _open_cache(project) if options.use_cache else None
    from evalkit.planning.judge import plan_judges

    plan = Plan(models, PRICES_AS_OF, {}, {})
    by_model = {}
    try:
        for model in models:
            cfg = project.model(model)
            identity, why = identity_of(project, model)
            if identity is None:
                plan.cache_note[model] = why
            elif cache is None:
                plan.cache_note[model] = "no response cache yet" if options.use_cache else "--no-cache"
            counter = counter_for(cfg)
            plan.tokenizers[model] = counter.method
            planned = by_model[model] = plan_requests(project, model, options, identity)
            found = {}
            if identity is not None and cache is not None:
                found = cache.get_many([k for tr in planned for k in tr.keys])
            measured = _mean_latency(found.values())
            for tr in planned:
                plan.tasks.append(_task_plan(cfg, tr, counter, found, measured))
            if identity is None:  # unknown, not zero
                plan.tasks[-len(planned):] = [_unknown_cache(t) for t in plan.tasks[-len(planned):]]
    finally:
        if cache is not None:
            cache.close()
    plan.judges = plan_judges(project, models, by_model)
    plan.gates, plan.baseline = _gates(project, models, plan, baseline)
    return plan


def _unknown_cache(t: TaskPlan) -> TaskPlan:
    from dataclasses import replace

    return replace(t, cached=None) if t.skipped is None else t


def _gates(project, models: list[str], plan: Plan, baseline: Path | None) -> tuple[list[GatePower], str | None]:
    from evalkit.planning.baseline import find_stored

    if not project.gates:
        return [], None
    candidate = models[1] if len(models) > 1 else models[0]
    n_items = {t.task: t.items for t in plan.tasks if t.model == candidate and t.skipped is None}
    suites = {name: list(s.tasks) for name, s in project.file.suites.items()}
    stored, where = find_stored(models, baseline)
    return gate_power(project.gates, n_items, suites, max(1, len(models) - 1), stored), where
