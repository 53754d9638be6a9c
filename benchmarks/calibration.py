"""Do the gates keep their promises? Simulated comparisons with a known truth.

A 10-task suite (5 target tasks with a ``must_improve`` gate each, 5 forgetting tasks with a
``must_not_regress`` gate each), ``n`` items per task. Every item has a latent difficulty: its
probability ``p_i`` of being answered correctly is drawn from a Beta distribution around the
task's mean accuracy. Both models answer each item independently, the base with ``p_i`` and
the fine-tune with ``p_i`` shifted by the scenario's effect (so under A/A both draw from the
same per-item distribution). The script reports

(a) the family-wise false-alarm rate of the must_improve gates under A/A (should be <= alpha),
(b) the false-PASS rate of must_not_regress when the true drop equals the margin (<= alpha),
(c) the power of must_improve when the true gain equals the minimum detectable effect the
    gates themselves report (about 80 %: it is planned at the Holm worst case, alpha / 5).
    The MDE is computed from the observed spread of per-item differences, which is a little
    wider when a real gain is present; (c) uses the MDE reported under A/A, (c*) the one
    reported when that gain is present.

Gates use fewer bootstrap resamples than the CLI default (1,000 instead of 10,000) to keep the
simulation fast; this only adds a little noise to each p-value and bound.

    python benchmarks/calibration.py --sims 400      # the full table
    python benchmarks/calibration.py --quick         # a smoke run (60 simulations)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace

import numpy as np

from evalkit.compare.compare import compare_runs
from evalkit.compare.gates import PASS, GateReport, evaluate_gates, parse_gates
from evalkit.results import MetricValue, RunResult, TaskResult
from evalkit.stats import wilson_interval

CONCENTRATION = 4.0  # Beta(a, b) with a + b = 4: items range from easy to hard


@dataclass(frozen=True)
class Design:
    n_items: int = 200
    n_resamples: int = 1000
    alpha: float = 0.05
    margin: float = 0.05
    targets: tuple[str, ...] = tuple(f"target{i}" for i in range(5))
    forgetting: tuple[str, ...] = tuple(f"forget{i}" for i in range(5))

    def mean_accuracy(self, index: int) -> float:
        return 0.35 + 0.05 * index  # tasks from hard (0.35) to easy (0.80)

    def gates(self):
        raw = [{"type": "must_improve", "task": t, "metric": "accuracy", "alpha": self.alpha} for t in self.targets]
        raw += [{"type": "must_not_regress", "task": t, "metric": "accuracy", "margin": self.margin,
                 "alpha": self.alpha} for t in self.forgetting]
        return parse_gates(raw, known_tasks=self.targets + self.forgetting, known_suites=("target", "forgetting"))


def shifted(p: np.ndarray, effect: float) -> np.ndarray:
    """Per-item probabilities whose mean moves by exactly ``effect`` and stay inside [0, 1]:
    a gain goes to items in proportion to their room to improve, a loss in proportion to p."""
    if effect >= 0:
        return p + effect * (1 - p) / np.mean(1 - p)
    return p + effect * p / np.mean(p)


def _run(model: str, scores: dict[str, tuple[str, np.ndarray]]) -> RunResult:
    tasks, samples = [], []
    for task, (suite, correct) in scores.items():
        tasks.append(TaskResult(task=task, suite=suite, role=suite, type="multiple_choice", status="ok",
                                n=correct.size, metrics={"accuracy": MetricValue(float(correct.mean()), True, "accuracy")}))
        samples += [{"task": task, "id": f"{task}-{i}", "status": "ok", "group": None, "prompt_tokens": 0,
                     "stats": {"accuracy": [float(c), 1.0]}} for i, c in enumerate(correct)]
    return RunResult(model=model, backend="simulated", identity={}, model_config={}, project="calibration",
                     tasks=tasks, samples=samples)


def simulate(design: Design, effects: dict[str, float], seed: int, gates=None) -> GateReport:
    """One simulated comparison: fine-tune gains ``effects[task]`` (0 when absent)."""
    rng = np.random.default_rng(seed)
    base, ft = {}, {}
    tasks = [(t, "target") for t in design.targets] + [(t, "forgetting") for t in design.forgetting]
    for index, (task, suite) in enumerate(tasks):
        mean = design.mean_accuracy(index)
        p = rng.beta(mean * CONCENTRATION, (1 - mean) * CONCENTRATION, size=design.n_items)
        base[task] = (suite, (rng.random(p.size) < p).astype(float))
        ft[task] = (suite, (rng.random(p.size) < shifted(p, effects.get(task, 0.0))).astype(float))
    base_run, ft_run = _run("base", base), _run("ft", ft)
    comparison = compare_runs(base_run, ft_run, seed=seed, n_resamples=design.n_resamples)
    return evaluate_gates(gates or design.gates(), base_run, ft_run, comparison, seed=seed, n_resamples=design.n_resamples)


def pass_rates(design: Design, effects: dict[str, float], sims: int, first_seed: int):
    """Per simulation, which gates passed ({name: bool}) and the reported MDEs ({name: float})."""
    gates = design.gates()
    passed, mde = [], []
    for s in range(sims):
        report = simulate(design, effects, first_seed + s, gates)
        passed.append({g.target: g.verdict == PASS for g in report.gates})
        mde.append({g.target: g.mde for g in report.gates})
    return passed, mde


def _row(check: str, expected: str, hits: int, trials: int) -> str:
    low, high = wilson_interval(hits, trials)  # Monte Carlo error of the rate itself
    return f"| {check} | {expected} | {trials:,} | {hits / trials:.3f} | [{low:.3f}, {high:.3f}] |"


def calibration_table(design: Design, sims: int) -> str:
    aa, aa_mde = pass_rates(design, {}, sims, first_seed=1_000_000)
    fwer = sum(any(p[t] for t in design.targets) for p in aa)
    at_margin = {t: -design.margin for t in design.forgetting}
    ni, _ = pass_rates(design, at_margin, sims, first_seed=2_000_000)
    false_pass = sum(p[t] for p in ni for t in design.forgetting)
    all_pass = sum(all(p[t] for t in design.forgetting) for p in ni)
    # The MDE each gate reported under A/A, averaged: the gain it claims 80 % power for.
    mde = {t: float(np.mean([m[t] for m in aa_mde])) for t in design.targets}
    one = design.targets[0]
    single, single_mde = pass_rates(design, {one: mde[one]}, sims, first_seed=3_000_000)
    # A real gain widens the spread of per-item differences (p(1 - p) moves towards 1/4), so
    # the gate reports a larger MDE when the gain is there; power is also shown at that one.
    honest = float(np.mean([m[one] for m in single_mde]))
    at_own, _ = pass_rates(design, {one: honest}, sims, first_seed=4_000_000)
    every, _ = pass_rates(design, mde, sims, first_seed=5_000_000)
    a = design.alpha
    return "\n".join([
        f"| check ({len(design.targets)} must_improve + {len(design.forgetting)} must_not_regress gates, "
        f"n = {design.n_items}, alpha = {a}) | should be | trials | observed | 95% MC interval |",
        "|---|---|---:|---:|---|",
        _row("(a) A/A: any must_improve PASS (family-wise false alarm)", f"<= {a}", fwer, sims),
        _row(f"(b) true drop = margin {design.margin}: must_not_regress PASS, per gate", f"<= {a}",
             false_pass, sims * len(design.forgetting)),
        _row("(b') true drop = margin on all five: all must_not_regress PASS", f"<= {a}", all_pass, sims),
        _row(f"(c) gain = MDE reported under A/A ({mde[one]:.3f}) on {one} only: its gate PASSes", "~ 0.80",
             sum(p[one] for p in single), sims),
        _row(f"(c*) gain = MDE reported when that gain is present ({honest:.3f}), {one} only", "~ 0.80",
             sum(p[one] for p in at_own), sims),
        _row("(c') gain = each task's A/A MDE on all five: PASS, per gate", ">= 0.80 (Holm steps down)",
             sum(p[t] for p in every for t in design.targets), sims * len(design.targets)),
    ])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=400, help="simulations per scenario (default 400)")
    parser.add_argument("--quick", action="store_true", help="60 simulations per scenario, for a smoke run")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per gate (default 1,000)")
    args = parser.parse_args(argv)
    sims = 60 if args.quick else args.sims
    design = replace(Design(), n_resamples=args.resamples)
    started = time.perf_counter()
    table = calibration_table(design, sims)
    print(f"Gate calibration: {sims} simulations per scenario, {design.n_resamples:,} bootstrap resamples per gate, "
          f"{len(design.targets) + len(design.forgetting)} tasks x {design.n_items} items.\n")
    print(table)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
