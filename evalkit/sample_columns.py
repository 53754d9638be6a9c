"""A run's per-item fields as columns, stored beside ``samples.jsonl`` in ``samples.columns.npz``.

Reading 100,000 items back from JSON builds 100,000 dicts (and validates each), which takes
far longer than the statistics compare and the gates compute from them: 20 tasks x 100,000
items of two runs is seconds of parsing for well under two of statistics. So when a run is
written, what compare reads (ids, statuses, groups, tokens, latency, cost and every metric's
per-item statistics) is also written as arrays, and a run loaded for a compare reads those
arrays; the sample dicts are read only if something asks for them (an item card's text).

The arrays are derived from ``samples.jsonl`` and trusted only while they describe it: the
file's size and modification time must match what was recorded (or, after a copy that kept
the size but not the time, its SHA-256). Otherwise, and for runs written before this file
existed, the run is read from the JSONL as before. Only plain arrays are stored and they are
loaded with ``allow_pickle=False``: nothing in a run folder executes.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from itertools import repeat
from pathlib import Path

import numpy as np

COLUMNS_FILE = "samples.columns.npz"
VERSION = 2  # 2: an unknown latency is NaN, no longer 0
_NONE = -1  # the code of an absent group label


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _codes(values: list) -> tuple[np.ndarray, list]:
    """Integer codes of hashable values (None -> -1) and the values in code order."""
    names = [v for v in dict.fromkeys(values) if v is not None]
    code = {v: i for i, v in enumerate(names)}
    code[None] = _NONE
    return np.fromiter(map(code.__getitem__, values), dtype=np.int32, count=len(values)), names


def _floats(values: list, none: float) -> np.ndarray:
    return np.array([none if v is None else v for v in values], dtype=float)


def _stats_arrays(block: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per metric: (n, k) statistics (NaN rows where absent) and which items have them.
    Raises ValueError when an item's row is not k numbers (the JSONL then stays the source)."""
    per_item = [s.get("stats") or {} for s in block]
    names = list(dict.fromkeys(k for d in per_item for k in d))
    out = {}
    for name in names:
        rows = list(map(dict.get, per_item, repeat(name)))
        has = np.fromiter((r is not None for r in rows), dtype=bool, count=len(rows))
        first = next(r for r in rows if r is not None)
        if not isinstance(first, (list, tuple)):
            raise ValueError(f"statistics of {name} are not a list")
        blank = [np.nan] * len(first)
        arr = np.array([blank if r is None else r for r in rows], dtype=float)  # ragged rows raise
        if arr.ndim != 2:
            raise ValueError(f"statistics of {name} are not rows of numbers")
        out[name] = (arr, has)
    return out


def build(samples: list[dict]) -> tuple[dict[str, np.ndarray], dict] | None:
    """(arrays, header) for ``samples``, or None when they do not fit in columns (ragged or
    non-numeric statistics, a field of another type): such a run is read from its JSONL."""
    try:
        return _build(samples)
    except (ValueError, TypeError, KeyError, AttributeError, StopIteration):
        return None


def _build(samples: list[dict]) -> tuple[dict[str, np.ndarray], dict]:
    task, tasks = _codes([s["task"] for s in samples])
    status, statuses = _codes([s["status"] for s in samples])
    group, groups = _codes([s.get("group") for s in samples])
    ids = [s["id"] for s in samples]
    if not all(isinstance(x, str) for x in (*ids, *groups, *tasks, *statuses)):
        raise TypeError("ids, groups, tasks and statuses are strings")
    encoded = [i.encode("utf-8") for i in ids]
    arrays = {
        "task": task, "status": status, "group": group,
        "id_blob": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "id_end": np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))),
        "prompt_tokens": _floats([s.get("prompt_tokens") for s in samples], np.nan),
        # A missing latency or cost is unknown (NaN), as compare reads it from the dicts.
        "latency_s": _floats([s.get("latency_s") for s in samples], np.nan),
        "cost_usd": _floats([s.get("cost_usd") for s in samples], np.nan),
    }
    if not (task[1:] >= task[:-1]).all():  # compare reads each task as one block of rows
        raise ValueError("tasks are not contiguous")
    metrics: dict[str, dict[str, str]] = {}
    start = 0
    for t, name in enumerate(tasks):
        n = int(np.count_nonzero(task == t))
        for j, (metric, (arr, has)) in enumerate(_stats_arrays(samples[start:start + n]).items()):
            key = f"s{t}_{j}"
            arrays[key], arrays[f"h{t}_{j}"] = arr, has
            metrics.setdefault(name, {})[metric] = key
        start += n
    header = {"v": VERSION, "tasks": tasks, "statuses": statuses, "groups": groups, "metrics": metrics}
    return arrays, header


def write(directory: Path, samples: list[dict]) -> None:
    """Write the columns of ``samples`` (already written to samples.jsonl), or remove stale
    ones when they do not fit in columns."""
    from evalkit.results import SAMPLES_FILE

    target = Path(directory) / COLUMNS_FILE
    built = build(samples)
    if built is None:
        target.unlink(missing_ok=True)
        return
    arrays, header = built
    jsonl = Path(directory) / SAMPLES_FILE
    st = jsonl.stat()
    header.update(jsonl_size=st.st_size, jsonl_mtime_ns=st.st_mtime_ns, jsonl_sha256=file_sha256(jsonl))
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    tmp = target.with_name(target.name + ".tmp")
    try:
        with tmp.open("wb") as f:
            np.savez(f, **arrays)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class StoredColumns:
    """A run's columns as read back: one array per field, each loaded on first use."""

    def __init__(self, npz, header: dict, path: Path | None = None):
        self._npz, self.header, self.path = npz, header, path
        self.sha256: str = header["jsonl_sha256"]
        self._cache: dict[str, np.ndarray] = {}
        task = self.array("task")
        self.n = len(task)
        bounds = np.searchsorted(task, np.arange(len(header["tasks"]) + 1))
        self.slices = {name: slice(int(bounds[i]), int(bounds[i + 1])) for i, name in enumerate(header["tasks"])}

    def array(self, key: str) -> np.ndarray:
        arr = self._cache.get(key)
        if arr is None:
            try:  # zipfile checks each member's CRC-32 as it reads it
                arr = self._cache[key] = self._npz[key]
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                from evalkit.errors import DataError

                raise DataError(f"damaged ({type(exc).__name__}: {exc}); delete it and the run is read from "
                                "samples.jsonl", path=self.path) from None
        return arr

    def status_code(self, status: str) -> int | None:
        try:
            return self.header["statuses"].index(status)
        except ValueError:
            return None

    def metric_key(self, task: str, metric: str) -> str | None:
        return self.header["metrics"].get(task, {}).get(metric)

    def id_bytes(self, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """(the UTF-8 bytes of the ids of ``rows``, each id's end offset within them)."""
        end = self.array("id_end")
        lo = int(end[rows.start - 1]) if rows.start else 0
        hi = int(end[rows.stop - 1]) if rows.stop > rows.start else lo
        return self.array("id_blob")[lo:hi], end[rows] - lo

    def ids(self, rows: slice) -> list[str]:
        blob, end = self.id_bytes(rows)
        raw = blob.tobytes()
        starts = [0, *end[:-1].tolist()]
        return [raw[a:b].decode("utf-8") for a, b in zip(starts, end.tolist())]


def open_columns(directory: Path, tasks: set[str]) -> StoredColumns | None:
    """The stored columns of the run in ``directory`` when they still describe its
    samples.jsonl and list only ``tasks``; None otherwise (read the JSONL instead)."""
    from evalkit.results import SAMPLES_FILE

    path, jsonl = Path(directory) / COLUMNS_FILE, Path(directory) / SAMPLES_FILE
    try:
        st = jsonl.stat()
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    try:
        header = json.loads(npz["header"].tobytes().decode("utf-8"))
        if header.get("v") != VERSION or header.get("jsonl_size") != st.st_size:
            return None
        if header.get("jsonl_mtime_ns") != st.st_mtime_ns and header.get("jsonl_sha256") != file_sha256(jsonl):
            return None
        if not set(header["tasks"]) <= tasks:
            return None
        return StoredColumns(npz, header, path)
    except (KeyError, ValueError, TypeError, OSError):  # damaged: the JSONL is the source
        return None

