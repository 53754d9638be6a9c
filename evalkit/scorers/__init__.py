"""Scorers: per-item values for metrics that answer matching cannot express (refusals,
numbers, JSON, a user's own function, a Hugging Face ``evaluate`` metric).

Built-in scorers are named here as ``module:Class`` and imported only when a task uses one;
a task may also name its own function (``module:function`` or ``file.py:function``, with
``--trust-code``) or an ``evaluate:`` metric. See :mod:`evalkit.scorers.base` for the protocol.
"""

from __future__ import annotations

BUILTIN: dict[str, str] = {
    "refusal": "evalkit.scorers.refusal:RefusalScorer",
    "numeric": "evalkit.scorers.numeric:NumericScorer",
    "regex": "evalkit.scorers.match:RegexScorer",
    "contains": "evalkit.scorers.match:ContainsScorer",
    "json_valid": "evalkit.scorers.jsonvalid:JsonValidScorer",
    "json_schema": "evalkit.scorers.jsonvalid:JsonSchemaScorer",
    "rubric": "evalkit.judge.rubric:RubricScorer",
}

# Scorers that need both models' answers: they run at compare time (evalkit.judge.hook), not
# per answer, and the run itself has no values for their metrics.
COMPARE_TIME: dict[str, tuple[str, ...]] = {"pairwise": ("win_rate",)}

# The metrics each built-in scorer fills (the scorer classes say the same; this copy lets a
# config be checked without importing them).
SCORER_METRICS: dict[str, tuple[str, ...]] = {
    "refusal": ("refusal_rate", "compliance_rate"),
    "numeric": ("numeric_match",),
    "regex": ("regex_match",),
    "contains": ("contains",),
    "json_valid": ("json_valid",),
    "json_schema": ("json_valid", "json_schema"),
    "rubric": ("judge_score",),
    "pairwise": ("win_rate",),
}

# Metric name -> the built-in scorer that gives it values: naming the metric alone in a
# task's metrics: is enough (metrics: [numeric_match] runs the numeric scorer).
METRIC_SCORER: dict[str, str] = {
    "refusal_rate": "refusal",
    "compliance_rate": "refusal",
    "numeric_match": "numeric",
    "regex_match": "regex",
    "contains": "contains",
    "json_valid": "json_valid",
    "json_schema": "json_schema",
    "judge_score": "rubric",
    "win_rate": "pairwise",
}
