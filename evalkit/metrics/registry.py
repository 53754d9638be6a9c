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
    # ``name[filter]`` (an lm-eval task's filter) reads its statistics as the plain metric.
    name = name.partition("[")[0] if name.endswith("]") else name
    if name not in METRICS:
        raise ConfigError(f"unknown metric '{name}' (known: {', '.join(sorted(METRICS))})")
    module, _, attr = METRICS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    return cls(labels) if name == "macro_f1" else cls()


def metrics_for(spec) -> list[Metric]:
    """The metric objects of a task, checked against what its type can compute."""
    names = spec.metrics or DEFAULTS[spec.type]
    for n in names:
        if n in METRICS and n not in ALLOWED[spec.type]:
            raise ConfigError(
                f"metric '{n}' does not apply to a {spec.type} task (use: {', '.join(ALLOWED[spec.type])})",
                path=spec.source,
            )
    return [make_metric(n, labels=spec.labels) for n in names]
