"""Clean and contaminated subsets in a comparison.

With ``contamination:`` in evalkit.yaml every task splits into the items the audit found in
the fine-tuning text and the clean rest. Each subset is compared exactly as the whole task
is (``compare_runs`` on runs holding only those items), so the clean delta is the delta a
compare on the clean items alone would report. A target task whose gain comes mostly from
contaminated items gets a warning: the fine-tune may have memorised its answers.

The share of the gain from contaminated items is ``w_c * gain_c / (w_c * gain_c + w_k *
gain_k)`` with ``w`` the subsets' shares of the items: for a mean over items (exact match,
accuracy) the denominator is the full gain exactly; for corpus metrics (F1 over classes,
chrF) it is the item-weighted approximation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from evalkit.compare.compare import Comparison, cached_compare
from evalkit.compare.gain import gain_sign
from evalkit.results import RunResult

MOSTLY = 0.5  # a gain "mostly" from contaminated items: more than half of it


def subset_run(run: RunResult, dirty: dict[str, set[str]], *, keep_dirty: bool) -> RunResult:
    """The run with only its clean (or only its contaminated) items."""
    samples = [s for s in run.samples if (s["id"] in dirty.get(s["task"], ())) == keep_dirty]
    return replace(run, samples=samples)


@dataclass
class SubsetRow:
    task: str
    suite: str
    role: str
    metric: str
    higher_is_better: bool
    items: int
    contaminated: int
    full: dict  # {delta, ci_low, ci_high, n} of the primary metric
    clean: dict
    dirty: dict
    contaminated_gain_share: float | None = None
    warning: str | None = None


@dataclass
class ContaminationReport:
    audit: dict  # the audit's settings, training files and per-task counts
    rows: dict[str, list[SubsetRow]] = field(default_factory=dict)  # candidate -> rows
    clean: dict[str, Comparison] = field(default_factory=dict)  # candidate -> compare on clean items
    clean_runs: tuple = ()  # (clean base, [clean candidates]) for clean_only gates

    def to_json(self) -> dict:
        from dataclasses import asdict

        return {"audit": self.audit, "by_candidate": {c: [asdict(r) for r in rows] for c, rows in self.rows.items()}}

    def warnings(self) -> list[str]:
        return [f"{cand}: {r.warning}" for cand, rows in self.rows.items() for r in rows if r.warning]


def _primary(comparison: Comparison, task: str):
    tc = next((t for t in comparison.tasks if t.task == task), None)
    if tc is None or tc.status != "ok":
        return None
    return next((m for m in tc.metrics if m.tested), None)


def _cell(m) -> dict:
    if m is None:
        return {"delta": None, "ci_low": None, "ci_high": None, "n": 0}
    return {"delta": m.delta, "ci_low": m.ci_low, "ci_high": m.ci_high, "n": m.n}


def _share(full, clean, dirty, hib: bool) -> float | None:
    s = gain_sign(hib)
    if full["delta"] is None or s * full["delta"] <= 0 or not dirty["n"]:
        return None  # no gain to attribute
    n = clean["n"] + dirty["n"]
    part_d = dirty["n"] / n * s * dirty["delta"] if dirty["delta"] is not None else 0.0
    part_c = clean["n"] / n * s * clean["delta"] if clean["n"] and clean["delta"] is not None else 0.0
    total = part_d + part_c
    return None if total <= 0 else part_d / total


def subset_rows(full: Comparison, clean: Comparison, dirty: Comparison, counts: dict[str, tuple[int, int]]) -> list[SubsetRow]:
    rows = []
    for tc in full.tasks:
        m = _primary(full, tc.task)
        if m is None or tc.task not in counts:
            continue
        items, bad = counts[tc.task]
        f, c, d = _cell(m), _cell(_primary(clean, tc.task)), _cell(_primary(dirty, tc.task))
        share = _share(f, c, d, m.higher_is_better)
        warning = None
        if tc.role == "target" and share is not None and share > MOSTLY:
            judge = "judge the fine-tune by the clean-subset delta" if c["n"] else "no clean item is left to judge it by"
            warning = (f"{tc.task}: {share:.0%} of the {m.metric} gain comes from the {bad} of {items} items found in the "
                       f"fine-tuning text (memorised answers?); {judge}")
        rows.append(SubsetRow(tc.task, tc.suite, tc.role, m.metric, m.higher_is_better, items, bad, f, c, d, share, warning))
    return rows


def contamination_report(project, base_run: RunResult, runs, comparisons, cache, *, seed: int, n_resamples: int):
    """None without ``contamination:`` in the config; else the audit (memoised in the cache)
    and every candidate's clean / contaminated rows."""
    if project.file.contamination is None:
        return None
    from evalkit.audit.project import audit_project

    audit = audit_project(project, None, cache)
    dirty = {t.task: audit.contaminated_ids(t.task) for t in audit.tasks}
    counts: dict[str, tuple[int, int]] = {}  # of the items compared (--limit may take fewer than the audit saw)
    for smp in base_run.samples:
        n, bad = counts.get(smp["task"], (0, 0))
        counts[smp["task"]] = (n + 1, bad + (smp["id"] in dirty.get(smp["task"], ())))
    report = ContaminationReport(audit={k: v for k, v in audit.to_json().items() if k != "contaminated"})
    clean_base, dirty_base = (subset_run(base_run, dirty, keep_dirty=k) for k in (False, True))
    clean_fts = []
    for run, full in zip(runs, comparisons):
        clean_ft = subset_run(run, dirty, keep_dirty=False)
        clean_fts.append(clean_ft)
        kw = dict(seed=seed, n_resamples=n_resamples, confidence=full.confidence)
        # Memoised like the full compare, so a repeated compare recomputes neither subset.
        clean = cached_compare(cache, clean_base, clean_ft, **kw)
        bad = cached_compare(cache, dirty_base, subset_run(run, dirty, keep_dirty=True), **kw)
        report.clean[run.model] = clean
        report.rows[run.model] = subset_rows(full, clean, bad, counts)
    report.clean_runs = (clean_base, clean_fts)
    return report


def console_lines(report: ContaminationReport) -> list[str]:
    from evalkit.report.format import signed

    lines = []
    for cand, rows in report.rows.items():
        for r in rows:
            if not r.contaminated:
                continue
            ci = lambda c: f"{signed(c['delta'])} [{signed(c['ci_low'])}, {signed(c['ci_high'])}]"  # noqa: E731
            clean = f"{ci(r.clean)} on the {r.clean['n']} clean items" if r.clean["n"] else "no clean item"
            lines.append(
                f"contamination {cand} {r.task}: {r.contaminated} of {r.items} items in the fine-tuning text; {r.metric} "
                f"delta {ci(r.full)} on all items, {clean}"
            )
    return lines


def markdown(report: ContaminationReport) -> str:
    from evalkit.report.format import signed

    s = report.audit["settings"]
    lines = ["", "## Contamination", "",
             f"Items whose prompt or reference shares a {s['ngram']}-gram with the fine-tuning text (or is a near duplicate "
             "of a training document) are contaminated; the clean delta is the compare on the other items.", "",
             "| candidate | task | metric | contaminated / items | delta (all) | delta (clean) | delta (contaminated) | gain from contaminated |",
             "|---|---|---|---:|---|---|---|---:|"]
    for cand, rows in report.rows.items():
        for r in rows:
            share = "-" if r.contaminated_gain_share is None else f"{r.contaminated_gain_share:.0%}"
            cell = lambda c: f"{signed(c['delta'])} [{signed(c['ci_low'])}, {signed(c['ci_high'])}]" if c["n"] else "-"  # noqa: E731
            lines.append(f"| {cand} | {r.task} | {r.metric} | {r.contaminated} / {r.items} | {cell(r.full)} | {cell(r.clean)} "
                         f"| {cell(r.dirty)} | {share} |")
    lines += [f"\n**Warning:** {w}" for w in report.warnings()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Hook:
    """What compare adds to its outputs: compare.json keys, compare.md text, clean gate inputs."""

    payload: dict
    markdown: str = ""
    clean_inputs: tuple | None = None


def contamination_hook(con, project, base_run, runs, comparisons, cache, *, seed: int, n_resamples: int) -> Hook:
    """Compute, print and package the clean / contaminated subsets for compare's outputs."""
    report = contamination_report(project, base_run, runs, comparisons, cache, seed=seed, n_resamples=n_resamples)
    if report is None:
        return Hook({})
    for line in console_lines(report):
        con.print(line, markup=False)
    for w in report.warnings():
        con.print(f"[yellow]warning: {w}[/yellow]")
    clean_base, clean_fts = report.clean_runs
    clean = (clean_base, clean_fts, [report.clean[r.model] for r in runs])
    return Hook({"contamination": report.to_json()}, markdown(report), clean)
