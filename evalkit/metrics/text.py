"""Answer-matching metrics for generated text: exact match, SQuAD token F1, ROUGE-L."""

from __future__ import annotations

from collections import Counter

from evalkit.metrics.base import MeanMetric, Observation


class ExactMatch(MeanMetric):
    name = "exact_match"
    binary = True

    def score(self, obs: Observation) -> float:
        return float(any(obs.prediction == r for r in obs.references))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style F1 over whitespace tokens of already-normalised strings."""
    pred, ref = prediction.split(), reference.split()
    if not pred or not ref:
        return float(pred == ref)
    common = Counter(pred) & Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


class TokenF1(MeanMetric):
    name = "f1"

    def score(self, obs: Observation) -> float:
        return max(token_f1(obs.prediction or "", r) for r in obs.references)


class RougeL(MeanMetric):
    """ROUGE-L F-measure from Google's rouge-score package (what `evaluate`'s rouge wraps)."""

    name = "rouge_l"

    def __init__(self):
        self._scorer = None

    def score(self, obs: Observation) -> float:
        if self._scorer is None:
            from rouge_score import rouge_scorer

            self._scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        pred = obs.prediction or ""
        return max(self._scorer.score(r, pred)["rougeL"].fmeasure for r in obs.references)

    def signature(self) -> str:
        return "rouge_l|rouge-score|rougeL|fmeasure|stemmer:no"
