"""A run read back through its stored columns gives compare and the gates exactly what the
sample dicts give them (failed, empty and unparsed items, groups, NaN and infinite
statistics), builds no dict doing so, and is not trusted once samples.jsonl changes."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil

import numpy as np
import pytest

from evalkit.compare.columns import RunColumns, StoredTaskColumns, TaskColumns
from evalkit.compare.compare import cached_compare, compare_runs, run_fingerprint
from evalkit.compare.gates import evaluate_gates, parse_gates
from evalkit.results import MetricValue, RunResult, TaskResult
from evalkit.sample_columns import COLUMNS_FILE

STATUSES = ("ok", "ok", "ok", "empty", "unparsed", "error")


def _run(name: str, seed: int, order=None) -> RunResult:
    rng = np.random.default_rng(seed)
    run = RunResult(name, "fake", {}, {}, "p.yaml", tasks=[])
    for task, metric, width, grouped in (("acc", "accuracy", 2, True), ("bleu", "bleu", 10, False),
                                         ("bpb", "bits_per_byte", 2, True)):
        run.tasks.append(TaskResult(task, "s", "target" if task != "bpb" else "forgetting", "generate", "ok", n=60,
                                    metrics={metric: MetricValue(None, metric != "bits_per_byte", metric)}))
        items = list(range(60)) if order is None else order
        for i in items:
            status = STATUSES[(i * 7 + seed) % len(STATUSES)]
            s = {"task": task, "id": f"{task}/{i}", "status": status, "metrics": {}, "prompt_tokens": int(rng.integers(5, 50)),
                 "completion_tokens": 3, "latency_s": None if i % 11 == 0 else float(rng.random()),
                 "cost_usd": None if task == "bleu" else 0.001 * i, "response": "x" * i}
            if grouped and (status != "error" or task == "acc"):  # bpb: the failed items have no label
                s["group"] = f"g{(i * 5) % 13}"  # labels first seen in no sorted order
            if status != "error":
                if metric == "accuracy":
                    row = [float(status == "ok" and rng.random() < 0.6 + 0.1 * seed), 1.0]
                elif metric == "bleu":
                    row = rng.integers(0, 20, width).astype(float).tolist()
                else:
                    row = [float(rng.gamma(2.0)), float(rng.integers(10, 90))]
                    if i == 7:
                        row[0] = math.inf if seed else math.nan  # a -inf log-probability, an fp16 NaN
                s["stats"] = {metric: row}
            run.samples.append(s)
    return run


GATES = [{"type": "must_improve", "task": "acc", "metric": "accuracy", "min_effect": 0.0},
         {"type": "must_not_regress", "task": "bleu", "metric": "bleu", "margin": 1.0},
         {"type": "must_not_regress", "task": "bpb", "metric": "bits_per_byte", "margin": 0.1},
         {"type": "min_score", "task": "acc", "metric": "accuracy", "min": 0.3}]


def _loaded(tmp_path, base: RunResult, ft: RunResult):
    base.write(tmp_path / "base")
    ft.write(tmp_path / "ft")
    stored = RunResult.load(tmp_path / "base"), RunResult.load(tmp_path / "ft")
    assert all(r.stored_columns() is not None for r in stored)
    dicts = RunResult.load(tmp_path / "base"), RunResult.load(tmp_path / "ft")
    for r in dicts:
        r.samples = list(r.samples)  # replaced: read as dicts, as a run without columns is
        assert r.stored_columns() is None
    return stored, dicts


def _same(a, b) -> bool:
    return json.dumps(a, default=str, sort_keys=True) == json.dumps(b, default=str, sort_keys=True)


def test_stored_columns_equal_the_dict_columns_field_by_field(tmp_path):
    (sb, _), (db, _) = _loaded(tmp_path, _run("base", 0), _run("ft", 1))
    for task, metric in (("acc", "accuracy"), ("bleu", "bleu"), ("bpb", "bits_per_byte")):
        s, d = RunColumns(sb).columns(task), RunColumns(db).columns(task)
        assert isinstance(s, StoredTaskColumns) and isinstance(d, TaskColumns)
        assert s.ids == d.ids and s.same_items(d) and len(s) == len(d)
        assert s.outcomes == d.outcomes and s.outcomes.error and s.outcomes.empty and s.outcomes.unparsed
        assert np.array_equal(s.missing, d.missing) and s.missing_at == d.missing_at
        assert s.width(metric) == d.width(metric)
        assert np.array_equal(s.stats(metric), d.stats(metric), equal_nan=True)
        (sc, su), (dc, du) = s.groups(), d.groups()
        assert su == du and (sc is None) == (dc is None) and (sc is None or np.array_equal(sc, dc))
        for x, y in zip(s.accounting(), d.accounting()):
            assert np.array_equal(x, y, equal_nan=True)
    assert not np.isfinite(RunColumns(sb).columns("bpb").stats("bits_per_byte")).all()
    with pytest.raises(KeyError):
        RunColumns(sb).columns("acc").stats("bleu")


@pytest.mark.parametrize("order", [None, list(range(59, -1, -1))], ids=["same order", "other order"])
def test_compare_and_gates_from_stored_columns_equal_the_dict_path_and_read_no_dict(tmp_path, order):
    (sb, sf), (db, df) = _loaded(tmp_path, _run("base", 0), _run("ft", 1, order))
    gates = parse_gates(GATES, known_tasks=["acc", "bleu", "bpb"], known_suites=["s"])
    results = []
    for b, f in ((sb, sf), (db, df)):
        c = compare_runs(b, f, seed=3)
        results.append((dataclasses.asdict(c), dataclasses.asdict(evaluate_gates(gates, b, f, c, seed=3, n_resamples=300))))
    assert _same(results[0], results[1])
    gates_out = results[0][1]["gates"]
    assert gates_out[0]["estimate"] is not None and "non-finite" in gates_out[2]["message"]  # numbers, and the NaN seen
    if order is None:  # items in another order are aligned through the dicts, read then
        assert "_samples" not in sb.__dict__ and "_samples" not in sf.__dict__
    assert _same(sb.samples, db.samples) and sb.samples[0]["response"] == ""


def test_cached_compare_hits_with_the_recorded_hash(tmp_path, monkeypatch):
    from evalkit.compare import compare as compare_module
    from evalkit.runner.cache import ResponseCache

    (sb, sf), _ = _loaded(tmp_path, _run("base", 0), _run("ft", 1))
    cache = ResponseCache(tmp_path / "cache.db")
    try:
        first = cached_compare(cache, sb, sf, seed=0, n_resamples=100, confidence=0.95)
        monkeypatch.setattr(compare_module, "compare_runs", None)  # a second computation would fail
        again = RunResult.load(tmp_path / "base"), RunResult.load(tmp_path / "ft")
        second = cached_compare(cache, *again, seed=0, n_resamples=100, confidence=0.95)
    finally:
        cache.close()
    assert _same(dataclasses.asdict(first), dataclasses.asdict(second))
    assert all("_samples" not in r.__dict__ for r in (sb, sf, *again))


def test_columns_are_trusted_only_while_samples_jsonl_is_unchanged(tmp_path):
    run = _run("base", 0)
    run.write(tmp_path / "r")
    path = tmp_path / "r" / "samples.jsonl"
    fingerprint = run_fingerprint(RunResult.load(tmp_path / "r"))

    shutil.copytree(tmp_path / "r", tmp_path / "copy")  # a copy keeps the bytes, not the times
    os.utime(tmp_path / "copy" / "samples.jsonl", ns=(1, 1))
    copied = RunResult.load(tmp_path / "copy")
    assert copied.stored_columns() is not None and run_fingerprint(copied) == fingerprint

    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"status": "empty"', '"status": "EMPTY"', 1), encoding="utf-8")  # same size
    edited = RunResult.load(tmp_path / "r")
    assert edited.stored_columns() is None
    assert sum(s["status"] == "EMPTY" for s in edited.samples) == 1
    assert run_fingerprint(edited) != fingerprint

    (tmp_path / "r" / COLUMNS_FILE).write_bytes(b"not a zip file")  # damaged: the JSONL is read
    assert RunResult.load(tmp_path / "r").stored_columns() is None


def test_ragged_statistics_are_not_stored_and_stay_refused(tmp_path):
    run = _run("base", 0)
    run.samples[0]["stats"]["accuracy"] = [1.0]
    run.write(tmp_path / "r")
    assert not (tmp_path / "r" / COLUMNS_FILE).exists()
    loaded = RunResult.load(tmp_path / "r")
    assert loaded.stored_columns() is None
    with pytest.raises(ValueError):
        RunColumns(loaded).columns("acc").stats("accuracy")


def test_a_damaged_column_is_one_line_naming_the_file(tmp_path):
    from evalkit.errors import DataError

    run = _run("base", 0)
    run.write(tmp_path / "r")
    path = tmp_path / "r" / COLUMNS_FILE
    data = bytearray(path.read_bytes())
    i = data.index(b"s0_0.npy")  # the local header of one statistics member; its data follow
    data[i + 200] ^= 0xFF
    path.write_bytes(bytes(data))
    loaded = RunResult.load(tmp_path / "r")
    with pytest.raises(DataError, match="damaged.*delete it") as err:
        RunColumns(loaded).columns("acc").stats("accuracy")
    assert str(path) in str(err.value)


def test_samples_read_on_first_use_and_again_after_a_failed_read(tmp_path, monkeypatch):
    from evalkit import results
    from evalkit.errors import DataError

    run = _run("base", 0)
    run.write(tmp_path / "r")
    loaded = RunResult.load(tmp_path / "r")
    real, calls = results._read_samples, []

    def flaky(path, tasks):
        calls.append(path)
        if len(calls) == 1:
            raise DataError("disk hiccup", path=path)
        return real(path, tasks)

    monkeypatch.setattr(results, "_read_samples", flaky)
    with pytest.raises(DataError):
        loaded.samples
    assert _same(loaded.samples, run.samples) and len(calls) == 2
    assert loaded.stored_columns() is not None  # the dicts read are the ones the columns describe
    loaded.samples = loaded.samples[:3]
    assert loaded.stored_columns() is None
