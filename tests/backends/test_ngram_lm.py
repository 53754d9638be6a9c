"""The embedded n-gram model: exact normalisation, a known-answer check against an
independent implementation of interpolated Kneser-Ney, generation, persistence."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from evalkit.backends.ngram_lm import EOS_TOKEN, KneserNeyLM, tokenize

TEXT = "the cat sat on the mat.\n\nthe dog sat on the log.\n\na cat and a dog met on a mat."
DOMAIN = "the app syncs notes.\n\nthe app exports notes to pdf."


def test_tokens_keep_white_space_so_text_round_trips():
    text = "Hello,  world!\nQ: x  \t"
    assert "".join(tokenize(text)) == text
    assert tokenize("Answer: yes") == ["Answer", ":", " yes"]


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_distribution_sums_to_one_over_vocabulary_plus_unknown(order):
    base = KneserNeyLM.train([TEXT], order)
    ft = base.continue_training([DOMAIN], 3.0)
    for lm in (base, ft):
        for history in ([], lm.encode("the"), lm.encode("on the"), lm.encode("zebra unseen words")):
            scalar = np.exp([lm.logprob(t, history) for t in range(lm.size)])
            assert scalar.sum() == pytest.approx(1.0, abs=1e-12)
            assert np.allclose(lm.distribution(history), scalar, rtol=1e-12)
            assert scalar[-1] > 0  # the unknown token keeps some mass


def _reference_kn(docs: list[list[str]], order: int, discounts, vocab_size: int):
    """Interpolated KN written from the textbook definition, independently of the model."""
    pad = ["<s>"] * (order - 1)
    top = Counter()
    for d in docs:
        seq = pad + d + [EOS_TOKEN]
        for i in range(order - 1, len(seq)):
            top[tuple(seq[i - order + 1 : i + 1])] += 1
    counts = {order: top}
    grams = set(top)
    for k in range(order - 1, 0, -1):
        counts[k] = Counter(g[1:] for g in grams)  # continuation counts: distinct left contexts
        grams = set(counts[k])

    def prob(w, hist):
        p = 1.0 / vocab_size
        for k in range(1, order + 1):
            ctx = tuple(hist[len(hist) - (k - 1):]) if k > 1 else ()
            row = {g[-1]: c for g, c in counts[k].items() if g[:-1] == ctx}
            if not row:
                continue
            total = sum(row.values())
            kept = sum(max(c - discounts[k], 0) for c in row.values())
            p = max(row.get(w, 0) - discounts[k], 0) / total + (1 - kept / total) * p
        return p

    return prob


def test_probabilities_match_an_independent_kneser_ney():
    order = 3
    lm = KneserNeyLM.train([TEXT], order)
    docs = [tokenize(d) for d in TEXT.split("\n\n")]
    ref = _reference_kn(docs, order, lm.discounts, lm.size)
    for history in (["<s>", "<s>"], ["<s>", "the"], [" the", " cat"], [" sat", " on"]):
        ids = [lm.index.get(t, -1) for t in history]  # -1 is the model's BOS
        for word in lm.vocab:
            assert math.exp(lm.logprob(lm.index[word], ids)) == pytest.approx(ref(word, history), rel=1e-12)


def test_continued_training_shifts_mass_toward_the_domain():
    base = KneserNeyLM.train([TEXT], 3)
    ft = base.continue_training([DOMAIN], 5.0)
    h_base, h_ft = base.encode("the"), ft.encode("the")
    assert math.exp(ft.logprob(ft.index[" app"], h_ft)) > math.exp(base.logprob(base.encode(" app")[0], h_base))
    assert ft.logprob(ft.index[" cat"], h_ft) < base.logprob(base.index[" cat"], h_base)


def test_greedy_generation_and_save_load(tmp_path):
    lm = KneserNeyLM.train([TEXT], 4)
    nxt = lm.greedy_next(lm.encode("the dog sat on"))
    assert lm.vocab[nxt] == " the"
    path = tmp_path / "m.npz"
    lm.save(path)
    again = KneserNeyLM.load(path)
    h = again.encode("a cat and")
    assert again.logprob(again.index[" a"], h) == lm.logprob(lm.index[" a"], h)
    # The tables come back equal and in the same order, so the loaded model is the same model.
    assert again.vocab == lm.vocab and again.discounts == lm.discounts
    assert [list(level.items()) for level in again.levels] == [list(level.items()) for level in lm.levels]


def test_continued_model_with_fractional_counts_round_trips(tmp_path):
    ft = KneserNeyLM.train([TEXT], 3).continue_training(["the app syncs\n\nthe app crashed, \x00odd"], 0.37)
    ft.save(tmp_path / "ft.npz")
    again = KneserNeyLM.load(tmp_path / "ft.npz")
    assert again.vocab == ft.vocab and again.levels == ft.levels


@pytest.mark.parametrize("damage", ["truncate", "garbage", "pickle", "object_array", "old_format"])
def test_a_damaged_or_foreign_model_file_is_refused_not_executed(tmp_path, damage):
    import pickle

    from evalkit.backends.ngram_lm import ModelFileError

    path = tmp_path / "m.npz"
    KneserNeyLM.train([TEXT], 3).save(path)
    marker = tmp_path / "ran"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"not a model" * 50)
    elif damage == "pickle":
        path.write_bytes(pickle.dumps(_Exploit(marker)))
    elif damage == "object_array":  # a well-formed npz whose member needs pickle to load
        np.savez(path, meta=np.array([_Exploit(marker)], dtype=object))
    else:
        np.savez(path, meta=np.frombuffer(b'{"format": 1}', dtype=np.uint8))
    with pytest.raises(ModelFileError):
        KneserNeyLM.load(path)
    assert not marker.exists()


class _Exploit:
    """A pickle that writes a marker file when it is unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))
