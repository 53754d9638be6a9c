"""Do the gates keep their promises? Simulated comparisons with a known truth.

Each scenario builds base and fine-tune run results item by item from a known per-item
truth, runs them through evalkit's own compare and gate code (the same functions
``evalkit compare --gate`` calls), and counts how often a gate says PASS. A row's "observed"
rate comes with its Monte-Carlo 95 % interval (Wilson), so the reader can see how much of a
gap to the target is simulation noise.

Every item has a latent difficulty drawn from a Beta distribution around its task's mean. Both
models answer each item independently given that difficulty, so the comparison is paired the
way real ones are. The scenarios:

- A/A at n = 10, 30, 100, 1000: both models draw from the same per-item truth; any
  ``must_improve`` PASS among five target tasks is a family-wise false alarm.
- Quiet breakage at n = 10 ... 1000: the fine-tune breaks items so that its true accuracy is
  lower by exactly the margin; a ``must_not_regress`` PASS is a false PASS.
- A true gain exactly equal to ``min_effect``: a ``must_improve`` PASS claims more than is true.
- Clusters: 20 clusters of 10 items whose fine-tune effect varies by cluster (topics it helped
  and topics it hurt, zero on average); with the ``group`` field declared, and without it.
- Silent fine-tune: it answers nothing on 40 % of items (scored wrong, as an empty answer is).
- Five equal candidates: any candidate's ``must_improve`` PASS is a false alarm.
- Ten sequential looks (``--sequential``): quiet breakage and A/A, stopping at the first
  decision.
- Power: a true gain equal to the MDE the gate itself reported (under A/A), for a 0/1 metric
  (at n = 200, Tango's test, and n = 50, the exact test), an F1-like per-item score and bits
  per byte.

    python benchmarks/calibration.py                # the full table (1,000 simulations a row)
    python benchmarks/calibration.py --quick        # a smoke run (60 simulations a row)
    python benchmarks/calibration.py --groups aa,breakage --sims 2000   # some rows only
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from evalkit.compare.compare import compare_runs
from evalkit.compare.gates import PASS, GateReport, evaluate_gates, parse_gates
from evalkit.results import MetricValue, RunResult, TaskResult
from evalkit.stats import wilson_interval

CONCENTRATION = 4.0  # Beta(a, b) with a + b = 4: items range from easy to hard
LN2 = math.log(2.0)
METRIC_OF = {"binary": "accuracy", "f1": "f1", "bpb": "bits_per_byte"}
HIGHER_IS_BETTER = {"accuracy": True, "f1": True, "bits_per_byte": False}


@dataclass(frozen=True)
class Design:
    n_items: int = 200
    n_resamples: int = 1000
    alpha: float = 0.05
    margin: float = 0.05
    kind: str = "binary"  # binary | f1 | bpb
    targets: tuple[str, ...] = tuple(f"target{i}" for i in range(5))
    forgetting: tuple[str, ...] = tuple(f"forget{i}" for i in range(5))
    clusters: int | None = None  # items per task are split into this many clusters
    declare_groups: bool = True  # whether the run results carry the group field
    cluster_sd: float = 0.0  # SD of the fine-tune's per-cluster effect (zero on average)
    silent: float = 0.0  # fraction of items the fine-tune answers with nothing
    level: float | None = None  # every task's mean accuracy, instead of 0.35 ... 0.80

    @property
    def metric(self) -> str:
        return METRIC_OF[self.kind]

    def mean_accuracy(self, index: int) -> float:
        if self.level is not None:
            return self.level
        return 0.35 + 0.05 * index  # tasks from hard (0.35) to easy (0.80)

    min_effect: float = 0.0  # of the must_improve gates

    def gates(self):
        raw = [{"type": "must_improve", "task": t, "metric": self.metric, "alpha": self.alpha,
                "min_effect": self.min_effect} for t in self.targets]
        raw += [{"type": "must_not_regress", "task": t, "metric": self.metric, "margin": self.margin,
                 "alpha": self.alpha} for t in self.forgetting]
        return parse_gates(raw, known_tasks=self.targets + self.forgetting, known_suites=("target", "forgetting"))


def shifted(p: np.ndarray, effect: float) -> np.ndarray:
    """Per-item probabilities whose mean moves by exactly ``effect`` and stay inside [0, 1]:
    a gain goes to items in proportion to their room to improve, a loss in proportion to p."""
    if effect >= 0:
        return p + effect * (1 - p) / np.mean(1 - p)
    return p + effect * p / np.mean(p)


def _cluster_effects(rng, design: Design, n: int) -> np.ndarray:
    """The fine-tune's extra effect per item: topics it helped and topics it hurt, zero on
    average over the population of clusters, not in every draw (that is what a
    cluster-robust interval has to cover). Items are labelled as in :func:`_truth`."""
    if design.clusters is None:
        return np.zeros(n)
    u = rng.normal(0.0, design.cluster_sd, size=design.clusters)
    return u[np.arange(n) * design.clusters // n]


@dataclass(frozen=True)
class _Truth:
    """One task's latent per-item truth, shared by the base and every candidate."""

    p: np.ndarray  # per-item difficulty (probability correct, or expected score)
    labels: np.ndarray | None
    n_bytes: np.ndarray | None = None  # bits per byte only
    rate: np.ndarray | None = None


def _truth(rng, design: Design, mean: float) -> _Truth:
    n = design.n_items
    labels = np.arange(n) * design.clusters // n if design.clusters else None
    p = rng.beta(mean * CONCENTRATION, (1 - mean) * CONCENTRATION, size=n)
    if design.kind == "bpb":
        n_bytes = rng.integers(50, 400, size=n).astype(float)
        rate = np.exp(rng.normal(math.log(0.9), 0.35, size=n))  # bits per byte of each item
        return _Truth(p, labels, n_bytes, rate)
    return _Truth(p, labels)


def _answers(rng, design: Design, truth: _Truth, effect: float, extra: np.ndarray, silent_frac: float):
    """One model's per-item stats on a task, and which items it left empty."""
    n = design.n_items
    silent = rng.random(n) < silent_frac
    if design.kind == "bpb":
        # ``effect`` is a gain in bits per byte (positive = the fine-tune is better, lower).
        bpb = (truth.rate - effect + extra) * np.exp(rng.normal(0, 0.08, size=n))
        return [[float(b * LN2 * nb), float(nb)] for b, nb in zip(bpb, truth.n_bytes)], silent
    q = np.clip(shifted(truth.p, effect) + extra, 0.0, 1.0)
    if design.kind == "f1":  # a graded per-item score (token F1, ROUGE and the like)
        score = rng.beta(q * 6 + 0.05, (1 - q) * 6 + 0.05)
    else:
        score = (rng.random(n) < q).astype(float)
    score = np.where(silent, 0.0, score)  # an empty answer scores 0
    return [[float(x), 1.0] for x in score], silent


def _run(model: str, design: Design, tasks: dict) -> RunResult:
    metric = design.metric
    results, samples = [], []
    for task, (suite, stats, labels, silent) in tasks.items():
        total = np.sum(stats, axis=0)
        value = float(total[0] / total[1] / (LN2 if metric == "bits_per_byte" else 1.0))
        results.append(TaskResult(task=task, suite=suite, role=suite, type="generate", status="ok", n=len(stats),
                                  metrics={metric: MetricValue(value, HIGHER_IS_BETTER[metric], metric)}))
        for i, st in enumerate(stats):
            group = f"c{labels[i]}" if labels is not None and design.declare_groups else None
            status = "empty" if silent[i] else "ok"
            samples.append({"task": task, "id": f"{task}-{i}", "status": status, "group": group,
                            "prompt_tokens": 0, "response": "" if status == "empty" else "x",
                            "stats": {metric: st}})
    return RunResult(model=model, backend="simulated", identity={}, model_config={}, project="calibration",
                     tasks=results, samples=samples)


def simulate_runs(design: Design, effects: dict[str, float], seed: int, candidates: int = 1):
    """(base run, [candidate runs]) for one simulated comparison: every candidate answers the
    same latent items as the base, each with its own draws."""
    rng = np.random.default_rng(seed)
    names = [(t, "target") for t in design.targets] + [(t, "forgetting") for t in design.forgetting]
    base_tasks, cand_tasks = {}, [{} for _ in range(candidates)]
    for index, (task, suite) in enumerate(names):
        truth = _truth(rng, design, design.mean_accuracy(index))
        stats, silent = _answers(rng, design, truth, 0.0, np.zeros(design.n_items), 0.0)
        base_tasks[task] = (suite, stats, truth.labels, silent)
        for c in range(candidates):
            extra = _cluster_effects(rng, design, design.n_items)
            stats, silent = _answers(rng, design, truth, effects.get(task, 0.0), extra, design.silent)
            cand_tasks[c][task] = (suite, stats, truth.labels, silent)
    base = _run("base", design, base_tasks)
    runs = [_run(f"ft{c + 1}" if candidates > 1 else "ft", design, tasks) for c, tasks in enumerate(cand_tasks)]
    return base, runs


def simulate(design: Design, effects: dict[str, float], seed: int, gates=None) -> GateReport:
    """One simulated comparison of one candidate: fine-tune gains ``effects[task]``."""
    base, (ft,) = simulate_runs(design, effects, seed)
    comparison = compare_runs(base, ft, seed=seed, n_resamples=design.n_resamples)
    return evaluate_gates(gates or design.gates(), base, ft, comparison, seed=seed, n_resamples=design.n_resamples)


def pass_rates(design: Design, effects: dict[str, float], sims: int, first_seed: int):
    """Per simulation, which gates passed ({target: bool}) and the reported MDEs ({target: float})."""
    gates = design.gates()
    passed, mde = [], []
    for s in range(sims):
        report = simulate(design, effects, first_seed + s, gates)
        passed.append({g.target: g.verdict == PASS for g in report.gates})
        mde.append({g.target: g.mde for g in report.gates})
    return passed, mde


@dataclass
class Row:
    check: str
    expected: str
    hits: int = 0
    trials: int = 0
    note: str = ""
    extra: dict = field(default_factory=dict)

    def markdown(self) -> str:
        if not self.trials:
            return f"| {self.check} | {self.expected} | - | - | {self.note or 'not run'} |"
        low, high = wilson_interval(self.hits, self.trials)  # Monte Carlo error of the rate itself
        return (f"| {self.check} | {self.expected} | {self.trials:,} | {self.hits / self.trials:.3f} | "
                f"[{low:.3f}, {high:.3f}] |")


def _aa_rows(sims: int, ns=(10, 30, 100, 1000)) -> list[Row]:
    rows = []
    for n in ns:
        design = Design(n_items=n, forgetting=())
        passed, _ = pass_rates(design, {}, sims, first_seed=1_000_000 + n)
        rows.append(Row(f"A/A, n = {n}: any of 5 must_improve PASS (family-wise false alarm)", "<= 0.05",
                        sum(any(p.values()) for p in passed), sims))
    return rows


def _breakage_rows(sims: int, ns=(10, 20, 30, 50, 100, 200, 1000)) -> list[Row]:
    rows = []
    for n in ns:
        design = Design(n_items=n, targets=())
        at_margin = {t: -design.margin for t in design.forgetting}
        passed, _ = pass_rates(design, at_margin, sims, first_seed=2_000_000 + n)
        rows.append(Row(f"true drop = margin {design.margin}, n = {n}: must_not_regress PASS, per gate", "<= 0.05",
                        sum(p[t] for p in passed for t in design.forgetting), sims * len(design.forgetting)))
    return rows


def _min_effect_row(sims: int) -> Row:
    """A true gain exactly equal to ``min_effect``: a PASS claims ">= min_effect" falsely."""
    design = Design(n_items=500, forgetting=(), targets=("target0",), min_effect=0.05, level=0.5)
    passed, _ = pass_rates(design, {"target0": 0.05}, sims, first_seed=9_000_000)
    return Row("true gain = min_effect 0.05, n = 500: must_improve PASS (claims >= 0.05)", "<= 0.05",
               sum(p["target0"] for p in passed), sims)


def _cluster_rows(sims: int) -> list[Row]:
    rows = []
    for declared in (True, False):
        design = Design(n_items=200, clusters=20, cluster_sd=0.25, declare_groups=declared, forgetting=(),
                        targets=("target0",), level=0.6)
        passed, _ = pass_rates(design, {}, sims, first_seed=3_000_000 + declared)
        label = "group field declared" if declared else "group field NOT declared (the user's omission)"
        rows.append(Row(f"A/A, 20 clusters x 10 items, cluster effects: must_improve PASS; {label}",
                        "<= 0.05" if declared else "(mis-specified)",
                        sum(p[t] for p in passed for t in design.targets), sims * len(design.targets)))
    return rows


def _silent_row(sims: int) -> Row:
    """Base accuracy 0.60; the fine-tune is as good where it answers, but silent on 40 %."""
    design = Design(n_items=1000, targets=(), forgetting=("forget0",), silent=0.40, level=0.60)
    passed, _ = pass_rates(design, {}, sims, first_seed=4_000_000)
    return Row("fine-tune silent on 40 % of items (true drop ~ 0.3): must_not_regress PASS", "<= 0.05",
               sum(p["forget0"] for p in passed), sims)


def _candidates_row(sims: int, candidates: int = 5) -> Row:
    from evalkit.compare import gates as gates_module

    many = getattr(gates_module, "evaluate_gates_many", None)
    if many is None:
        return Row(f"{candidates} equal candidates: any candidate's must_improve PASS", "<= 0.05",
                   note="not run: this version has no family-wise control across candidates")
    design = Design(n_items=200, forgetting=())
    gates = design.gates()
    hits = 0
    for s in range(sims):
        base, runs = simulate_runs(design, {}, 5_000_000 + s, candidates=candidates)
        comparisons = [compare_runs(base, r, seed=s, n_resamples=design.n_resamples) for r in runs]
        reports = many(gates, base, runs, comparisons, seed=s, n_resamples=design.n_resamples)
        hits += any(g.verdict == PASS and g.type == "must_improve" for r in reports for g in r.gates)
    return Row(f"{candidates} equal candidates: any candidate's must_improve PASS", "<= 0.05", hits, sims)


def _sequential_rows(sims: int, looks: int = 10) -> list[Row]:
    try:
        from evalkit.compare.sequential import sequential_decisions
    except ImportError:
        return [Row(f"{looks} sequential looks: false PASS", "<= 0.05", note="not run: no --sequential in this version")]
    rows = []
    for label, design, effects, kind in (
        ("true drop = margin, n = 1000", Design(n_items=1000, targets=()), None, "must_not_regress"),
        ("A/A, n = 1000, 5 must_improve", Design(n_items=1000, forgetting=()), {}, "must_improve"),
    ):
        if effects is None:
            effects = {t: -design.margin for t in design.forgetting}
        gates, hits, trials = design.gates(), 0, 0
        for s in range(sims):
            base, (ft,) = simulate_runs(design, effects, 6_000_000 + s + (kind == "must_improve") * 100_000)
            verdicts = sequential_decisions(gates, base, ft, looks=looks, seed=s)
            if kind == "must_improve":
                hits += any(v == PASS for v in verdicts.values())
                trials += 1
            else:
                hits += sum(v == PASS for v in verdicts.values())
                trials += len(verdicts)
        rows.append(Row(f"{looks} sequential looks, {label}: false PASS ({'any gate' if kind == 'must_improve' else 'per gate'})",
                        "<= 0.05", hits, trials))
    return rows


def _power_rows(sims: int, cases=(("binary", 200), ("binary", 50), ("f1", 200), ("bpb", 200))) -> list[Row]:
    """n = 50 exercises the exact test's own power calculation (binary, n <= EXACT_MAX_N)."""
    rows = []
    for kind, n in cases:
        design = Design(n_items=n, kind=kind, targets=("target0",), forgetting=())
        _, aa_mde = pass_rates(design, {}, max(sims // 4, 20), first_seed=7_000_000 + n)
        mde = float(np.nanmean([m["target0"] for m in aa_mde]))
        if not math.isfinite(mde) or mde <= 0:
            rows.append(Row(f"power at the reported MDE, {design.metric}", "0.80 +- 0.05", note=f"MDE reported {mde}"))
            continue
        passed, _ = pass_rates(design, {"target0": mde}, sims, first_seed=8_000_000 + n)
        rows.append(Row(f"gain = reported MDE ({mde:.4f}), {design.metric}, n = {n}: must_improve PASS",
                        "0.80 +- 0.05", sum(p["target0"] for p in passed), sims))
    return rows


def _group(name: str, sims: int) -> list[Row]:
    out = {"aa": _aa_rows, "breakage": _breakage_rows, "clusters": _cluster_rows, "sequential": _sequential_rows,
           "power": _power_rows, "silent": _silent_row, "candidates": _candidates_row,
           "min_effect": _min_effect_row}[name](sims)
    return out if isinstance(out, list) else [out]


GROUPS = ("aa", "breakage", "min_effect", "clusters", "silent", "candidates", "sequential", "power")


def calibration_rows(sims: int, jobs: int = 1, groups: tuple[str, ...] = GROUPS) -> list[Row]:
    """Every row (of ``groups``), the groups spread over ``jobs`` processes (each group is
    seeded on its own, so the table depends neither on ``jobs`` nor on which groups ran)."""
    if jobs <= 1:
        return [r for g in groups for r in _group(g, sims)]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(_group, groups, [sims] * len(groups)))
    return [r for part in parts for r in part]


def _beta_moments(mean: float) -> tuple[float, float]:
    """E[p] and E[p^2] for an item's difficulty p ~ Beta(mean c, (1 - mean) c)."""
    a, b = mean * CONCENTRATION, (1 - mean) * CONCENTRATION
    return mean, a * (a + 1) / ((a + b) * (a + b + 1))


def _cells(mean: float, effect: float) -> tuple[float, float]:
    """(P(fixed), P(broke)) of one item: difficulty from the Beta, both models answering
    independently given it, the fine-tune's probability moved by :func:`shifted` (with the
    population mean where the simulation uses the sample mean)."""
    e1, e2 = _beta_moments(mean)
    if effect >= 0:  # q = p + effect (1 - p) / (1 - mean)
        k = effect / (1 - mean)
        eq, epq = e1 + k * (1 - e1), e2 + k * (e1 - e2)
    else:  # q = p (1 + effect / mean)
        k = 1 + effect / mean
        eq, epq = k * e1, k * e2
    return eq - epq, e1 - epq  # E[(1 - p) q], E[p (1 - q)]


def _rejection_rate(n: int, d0: float, level: float, p_fixed: float, p_broke: float) -> float:
    """P(the gate's one-sided p < level) when the cells are trinomial: every outcome
    enumerated, with the p-value the estimate itself computes (exact or Tango's)."""
    from scipy.special import gammaln, xlogy

    from evalkit.stats.paired_binary import PairedBinaryEstimate

    b, c = (x.ravel() for x in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
    keep = b + c <= n
    b, c = b[keep], c[keep]
    if PairedBinaryEstimate(n, 0, 0, 0).exact:
        p = np.array([PairedBinaryEstimate(n - x - y, y, x, 0).p_greater(d0) for x, y in zip(b, c)])
    else:  # Tango's corrected test, vectorised (the formula the estimate evaluates one at a time)
        from scipy.special import ndtr

        from evalkit.stats.paired_binary import CONTINUITY, score_z

        p = ndtr(-np.asarray(score_z(b, c, n, d0, CONTINUITY)))
    r = n - b - c
    pmf = np.exp(gammaln(n + 1) - gammaln(b + 1) - gammaln(c + 1) - gammaln(r + 1)
                 + xlogy(b, p_fixed) + xlogy(c, p_broke) + xlogy(r, 1 - p_fixed - p_broke))
    return float(pmf[p < level].sum())


def exact_rates() -> list[str]:
    """The 0/1 rows' rates computed rather than simulated: each item's cells are trinomial
    (marginally over its difficulty), so a gate's PASS probability is a finite sum."""
    design, out = Design(), []
    for n in (10, 30, 100, 1000):  # A/A: some must_improve passes iff the smallest p < alpha / 5
        none = 1.0
        for i in range(5):
            none *= 1 - _rejection_rate(n, 0.0, design.alpha / 5, *_cells(design.mean_accuracy(i), 0.0))
        out.append(f"A/A, n = {n}, family of five: {1 - none:.4f}")
    for n in (10, 20, 30, 50, 100, 200, 1000):
        rates = [_rejection_rate(n, -design.margin, design.alpha, *_cells(design.mean_accuracy(i), -design.margin))
                 for i in range(5)]
        out.append(f"true drop = margin, n = {n}, per gate: {np.mean(rates):.4f}")
    fixed, broke = _cells(0.5, 0.05)
    out.append(f"true gain = min_effect 0.05, n = 500: {_rejection_rate(500, 0.05, design.alpha, fixed, broke):.4f}")
    return out


def calibration_table(rows: list[Row]) -> str:
    head = ["| check (alpha = 0.05) | should be | trials | observed | 95% MC interval |", "|---|---|---:|---:|---|"]
    return "\n".join(head + [r.markdown() for r in rows])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000, help="simulations per row (default 1,000)")
    parser.add_argument("--quick", action="store_true", help="60 simulations per row, for a smoke run")
    parser.add_argument("--jobs", type=int, default=1, help="processes to spread the rows over (default 1)")
    parser.add_argument("--exact-rates", action="store_true",
                        help="also print the 0/1 rows' rates computed by enumeration instead of simulation")
    parser.add_argument("--groups", default=",".join(GROUPS),
                        help=f"comma-separated groups of rows to run (default all: {','.join(GROUPS)})")
    args = parser.parse_args(argv)
    groups = tuple(g for g in args.groups.split(",") if g)
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    sims = 60 if args.quick else args.sims
    started = time.perf_counter()
    rows = calibration_rows(sims, args.jobs, groups)
    print(f"Gate calibration: {sims} simulations per row, evalkit's own compare and gate code.\n")
    print(calibration_table(rows))
    if args.exact_rates:
        print("\nComputed, not simulated (trinomial cells, every outcome enumerated):")
        print("\n".join(f"- {line}" for line in exact_rates()))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
