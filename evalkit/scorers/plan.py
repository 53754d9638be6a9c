"""What a task computes: its metric objects and the scorers that feed them.

Resolves each ``metrics:`` entry (built-in metric, a built-in scorer's metric, an
``evaluate:`` metric, or a metric of the task's own scorer), applies the task's direction
overrides, and repeats every metric per named filter.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.metrics.base import Metric
from evalkit.scorers import BUILTIN, COMPARE_TIME, METRIC_SCORER
from evalkit.scorers.base import Scorer, ScorerMetric
from evalkit.scorers.spec import MetricEntry, ScorerSpec, as_entry


@dataclass(frozen=True)
class ScoringPlan:
    metrics: list[Metric]
    scorers: list[Scorer]


def build_builtin(spec: ScorerSpec, base_dir: Path, task=None) -> Scorer:
    module, _, attr = BUILTIN[spec.name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    args = dict(spec.args)
    if spec.name == "json_schema":
        args["base_dir"] = base_dir
    if spec.name == "rubric" and task is not None and task.judge is None:
        raise ConfigError("metric judge_score comes from scorer: rubric, which needs judge: MODEL")
    if spec.name == "rubric":  # the judge renders the task's own question
        args.update(base_dir=base_dir, judge=getattr(task, "judge", None), prompt=getattr(task, "prompt", None),
                    template_style=getattr(task, "template_style", "auto"))
    try:
        return cls(**args)
    except TypeError as exc:
        raise ConfigError(f"scorer {spec.name}: bad args: {exc}") from None
    except ValueError as exc:  # a regex that does not compile, say
        raise ConfigError(f"scorer {spec.name}: {exc}") from None


def _evaluate(entry: MetricEntry, base_dir: Path, known: set[str]) -> Scorer:
    from evalkit.scorers.evaluate_metric import PREFIX, EvaluateScorer, load_module, metric_name

    ref = entry.name[len(PREFIX):]
    name = entry.as_ or metric_name(ref)
    if name in known:
        raise ConfigError(f"metric {entry.name} would be reported as '{name}', which is taken; name it with as: NAME")
    metric = ScorerMetric(name, higher_is_better=entry.higher_is_better, binary=entry.binary,
                          value_range=entry.value_range, source=f"evaluate:{ref}")
    return EvaluateScorer(ref, load_module(ref, base_dir), metric, entry.key, entry.args)


def _user(spec: ScorerSpec, entries: list[MetricEntry], base_dir: Path) -> Scorer:
    from evalkit.scorers.user import FunctionScorer, load_function

    fn = load_function(spec.name, base_dir)
    declared = entries or [MetricEntry(name=getattr(fn, "__name__", "score"))]
    metrics = [ScorerMetric(e.name, higher_is_better=e.higher_is_better, binary=e.binary,
                            value_range=e.value_range, source=f"scorer:{spec.name}") for e in declared]
    return FunctionScorer(spec.name, fn, metrics)


def plan_scoring(task) -> ScoringPlan:
    """Metric objects (with filter variants) and scorers for one task spec; a mistake is a
    ConfigError naming the task file."""
    try:
        return _plan(task)
    except ConfigError as exc:
        if exc.path is None and task.source is not None:
            raise ConfigError(str(exc), path=task.source) from None
        raise


def _plan(task) -> ScoringPlan:
    from evalkit.metrics.registry import ALLOWED, DEFAULTS, METRICS, make_metric

    base_dir = task.source.parent if task.source else Path.cwd()
    sspec = task.scorer_spec
    entries = [as_entry(e) for e in task.metrics] if task.metrics else None
    entries, sspec = _without_compare_time(entries, sspec)
    scorers: dict[str, Scorer] = {}
    if sspec is not None and sspec.name in BUILTIN:
        scorers[sspec.name] = build_builtin(sspec, base_dir, task)
    if entries is None:
        entries = [MetricEntry(name=m.name) for s in scorers.values() for m in s.metrics()] if scorers else None
        if entries is None and sspec is None:
            entries = [MetricEntry(name=n) for n in DEFAULTS[task.type]]
    # a built-in scorer's metric that is not a registered metric (judge_score: binary or not,
    # as the task's rubric says) is the scorer's to describe
    own = [e for e in entries or [] if e.name not in METRICS and e.name not in METRIC_SCORER and not e.name.startswith("evaluate:")]
    scored = [e.name for e in entries or [] if e.name in METRIC_SCORER or e.name.startswith("evaluate:")]
    if task.type != "generate" and scored:
        # only a generate task hands its answer to scorers
        raise ConfigError(f"metric {scored[0]} applies to generate tasks only (this is a {task.type} task)")
    if sspec is not None and sspec.name not in BUILTIN:
        scorers[sspec.name] = _user(sspec, own, base_dir)
        if entries is None:
            entries = [MetricEntry(name=m.name) for m in scorers[sspec.name].metrics()]
    elif own:
        names = ", ".join(e.name for e in own)
        raise ConfigError(f"unknown metric {names} (known: {', '.join(sorted(METRICS))}, evaluate:NAME, or a scorer: module:function that returns it)")
    provided = {m.name: (key, m) for key, s in scorers.items() for m in s.metrics()}
    metrics: list[Metric] = []
    for e in entries:
        if e.name.startswith("evaluate:"):
            s = _evaluate(e, base_dir, set(METRICS) | {m.name for m in metrics})
            scorers[e.name] = s
            metrics.append(s.metrics()[0])
            continue
        if e.name in provided:
            metric = provided[e.name][1]
        elif e.name in METRIC_SCORER:  # a built-in scorer's metric named alone: run that scorer
            key = METRIC_SCORER[e.name]
            if key not in scorers:
                scorers[key] = build_builtin(ScorerSpec(name=key), base_dir, task)
            s = scorers[key]
            metric = next(m for m in s.metrics() if m.name == e.name)
        else:
            if e.name not in ALLOWED[task.type]:
                raise ConfigError(f"metric '{e.name}' does not apply to a {task.type} task (use: {', '.join(ALLOWED[task.type])})")
            metric = make_metric(e.name, labels=task.labels)
        metrics.append(metric.with_overrides(higher_is_better=e.higher_is_better))
    _no_duplicates(metrics)
    if task.filters:
        from evalkit.metrics.variant import Variant

        metrics = [Variant(m, f) for m in metrics for f in task.filters]
    return ScoringPlan(metrics, list(dict.fromkeys(scorers.values())))


def _without_compare_time(entries, sspec):
    """A compare-time scorer (pairwise) has nothing to compute per answer: the run keeps the
    task's other metrics, and compare adds the judge's. (entries, scorer spec) for the run."""
    compare_time = {m: s for s, ms in COMPARE_TIME.items() for m in ms}
    named = [e.name for e in entries or [] if e.name in compare_time]
    if named and (sspec is None or sspec.name != compare_time[named[0]]):
        raise ConfigError(f"metric {named[0]} comes from scorer: {compare_time[named[0]]} (with judge: MODEL)")
    if sspec is None or sspec.name not in COMPARE_TIME:
        return entries, sspec
    return [e for e in entries or [] if e.name not in compare_time], None


def check_metric_names(entries, kind: str | None, scorer) -> None:
    """The names in a task's ``metrics:``, checked as the task file is read (no code is
    imported): ValueError for a name nothing computes or one its task type cannot."""
    from evalkit.metrics.registry import ALLOWED, METRICS

    own_scorer = scorer is not None and (scorer if isinstance(scorer, str) else scorer.name) not in {*BUILTIN, *COMPARE_TIME}
    for e in map(as_entry, entries):
        name = e.name
        if name.startswith("evaluate:") or name in METRIC_SCORER or (own_scorer and name not in METRICS):
            if kind is not None and kind != "generate":
                raise ValueError(f"metric '{name}' applies to generate tasks only (this is a {kind} task)")
            continue
        if name not in METRICS:
            raise ValueError(
                f"unknown metric '{name}' (known: {', '.join(sorted(METRICS))}, evaluate:NAME, or a metric your scorer: module:function returns)"
            )
        if kind in ALLOWED and name not in ALLOWED[kind]:
            raise ValueError(f"metric '{name}' does not apply to a {kind} task (use: {', '.join(ALLOWED[kind])})")


def declared_metric_names(task) -> list[str]:
    """The metric names a task reports, with filter variants, read without importing any
    scorer code (for checking gates when the config loads)."""
    from evalkit.metrics.registry import DEFAULTS
    from evalkit.scorers import SCORER_METRICS
    from evalkit.scorers.evaluate_metric import PREFIX, metric_name

    sspec = task.scorer_spec
    if task.metrics:
        names = [e.as_ or metric_name(e.name[len(PREFIX):]) if e.name.startswith(PREFIX) else e.name for e in map(as_entry, task.metrics)]
    elif sspec is not None:
        names = list(SCORER_METRICS.get(sspec.name, [sspec.name.rpartition(":")[2]]))
    else:
        names = list(DEFAULTS[task.type])
    return names + [f"{n}[{f}]" for n in names for f in task.filters or {}]


def _no_duplicates(metrics: list[Metric]) -> None:
    names = [m.name for m in metrics]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"metric(s) listed twice: {', '.join(dupes)}")
