"""Near duplicates: an eval item and a training document whose word-shingle sets have a
Jaccard similarity of at least ``threshold``, estimated with MinHash and found with LSH
(``datasketch``, imported only when an audit runs).

Jaccard(A, B) >= t needs t * |A| <= |B| <= |A| / t, so a training document far longer than
every eval text cannot be a near duplicate of one and is skipped before hashing: that keeps
the cost on long documents at zero.
"""

from __future__ import annotations

from hashlib import blake2b

from evalkit.audit.normalize import tokens
from evalkit.errors import MissingExtra

NUM_PERM = 128
SHINGLE = 3  # words per shingle: word order matters, a bag of words would not do


def shingles(toks: list[str]) -> set[bytes]:
    if len(toks) < SHINGLE:
        return {" ".join(toks).encode()} if toks else set()
    return {" ".join(toks[i:i + SHINGLE]).encode() for i in range(len(toks) - SHINGLE + 1)}


def _hash32(b: bytes) -> int:
    # datasketch's default is SHA-1 per shingle; BLAKE2b cut to 4 bytes is as well mixed and
    # cheaper. Not Python's hash(): salted per process, it would make the estimates vary run to run.
    return int.from_bytes(blake2b(b, digest_size=4).digest(), "little")


def _datasketch():
    try:
        import datasketch
    except ImportError:
        raise MissingExtra("datasketch", "audit") from None
    return datasketch


class NearDuplicates:
    def __init__(self, texts: dict[tuple, str], threshold: float = 0.8, seed: int = 1):
        ds = _datasketch()
        self._ds, self.threshold, self.seed = ds, threshold, seed
        self._lsh = ds.MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        # Drawing the permutations costs more than hashing a paragraph: draw them once.
        self._perm = ds.MinHash(num_perm=NUM_PERM, seed=seed, hashfunc=_hash32, scheme="affine32").permutations
        self._hashes: dict[tuple, object] = {}
        sizes = []
        for key, text in texts.items():
            s = shingles(tokens(text))
            if not s:
                continue
            mh = self._minhash(s)
            self._lsh.insert(key, mh)
            self._hashes[key] = mh
            sizes.append(len(s))
        self._min, self._max = (threshold * min(sizes), max(sizes) / threshold) if sizes else (1, 0)
        self.found: dict[tuple, float] = {}  # eval key -> best estimated Jaccard

    def _minhash(self, s: set[bytes]):
        mh = self._ds.MinHash(num_perm=NUM_PERM, seed=self.seed, hashfunc=_hash32, permutations=self._perm,
                              scheme="affine32")
        mh.update_batch(list(s))
        return mh

    def scan(self, toks: list[str]) -> None:
        """One training document, as normalised tokens."""
        # The shingle count is len(toks) - 2: a cheap bound before any hashing.
        if not self._hashes or not (self._min <= max(len(toks) - SHINGLE + 1, 1) <= self._max):
            return
        s = shingles(toks)
        mh = self._minhash(s)
        for key in self._lsh.query(mh):
            j = float(self._hashes[key].jaccard(mh))
            if j >= self.threshold and j > self.found.get(key, 0.0):
                self.found[key] = j
