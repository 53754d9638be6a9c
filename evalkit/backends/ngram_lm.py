"""An interpolated Kneser-Ney n-gram language model over words, in numpy and the standard library.

This is the model behind the embedded ``ngram`` backend: small, exact and fast enough to make
the demo and the tests real without torch. Written here because no maintained library offers a
normalised, saveable KN model with weighted continued training (nltk.lm is slow, unmaintained
in this respect, and has no notion of continuing a model on new text with a weight).

Tokens keep their leading white space (" password", "\\n", "?"), so joining tokens gives the
text back byte for byte: generations need no detokeniser and bits-per-byte is exact.

Probabilities are normalised over the vocabulary plus one unknown token:
    P_k(w | h) = max(c_k(h, w) - D_k, 0) / T_k(h) + gamma_k(h) * P_{k-1}(w | h[1:])
    P_0(w)     = 1 / (V + 1)
where c_k are raw counts at the highest order and continuation counts (distinct left
extensions) below it, T_k(h) = sum_w c_k(h, w), and gamma_k(h) is exactly the mass the
discount removed, so every level sums to one. An unseen context leaves the lower level as is.

"Fine-tuning" continues a model on domain text with a weight: every count table of the new
text is multiplied by the weight and added to the model's tables.

A model is saved as plain arrays in a numpy ``.npz`` and loaded with ``allow_pickle=False``:
the file lives in a cache folder a config can point anywhere, so loading it must never be able
to run code (the pickle it replaced could).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np

TOKEN_RE = re.compile(r"\n|[^\S\n]*(?:\w+|[^\w\s])|[^\S\n]+")
BOS = -1  # context padding only; never predicted, so not part of the vocabulary
EOS_TOKEN = "</s>"  # ends every training document; generation stops when it is the argmax
FORMAT_VERSION = 2  # 1 was a gzipped pickle: never loaded again


def tokenize(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def split_documents(text: str) -> list[str]:
    """Training documents are separated by blank lines."""
    return [d.strip("\n") for d in re.split(r"\n[^\S\n]*\n", text) if d.strip()]


def _count_ngrams(docs: Sequence[list[int]], order: int) -> dict[tuple[int, ...], int]:
    counts: dict[tuple[int, ...], int] = defaultdict(int)
    pad = (BOS,) * (order - 1)
    for ids in docs:
        seq = pad + tuple(ids)
        for i in range(order - 1, len(seq)):
            counts[seq[i - order + 1 : i + 1]] += 1
    return counts


def _level_tables(docs: Sequence[list[int]], order: int) -> list[dict[tuple[int, ...], dict[int, float]]]:
    """Count tables for one corpus: level k (1..order) maps a context of k-1 ids to
    {next id: count}; raw counts at the top level, continuation counts below."""
    top = _count_ngrams(docs, order)
    levels: list[dict[tuple[int, ...], dict[int, float]]] = [dict() for _ in range(order + 1)]
    for gram, c in top.items():
        levels[order].setdefault(gram[:-1], {})[gram[-1]] = float(c)
    distinct = set(top)
    for k in range(order - 1, 0, -1):
        # Each distinct (k+1)-gram adds one to the continuation count of its k-gram suffix.
        lower: set[tuple[int, ...]] = set()
        table = levels[k]
        for gram in distinct:
            suffix = gram[1:]
            row = table.setdefault(suffix[:-1], {})
            row[suffix[-1]] = row.get(suffix[-1], 0.0) + 1.0
            lower.add(suffix)
        distinct = lower
    return levels


def _estimate_discount(level: dict[tuple[int, ...], dict[int, float]]) -> float:
    """Ney's estimate D = n1 / (n1 + 2 n2) from counts of counts, kept in a sane range."""
    n1 = n2 = 0
    for row in level.values():
        for c in row.values():
            n1 += c == 1.0
            n2 += c == 2.0
    if n1 == 0:
        return 0.5
    return float(min(max(n1 / (n1 + 2 * n2), 0.1), 0.9))


@dataclass
class _Row:
    """One context's successors, ready for both scalar look-ups and vector updates."""

    counts: dict[int, float]
    total: float
    ids: np.ndarray
    kept: np.ndarray  # max(c - D, 0) / T
    gamma: float


class ModelFileError(ValueError):
    """A saved model that cannot be used: the caller trains the model again."""


class KneserNeyLM:
    def __init__(self, order: int, vocab: list[str], levels, discounts: list[float]):
        self.order = order
        self.vocab = vocab
        self.index = {t: i for i, t in enumerate(vocab)}
        self.levels = levels
        self.discounts = discounts
        self._rows: dict[tuple[int, tuple[int, ...]], _Row | None] = {}
        self.eos_id = self.index.get(EOS_TOKEN)

    # ----- training -------------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], order: int) -> "KneserNeyLM":
        if order < 1:
            raise ValueError("order must be >= 1")
        model = cls(order, [EOS_TOKEN], [dict() for _ in range(order + 1)], [0.75] * (order + 1))
        docs = model._encode_docs(texts)
        levels = _level_tables(docs, order)
        model.discounts = [0.0] + [_estimate_discount(levels[k]) for k in range(1, order + 1)]
        model._add_levels(levels, 1.0)
        return model

    def continue_training(self, texts: Iterable[str], weight: float) -> "KneserNeyLM":
        """A new model: this one plus ``weight`` times the counts of ``texts``."""
        if weight <= 0:
            raise ValueError("weight must be > 0")
        levels = [{ctx: dict(row) for ctx, row in level.items()} for level in self.levels]
        model = KneserNeyLM(self.order, list(self.vocab), levels, list(self.discounts))
        model._add_levels(_level_tables(model._encode_docs(texts), self.order), weight)
        return model

    def _encode_docs(self, texts: Iterable[str]) -> list[list[int]]:
        docs = []
        for text in texts:
            for doc in split_documents(text):
                ids = []
                for tok in tokenize(doc) + [EOS_TOKEN]:
                    if tok not in self.index:
                        self.index[tok] = len(self.vocab)
                        self.vocab.append(tok)
                    ids.append(self.index[tok])
                docs.append(ids)
        return docs

    def _add_levels(self, levels, weight: float) -> None:
        for k in range(1, self.order + 1):
            target = self.levels[k]
            for ctx, row in levels[k].items():
                into = target.setdefault(ctx, {})
                for w, c in row.items():
                    into[w] = into.get(w, 0.0) + weight * c
        self._rows.clear()

    # ----- persistence ----------------------------------------------------------------------
    def save(self, file) -> None:
        """Write the model to ``file`` (a path or a binary file object) as an .npz of plain
        arrays. Per level: the contexts (one row of k-1 ids each), how many successors each
        context has, and the successors' ids and counts in the same order, so that loading
        rebuilds the tables in their original order and the model is bit-for-bit the same."""
        meta = {"format": FORMAT_VERSION, "order": self.order, "discounts": self.discounts, "vocab": self.vocab}
        arrays = {"meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)}
        for k in range(1, self.order + 1):
            level = self.levels[k]
            arrays[f"ctx{k}"] = np.array(list(level), dtype=np.int32).reshape(len(level), k - 1)
            arrays[f"len{k}"] = np.fromiter((len(row) for row in level.values()), dtype=np.int32, count=len(level))
            arrays[f"ids{k}"] = np.fromiter((w for row in level.values() for w in row), dtype=np.int32)
            arrays[f"cnt{k}"] = np.fromiter((c for row in level.values() for c in row.values()), dtype=np.float64)
        np.savez_compressed(file, **arrays)

    @classmethod
    def load(cls, file) -> "KneserNeyLM":
        """A model written by :meth:`save`; :class:`ModelFileError` for anything else (a
        damaged, truncated or foreign file, or one holding objects that would need pickle)."""
        try:
            with np.load(file, allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes().decode("utf-8"))
                if meta.get("format") != FORMAT_VERSION:
                    raise ModelFileError(f"n-gram model format {meta.get('format')!r} is not {FORMAT_VERSION}")
                order = int(meta["order"])
                levels: list[dict[tuple[int, ...], dict[int, float]]] = [dict()]
                for k in range(1, order + 1):
                    ctxs, lens = z[f"ctx{k}"], z[f"len{k}"]
                    ids, counts = z[f"ids{k}"].tolist(), z[f"cnt{k}"].tolist()
                    if ctxs.shape != (len(lens), k - 1) or len(ids) != len(counts) or int(lens.sum()) != len(ids):
                        raise ModelFileError(f"level {k} has inconsistent shapes")
                    pairs = zip(ids, counts)
                    levels.append({ctx: dict(islice(pairs, n)) for ctx, n in zip(map(tuple, ctxs.tolist()), lens.tolist())})
                vocab, discounts = list(meta["vocab"]), [float(d) for d in meta["discounts"]]
        except ModelFileError:
            raise
        except Exception as exc:  # any damage at all (zip, CRC, JSON, missing key) means: retrain
            raise ModelFileError(f"{type(exc).__name__}: {exc}") from None
        if len(discounts) != order + 1 or not all(isinstance(t, str) for t in vocab):
            raise ModelFileError("inconsistent header")
        return cls(order, vocab, levels, discounts)

    # ----- probabilities --------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Vocabulary plus the unknown token: the support of every distribution."""
        return len(self.vocab) + 1

    def encode(self, text: str) -> list[int]:
        unk = len(self.vocab)
        return [self.index.get(t, unk) for t in tokenize(text)]

    def _row(self, k: int, ctx: tuple[int, ...]) -> _Row | None:
        key = (k, ctx)
        if key not in self._rows:
            counts = self.levels[k].get(ctx)
            if not counts:
                self._rows[key] = None
            else:
                ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                c = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                total = c.sum()
                kept = np.maximum(c - self.discounts[k], 0.0) / total
                self._rows[key] = _Row(counts, float(total), ids, kept, float(1.0 - kept.sum()))
        return self._rows[key]

    def _contexts(self, history: Sequence[int]):
        """(level, context) pairs from the unigram level up, contexts padded with BOS."""
        hist = tuple(history[-(self.order - 1):]) if self.order > 1 else ()
        hist = (BOS,) * (self.order - 1 - len(hist)) + hist
        for k in range(1, self.order + 1):
            yield k, hist[len(hist) - (k - 1):] if k > 1 else ()

    def logprob(self, token: int, history: Sequence[int]) -> float:
        p = 1.0 / self.size
        for k, ctx in self._contexts(history):
            row = self._row(k, ctx)
            if row is None:
                continue
            c = row.counts.get(token, 0.0)
            p = max(c - self.discounts[k], 0.0) / row.total + row.gamma * p
        return float(np.log(p))

    def distribution(self, history: Sequence[int]) -> np.ndarray:
        """P(. | history) over vocabulary + unknown (the last entry)."""
        p = np.full(self.size, 1.0 / self.size)
        for k, ctx in self._contexts(history):
            row = self._row(k, ctx)
            if row is None:
                continue
            p *= row.gamma
            p[row.ids] += row.kept
        return p

    def greedy_next(self, history: Sequence[int]) -> int:
        """The most probable next token, never the unknown token."""
        return int(np.argmax(self.distribution(history)[:-1]))

