"""What each model did with each item: answered (ok), empty, unparsed, or error.

Only a failed request ("error") is missing data. An empty or unparseable answer is the
model's behaviour and is scored like any other answer (as wrong, usually): dropping it would
let a fine-tune that goes silent on hard items look as good as its base. Missing items are
never allowed to make a gate easier: gates are re-decided with the candidate's missing items
scored at the metric's worst per-item value and the base's at its best (:func:`impute`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MISSING = "error"  # the request failed after retries: no answer to score
HIGH_RATE = 0.10  # an empty or unparsed rate at least this high is worth a warning
RATE_GAP = 0.05  # ... and so is a gap this large between the two models' rates

# Per-item value range of the metrics whose per-item statistics are [score, 1] with a
# bounded score. Corpus and ratio metrics (BLEU, chrF, macro-F1, bits per byte,
# perplexities) have no per-item worst case, so a missing item leaves their gates open.
ITEM_RANGE: dict[str, tuple[float, float]] = {
    "exact_match": (0.0, 1.0), "accuracy": (0.0, 1.0), "acc_norm": (0.0, 1.0),
    "f1": (0.0, 1.0), "rouge_l": (0.0, 1.0),
}


@dataclass(frozen=True)
class Outcomes:
    """Counts of one model's items on one task, by status."""

    items: int = 0
    answered: int = 0  # every status but error: scored
    empty: int = 0
    unparsed: int = 0
    error: int = 0

    @classmethod
    def of(cls, samples: list[dict]) -> "Outcomes":
        status = [s["status"] for s in samples]
        n_err = status.count(MISSING)
        return cls(len(status), len(status) - n_err, status.count("empty"), status.count("unparsed"), n_err)

    def rate(self, what: str) -> float:
        return getattr(self, what) / self.answered if self.answered else 0.0


def outcome_warnings(task: str, names: tuple[str, str], sides: tuple[Outcomes, Outcomes]) -> list[str]:
    """One line per empty / unparsed rate that is high, or that differs between the models:
    a score can move because a model stopped answering in the expected form, not because it
    knows more or less."""
    out = []
    for what, hint in (("empty", "answered nothing"), ("unparsed", "gave no answer the task could read")):
        rates = [o.rate(what) for o in sides]
        high = [f"{n} {100 * r:.0f}% ({getattr(o, what)}/{o.answered})" for n, o, r in zip(names, sides, rates) if r >= HIGH_RATE]
        if high:
            out.append(f"{task}: {what} answers are frequent: {', '.join(high)} {hint}; they are scored as answered")
        elif abs(rates[0] - rates[1]) >= RATE_GAP:
            out.append(f"{task}: {what} answers differ between the models: "
                       + ", ".join(f"{n} {100 * r:.0f}%" for n, r in zip(names, rates)))
    return out


def item_range(metric: str, m=None) -> tuple[float, float] | None:
    """The range of one item's value when its statistics are (value, 1); None otherwise.
    ``exact_match[strict]`` is exact_match's; a scorer's 0/1 metric (refusal_rate) has (0, 1)."""
    from evalkit.metrics.registry import metric_for_result
    from evalkit.metrics.variant import split_variant
    from evalkit.scorers.base import ScorerMetric

    base = split_variant(metric)[0]
    if base in ITEM_RANGE:
        return ITEM_RANGE[base]
    m = m or metric_for_result(metric)
    # a ratio scorer metric has no per-item (value, 1) form; a 0/1 one does
    return m.value_range if isinstance(m, ScorerMetric) and m.binary and m.value_range else None


def impute(metric: str, higher_is_better: bool, sa: np.ndarray, sb: np.ndarray, miss_a: np.ndarray, miss_b: np.ndarray, m=None):
    """(base stats, candidate stats) on every item, the candidate's missing items at the metric's
    worst per-item value and the base's at its best; None when the metric has no per-item range."""
    rng = item_range(metric, m)
    if rng is None:
        return None
    lo, hi = rng
    best, worst = (hi, lo) if higher_is_better else (lo, hi)
    sa, sb = sa.copy(), sb.copy()
    sa[miss_a] = [best, 1.0]
    sb[miss_b] = [worst, 1.0]
    return sa, sb
