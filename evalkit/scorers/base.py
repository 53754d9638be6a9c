"""The scorer protocol: a function of one answer that gives each of its metrics a value.

A scorer returns, per item and per metric, a pair ``(numerator, denominator)``; the metric's
value over items is ``sum(numerators) / sum(denominators)``. A plain score ``s`` is the pair
``(s, 1)``, so the metric is the mean; a ratio metric (say, errors per word) returns its own
pair. Because the pair is all compare needs, paired intervals and gates cover any scorer's metric
without running the scorer's code again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

from evalkit.metrics.base import Metric, Observation


class ScorerMetric(Metric):
    """A metric whose per-item statistics a scorer computed: ``obs.values[key]``."""

    name = "score"
    source = "scorer"  # for the signature: which scorer produced the values

    def __init__(self, name: str | None = None, *, higher_is_better: bool | None = None,
                 binary: bool | None = None, value_range: tuple[float, float] | None = None,
                 source: str | None = None):
        if name is not None:
            self.name = name
        if higher_is_better is not None:
            self.higher_is_better = higher_is_better
        if binary is not None:
            self.binary = binary
        if value_range is not None:
            self.value_range = (float(value_range[0]), float(value_range[1]))
        if source is not None:
            self.source = source
        self.key = self.name  # a filter variant renames the metric but reads the same values

    def item_stats(self, obs: Observation) -> list[float]:
        num, den = obs.values[self.key]
        return [float(num), float(den)]

    def item_score(self, stats):
        return float(stats[0]) / float(stats[1]) if stats[1] else None

    def signature(self) -> str:
        return f"{self.name}|{self.source}|mean-of-ratio"


def as_stats(value: Any, what: str) -> tuple[float, float]:
    """A scorer's return value for one metric as (numerator, denominator)."""
    if isinstance(value, bool):
        return (1.0 if value else 0.0), 1.0
    if isinstance(value, Real):
        return float(value), 1.0
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2 and all(
        isinstance(v, Real) and not isinstance(v, bool) for v in value
    ):
        return float(value[0]), float(value[1])
    raise TypeError(f"{what} returned {type(value).__name__} {value!r}; expected a number, a bool or (numerator, denominator)")


class BinaryScorerMetric(ScorerMetric):
    """A 0/1 score per item (a match, a valid document, a refusal)."""

    binary = True
    value_range = (0.0, 1.0)


class Scorer(ABC):
    """Turns one answer into values for the metrics it declares."""

    @abstractmethod
    def metrics(self) -> list[ScorerMetric]:
        """The metrics this scorer gives values to, with their direction and range."""

    @abstractmethod
    def score(self, answer: str | None, references: Sequence[str], record: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
        """Per metric name, this item's (numerator, denominator). ``answer`` is None when a
        filter found nothing: the model's behaviour, to be scored (usually as wrong)."""

    def code_files(self) -> list[str]:
        """Files of user code this scorer runs: their content is part of the run's cache key,
        so editing a scorer re-scores instead of replaying stale results."""
        return []

    def label(self, answer: str | None, references: Sequence[str], record: Mapping[str, Any]) -> str | None:
        """A word for people reading samples (refused / complied / partial); None if none."""
        return None

    def fingerprint(self) -> dict | None:
        """What besides code decides this scorer's values (a judge model's identity): part of
        the run's cache key, so a changed judge re-scores. None when nothing."""
        return None

    def details(self, answer: str | None, references: Sequence[str], record: Mapping[str, Any]) -> dict | None:
        """More for people reading samples, stored with the item (a judge's raw judgment and
        parsed verdict); None if nothing."""
        return None
