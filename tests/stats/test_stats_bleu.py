"""paired_bootstrap on corpus BLEU, lined up against sacrebleu's own paired bootstrap.

sacrebleu (significance._paired_bs_test) draws ``default_rng(seed).choice(n, (B, n))``
and computes ``p = (1 + #{|d*| - mean|d*| > |d|}) / (1 + B)``: it counts only the
upper tail of the folded resampled differences, so where the resampled deltas rarely
cross zero it is a one-sided p. evalkit's p is two-sided,
``(1 + #{|d* - mean d*| >= |d|}) / (1 + B)``, hence about twice sacrebleu's there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.stats import bootstrap_deltas, paired_bootstrap

sacrebleu = pytest.importorskip("sacrebleu")
from sacrebleu.metrics import BLEU  # noqa: E402
from sacrebleu.significance import PairedTest  # noqa: E402

SUBJECTS = ["the cat", "a dog", "my neighbour", "the old man", "our teacher",
            "the child", "a farmer", "the pilot", "her sister", "the doctor"]
VERBS = ["sees", "likes", "paints", "carries", "finds", "follows"]
OBJECTS = ["a red ball", "the small house", "an old boat", "the green door", "a long letter",
           "the quiet river", "a heavy box", "the new car", "a broken chair", "the tall tree"]
TAILS = ["every morning", "near the station", "after the rain", "in the garden",
         "before dinner", "without a word"]
B = 1000
SEED = 12345


def _references() -> list[str]:
    """60 synthetic reference sentences."""
    return [f"{SUBJECTS[i % 10]} {VERBS[i % 6]} {OBJECTS[(3 * i) % 10]} {TAILS[(5 * i) % 6]} ."
            for i in range(60)]


def _corrupt(sentence: str, rate: float, rng: np.random.Generator) -> str:
    """Replace each word with a random vocabulary word with probability ``rate``."""
    vocab = " ".join(SUBJECTS + OBJECTS + VERBS + TAILS).split()
    return " ".join(vocab[rng.integers(len(vocab))] if rng.random() < rate else w
                    for w in sentence.split())


def _systems() -> tuple[list[str], list[str], list[str]]:
    refs = _references()
    rng = np.random.default_rng(2)  # chosen so the difference is borderline (p ~ 0.02-0.05)
    base = [_corrupt(s, 0.30, rng) for s in refs]
    finetune = [_corrupt(s, 0.20, rng) for s in refs]
    return refs, base, finetune


def _bleu_from_stats(bleu: BLEU):
    """Vectorised wrapper: BLEU of each row of summed sufficient statistics."""
    def from_stats(summed: np.ndarray) -> np.ndarray:
        summed = np.asarray(summed)
        rows = summed.reshape(-1, summed.shape[-1])
        scores = [bleu._compute_score_from_stats(row).score for row in rows]
        return np.array(scores).reshape(summed.shape[:-1])
    return from_stats


@pytest.fixture(scope="module")
def bleu_case():
    refs, base, finetune = _systems()
    bleu = BLEU()
    stats_a = np.array(bleu._extract_corpus_statistics(base, [refs]), dtype=np.float64)
    stats_b = np.array(bleu._extract_corpus_statistics(finetune, [refs]), dtype=np.float64)
    return refs, base, finetune, bleu, stats_a, stats_b


@pytest.fixture(scope="module")
def sacrebleu_p(bleu_case):
    refs, base, finetune, _, _, _ = bleu_case
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SACREBLEU_SEED", str(SEED))
        test = PairedTest([("base", base), ("ft", finetune)], {"BLEU": BLEU()}, [refs],
                          test_type="bs", n_samples=B)
        _, scores = test()
    return scores["BLEU"][1].p_value


def test_point_estimate_is_corpus_bleu(bleu_case):
    refs, base, finetune, bleu, stats_a, stats_b = bleu_case
    assert stats_a.shape == (60, 2 + 2 * bleu.max_ngram_order)
    res = paired_bootstrap(stats_a, stats_b, _bleu_from_stats(bleu), n_resamples=50,
                           rng=np.random.default_rng(0))
    expected = BLEU().corpus_score(finetune, [refs]).score - BLEU().corpus_score(base, [refs]).score
    assert res.delta == pytest.approx(expected, rel=1e-12)


def test_same_resamples_reproduce_sacrebleu_p_exactly(bleu_case, sacrebleu_p):
    _, _, _, bleu, stats_a, stats_b = bleu_case
    from_stats = _bleu_from_stats(bleu)
    # Same seed -> same item draws as sacrebleu (integers() and choice() share a stream).
    deltas = bootstrap_deltas(stats_a, stats_b, from_stats, n_resamples=B,
                              rng=np.random.default_rng(SEED))
    delta = float(from_stats(stats_b.sum(0)) - from_stats(stats_a.sum(0)))
    folded = np.abs(deltas)
    p_sacrebleu_formula = (1 + np.count_nonzero(folded - folded.mean() > abs(delta))) / (1 + B)
    assert p_sacrebleu_formula == pytest.approx(sacrebleu_p, abs=1.5 / (1 + B))


@pytest.mark.parametrize("seed", [SEED, 99])
def test_two_sided_p_is_twice_sacrebleu_p(bleu_case, sacrebleu_p, seed):
    _, _, _, bleu, stats_a, stats_b = bleu_case
    res = paired_bootstrap(stats_a, stats_b, _bleu_from_stats(bleu), n_resamples=B,
                           rng=np.random.default_rng(seed))
    # Precondition for "one-sided == half of two-sided": resampled deltas rarely cross 0.
    assert res.ci_low > 0 and 0.005 < sacrebleu_p < 0.05
    expected = 2 * sacrebleu_p
    # Monte-Carlo SD of each p with B resamples, combined as if independent (seed 99).
    mc_sd = math.sqrt(res.p_value * (1 - res.p_value) / B + 4 * sacrebleu_p * (1 - sacrebleu_p) / B)
    assert abs(res.p_value - expected) <= 4 * mc_sd


def test_chrf_through_evalkits_metric_agrees_with_sacrebleus_paired_test(monkeypatch):
    """chrF as evalkit's compare computes it (metrics.translation.Chrf, vectorised from
    statistics) against sacrebleu's paired bootstrap on the same two systems."""
    from sacrebleu.metrics import CHRF

    from evalkit.metrics.translation import Chrf

    refs, base, finetune = _systems()
    monkeypatch.setenv("SACREBLEU_SEED", str(SEED))
    _, scores = PairedTest([("base", base), ("ft", finetune)], {"chrF": CHRF()}, [refs], test_type="bs", n_samples=B)()
    theirs = scores["chrF2"][1].p_value
    metric, chrf = Chrf(), CHRF()
    sa = np.array(chrf._extract_corpus_statistics(base, [refs]), dtype=np.float64)
    sb = np.array(chrf._extract_corpus_statistics(finetune, [refs]), dtype=np.float64)
    deltas = bootstrap_deltas(sa, sb, metric.from_stats, n_resamples=B, rng=np.random.default_rng(SEED))
    delta = float(metric.from_stats(sb.sum(0)) - metric.from_stats(sa.sum(0)))
    folded = np.abs(deltas)
    assert (1 + np.count_nonzero(folded - folded.mean() > abs(delta))) / (1 + B) == pytest.approx(theirs, abs=1.5 / (1 + B))
    ours = paired_bootstrap(sa, sb, metric.from_stats, n_resamples=B, rng=np.random.default_rng(99))
    assert ours.ci_low > 0 and 0.002 < theirs < 0.05
    mc_sd = math.sqrt(ours.p_value * (1 - ours.p_value) / B + 4 * theirs * (1 - theirs) / B)
    assert abs(ours.p_value - 2 * theirs) <= 4 * mc_sd
