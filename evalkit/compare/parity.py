"""Parity: is the same model the same model on another backend?

Backends disagree more than one expects (one published vLLM runtime-LoRA run agreed with HF +
PEFT on 83 % of 29,600 items; a vLLM LoRA bug matched 0 of 100 before its fix), so a large run
on a fast backend is worth a check against a reference backend on a few canary items first.
Both models answer the first N items of every selected task (the runner's ``limit``, through
the cache, so the canaries cost nothing in the big run that follows), and the answers are
held side by side item by item:

- generation: the greedy outputs are identical (after stripping outer white space);
- multiple choice by log-likelihood: the same choice wins; the per-choice log-likelihood
  differences are reported;
- perplexity: the total log-likelihoods differ by at most ``ll_tolerance`` nats per token.

An item that failed on either side counts as not agreeing: a check that cannot be made must
not pass. The effect on each metric (reference value, other value, difference) is reported
too, since a small disagreement can still move a metric.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from evalkit.config_base import ParityRequirement  # noqa: F401 - ``parity:`` on a model entry
from evalkit.errors import ConfigError, EvalkitError


class ParityFailed(EvalkitError):
    """A required parity check did not pass: exit 1, like a failed gate (the input is fine)."""

    exit_code = 1


@dataclass
class TaskParity:
    task: str
    method: str | None
    n: int = 0  # items held side by side
    agree: int = 0
    failed: int = 0  # items with an error on either side (counted as not agreeing)
    ll_abs_diff_mean: float | None = None  # nats per log-likelihood (per choice, or per text)
    ll_abs_diff_max: float | None = None
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    disagreeing: list[str] = field(default_factory=list)  # item ids, for a look at the answers

    @property
    def agreement(self) -> float | None:
        return self.agree / self.n if self.n else None


@dataclass
class ParityReport:
    reference: str
    other: str
    items: int
    ll_tolerance: float
    min_agreement: float
    tasks: list[TaskParity]

    @property
    def n(self) -> int:
        return sum(t.n for t in self.tasks)

    @property
    def agreement(self) -> float | None:
        return sum(t.agree for t in self.tasks) / self.n if self.n else None

    @property
    def passed(self) -> bool:
        return self.agreement is not None and self.agreement >= self.min_agreement

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(n=self.n, agreement=self.agreement, passed=self.passed)
        for row, t in zip(out["tasks"], self.tasks):
            row["agreement"] = t.agreement
        return out


def _by_item(run) -> dict[tuple[str, str], dict]:
    return {(s["task"], str(s["id"])): s for s in run.samples}


def _item_agrees(method: str | None, a: dict, b: dict, tol: float) -> tuple[bool, list[float]]:
    """(whether the two answers to one item agree, the absolute log-likelihood differences)."""
    ea, eb = a.get("extra") or {}, b.get("extra") or {}
    if method == "loglikelihood" and "loglikelihoods" in ea and "loglikelihoods" in eb:
        diffs = [abs(x - y) for x, y in zip(ea["loglikelihoods"], eb["loglikelihoods"])]
        return ea.get("pred_index") == eb.get("pred_index"), diffs
    if method == "loglikelihood_rolling" and "logprob" in ea and "logprob" in eb:
        diff = abs(ea["logprob"] - eb["logprob"])
        return diff <= tol * max(1, ea.get("tokens") or 1), [diff]
    text_a = ea.get("generated", a.get("response"))
    text_b = eb.get("generated", b.get("response"))
    return str(text_a or "").strip() == str(text_b or "").strip(), []


def compare_runs(ref, other, *, items: int, ll_tolerance: float, min_agreement: float) -> ParityReport:
    """Hold two runs of the same items side by side (see the module docstring)."""
    sa, sb = _by_item(ref), _by_item(other)
    results_b = {t.task: t for t in other.tasks}
    rows = []
    for ta in ref.tasks:
        tb = results_b.get(ta.task)
        if ta.status != "ok" or tb is None or tb.status != "ok" or ta.members is not None:
            continue
        row = TaskParity(ta.task, ta.method)
        if ta.method != tb.method:  # scored differently (one backend lacks log-likelihoods)
            row.method = f"{ta.method} vs {tb.method}"
        diffs: list[float] = []
        for (task, item), a in sa.items():
            if task != ta.task:
                continue
            b = sb.get((task, item))
            row.n += 1
            if b is None or a.get("status") == "error" or b.get("status") == "error":
                row.failed += 1
                row.disagreeing.append(item)
                continue
            ok, d = _item_agrees(ta.method if ta.method == tb.method else None, a, b, ll_tolerance)
            diffs += d
            if ok:
                row.agree += 1
            else:
                row.disagreeing.append(item)
        if diffs:
            row.ll_abs_diff_mean = sum(diffs) / len(diffs)
            row.ll_abs_diff_max = max(diffs)
        for name, mv in ta.metrics.items():
            vb = tb.metrics[name].value if name in tb.metrics else None
            diff = vb - mv.value if vb is not None and mv.value is not None else None
            row.metrics[name] = {"reference": mv.value, "other": vb, "difference": diff}
        rows.append(row)
    return ParityReport(ref.model, other.model, items, ll_tolerance, min_agreement, rows)


def run_parity(project, reference: str, other: str, *, items: int, ll_tolerance: float = 0.05,
               min_agreement: float = 0.99, options=None, progress=None) -> ParityReport:
    """Run both models on the first ``items`` items of every selected task and compare."""
    from dataclasses import replace

    from evalkit.runner.run import RunOptions, run_models

    options = replace(options or RunOptions(), limit=items)
    ref_run, other_run = run_models(project, [reference, other], options, progress)
    return compare_runs(ref_run, other_run, items=items, ll_tolerance=ll_tolerance, min_agreement=min_agreement)


def require_parity(project, names, options=None, progress=None) -> list[ParityReport]:
    """``parity:`` on the models about to run: each must agree with its reference on its
    canary items before the large run; ParityFailed (exit 1) names the first that does not."""
    reports = []
    for name in dict.fromkeys(names):
        req = getattr(project.models.get(name), "parity", None)
        if req is None:
            continue
        if req.reference not in project.models:
            known = ", ".join(sorted(project.models))
            raise ConfigError(f"model '{name}': parity reference '{req.reference}' is not a model of this config (known: {known})",
                              path=project.path)
        if req.reference == name:
            raise ConfigError(f"model '{name}': parity reference is the model itself", path=project.path)
        report = run_parity(project, req.reference, name, items=req.items, ll_tolerance=req.ll_tolerance,
                            min_agreement=req.min_agreement, options=options, progress=progress)
        reports.append(report)
        if not report.passed:
            raise ParityFailed(
                f"parity: '{name}' agrees with its reference '{req.reference}' on {_pct(report.agreement)} of "
                f"{report.n} canary items (required: {_pct(req.min_agreement)}); see `evalkit parity {req.reference} {name} "
                f"--items {req.items}` for where they differ"
            )
    return reports


def _pct(x: float | None) -> str:
    return "no" if x is None else f"{100 * x:.1f} %"

