"""Metric names -> metric objects. One registry, lazy imports, duplicates impossible."""

from __future__ import annotations

import importlib

from evalkit.errors import ConfigError
from evalkit.metrics.base import Metric

METRICS: dict[str, str] = {
    "exact_match": "evalkit.metrics.text:ExactMatch",
    "f1": "evalkit.metrics.text:TokenF1",
    "rouge_l": "evalkit.metrics.text:RougeL",
    "bleu": "evalkit.metrics.translation:Bleu",
    "chrf": "evalkit.metrics.translation:Chrf",
    "accuracy": "evalkit.metrics.classification:Accuracy",
    "acc_norm": "evalkit.metrics.classification:AccNorm",
    "macro_f1": "evalkit.metrics.classification:MacroF1",
    "bits_per_byte": "evalkit.metrics.perplexity:BitsPerByte",
    "word_perplexity": "evalkit.metrics.perplexity:WordPerplexity",
    "token_perplexity": "evalkit.metrics.perplexity:TokenPerplexity",
    # Metrics of the built-in scorers (evalkit.scorers): values come from the scorer.
    "refusal_rate": "evalkit.scorers.refusal:RefusalRate",
    "compliance_rate": "evalkit.scorers.refusal:ComplianceRate",
    "numeric_match": "evalkit.scorers.numeric:NumericMatch",
    "regex_match": "evalkit.scorers.match:RegexMatch",
    "contains": "evalkit.scorers.match:Contains",
    "json_valid": "evalkit.scorers.jsonvalid:JsonValid",
    "json_schema": "evalkit.scorers.jsonvalid:JsonSchemaMetric",
}

# Which metrics make sense for which task type; the first ones are the defaults.
ALLOWED = {
    "generate": ["exact_match", "f1", "rouge_l", "bleu", "chrf"],
    "classification": ["accuracy", "macro_f1"],
    "multiple_choice": ["accuracy", "acc_norm"],
    "perplexity": ["bits_per_byte", "word_perplexity", "token_perplexity"],
}
DEFAULTS = {
    "generate": ["exact_match", "f1"],
    "classification": ["accuracy", "macro_f1"],
    "multiple_choice": ["accuracy", "acc_norm"],
    "perplexity": ["bits_per_byte", "word_perplexity", "token_perplexity"],
}


def make_metric(name: str, *, labels=None) -> Metric:
    """A built-in metric by name; ``name[filter]`` is that metric under one filter."""
    from evalkit.metrics.variant import split_variant

    base, variant = split_variant(name)
    if base not in METRICS:
        raise ConfigError(f"unknown metric '{name}' (known: {', '.join(sorted(METRICS))})")
    module, _, attr = METRICS[base].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    metric = cls(labels) if base == "macro_f1" else cls()
    return metric if variant is None else metric.with_overrides(name=name)


def metric_for_result(name: str, value=None) -> Metric:
    """The metric behind a name in a run's results, for reading its per-item statistics
    (compare, gates, reports). A scorer's own metric is not built in: its statistics are
    (numerator, denominator) pairs by protocol, and ``value`` (the run's MetricValue) says
    its direction, range and whether it is binary; no user code runs again."""
    from evalkit.metrics.variant import split_variant
    from evalkit.scorers.base import ScorerMetric

    base, _ = split_variant(name)
    if base in METRICS:
        metric = make_metric(name)
    else:
        vr = getattr(value, "value_range", None)
        metric = ScorerMetric(name, binary=getattr(value, "binary", None), value_range=tuple(vr) if vr else None)
    hib = getattr(value, "higher_is_better", None)
    return metric.with_overrides(higher_is_better=hib)


def metrics_for(spec) -> list[Metric]:
    """The metric objects of a task (built-in, scorer and evaluate metrics, with the task's
    direction overrides and one variant per filter), checked against its type."""
    from evalkit.scorers.plan import plan_scoring

    return plan_scoring(spec).metrics
