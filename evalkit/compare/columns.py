"""Columnar views of two runs' samples, built once and read by both compare and the gates.

A run holds one dict per item. Reading a field out of 100,000 dicts costs more than the
statistics on the resulting arrays, and compare and the gates used to do it several times
over (align, keep, groups, one array per metric, again per gate, again for the worst case).
Here each task's ids, statuses and groups are read once per run, each metric's statistics
once per run and task, and the paired view (aligned, failed requests dropped) once per
task; :class:`Columns` is kept on the Comparison so the gates of the same process reuse it.
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import itemgetter

import numpy as np

from evalkit.compare.outcomes import MISSING, Outcomes

_ID, _STATUS, _TASK = itemgetter("id"), itemgetter("status"), itemgetter("task")
_EMPTY: dict = {}


def _field(samples: list[dict], key: str) -> list:
    """Every sample's ``key`` (None where absent): map(dict.get, ..., repeat(key)) runs in C,
    about three times as fast as a comprehension or methodcaller over 100,000 dicts."""
    return list(map(dict.get, samples, repeat(key)))


def _positions(values: list, x) -> list[int]:
    """Indices of ``x`` in ``values``: C-level scans, cheap when ``x`` is rare (failed requests)."""
    out, i = [], -1
    for _ in range(values.count(x)):
        i = values.index(x, i + 1)
        out.append(i)
    return out


def _task_blocks(samples: list[dict]) -> dict[str, list[dict]]:
    """Samples by task. A run lists each task's samples together, so each block is found
    by a search over the task names and checked with one C-level count; any other order
    falls back to one pass over the dicts."""
    names = list(map(_TASK, samples))
    out: dict[str, list[dict]] = {}
    start, n = 0, len(names)
    while start < n:
        task = names[start]
        step = 1
        while start + step < n and names[start + step] == task:  # gallop, then bisect the block's end
            step *= 2
        lo, hi = start + step // 2, min(start + step, n)  # names[lo] == task; names[hi] != task or hi == n
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if names[mid] == task else (lo, mid)
        if task in out or names[start:hi].count(task) != hi - start:
            return _by_task_slow(samples)
        out[task] = samples[start:hi]
        start = hi
    return out


def _by_task_slow(samples: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for s in samples:
        out.setdefault(s["task"], []).append(s)
    return out


def _float_rows(rows: list, n: int) -> np.ndarray:
    """(n, k) floats from n lists of k numbers (np.array(list of lists) is twice as slow).
    Rows of other lengths leave too few or too many numbers (or a last row that is not k
    long) and are refused as numpy would refuse them."""
    if n and isinstance(rows[0], (list, tuple)) and isinstance(rows[-1], (list, tuple)):
        k = len(rows[0])
        flat = chain.from_iterable(rows)
        try:
            arr = np.fromiter(flat, dtype=float, count=n * k)
        except ValueError:  # too few numbers: a short row
            arr = None
        if arr is not None and len(rows[-1]) == k and next(flat, None) is None:
            return arr.reshape(n, k)
    return np.array(rows, dtype=float)


def _codes(labels: list) -> np.ndarray:
    """Integer codes of hashable labels, first seen first (C-level passes over the items);
    None, where present, gets a code of its own (callers refuse partial labellings)."""
    code = {g: i for i, g in enumerate(dict.fromkeys(labels))}
    return np.fromiter(map(code.__getitem__, labels), dtype=np.intp, count=len(labels))


class TaskColumns:
    """One run's items of one task, field by field, each read on first use."""

    def __init__(self, samples: list[dict]):
        # Only the ids stay as a list of Python objects: every long list kept alive here is
        # walked again by the garbage collector, which at 4 million items costs a second.
        self.samples = samples
        self.ids: list[str] = list(map(_ID, samples))
        status = list(map(_STATUS, samples))
        n = len(status)
        self.missing_at = _positions(status, MISSING)
        self.n_missing = len(self.missing_at)
        self.outcomes = Outcomes(n, n - self.n_missing, status.count("empty"), status.count("unparsed"), self.n_missing)
        self._stats: dict[str, np.ndarray] = {}
        self._missing: np.ndarray | None = None
        self._groups: tuple | None = None
        self._accounting: tuple | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def same_items(self, other) -> bool:
        return self.ids == other.ids

    @property
    def missing(self) -> np.ndarray:
        """True where the request failed (no statistics to read)."""
        if self._missing is None:
            self._missing = np.zeros(len(self.samples), dtype=bool)
            self._missing[self.missing_at] = True
        return self._missing

    def width(self, metric: str) -> int | None:
        """Columns of ``metric``'s per-item statistics (None when no item was answered)."""
        failed = set(self.missing_at)
        first = next((i for i in range(len(self.samples)) if i not in failed), None)
        return None if first is None else len(self.samples[first]["stats"][metric])

    def stats(self, metric: str) -> np.ndarray:
        """(n, k) per-item statistics; NaN rows for the items whose request failed."""
        arr = self._stats.get(metric)
        if arr is None:
            n = len(self.samples)
            per_item = _field(self.samples, "stats")
            if None in per_item:  # a failed request may have no statistics at all
                per_item = [_EMPTY if d is None else d for d in per_item]
            rows = _field(per_item, metric)
            if self.n_missing:
                blank = [np.nan] * (self.width(metric) or 2)
                for i in self.missing_at:
                    rows[i] = blank
            if None in rows:  # an answered item without this metric: as strict as s["stats"][metric]
                raise KeyError(metric)
            arr = _float_rows(rows, n)
            self._stats[metric] = arr
        return arr

    def groups(self) -> tuple[np.ndarray | None, int]:
        """(integer cluster code of every item, or None when no item has a label; how many
        items have none). A partial labelling is refused by the caller, on the items it keeps."""
        if self._groups is None:
            labels = _field(self.samples, "group")
            unlabelled = labels.count(None)
            self._groups = (None if unlabelled == len(labels) else _codes(labels), unlabelled)
        return self._groups

    def unlabelled(self) -> np.ndarray:
        """True where an item has no group label."""
        return np.fromiter((g is None for g in _field(self.samples, "group")), dtype=bool, count=len(self.samples))

    def accounting(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(prompt tokens, latency in seconds, cost in USD: NaN where unknown) of every item."""
        if self._accounting is None:
            n = len(self.samples)
            tokens = np.fromiter(map(itemgetter("prompt_tokens"), self.samples), dtype=float, count=n)
            latency = _field(self.samples, "latency_s")
            if None in latency:  # unknown (an imported log that does not say): NaN, never 0
                latency = [np.nan if x is None else x for x in latency]
            costs = _field(self.samples, "cost_usd")
            cost = np.full(n, np.nan) if costs.count(None) == n else np.array(
                [np.nan if c is None else c for c in costs], dtype=float)
            self._accounting = tokens, np.fromiter(latency, dtype=float, count=n), cost
        return self._accounting


class StoredTaskColumns:
    """One run's items of one task read from its stored columns (``sample_columns``), with
    the interface of :class:`TaskColumns` and no per-item dict; ``samples`` (the dicts, read
    from the JSONL) only for the rare paths that need them: items listed in another order,
    and the message that names an item without a group label."""

    def __init__(self, stored, task: str, samples):
        self.stored, self.task, self._samples = stored, task, samples
        self.rows = rows = stored.slices.get(task, slice(0, 0))
        self._status = stored.array("status")[rows]
        n = len(self._status)
        err, empty, unparsed = (stored.status_code(x) for x in (MISSING, "empty", "unparsed"))
        self.missing = self._status == err if err is not None else np.zeros(n, dtype=bool)
        self.missing_at = np.flatnonzero(self.missing).tolist()
        self.n_missing = len(self.missing_at)

        def count(code):
            return 0 if code is None else int(np.count_nonzero(self._status == code))

        self.outcomes = Outcomes(n, n - self.n_missing, count(empty), count(unparsed), self.n_missing)
        self._stats: dict[str, np.ndarray] = {}
        self._groups: tuple | None = None
        self._ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self._status)

    @property
    def samples(self) -> list[dict]:
        return self._samples()

    @property
    def ids(self) -> list[str]:
        if self._ids is None:
            self._ids = self.stored.ids(self.rows)
        return self._ids

    def same_items(self, other) -> bool:
        """The same ids in the same order: a byte comparison of the two blocks of ids."""
        if isinstance(other, StoredTaskColumns):
            (a, ea), (b, eb) = self.stored.id_bytes(self.rows), other.stored.id_bytes(other.rows)
            return np.array_equal(ea, eb) and np.array_equal(a, b)
        return self.ids == other.ids

    def width(self, metric: str) -> int | None:
        if self.n_missing == len(self):
            return None
        return self.stats(metric).shape[1]

    def stats(self, metric: str) -> np.ndarray:
        arr = self._stats.get(metric)
        if arr is None:
            key = self.stored.metric_key(self.task, metric)
            answered = len(self) - self.n_missing
            if key is None and answered:  # an answered item without this metric: as strict as s["stats"][metric]
                raise KeyError(metric)
            if not answered:  # TaskColumns' failed rows: two NaN columns when no item gives a width
                arr = np.full((len(self), 2), np.nan)
            else:
                has = self.stored.array("h" + key[1:])
                if answered and not has[~self.missing].all():
                    raise KeyError(metric)
                arr = self.stored.array(key)
                if self.n_missing:
                    arr = arr.copy()
                    arr[self.missing] = np.nan
            self._stats[metric] = arr
        return arr

    def groups(self) -> tuple[np.ndarray | None, int]:
        if self._groups is None:
            codes = self.stored.array("group")[self.rows]
            unlabelled = int(np.count_nonzero(codes == -1))
            if unlabelled == len(codes):
                self._groups = (None, unlabelled)
            else:  # renumbered first seen first, as TaskColumns numbers them (the resamples depend on it)
                self._groups = (_first_seen(codes), unlabelled)
        return self._groups

    def unlabelled(self) -> np.ndarray:
        """True where an item has no group label."""
        return self.stored.array("group")[self.rows] == -1

    def accounting(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(self.stored.array(k)[self.rows] for k in ("prompt_tokens", "latency_s", "cost_usd"))


class RunColumns:
    """A run's samples grouped by task, with a :class:`TaskColumns` per task on first use.
    Stands in for the run where compare reads ``model``, ``task`` and ``samples_for``.
    A run loaded with stored columns is read from those, never from sample dicts."""

    def __init__(self, run):
        self.run = run
        self.model = run.model
        self.task = run.task
        self.stored = run.stored_columns() if hasattr(run, "stored_columns") else None
        self._n_samples = self.stored.n if self.stored is not None else len(run.samples)
        self._blocks: dict[str, list[dict]] | None = None if self.stored is not None else _task_blocks(run.samples)
        self._columns: dict = {}

    def of(self, run) -> bool:
        """Built from this very run, unchanged since (the gates reuse compare's columns)."""
        if self.run is not run:
            return False
        if self.stored is not None:
            return run.stored_columns() is self.stored
        return len(run.samples) == self._n_samples

    def metric(self, task: str, name: str):
        """The metric as this run recorded it for ``task``: the task's own direction, and a
        scorer metric's kind and range (rebuilt from the record, no user code)."""
        from evalkit.metrics.registry import metric_for_result

        row = self.run.task(task)
        return metric_for_result(name, row.metrics.get(name) if row is not None else None)

    def samples_for(self, task: str) -> list[dict]:
        if self._blocks is None:
            self._blocks = _task_blocks(self.run.samples)
        return self._blocks.get(task, [])

    def columns(self, task: str):
        col = self._columns.get(task)
        if col is None:
            if self.stored is not None:
                col = StoredTaskColumns(self.stored, task, lambda: self.samples_for(task))
            else:
                col = TaskColumns(self.samples_for(task))
            self._columns[task] = col
        return col


class PairedTask:
    """One task's items of base and candidate, aligned by id, with the items whose request
    failed on either side marked: what the table row and every gate on the task read."""

    def __init__(self, task: str, b: TaskColumns, f: TaskColumns):
        if not b.same_items(f):  # rare: the runs list the items in different orders (or differ)
            from evalkit.compare.compare import align_items

            b, f = (TaskColumns(x) for x in align_items(task, b.samples, f.samples))
        self.task, self.b, self.f = task, b, f
        self.keep = np.flatnonzero(~(b.missing | f.missing)) if b.n_missing or f.n_missing else None
        self.n = len(b) if self.keep is None else int(self.keep.size)
        self.dropped = len(b) - self.n
        self._stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._groups: tuple | None = None

    def _kept(self, arr: np.ndarray) -> np.ndarray:
        return arr if self.keep is None else arr[self.keep]

    def stats(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(base, candidate) statistics on the items both models answered."""
        pair = self._stats.get(metric)
        if pair is None:
            pair = self._stats[metric] = (self._kept(self.b.stats(metric)), self._kept(self.f.stats(metric)))
        return pair

    def groups(self):
        """Integer cluster codes of the kept items (from the base's labels), or None when no
        kept item has one; some with and some without is refused (see ``item_groups``)."""
        if self._groups is None:
            codes, unlabelled = self.b.groups()
            if codes is None:
                self._groups = (None,)
            elif unlabelled:  # allowed only when every unlabelled item was dropped
                kept = np.arange(len(self.b)) if self.keep is None else self.keep
                without = self.b.unlabelled()[kept]
                if without.all() or not kept.size:
                    self._groups = (None,)
                else:
                    _refuse_partial(self.task, self.b, kept, without)
                    self._groups = (_first_seen(codes[kept]),)
            else:
                self._groups = (self._kept(codes),)
        return self._groups[0]

    def all_groups(self):
        """Integer cluster codes of every item (the worst case keeps the failed ones too)."""
        codes, unlabelled = self.b.groups()
        if codes is not None and unlabelled:
            _refuse_partial(self.task, self.b, np.arange(len(self.b)), self.b.unlabelled())
        return codes


def _first_seen(codes: np.ndarray) -> np.ndarray:
    """``codes`` renumbered 0, 1, ... in order of first appearance (as :func:`_codes` numbers
    labels: the cluster resamples depend on the numbering)."""
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def _refuse_partial(task: str, cols, rows: np.ndarray, without: np.ndarray) -> None:
    """item_groups' refusal of a partial labelling, on ``rows`` of ``cols``; the ids are read
    only to name an unlabelled item in the message."""
    if without.any() and not without.all():
        from evalkit.compare.compare import item_groups

        ids = cols.ids
        item_groups(task, [{"id": ids[i], "group": None if w else ""} for i, w in zip(rows.tolist(), without.tolist())])


class PairedRuns:
    """A base run and one candidate, as columns, with each task's paired view on first use."""

    def __init__(self, base: RunColumns, ft: RunColumns):
        self.base, self.ft = base, ft
        self._pairs: dict[str, PairedTask] = {}

    def of(self, base_run, ft_run) -> bool:
        return self.base.of(base_run) and self.ft.of(ft_run)

    def read(self, metrics: dict[str, list[str]]) -> "PairedRuns":
        """Read every per-item field compare and the gates use, for ``{task: [metric]}``, now
        (the benchmark times this apart from the statistics)."""
        for task, names in metrics.items():
            p = self.pair(task)
            p.groups()
            p.b.accounting(), p.f.accounting()
            for name in names:
                p.stats(name)
        return self

    def pair(self, task: str) -> PairedTask:
        p = self._pairs.get(task)
        if p is None:
            p = self._pairs[task] = PairedTask(task, self.base.columns(task), self.ft.columns(task))
        return p
