"""Perplexity as bits per byte (the headline: it compares across tokenizers), word perplexity,
and token perplexity (only beside them: it does not compare across tokenizers)."""

from __future__ import annotations

import math

import numpy as np

from evalkit.metrics.base import Metric, Observation


class _RatioOfSums(Metric):
    higher_is_better = False

    def item_score(self, stats):
        return float(self.from_stats(np.asarray(stats)))


class BitsPerByte(_RatioOfSums):
    name = "bits_per_byte"

    def item_stats(self, obs: Observation) -> list[float]:
        return [obs.nll, float(obs.n_bytes)]

    def from_stats(self, summed):
        summed = np.asarray(summed, dtype=float)
        return summed[..., 0] / summed[..., 1] / math.log(2)


class WordPerplexity(_RatioOfSums):
    name = "word_perplexity"

    def item_stats(self, obs: Observation) -> list[float]:
        return [obs.nll, float(obs.n_words)]

    def from_stats(self, summed):
        summed = np.asarray(summed, dtype=float)
        return np.exp(summed[..., 0] / summed[..., 1])


class TokenPerplexity(WordPerplexity):
    name = "token_perplexity"

    def item_stats(self, obs: Observation) -> list[float]:
        return [obs.nll, float(obs.n_tokens)]
