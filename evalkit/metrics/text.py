"""Answer-matching metrics for generated text: exact match, SQuAD token F1, ROUGE-L."""

from __future__ import annotations

import re
from collections import Counter

from evalkit.metrics.base import MeanMetric, Observation


class ExactMatch(MeanMetric):
    name = "exact_match"
    binary = True
    value_range = (0.0, 1.0)

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
    value_range = (0.0, 1.0)

    def score(self, obs: Observation) -> float:
        return max(token_f1(obs.prediction or "", r) for r in obs.references)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Longest common subsequence of two token lists (dynamic programming, one row)."""
    if len(a) < len(b):
        a, b = b, a
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, start=1):
            cur = row[j]
            row[j] = prev + 1 if x == y else max(row[j], row[j - 1])
            prev = cur
    return row[-1]


class RougeL(MeanMetric):
    """ROUGE-L F-measure (LCS of tokens), as Google's rouge-score computes it without stemming.

    Written here rather than imported: rouge-score imports nltk at start-up (about 0.8 s on
    every run) for a stemmer this metric does not use. Tokenisation follows rouge-score's
    default tokenizer (lower-case, runs of [a-z0-9]); a test checks equality with rouge-score.
    """

    name = "rouge_l"
    value_range = (0.0, 1.0)

    def score(self, obs: Observation) -> float:
        pred = _rouge_tokens(obs.prediction or "")
        return max(_f_measure(lcs_length(_rouge_tokens(r), pred), len(_rouge_tokens(r)), len(pred)) for r in obs.references)

    def signature(self) -> str:
        return "rouge_l|lcs|tokens:rouge-score-default|stemmer:no|fmeasure"


_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")


def _rouge_tokens(text: str) -> list[str]:
    return _ROUGE_TOKEN.findall(text.lower())


def _f_measure(lcs: int, n_ref: int, n_pred: int) -> float:
    if lcs == 0:
        return 0.0
    precision, recall = lcs / n_pred, lcs / n_ref
    return 2 * precision * recall / (precision + recall)
