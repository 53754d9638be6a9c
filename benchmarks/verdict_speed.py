"""Time a whole verdict on 20 tasks x 100,000 items from two run folders: ``RunResult.load``
+ ``compare_runs`` + ``evaluate_gates``, as ``evalkit compare RUN RUN --gate`` computes it.

Unlike ``stats_speed.py`` (the statistics alone, on ready arrays), this writes two real run
folders (``RunResult.write``: samples.jsonl and the columns stored beside it) and times
reading them back: the per-item fields (ids, statuses, groups, statistics, tokens and
latency) come from the stored columns, once per run and task, shared by compare and the
gates, and are printed apart from the statistics on them. ``--dicts`` also times the older
path for the same folders: every sample parsed from samples.jsonl into a dict (and
validated), then read into the same columns. The mix: binary accuracy, F1-like ([score, 1]),
bits per byte ([nll, bytes]) and a BLEU-like corpus metric (10 columns); every fifth task
grouped into clusters of 50 items; a few empty answers and failed requests; one gate per
task (must_improve, must_not_regress or min_score). Building and writing the runs is not timed
(it takes minutes at full size; ``--dir`` keeps the folders for another timing).

    python benchmarks/verdict_speed.py [--tasks 20] [--items 100000] [--dir DIR] [--dicts]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from evalkit.compare.columns import PairedRuns, RunColumns
from evalkit.compare.compare import compare_runs
from evalkit.compare.gates import evaluate_gates, parse_gates
from evalkit.results import MetricValue, RunResult, TaskResult

KINDS = ("accuracy", "f1", "bits_per_byte", "bleu")
HIB = {"accuracy": True, "f1": True, "bits_per_byte": False, "bleu": True}
CLUSTER = 50  # items per cluster on grouped tasks


def _stats(kind: str, rng, n: int, shift: float) -> np.ndarray:
    if kind == "accuracy":
        return np.c_[(rng.random(n) < 0.6 + shift).astype(float), np.ones(n)]
    if kind == "f1":
        return np.c_[np.clip(rng.beta(2, 2, n) + shift, 0, 1), np.ones(n)]
    if kind == "bits_per_byte":
        nbytes = rng.integers(50, 400, n).astype(float)
        return np.c_[nbytes * rng.gamma(20, 0.05 - shift / 20, n), nbytes]
    ref_len = rng.integers(5, 40, n).astype(float)
    sys_len = np.maximum(1.0, ref_len + rng.integers(-5, 6, n))
    total = np.maximum(sys_len[:, None] - np.arange(4), 0.0)
    correct = np.floor(total * np.clip(rng.uniform(0.1, 0.8, (n, 1)) + shift, 0, 1) ** (1 + np.arange(4)))
    return np.c_[sys_len, ref_len, correct, total]


def _status(rng, n: int) -> list[str]:
    u = rng.random(n)
    return np.where(u < 0.001, "error", np.where(u < 0.01, "empty", "ok")).tolist()


def build_runs(n_tasks: int, n_items: int, seed: int = 0) -> tuple[RunResult, RunResult, list[dict]]:
    rng = np.random.default_rng(seed)
    runs = {name: RunResult(name, "bench", {}, {}, "bench.yaml", tasks=[]) for name in ("base", "ft")}
    raw_gates = []
    for t in range(n_tasks):
        kind, task = KINDS[t % len(KINDS)], f"task{t:02d}"
        grouped = t % 5 == 4
        ids = [f"{task}-{i}" for i in range(n_items)]
        groups = [f"c{i // CLUSTER}" for i in range(n_items)] if grouped else None
        role = "target" if t < n_tasks // 2 else "forgetting"
        for name, shift in (("base", 0.0), ("ft", 0.01 if role == "target" else 0.0)):
            stats = _stats(kind, rng, n_items, shift).tolist()
            status = _status(rng, n_items)
            run = runs[name]
            run.tasks.append(TaskResult(task, "suite", role, "generate", "ok", n=n_items,
                                        metrics={kind: MetricValue(None, HIB[kind], kind)}))
            for i in range(n_items):
                s = {"task": task, "id": ids[i], "status": status[i], "stats": {} if status[i] == "error" else {kind: stats[i]},
                     "metrics": {}, "prompt_tokens": 100, "completion_tokens": 10, "latency_s": 0.5}
                if grouped:
                    s["group"] = groups[i]
                run.samples.append(s)
        gate = ("must_improve", "must_not_regress", "min_score")[t % 3] if role == "target" else "must_not_regress"
        raw = {"type": gate, "task": task, "metric": kind}
        if gate == "must_improve":
            raw["min_effect"] = 0.0
        elif gate == "must_not_regress":
            raw["margin"] = 0.02 if kind != "bleu" else 1.0
        else:
            raw["min"] = {"accuracy": 0.5, "f1": 0.4, "bits_per_byte": 2.0, "bleu": 10.0}[kind]
        raw_gates.append(raw)
    return runs["base"], runs["ft"], raw_gates


def write_runs(directory: Path, n_tasks: int, n_items: int) -> list[dict]:
    """Two run folders under ``directory`` (reused when they hold this size); the gates."""
    spec = directory / "bench.json"
    if spec.exists() and json.loads(spec.read_text())["size"] == [n_tasks, n_items]:
        return json.loads(spec.read_text())["gates"]
    base, ft, raw_gates = build_runs(n_tasks, n_items)
    base.write(directory / "base")
    ft.write(directory / "ft")
    spec.write_text(json.dumps({"size": [n_tasks, n_items], "gates": raw_gates}))
    return raw_gates


def verdict(directory: Path, raw_gates: list[dict], dicts: bool = False) -> dict:
    """Seconds (wall, CPU) of each step from the two folders to the gate verdicts."""
    clock = _Clock()
    base, ft = RunResult.load(directory / "base"), RunResult.load(directory / "ft")
    if dicts:  # the older read: every sample a dict, then columns from the dicts
        base.samples, ft.samples = list(base.samples), list(ft.samples)
    gates = parse_gates(raw_gates, known_tasks=[t.task for t in base.tasks], known_suites=["suite"])
    columns = PairedRuns(RunColumns(base), RunColumns(ft)).read({t.task: list(t.metrics) for t in base.tasks})
    read = clock.lap()
    comparison = compare_runs(base, ft, seed=0, columns=columns)
    compared = clock.lap()
    report = evaluate_gates(gates, base, ft, comparison, seed=0, n_resamples=10_000)
    gated = clock.lap()
    return {"read": read, "compare": compared, "gates": gated,
            "verdicts": {v: sum(g.verdict == v for g in report.gates) for v in ("PASS", "FAIL", "INCONCLUSIVE")},
            "dicts_read": "_samples" in base.__dict__}


def _print(title: str, t: dict) -> None:
    stats = (t["compare"][0] + t["gates"][0], t["compare"][1] + t["gates"][1])
    total = (t["read"][0] + stats[0], t["read"][1] + stats[1])
    print(title)
    print(f"  load the two folders + read per-item fields {t['read'][0]:7.3f} ({t['read'][1]:.3f})")
    print(f"  compare statistics                          {t['compare'][0]:7.3f} ({t['compare'][1]:.3f})")
    print(f"  gates statistics                            {t['gates'][0]:7.3f} ({t['gates'][1]:.3f})")
    print(f"  compare + gates statistics                  {stats[0]:7.3f} ({stats[1]:.3f})")
    print(f"  total, folders to verdicts                  {total[0]:7.3f} ({total[1]:.3f})")
    print(f"  gate verdicts: {t['verdicts']}; sample dicts built: {t['dicts_read']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--dir", type=Path, default=None, help="Keep the run folders here (reused when the size matches).")
    ap.add_argument("--dicts", action="store_true", help="Also time the older read (a dict per sample); slow.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        raw_gates = write_runs(directory, args.tasks, args.items)
        print(f"run folders ready in {time.perf_counter() - started:.1f} s (not timed below): {directory}")
        small = directory / "warm"  # the same paths on few items first: warms the lazy imports
        verdict(small, write_runs(small, args.tasks, 60))
        print(f"{args.tasks} tasks x {args.items:,} items, seconds wall (CPU):")
        _print("stored columns (RunResult.load):", verdict(directory, raw_gates))
        if args.dicts:
            _print("a dict per sample (samples.jsonl parsed and validated):", verdict(directory, raw_gates, dicts=True))


class _Clock:
    """Wall and CPU seconds since the last lap (CPU as well: the machine may be shared)."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        out = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return out


if __name__ == "__main__":
    main()
