"""Known answers for every metric, and the resampling path (from_stats) against the library
that computes the headline number (scikit-learn, sacrebleu)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from evalkit.metrics.base import Observation
from evalkit.metrics.registry import make_metric
from evalkit.tasks.base import normalize

SQUAD = ["strip", "lower", "punctuation", "articles"]


def obs(pred, *refs, steps=SQUAD):
    return Observation(prediction=normalize(pred, steps), references=tuple(normalize(r, steps) for r in refs))


def test_exact_match_and_token_f1_squad_style():
    em, f1 = make_metric("exact_match"), make_metric("f1")
    assert em.item_stats(obs("The Eiffel Tower!", "eiffel tower")) == [1.0, 1.0]
    assert em.item_stats(obs("Eiffel", "eiffel tower")) == [0.0, 1.0]
    # pred {sync, notes, daily}, ref {sync, notes}: P = 2/3, R = 1, F1 = 0.8
    assert f1.item_stats(obs("sync notes daily", "sync notes"))[0] == pytest.approx(0.8)
    assert f1.item_stats(obs("nothing", "sync notes", "nothing at all"))[0] == pytest.approx(2 * (1 * 1 / 3) / (1 + 1 / 3))


def test_rouge_l_against_hand_lcs_and_rouge_score():
    # LCS("a b c d", "a c d e") = "a c d" = 3; P = R = 3/4 -> F = 0.75
    r = make_metric("rouge_l")
    assert r.item_stats(obs("a b c d", "a c d e", steps=["strip"]))[0] == pytest.approx(0.75)
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = random.Random(5)
    words = ["Sync", "notes", "the", "vault", "E142", "open", "settings", "café", "a-b", "2FA", "!"]
    for _ in range(200):
        pred = " ".join(rng.choice(words) for _ in range(rng.randint(0, 9)))
        ref = " ".join(rng.choice(words) for _ in range(rng.randint(1, 9)))
        expected = scorer.score(ref, pred)["rougeL"].fmeasure
        assert r.item_stats(Observation(prediction=pred, references=(ref,)))[0] == pytest.approx(expected, abs=1e-12)


def test_number_normalisation():
    assert normalize(" 1,000.0 ", ["numbers", "strip"]) == "1000"
    assert normalize("12.50", ["numbers"]) == "12.5"
    assert normalize("The  Answer, is 7.", ["lower", "punctuation", "articles"]) == "answer is 7"


def test_macro_f1_resampling_path_matches_sklearn():
    from sklearn.metrics import f1_score

    labels = ["billing", "sync", "account", "export"]
    rng = random.Random(3)
    m = make_metric("macro_f1", labels=labels)
    for _ in range(20):
        n = rng.randint(5, 60)
        gold = [rng.choice(labels) for _ in range(n)]
        pred = [rng.choice(labels + ["unparsed"]) for _ in range(n)]
        observations = [Observation(prediction=p, references=(g,)) for p, g in zip(pred, gold)]
        stats = np.array([m.item_stats(o) for o in observations])
        expected = f1_score(gold, pred, labels=labels, average="macro", zero_division=0)
        assert m.from_stats(stats.sum(0)) == pytest.approx(expected, abs=1e-12)
        assert m.compute(observations) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", ["bleu", "chrf"])
def test_sacrebleu_resampling_path_matches_sacrebleu(name):
    words = "el la de que y a en un ser se no por con su para como estar tener le lo todo".split()
    rng = random.Random(1)
    m = make_metric(name)
    observations = [
        Observation(
            prediction=" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))),
            references=(" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))),),
        )
        for _ in range(120)
    ]
    stats = np.array([m.item_stats(o) for o in observations])
    idx = np.random.default_rng(0).integers(0, len(observations), size=(200, len(observations)))
    sums = stats[idx].sum(axis=1)
    ours = m.from_stats(sums)
    theirs = [m.sacre()._compute_score_from_stats(list(row)).score for row in sums]
    assert np.allclose(ours, theirs, atol=1e-9)
    assert m.compute(observations) == pytest.approx(float(m.from_stats(stats.sum(0))), abs=1e-9)
    assert "version:" in m.signature()


def test_bits_per_byte_and_perplexities_known_answers():
    bpb = make_metric("bits_per_byte")
    o = Observation(nll=1000.0, n_bytes=2000, n_words=400, n_tokens=500)
    assert bpb.from_stats(np.array(bpb.item_stats(o))) == pytest.approx(0.7213, abs=1e-4)
    assert make_metric("word_perplexity").compute([o]) == pytest.approx(math.exp(1000 / 400))
    assert make_metric("token_perplexity").compute([o]) == pytest.approx(math.exp(2.0))
    assert not bpb.higher_is_better


def test_unknown_metric_lists_known_ones():
    from evalkit.errors import ConfigError

    with pytest.raises(ConfigError, match="known: .*bleu"):
        make_metric("blue")
