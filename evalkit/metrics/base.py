"""The metric interface and the per-item observation a task hands to its metrics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

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


class Metric(ABC):
    """A metric as the sum of per-item statistics, mapped to a value by :meth:`from_stats`.

    Mean metrics use stats ``[score, 1]``; ratio and corpus metrics (bits per byte, BLEU,
    macro-F1) use their own sufficient statistics, so resampling items and recomputing the
    corpus value is a matrix product and one vectorised call.
    """

    name: str
    higher_is_better: bool = True
    binary: bool = False  # per-item scores are 0/1 (McNemar applies)
    scale: float = 1.0  # for display: 100 for BLEU/chrF

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
