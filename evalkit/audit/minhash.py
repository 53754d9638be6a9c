"""Near duplicates: an eval item and a training document whose word-shingle sets have a
Jaccard similarity of at least ``threshold``, estimated with MinHash and found with banded
LSH (Broder 1997; Leskovec et al., Mining of Massive Datasets, ch. 3).

Why not datasketch's objects: they cost about 0.7 ms per text here (one Python MinHash and
one LSH insert each), so 100,000 eval items took over a minute before any training text was
read. This module computes the same signatures, datasketch's "affine32" scheme (murmur3
finaliser, then h -> a*h + b mod 2**32, minimum over shingles), for thousands of texts in
one numpy pass; a test checks them against datasketch's MinHash value for value.

Jaccard(A, B) >= t needs t * |A| <= |B| <= |A| / t, so a training document far longer or
shorter than every eval text cannot be a near duplicate of one and is skipped unhashed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from evalkit.audit.normalize import tokens

NUM_PERM = 128
SHINGLE = 3  # words per shingle: word order matters, a bag of words would not do
_BATCH_DOCS = 20_000  # training documents hashed per numpy pass
_CHUNK_SHINGLES = 200_000  # rows of the (shingles x permutations) matrix at a time: ~100 MB


_MIX = np.uint32(0x01000193)  # FNV's odd prime: combines a shingle's word hashes in order
_BYTE = 0x100000001B3  # FNV-64's odd prime: the per-byte polynomial of a word's hash
_BYTE_INV = pow(_BYTE, -1, 1 << 64)


def word_hash(word: str) -> int:
    """A word's 32-bit hash: sum of its UTF-8 bytes times _BYTE**k mod 2**64, folded. The
    reference for ``_word_hashes``, which computes it for millions of words with prefix sums."""
    h = sum(byte * pow(_BYTE, k, 1 << 64) for k, byte in enumerate(word.encode())) % (1 << 64)
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def _word_hashes(texts: list[list[str]], n_words: int) -> np.ndarray:
    """``word_hash`` of every word of every text, in order, without a Python call per word
    (deterministic, unlike Python's salted hash): h(s..e) = (P[e] - P[s]) * _BYTE**-s with
    P the prefix sums of byte * _BYTE**position, all mod 2**64 (numpy's uint64 wraps)."""
    if n_words == 0:
        return np.zeros(0, dtype=np.uint32)
    buf = np.frombuffer(" ".join(w for t in texts for w in t).encode(), dtype=np.uint8)
    spaces = np.flatnonzero(buf == 32)  # words hold no whitespace, and UTF-8 never uses 0x20 inside a character
    starts = np.concatenate([[0], spaces + 1])
    ends = np.concatenate([spaces, [len(buf)]])
    with np.errstate(over="ignore"):
        powers = np.multiply.accumulate(np.full(len(buf), _BYTE, dtype=np.uint64))
        powers = np.concatenate([[np.uint64(1)], powers[:-1]])
        inverse = np.multiply.accumulate(np.full(len(buf), _BYTE_INV, dtype=np.uint64))
        inverse = np.concatenate([[np.uint64(1)], inverse[:-1]])
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(buf.astype(np.uint64) * powers, dtype=np.uint64)])
        h = (prefix[ends] - prefix[starts]) * inverse[starts]
    return ((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def shingle_hash(words: list[str]) -> int:
    """One shingle's 32-bit hash from its words' (the reference for ``shingle_hashes``)."""
    h = 0
    for w in words:
        h = (h * int(_MIX) + word_hash(w)) & 0xFFFFFFFF
    return h


def shingle_hashes(texts: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(hashes of every text's 3-word shingles, concatenated; shingles per text). A text of 1
    or 2 words is one shingle; an empty one has none."""
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    flat = _word_hashes(texts, int(lens.sum()))
    width = np.minimum(lens, SHINGLE)
    counts = np.where(lens > 0, lens - width + 1, 0)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    text = np.repeat(np.arange(len(texts)), counts)
    start = offsets[text] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.zeros(len(start), dtype=np.uint32)
    with np.errstate(over="ignore"):
        for j in range(SHINGLE):
            take = width[text] > j
            out[take] = out[take] * _MIX + flat[start[take] + j]
    return out, counts


def _fmix32(h: np.ndarray) -> np.ndarray:
    """murmur3's finaliser: spreads CRC-32's linear structure over all bits."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def permutations(seed: int, num_perm: int = NUM_PERM) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)  # odd: a bijection mod 2**32
    return a, rng.integers(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32)


def signatures(hashes: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(texts, permutations) MinHash signatures from ``shingle_hashes``; every text needs at
    least one shingle. The matrix is (permutations, shingles): reducing along its rows is
    several times faster than along columns."""
    out = np.empty((len(counts), len(a)), dtype=np.uint32)
    ends = np.cumsum(counts)
    first = 0
    with np.errstate(over="ignore"):
        while first < len(counts):
            lo = ends[first] - counts[first]
            last = max(first + 1, int(np.searchsorted(ends, lo + _CHUNK_SHINGLES, "right")))
            hv = _fmix32(hashes[lo:ends[last - 1]])
            starts = (ends[first:last] - counts[first:last]) - lo
            out[first:last] = np.minimum.reduceat(a[:, None] * hv[None, :] + b[:, None], starts, axis=1).T
            first = last
    return out


@lru_cache(maxsize=32)
def bands_for(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows) minimising the false positive + false negative probability mass around
    ``threshold``, as datasketch's MinHashLSH chooses them (its integrals, by the trapezoid
    rule on a fine grid instead of one scipy quad call per candidate)."""
    best, best_err = (1, num_perm), float("inf")
    below, above = np.linspace(0.0, threshold, 2001), np.linspace(threshold, 1.0, 2001)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = np.trapezoid(1 - (1 - below ** rows) ** bands, below)
            fn = np.trapezoid((1 - above ** rows) ** bands, above)
            if fp + fn < best_err:
                best, best_err = (bands, rows), fp + fn
    return best


def _band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(texts, bands) 64-bit keys: a text and a document share a bucket when one band agrees."""
    mult = np.uint64(0x9E3779B97F4A7C15)
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            keys = keys * mult + sig[:, r:bands * rows:rows].astype(np.uint64) + np.uint64(1)
    return keys


class NearDuplicates:
    def __init__(self, texts: dict[tuple, str], threshold: float = 0.8, seed: int = 1):
        self.threshold = threshold
        self.a, self.b = permutations(seed)
        self.bands, self.rows = bands_for(threshold)
        keys = list(texts)
        hashes, counts = shingle_hashes([tokens(texts[k]) for k in keys])
        keep = counts > 0
        self.keys = [k for k, ok in zip(keys, keep) if ok]
        self.sig = signatures(hashes, counts[keep], self.a, self.b)
        sizes = counts[keep]  # shingles counted with repeats: a bound, see scan
        self._min, self._max = (threshold * sizes.min(), sizes.max() / threshold) if len(sizes) else (1, 0)
        bk = _band_keys(self.sig, self.bands, self.rows)
        self._tables = [(bk[order, j], order) for j in range(self.bands) for order in [np.argsort(bk[:, j], kind="stable")]]
        self._pending: list[list[str]] = []
        self.best = np.zeros(len(self.keys))  # best estimated Jaccard per eval text

    def found(self) -> dict[tuple, float]:
        return {self.keys[i]: float(self.best[i]) for i in np.flatnonzero(self.best >= self.threshold)}

    def scan(self, toks: list[str]) -> None:
        """One training document, as normalised tokens (hashed in batches; ``flush`` at the end).
        Documents whose shingle count (with repeats) is outside the Jaccard bounds of every
        eval text are skipped unhashed; a document that repeats itself heavily could be
        skipped wrongly, a price for not hashing every long document."""
        if not self.keys or not (self._min <= max(len(toks) - SHINGLE + 1, 1) <= self._max):
            return
        self._pending.append(toks)
        if len(self._pending) >= _BATCH_DOCS:
            self.flush()

    def flush(self) -> None:
        docs, self._pending = [d for d in self._pending if d], []
        if not docs:
            return
        hashes, counts = shingle_hashes(docs)
        sig = signatures(hashes, counts, self.a, self.b)
        dk = _band_keys(sig, self.bands, self.rows)
        pairs = []
        for j, (table, order) in enumerate(self._tables):
            lo, hi = np.searchsorted(table, dk[:, j], "left"), np.searchsorted(table, dk[:, j], "right")
            n = hi - lo
            if not n.sum():
                continue
            doc = np.repeat(np.arange(len(docs)), n)
            row = np.repeat(lo, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            pairs.append(np.stack([doc, order[row]], axis=1))
        if not pairs:
            return
        doc, item = np.unique(np.concatenate(pairs), axis=0).T
        jac = (sig[doc] == self.sig[item]).mean(axis=1)  # the MinHash estimate of Jaccard
        np.maximum.at(self.best, item, jac)
