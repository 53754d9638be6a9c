"""Accuracy (multiple choice and classification) and macro-F1 over a fixed label set."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evalkit.metrics.base import MeanMetric, Metric, Observation


class Accuracy(MeanMetric):
    name = "accuracy"
    binary = True
    value_range = (0.0, 1.0)

    def score(self, obs: Observation) -> float:
        return float(bool(obs.correct))


class AccNorm(MeanMetric):
    """Multiple choice picked by log-likelihood per character of the choice (lm-eval's acc_norm)."""

    name = "acc_norm"
    binary = True
    value_range = (0.0, 1.0)

    def score(self, obs: Observation) -> float:
        return float(bool(obs.correct_norm))


class MacroF1(Metric):
    """Macro-averaged F1 over the task's labels.

    Per-item statistics are one-hot true-positive / false-positive / false-negative counts
    per label, so that bootstrap resamples are a matrix product; :meth:`compute` uses
    scikit-learn, and a test checks that both agree.
    """

    name = "macro_f1"
    value_range = (0.0, 1.0)

    def __init__(self, labels: Sequence[str] | None = None):
        self.labels = list(labels or [])  # only item_stats and compute need them
        self._index = {label: i for i, label in enumerate(self.labels)}

    def item_stats(self, obs: Observation) -> list[float]:
        k = len(self.labels)
        stats = [0.0] * (3 * k)
        gold, pred = obs.references[0], obs.prediction
        g, p = self._index.get(gold), self._index.get(pred)
        if g is not None and g == p:
            stats[g] = 1.0  # TP
        else:
            if p is not None:
                stats[k + p] = 1.0  # FP
            if g is not None:
                stats[2 * k + g] = 1.0  # FN
        return stats

    def from_stats(self, summed: np.ndarray) -> np.ndarray:
        summed = np.asarray(summed, dtype=float)
        k = summed.shape[-1] // 3
        tp, fp, fn = summed[..., :k], summed[..., k : 2 * k], summed[..., 2 * k :]
        denom = 2 * tp + fp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
        return f1.mean(axis=-1)

    def item_score(self, stats):
        return None

    def compute(self, observations: Sequence[Observation]) -> float:
        from sklearn.metrics import f1_score

        y_true = [o.references[0] for o in observations]
        y_pred = [o.prediction if o.prediction is not None else "" for o in observations]
        return float(f1_score(y_true, y_pred, labels=self.labels, average="macro", zero_division=0))

    def signature(self) -> str:
        return f"macro_f1|sklearn|labels:{len(self.labels)}|zero_division:0"
