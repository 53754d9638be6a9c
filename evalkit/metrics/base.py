"""The metric interface and the per-item observation a task hands to its metrics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
import copy
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Observation:
    """What a task type learned about one item; each metric reads the parts it needs."""

    prediction: str | None = None  # normalised answer or predicted label
    references: tuple[str, ...] = ()  # normalised references (or the gold label)
    correct: bool | None = None  # multiple choice / classification
    correct_norm: bool | None = None  # multiple choice, length-normalised
    nll: float | None = None  # perplexity: -log P(text), nats
    n_bytes: int | None = None
    n_words: int | None = None
    n_tokens: int | None = None
    # Scorer metrics: this item's sufficient statistics by metric name, [numerator, denominator].
    values: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Filter variants: the same item seen through each named filter (exact_match[strict], ...).
    variants: dict[str, "Observation"] = field(default_factory=dict)


class Metric(ABC):
    """A metric as the sum of per-item statistics, mapped to a value by :meth:`from_stats`.

    Mean metrics use stats ``[score, 1]``; ratio and corpus metrics (bits per byte, BLEU,
    macro-F1) use their own sufficient statistics, so resampling items and recomputing the
    corpus value is a matrix product and one vectorised call.
    """

    name: str
    higher_is_better: bool = True
    binary: bool = False  # per-item scores are 0/1 (McNemar applies)
    # The range of the metric's value (and of a per-item score, for mean metrics); None when
    # unbounded (perplexity). Missing-data imputation and plots read it.
    value_range: tuple[float, float] | None = None
    scale: float = 1.0  # for display: 100 for BLEU/chrF

    @property
    def worst(self) -> float | None:
        """The worst per-item value this metric can take (None when unbounded)."""
        if self.value_range is None:
            return None
        return self.value_range[0] if self.higher_is_better else self.value_range[1]

    @property
    def best(self) -> float | None:
        if self.value_range is None:
            return None
        return self.value_range[1] if self.higher_is_better else self.value_range[0]

    def with_overrides(self, *, name: str | None = None, higher_is_better: bool | None = None) -> "Metric":
        """A copy under another name (a filter variant) or direction (a task that counts a
        refusal as bad); the metric itself is shared code, so a shallow copy suffices."""
        other = copy.copy(self)
        if name is not None:
            other.name = name
        if higher_is_better is not None:
            other.higher_is_better = higher_is_better
        return other

    @abstractmethod
    def item_stats(self, obs: Observation) -> list[float]:
        """This item's sufficient statistics."""

    def from_stats(self, summed: np.ndarray) -> np.ndarray:
        """Metric value(s) from statistics summed over items; vectorised over leading axes."""
        summed = np.asarray(summed, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return summed[..., 0] / summed[..., 1]

    def item_score(self, stats: Sequence[float]) -> float | None:
        """A per-item score for display, where one makes sense."""
        return float(stats[0])

    def compute(self, observations: Sequence[Observation]) -> float:
        """The corpus value. Metrics backed by a library override this to call it; the
        resampling path (:meth:`from_stats`) is tested to agree with it."""
        stats = np.array([self.item_stats(o) for o in observations], dtype=float)
        return float(self.from_stats(stats.sum(axis=0)))

    def signature(self) -> str:
        return self.name


class MeanMetric(Metric):
    def item_stats(self, obs: Observation) -> list[float]:
        return [float(self.score(obs)), 1.0]

    @abstractmethod
    def score(self, obs: Observation) -> float: ...
