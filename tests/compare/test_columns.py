"""The columnar view compare and the gates share: same items, same numbers as reading the
sample dicts one by one, and the same refusals."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.compare.columns import PairedRuns, PairedTask, RunColumns, TaskColumns, _by_task_slow, _float_rows, _task_blocks
from evalkit.compare.compare import CompareError, compare_runs
from evalkit.compare.gates import evaluate_gates, parse_gates
from evalkit.results import MetricValue, RunResult, TaskResult


def _sample(task, i, status="ok", stats=(1.0, 1.0), **extra):
    s = {"task": task, "id": f"{task}-{i}", "status": status, "prompt_tokens": 10, **extra}
    if status != "error":
        s["stats"] = {"accuracy": list(stats)}
    return s


def test_task_blocks_match_one_pass_grouping_in_any_order():
    rng = np.random.default_rng(0)
    contiguous = [_sample(t, i) for t in ("a", "b", "c") for i in range(int(rng.integers(1, 40)))]
    assert _task_blocks(contiguous) == _by_task_slow(contiguous)
    shuffled = [contiguous[i] for i in rng.permutation(len(contiguous))]
    assert _task_blocks(shuffled) == _by_task_slow(shuffled)
    split = contiguous[:5] + [_sample("z", 0)] + contiguous[5:]  # task a, then z, then a again
    assert _task_blocks(split) == _by_task_slow(split)
    assert _task_blocks([]) == {}


@pytest.mark.parametrize("rows", [[[1.0, 2.0], [3.0]], [[1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]]])
def test_float_rows_refuse_ragged_statistics(rows):
    with pytest.raises(ValueError):
        _float_rows(rows, len(rows))


def test_float_rows_equal_numpy():
    rows = np.random.default_rng(1).random((50, 10)).tolist()
    assert np.array_equal(_float_rows(rows, 50), np.array(rows))


def test_failed_requests_are_nan_rows_and_dropped_from_the_pair():
    b = TaskColumns([_sample("t", 0), _sample("t", 1, "error"), _sample("t", 2, "empty", (0.0, 1.0))])
    f = TaskColumns([_sample("t", 0, stats=(0.0, 1.0)), _sample("t", 1), _sample("t", 2, "error")])
    assert np.isnan(b.stats("accuracy")[1]).all() and b.outcomes.error == 1 and b.outcomes.empty == 1
    pair = PairedTask("t", b, f)
    assert pair.n == 1 and pair.dropped == 2
    sa, sb = pair.stats("accuracy")
    assert sa.tolist() == [[1.0, 1.0]] and sb.tolist() == [[0.0, 1.0]]


def test_items_in_another_order_are_aligned_and_other_items_refused():
    b = TaskColumns([_sample("t", i, stats=(i, 1.0)) for i in range(4)])
    f = TaskColumns([_sample("t", i, stats=(10 + i, 1.0)) for i in (2, 0, 3, 1)])
    sa, sb = PairedTask("t", b, f).stats("accuracy")
    assert (sb[:, 0] - sa[:, 0]).tolist() == [10, 10, 10, 10]
    with pytest.raises(CompareError, match="different items"):
        PairedTask("t", b, TaskColumns([_sample("t", i) for i in (0, 1, 2, 9)]))


def test_groups_are_codes_of_the_labels_and_partial_labels_refused():
    b = TaskColumns([_sample("t", i, group=f"g{i % 3}") for i in range(9)])
    codes = PairedTask("t", b, TaskColumns([_sample("t", i) for i in range(9)])).groups()
    assert codes.tolist() == [0, 1, 2] * 3
    partial = TaskColumns([_sample("t", i, **({"group": "g"} if i else {})) for i in range(9)])
    with pytest.raises(CompareError, match="no group"):
        PairedTask("t", partial, TaskColumns([_sample("t", i) for i in range(9)])).groups()
    # an unlabelled item whose request failed leaves the paired table, and so its missing label does too
    failed = TaskColumns([_sample("t", 0, "error")] + [_sample("t", i, group=f"g{i}") for i in range(1, 9)])
    assert PairedTask("t", failed, TaskColumns([_sample("t", i) for i in range(9)])).groups().size == 8


def _run(model, scores):
    samples = [_sample("qa", i, stats=(float(s), 1.0)) for i, s in enumerate(scores)]
    task = TaskResult("qa", "target", "target", "multiple_choice", "ok", n=len(scores),
                      metrics={"accuracy": MetricValue(None, True, "accuracy")})
    return RunResult(model, "fake", {}, {}, "test", tasks=[task], samples=samples)


def test_gates_reuse_compare_columns_only_for_the_same_runs():
    rng = np.random.default_rng(3)
    base = _run("base", rng.random(300) < 0.5)
    ft = _run("ft", rng.random(300) < 0.6)
    gates = parse_gates([{"type": "must_not_regress", "task": "qa", "metric": "accuracy", "margin": 0.05}],
                        known_tasks={"qa"}, known_suites={"target"})
    c = compare_runs(base, ft, seed=0)
    assert isinstance(c.columns, PairedRuns) and c.columns.of(base, ft)
    shared = evaluate_gates(gates, base, ft, c, seed=0, n_resamples=1000)
    del c.columns
    fresh = evaluate_gates(gates, base, ft, c, seed=0, n_resamples=1000)
    assert shared == fresh
    ft.samples.append(_sample("qa", 999))  # a run changed since compare: its columns are not reused
    assert not c.__dict__.get("columns") and not RunColumns(base).of(ft)
    cols = PairedRuns(RunColumns(base), RunColumns(ft))
    ft.samples.pop()
    assert not cols.of(base, ft)
