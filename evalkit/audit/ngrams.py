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

from collections import defaultdict
from dataclasses import dataclass, field

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


def window_keys(h: np.ndarray, length: int, powers: np.ndarray) -> np.ndarray:
    """The key of every window of ``length`` tokens (len(h) - length + 1 of them)."""
    m = len(h) - length + 1
    out = np.zeros(max(m, 0), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(length if m > 0 else 0):
            out += h[j:j + m] * powers[j]
    return out


@dataclass
class _Text:
    tokens: list[str]
    hits: set[int] = field(default_factory=set)  # start positions of matched windows
    window: int = 0  # the window length matched on (n, or the whole text when shorter)


class NgramIndex:
    """The eval texts' n-grams; ``scan`` training pieces into it, then ``longest`` per text."""

    def __init__(self, texts: dict[tuple, str], n: int = 13, min_tokens: int = 8, batch_tokens: int = 1 << 20):
        self.n, self.powers, self.batch_tokens = n, _powers(n), batch_tokens
        self._pending: list[str] = []
        self.texts: dict[tuple, _Text] = {}
        where: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))  # length -> key -> [(text, pos)]
        for key, text in texts.items():
            toks = tokens(text)
            length = n if len(toks) >= n else len(toks)
            if length < min(min_tokens, n):
                continue  # too short to say anything
            self.texts[key] = _Text(toks, window=length)
            for pos, k in enumerate(window_keys(token_hashes(toks), length, self.powers).tolist()):
                where[length][k].append((key, pos))
        self._where = {L: dict(d) for L, d in where.items()}
        self._sorted = {L: np.array(sorted(d), dtype=np.uint64) for L, d in self._where.items()}
        self._carry = np.zeros(0, dtype=np.uint64)

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
        if not self._sorted or not self._pending:
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
                if length in self._sorted:
                    self._lookup(length, acc)

    def _lookup(self, length: int, keys: np.ndarray) -> None:
        table = self._sorted[length]
        idx = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        found = np.unique(keys[table[idx] == keys])
        for k in found.tolist():
            for text_key, pos in self._where[length][k]:
                self.texts[text_key].hits.add(pos)

    def longest(self) -> dict[tuple, str]:
        """Call after ``flush``. {text key: the longest span of the text whose every window occurs in the training
        text} for each matched text. Consecutive matched windows chain into one span; the
        windows may come from different places of the training text."""
        out = {}
        for key, t in self.texts.items():
            if not t.hits:
                continue
            best_start, best_len, run_start, prev = 0, 0, None, None
            for pos in sorted(t.hits):
                run_start = pos if prev is None or pos != prev + 1 else run_start
                if pos - run_start + 1 > best_len:
                    best_start, best_len = run_start, pos - run_start + 1
                prev = pos
            out[key] = " ".join(t.tokens[best_start:best_start + best_len + t.window - 1])
        return out
