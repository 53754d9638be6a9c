"""Task groups: one extra row whose metric is a fixed weighted mean of its member tasks' values.

Two sources of groups share this arithmetic:

- native groups, ``suites.NAME.groups: {GROUP: {tasks: [...], aggregate: size_weighted | mean}}``
  in evalkit.yaml: the members are the suite's own tasks;
- ``lm-eval:GROUP`` entries whose group YAML has an ``aggregate_metric_list``: the members are
  lm-eval's leaf tasks inside the entry, weighted as its ``weight_by_size`` says.

``size_weighted`` weighs each task by its number of scored items (the same as pooling the
items of mean metrics; lm-eval's ``weight_by_size: true``); ``mean`` gives every task the same
weight (``weight_by_size: false``). A group row records its members and each metric's
weighting under ``members``, so compare can combine the members' paired estimates with the
same weights (:mod:`evalkit.compare.groups`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from evalkit.config_base import StrictModel

SIZE, EQUAL = "size_weighted", "mean"


class GroupConfig(StrictModel):
    """One entry of ``suites.NAME.groups``."""

    tasks: list[str] = Field(min_length=1, description="member tasks (of this suite)")
    aggregate: Literal["size_weighted", "mean"] = Field(
        SIZE, description="size_weighted: tasks weighed by their item counts (lm-eval's weight_by_size: true); mean: each task counts once"
    )
    metrics: list[str] | None = Field(None, description="metrics to aggregate (default: every metric all members report)")


def member_name(entry: str, lm_eval_tasks: dict) -> str:
    """The name a suite entry is reported under (``lm-eval:TASK?limit=5`` -> ``lm-eval:TASK``)."""
    return lm_eval_tasks[entry].name if entry in lm_eval_tasks else entry


def check_groups(suites: dict, tasks: dict, lm_eval_tasks: dict, path, located) -> set[str]:
    """Every group's members are tasks of its suite and its name is new; the group names."""
    from evalkit.errors import ConfigError

    seen: set[str] = set()
    taken = set(tasks) | {t.name for t in lm_eval_tasks.values()}
    for sname, suite in suites.items():
        entries = {member_name(t, lm_eval_tasks): t for t in suite.tasks}
        for gname, group in suite.groups.items():
            line = located.line(("suites", sname, "groups", gname)) or located.line(("suites", sname))
            if gname in taken or gname in seen:
                raise ConfigError(f"suite '{sname}': group '{gname}' has the name of a task or another group; "
                                  "rename the group (it is reported as a row of its own)", path=path, line=line)
            for t in group.tasks:
                if t not in entries and t not in suite.tasks:
                    raise ConfigError(f"suite '{sname}': group '{gname}' names '{t}', which is not a task of this suite "
                                      f"(its tasks: {', '.join(suite.tasks)})", path=path, line=line)
            if len({member_name(t, lm_eval_tasks) for t in group.tasks}) != len(group.tasks):
                raise ConfigError(f"suite '{sname}': group '{gname}' names a task twice", path=path, line=line)
            seen.add(gname)
    return seen


def base_metric(name: str):
    """The metric object behind a (possibly filtered, ``name[filter]``) metric name: a filter
    variant reads its statistics exactly as the plain metric does."""
    from evalkit.metrics.registry import metric_for_result

    # a scorer's own metric (not built in) reads its (numerator, denominator) pairs
    return metric_for_result(name)


def weights(sizes: list[int], aggregate: str) -> list[float]:
    """Normalised member weights; lm-eval's aggregate_subtask_metrics uses the same ones."""
    raw = [float(n) for n in sizes] if aggregate == SIZE else [1.0] * len(sizes)
    total = sum(raw)
    return [w / total for w in raw] if total > 0 else [0.0] * len(sizes)


def member_value(name: str, samples: list[dict]) -> tuple[float | None, int]:
    """(metric value over a member's scored items, how many were scored)."""
    import numpy as np

    ok = [s for s in samples if s["status"] != "error" and name in s.get("stats", {})]
    if not ok:
        return None, 0
    return float(base_metric(name).from_stats(np.sum([s["stats"][name] for s in ok], axis=0))), len(ok)


def combine(name: str, parts: list[list[dict]], aggregate: str) -> float | None:
    """The group's value of one metric from its members' samples. A member without the metric
    is left out (lm-eval does the same, with a warning); None when no member has it."""
    values = [(v, n) for v, n in (member_value(name, samples) for samples in parts) if v is not None]
    if not values:
        return None
    w = weights([n for _, n in values], aggregate)
    return float(sum(wi * v for wi, (v, _) in zip(w, values)))


def native_group_rows(project, suites: list[str], run) -> list:
    """The group rows of the selected suites, built from the run's task rows and samples."""
    from evalkit.results import MetricValue, TaskResult

    rows = []
    for suite in suites:
        cfg = project.file.suites.get(suite)
        for name, group in (cfg.groups if cfg else {}).items():
            names = [member_name(t, project.lm_eval_tasks) for t in group.tasks]
            members = [run.task(t) for t in names]
            row = TaskResult(task=name, suite=suite, role=project.role(suite), type="group", status="ok")
            row.members = {"of": "tasks", "tasks": names, "weighting": {}}
            skipped = [m for m in members if m is None or m.status != "ok"]
            if skipped:
                m = skipped[0]
                row.status = "skipped"
                row.reason = f"member {m.task} was skipped: {m.reason}" if m is not None else "a member task did not run"
                rows.append(row)
                continue
            row.n = sum(m.n for m in members)
            row.n_errors = sum(m.n_errors for m in members)
            row.n_empty = sum(m.n_empty for m in members)
            shared = [k for k in members[0].metrics if all(k in m.metrics for m in members)]
            parts = [run.samples_for(t) for t in names]
            for metric in group.metrics or shared:
                if metric not in shared:
                    continue  # validated at load time; a member that could not compute it reports nothing
                value = combine(metric, parts, group.aggregate)
                sig = f"group:{group.aggregate}({','.join(names)})|{members[0].metrics[metric].signature}"
                row.metrics[metric] = MetricValue(value, members[0].metrics[metric].higher_is_better, sig)
                row.members["weighting"][metric] = group.aggregate
            rows.append(row)
    return rows
