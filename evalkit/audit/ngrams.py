"""Exact n-gram overlap between eval texts and a stream of training text, vectorised.

Every token becomes a 64-bit hash; an n-gram's key is the polynomial sum of its tokens'
hashes (uint64 arithmetic wraps, which is what we want), computed for a whole chunk at once
with numpy and looked up in the sorted eval keys with ``searchsorted``. Python touches a
token once (to hash it), so the scan runs at numpy speed. A key collision between two
different 64-bit n-grams is about 1 in 2**64 per lookup: negligible next to the data.

A text shorter than ``n`` tokens can share no n-gram; as in the GPT-3 paper, it counts as
contaminated when the whole text occurs in the training text, from ``min_tokens`` tokens up
(shorter ones, "yes" or an intent label, occur in any text).
"""

from __future__ import annotations

import numpy as np

from evalkit.audit.normalize import tokens

_SEP = "\x00"  # never a token: normalisation removes it, so no eval window contains it
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd: powers of it never vanish mod 2**64


def token_hashes(toks: list[str]) -> np.ndarray:
    # Python's str hash is salted per process, but eval and training are hashed in the same one.
    return np.fromiter(map(hash, toks), dtype=np.int64, count=len(toks)).view(np.uint64)


def _powers(n: int) -> np.ndarray:
    out = np.ones(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(1, n):
            out[i] = out[i - 1] * _MULT
    return out


_FILTER_BITS = 27  # 16 MB per window length: about 1 % of bits set for a million keys


def _bit_filter(keys: np.ndarray) -> np.ndarray:
    bits = np.zeros(1 << (_FILTER_BITS - 3), dtype=np.uint8)
    top = keys >> np.uint64(64 - _FILTER_BITS)
    np.bitwise_or.at(bits, (top >> np.uint64(3)).astype(np.int64), (np.uint8(1) << (top & np.uint64(7)).astype(np.uint8)))
    return bits


def _maybe(bits: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """True where a key may be in the filter's set (never False for one that is)."""
    top = keys >> np.uint64(64 - _FILTER_BITS)
    return (bits[(top >> np.uint64(3)).astype(np.int64)] >> (top & np.uint64(7)).astype(np.uint8)) & np.uint8(1) == 1


class NgramIndex:
    """The eval texts' n-grams; ``scan`` training pieces into it, ``flush``, then ``longest``
    per text. Built with numpy over all texts at once: 100,000 items are a few arrays, not
    100,000 small ones."""

    def __init__(self, texts: dict[tuple, str], n: int = 13, min_tokens: int = 8, batch_tokens: int = 1 << 20):
        self.n, self.powers, self.batch_tokens = n, _powers(n), batch_tokens
        self._pending: list[str] = []
        self._carry = np.zeros(0, dtype=np.uint64)
        self._hits: list[tuple[np.ndarray, np.ndarray]] = []  # (text index, window start) of matches
        self.keys, self.tokens = [], []
        for key, text in texts.items():
            toks = tokens(text)
            if min(len(toks), n) >= min(min_tokens, n):  # shorter: too short to say anything
                self.keys.append(key)
                self.tokens.append(toks)
        lens = np.array([len(t) for t in self.tokens], dtype=np.int64)
        self.window = np.minimum(lens, n)
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        flat = token_hashes([w for t in self.tokens for w in t])
        self._tables = {}  # window length -> (sorted keys, text index, window start), in key order
        self._filters = {}  # window length -> bit set of the keys' top bits: most windows fail it at once
        acc = np.zeros(len(flat), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for length in range(1, n + 1):
                m = len(flat) - length + 1
                if m <= 0:
                    break
                acc = acc[:m] + flat[length - 1:] * self.powers[length - 1]
                texts_here = np.flatnonzero(self.window == length)
                if not len(texts_here):
                    continue
                counts = lens[texts_here] - length + 1  # windows per text (1 for a short, whole text)
                idx = np.repeat(texts_here, counts)
                pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
                keys = acc[offsets[idx] + pos]
                order = np.argsort(keys, kind="stable")
                self._tables[length] = (keys[order], idx[order], pos[order])
                self._filters[length] = _bit_filter(keys)

    def scan(self, toks: list[str], continues: bool = False) -> None:
        """One training piece, as normalised tokens; ``continues``: the same document as the
        previous piece. Pieces are batched (numpy pays off on long arrays, not on a
        paragraph); a separator token between documents keeps windows from spanning two."""
        if not continues:
            self._pending.append(_SEP)
        self._pending.extend(toks)
        if len(self._pending) >= self.batch_tokens:
            self.flush()

    def flush(self) -> None:
        if not self._tables or not self._pending:
            self._pending = []
            return
        h = np.concatenate([self._carry, token_hashes(self._pending)])
        self._pending = []
        self._carry = h[len(h) - (self.n - 1):] if self.n > 1 else h[:0]
        m = len(h)
        acc = np.zeros(m, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for length in range(1, min(self.n, m) + 1):  # acc[i] = key of the window of `length` at i
                acc = acc[:m - length + 1] + h[length - 1:] * self.powers[length - 1]
                if length in self._tables:
                    self._lookup(length, acc)

    def _lookup(self, length: int, keys: np.ndarray) -> None:
        table, idx, pos = self._tables[length]
        keys = keys[_maybe(self._filters[length], keys)]  # a bit test is cheaper than a binary search
        if not len(keys):
            return
        at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        found = np.unique(keys[table[at] == keys])
        if not len(found):
            return
        lo, hi = np.searchsorted(table, found, "left"), np.searchsorted(table, found, "right")
        rows = np.repeat(lo, hi - lo) + np.arange((hi - lo).sum()) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo)
        self._hits.append((idx[rows], pos[rows]))

    def longest(self) -> dict[tuple, str]:
        """Call after ``flush``. {text key: the longest span of the text whose every window
        occurs in the training text} for each matched text. Consecutive matched windows chain
        into one span; the windows may come from different places of the training text."""
        if not self._hits:
            return {}
        idx = np.concatenate([h[0] for h in self._hits])
        pos = np.concatenate([h[1] for h in self._hits])
        pairs = np.unique(np.stack([idx, pos], axis=1), axis=0)  # sorted by text, then position
        out = {}
        bounds = np.flatnonzero(np.diff(pairs[:, 0])) + 1
        for group in np.split(pairs, bounds):
            text, ps = int(group[0, 0]), group[:, 1]
            breaks = np.flatnonzero(np.diff(ps) != 1) + 1  # runs of consecutive window starts
            runs = np.split(ps, breaks)
            best = max(runs, key=len)
            w = int(self.window[text])
            out[self.keys[text]] = " ".join(self.tokens[text][int(best[0]):int(best[-1]) + w])
        return out
