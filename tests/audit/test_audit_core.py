"""The audit's core: planted overlaps found with their span, near duplicates, clean items
left alone, the training formats, and streaming in small chunks."""

from __future__ import annotations

import json

import pytest

from evalkit.audit.audit import AuditSettings, EvalText, run_audit
from evalkit.audit.normalize import normalize
from evalkit.audit.training import iter_pieces
from evalkit.errors import DataError

FILLER = ("the quick brown fox jumps over a lazy dog while seven wise owls count the silver stars "
          "above an old mill near the river bend on a cold and windy autumn night ").split()
# 20 words no other text here contains, planted in training text below
PLANTED = ("zebra quantum lantern mosaic velvet harbor crimson falcon tundra willow "
           "copper meadow saffron glacier orchid ember nimbus pepper cobalt juniper")


def filler(k: int, offset: int = 0) -> str:
    return " ".join(FILLER[(offset + i) % len(FILLER)] for i in range(k))


def items() -> list[EvalText]:
    return [
        # prompt carries 15 of the planted words (after normalisation: case and punctuation differ)
        EvalText("t", "dirty-prompt", "Q: " + PLANTED.split(" ", 2)[2].upper().replace(" ", ", ", 3) + "?", "answer"),
        # reference shares exactly 13 planted words
        EvalText("t", "dirty-ref", "What is it?", " ".join(PLANTED.split()[:13])),
        # 12 planted words: no 13-gram, and 12 >= min_tokens... but the whole text is not in training
        EvalText("t", "clean-12", "Tell me", " ".join(PLANTED.split()[:12]) + " unicorn"),
        EvalText("t", "clean", "How many owls count silver moons over mountains in spring today?", "Seven."),
    ]


def test_normalize_as_gpt3():
    assert normalize("Sign OUT,  and\tsign-back in!") == "sign out and sign back in"


def test_planted_overlaps_found_with_their_span(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text(f"{filler(40)} {PLANTED}. {filler(30, 5)}\n\n{filler(50, 3)}\n")
    res = run_audit(items(), [train], AuditSettings(near_duplicate=None))
    found = {f.id: f for f in res.findings}
    assert set(found) == {"dirty-prompt", "dirty-ref"}
    planted = PLANTED.split()
    assert found["dirty-prompt"].longest_span == " ".join(planted[2:]) and found["dirty-prompt"].span_tokens == 18
    assert found["dirty-prompt"].matched == ["prompt"]
    assert found["dirty-ref"].longest_span == " ".join(planted[:13]) and found["dirty-ref"].matched == ["reference"]
    assert res.tasks[0].items == 4 and res.tasks[0].contaminated == 2


def test_overlap_across_a_document_boundary_is_not_a_match(tmp_path):
    planted = PLANTED.split()
    train = tmp_path / "train.txt"
    train.write_text(" ".join(planted[:7]) + "\n\n" + " ".join(planted[7:13]) + "\n")  # split by a blank line
    res = run_audit(items(), [train], AuditSettings(near_duplicate=None))
    assert not res.findings


def test_short_text_counts_only_when_whole_and_long_enough(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("Answer: sign out and sign back in to refresh your session.\n\nIntent: billing\n")
    its = [EvalText("t", "a", "How do I fix E100?", "Sign out and sign back in to refresh your session."),
           EvalText("t", "b", "Message: charged twice", "billing"),  # 1 token < min_tokens
           EvalText("t", "c", "x", "sign out and sign back in to refresh your session now")]  # not whole in training
    res = run_audit(its, [train], AuditSettings(near_duplicate=None, min_tokens=8))
    assert [(f.id, f.span_tokens) for f in res.findings] == [("a", 10)]


def test_near_duplicate_found(tmp_path):
    pytest.importorskip("datasketch")
    base = ("customers on the pro plan can restore deleted notes from the trash for thirty days after "
            "they remove them and admins of team workspaces can restore notes for their members too while "
            "guests who only read a shared notebook never see the trash of its owner and cannot restore "
            "anything that the owner removed from a shared notebook on any plan at all")
    # One word changed: 3 of ~60 shingles differ (Jaccard about 0.9); n-grams of 100 and a whole-text
    # minimum of 100 tokens (both longer than the text) switch the exact check off, so only MinHash can find it.
    near = base.replace("thirty", "30")
    head, _, tail = near.partition(" trash ")
    its = [EvalText("t", "near", head + " trash", tail),
           EvalText("t", "far", "what colour is the sky on a clear day at noon", "blue")]
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"text": base}) + "\n" + json.dumps({"text": "completely unrelated text " * 5}) + "\n")
    res = run_audit(its, [train], AuditSettings(ngram=100, min_tokens=100, near_duplicate=0.8))
    found = {f.id: f for f in res.findings}
    assert set(found) == {"near"} and found["near"].matched == ["near_duplicate"]
    assert found["near"].jaccard >= 0.8


def test_three_training_formats_read(tmp_path):
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "hello there"},
                                             {"role": "assistant", "content": [{"type": "text", "text": "general kenobi"}]}]}) + "\n")
    pc = tmp_path / "pc.jsonl"
    pc.write_text(json.dumps({"prompt": "two plus two", "completion": "four"}) + "\n\n")
    plain = tmp_path / "plain.txt"
    plain.write_text("first paragraph\nstill first\n\n  \n\nsecond paragraph\n")
    assert [p.text for p in iter_pieces(chat)] == ["hello there\ngeneral kenobi"]
    assert [p.text for p in iter_pieces(pc)] == ["two plus two\nfour"]
    assert [p.text.strip() for p in iter_pieces(plain)] == ["first paragraph\nstill first", "second paragraph"]


def test_bad_training_record_is_a_data_error_with_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"input": "x"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: a training record needs"):
        list(iter_pieces(bad))


def test_streaming_in_tiny_chunks_finds_the_same(tmp_path):
    """A file read 7 characters at a time, its one long document cut into many pieces, gives
    the same findings as a whole read: windows across the cuts are still looked up."""
    train = tmp_path / "train.txt"
    train.write_text(f"{filler(60)} {PLANTED} {filler(60, 2)}\n\n{filler(20)}\n")
    pieces = list(iter_pieces(train, chunk_chars=7))
    assert len(pieces) > 50 and any(p.continues for p in pieces)
    assert max(len(p.text) for p in pieces) <= 2 * 7 + 20  # bounded by the chunk, not the file
    whole = run_audit(items(), [train], AuditSettings(near_duplicate=None))
    tiny = run_audit(items(), [train], AuditSettings(near_duplicate=None), chunk_chars=7)
    assert [(f.id, f.longest_span) for f in tiny.findings] == [(f.id, f.longest_span) for f in whole.findings]
    assert len(tiny.findings) == 2


def test_minhash_signatures_equal_datasketch():
    """The numpy signatures are datasketch's affine32 MinHash, value for value, given the same
    shingle hash and permutations."""
    import numpy as np

    ds = pytest.importorskip("datasketch")
    from evalkit.audit.minhash import shingle_hash, shingle_hashes, signatures

    texts = [filler(k, k).split() for k in (1, 2, 3, 10, 40)] + [PLANTED.split(), ["café", "señal", "naïve", "x"]]
    hashes, counts = shingle_hashes(texts)
    assert list(counts) == [1, 1, 1, 8, 38, 18, 2]
    a, b = ds.MinHash(num_perm=64, seed=7, scheme="affine32").permutations
    ours = signatures(hashes, counts, a.astype(np.uint32), b.astype(np.uint32))
    for toks, row in zip(texts, ours):
        grams = [" ".join(toks[i:i + 3]) for i in range(max(len(toks) - 2, 1))]
        mh = ds.MinHash(num_perm=64, seed=7, scheme="affine32", hashfunc=lambda x: shingle_hash(x.decode().split()))
        mh.update_batch([g.encode() for g in grams])
        assert np.array_equal(row, mh.hashvalues)


def test_ascii_fast_path_normalises_as_the_regex():
    import re
    import string

    from evalkit.audit.normalize import tokens

    text = string.printable + " Ünïcode café, ¿qué? x_y \x00\x07 end"
    for t in (text, text.encode("ascii", "ignore").decode()):
        assert tokens(t) == re.sub(r"[^\w\s]|_", " ", t.lower()).split()


def test_bands_and_rows_as_datasketch_chooses_them():
    lsh = pytest.importorskip("datasketch.lsh")
    from evalkit.audit.minhash import bands_for

    for t in (0.5, 0.8, 0.9):
        assert bands_for(t) == lsh._optimal_param(t, 128, 0.5, 0.5)
