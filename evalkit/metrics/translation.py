"""BLEU and chrF from sacrebleu, with their signatures.

The corpus value comes from sacrebleu itself. For resampling, per-item sufficient statistics
come from sacrebleu too, and :meth:`from_stats` re-states sacrebleu's final formula in numpy
so that 10,000 bootstrap resamples cost one vectorised call instead of 10,000 Python calls;
a test checks it against ``_compute_score_from_stats`` on random statistics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evalkit.metrics.base import Metric, Observation

_TINY_LOG = -9999999999.0  # sacrebleu's my_log(0)


class _Sacre(Metric):
    scale = 1.0  # sacrebleu scores are already 0-100
    value_range = (0.0, 100.0)

    def __init__(self):
        self._metric = None

    def sacre(self):
        if self._metric is None:
            self._metric = self._make()
        return self._metric

    def item_stats(self, obs: Observation) -> list[float]:
        stats = self.sacre()._extract_corpus_statistics([obs.prediction or ""], [[r] for r in obs.references])
        return [float(x) for x in stats[0]]

    def item_score(self, stats):
        return None

    def compute(self, observations: Sequence[Observation]) -> float | None:
        if not observations:  # every item failed: there is no corpus to score
            return None
        hyps = [o.prediction or "" for o in observations]
        n_refs = max(len(o.references) for o in observations)
        refs = [[o.references[i] if i < len(o.references) else "" for o in observations] for i in range(n_refs)]
        return float(self.sacre().corpus_score(hyps, refs).score)

    def signature(self) -> str:
        try:
            return str(self.sacre().get_signature())
        except ValueError:
            # sacrebleu learns the number of references from a scored corpus; with no item
            # scored (all failed) there is none, and the value is absent too.
            return f"{self.name}: no items scored (every item failed); sacrebleu signature unknown"


class Bleu(_Sacre):
    name = "bleu"

    def _make(self):
        from sacrebleu.metrics import BLEU

        return BLEU()  # corpus defaults: exp smoothing, 13a tokenizer, 4-grams

    def from_stats(self, summed):
        s = np.asarray(summed, dtype=float)
        order = (s.shape[-1] - 2) // 2
        sys_len, ref_len = s[..., 0], s[..., 1]
        correct, total = s[..., 2 : 2 + order], s[..., 2 + order :]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / sys_len), 0.0), 1.0)
            zero = (correct == 0) & (total > 0)
            halvings = np.cumsum(zero, axis=-1)  # 'exp' smoothing: 1/2, 1/4, ... for each zero order
            prec = np.where(zero, 100.0 / (2.0**halvings * total), 100.0 * correct / np.where(total > 0, total, 1))
            # sacrebleu stops at the first order with no n-grams: the rest count as log(0).
            seen = np.cumprod(total > 0, axis=-1).astype(bool)
            logs = np.where(seen & (prec > 0), np.log(np.where(prec > 0, prec, 1)), _TINY_LOG)
            score = bp * np.exp(logs.mean(axis=-1))
        return np.where(correct.sum(axis=-1) > 0, score, 0.0)


class Chrf(_Sacre):
    name = "chrf"
    BETA = 2  # sacrebleu's CHRF default; a test checks from_stats against sacrebleu itself

    def _make(self):
        from sacrebleu.metrics import CHRF

        return CHRF()  # chrF2: 6 character orders, beta 2

    def from_stats(self, summed):
        s = np.asarray(summed, dtype=float)
        beta2 = self.BETA**2
        hyp, ref, match = s[..., 0::3], s[..., 1::3], s[..., 2::3]
        eff = (hyp > 0) & (ref > 0)
        n_eff = eff.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(eff, match / np.where(hyp > 0, hyp, 1), 0.0).sum(axis=-1)
            rec = np.where(eff, match / np.where(ref > 0, ref, 1), 0.0).sum(axis=-1)
            p = np.where(n_eff > 0, prec / np.maximum(n_eff, 1), 0.0)
            r = np.where(n_eff > 0, rec / np.maximum(n_eff, 1), 0.0)
            f = np.where(p + r > 0, (1 + beta2) * p * r / np.where(p + r > 0, beta2 * p + r, 1), 0.0)
        return 100.0 * f
