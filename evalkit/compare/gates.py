"""Gates: PASS / FAIL / INCONCLUSIVE verdicts on a base-vs-fine-tune comparison, for CI.

Every number a gate tests is a *gain*: oriented so that positive means "the fine-tune is
better" (``gain_sign`` flips lower-is-better metrics such as bits_per_byte once, here, and no gate
looks at the direction again). ``must_improve`` and ``must_not_regress`` read the paired
bootstrap of ``ft - base`` on the comparison's own resamples (same seed streams), so their
intervals match compare.md; ``min_score`` reads the fine-tune alone. With a gate's ``alpha``:

- PASS needs a level-alpha one-sided test in the fine-tune's favour;
- FAIL needs the two-sided (1 - alpha) interval to lie wholly on the wrong side of the
  threshold (the data rule the requirement out);
- INCONCLUSIVE otherwise; it counts as a failure unless the gate says ``inconclusive: pass``.

Multiplicity. A verdict checks many gates at once, and each check is a chance to be fooled
by noise. The ``must_improve`` gates of one verdict form one family: their one-sided p-values
are adjusted with Holm-Bonferroni, so the probability that a verdict claims *any* improvement
that is not real (the family-wise false-alarm rate) stays at most alpha, whatever the
dependence between tasks; each improvement is reported on its own, so without the adjustment
five tasks would give about five chances of a false "improved". ``must_not_regress`` gates
need no adjustment: "nothing regressed" is claimed only when *every* one of them passes (an
intersection-union test), so a task that truly lost as much as its margin must fool its own
level-alpha test for the claim to be wrong, and the false-PASS rate stays at most alpha.
``min_score`` floors are each tested at their own alpha likewise. The minimum detectable
effect of a ``must_improve`` gate is computed at alpha / (number of must_improve gates), the
level Holm applies to it when no other gate passes, so a true gain of that size passes with
about 80 % power (a few points less when the gain itself widens the spread of per-item
differences, as it does for accuracy; benchmarks/calibration.py measures it).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, ValidationError, model_validator

from evalkit.compare.compare import Comparison
from evalkit.compare.gate_evidence import Evidence, evidence, gain_sign
from evalkit.config_base import StrictModel
from evalkit.errors import ConfigError
from evalkit.metrics.registry import make_metric
from evalkit.results import RunResult

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
_POWER = 0.80


class _GateBase(StrictModel):
    name: str | None = Field(None, description="shown in reports; default: type, target, metric")
    metric: str
    alpha: float = Field(0.05, gt=0, lt=0.5, description="level of each gate's test")
    inconclusive: Literal["fail", "pass"] = Field("fail", description="what an INCONCLUSIVE verdict counts as")

    @property
    def target(self) -> str:
        return self.task

    @property
    def label(self) -> str:
        return self.name or f"{self.type} {self.target} {self.metric}"


class MustImprove(_GateBase):
    """Superiority: the fine-tune's gain is significant (after Holm) and at least ``min_effect``."""

    type: Literal["must_improve"]
    task: str
    min_effect: float = Field(0.0, ge=0, description="smallest gain worth claiming, in metric units")


class MustNotRegress(_GateBase):
    """Non-inferiority: the one-sided lower bound of the gain is above ``-margin``."""

    type: Literal["must_not_regress"]
    task: str | None = None
    suite: str | None = None
    margin: float = Field(..., ge=0, description="largest loss tolerated, in metric units")

    @model_validator(mode="after")
    def _one_target(self):
        if (self.task is None) == (self.suite is None):
            raise ValueError("give exactly one of 'task' and 'suite'")
        return self

    @property
    def target(self) -> str:
        return self.task or self.suite


class MinScore(_GateBase):
    """Absolute floor: the fine-tune's own score is at least ``min`` (at most, if lower is better)."""

    type: Literal["min_score"]
    task: str
    min: float


Gate = Annotated[Union[MustImprove, MustNotRegress, MinScore], Field(discriminator="type")]
GATE_TYPES: dict[str, type[_GateBase]] = {"must_improve": MustImprove, "must_not_regress": MustNotRegress, "min_score": MinScore}


def parse_gates(raw_list, *, known_tasks: Collection[str], known_suites: Collection[str], path=None, line_of=None,
                known_metrics: Collection[str] = ()) -> list[Gate]:
    """Validate the ``gates:`` list of evalkit.yaml; every mistake is a ConfigError naming the
    gate (and its line, when ``line_of(index)`` can tell it)."""
    from evalkit.config import describe_validation_error

    gates: list[Gate] = []
    for i, raw in enumerate(raw_list or []):
        where = f"gates[{i}]"
        line = line_of(i) if line_of else None
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in GATE_TYPES:
            raise ConfigError(f"{where}: 'type' must be one of {', '.join(GATE_TYPES)} (got {kind!r})", path=path, line=line)
        try:
            gate = GATE_TYPES[kind].model_validate(raw)
        except ValidationError as exc:
            msg = describe_validation_error(exc, GATE_TYPES[kind])[1]
            raise ConfigError(f"{where} ({kind}): {msg}", path=path, line=line) from None
        try:
            _check_names(gate, f"{where} '{gate.label}'", known_tasks, known_suites, path, known_metrics)
        except ConfigError as exc:
            raise ConfigError(str(exc).removeprefix(f"{path}: "), path=path, line=line) from None
        gates.append(gate)
    labels = [g.label for g in gates]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"gates: duplicate gate name(s) {', '.join(dupes)}; give each a distinct 'name'", path=path)
    return gates


def _check_names(gate, where: str, known_tasks, known_suites, path, known_metrics=()) -> None:
    task, suite = getattr(gate, "task", None), getattr(gate, "suite", None)
    if task is not None and task not in known_tasks:
        raise ConfigError(f"{where}: unknown task '{task}' (known: {', '.join(sorted(known_tasks)) or 'none'})", path=path)
    if suite is not None and suite not in known_suites:
        raise ConfigError(f"{where}: unknown suite '{suite}' (known: {', '.join(sorted(known_suites)) or 'none'})", path=path)
    if gate.metric in known_metrics:  # a task's own scorer metric, declared in its metrics:
        return
    try:
        make_metric(gate.metric)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}", path=path) from None


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict. ``estimate``/``ci_*``/``bound`` are gains (ft - base, positive =
    ft better) for must_improve and must_not_regress, and the fine-tune's score in metric
    units for min_score. ``ci_*`` is the two-sided (1 - alpha) interval; ``bound`` the
    one-sided (1 - alpha) bound a non-inferiority or floor PASS is decided on. ``threshold``
    is the configured min_effect, margin or min. For a suite, ``n`` and ``n_needed`` count
    items over all its tasks. ``n_needed`` is ``inf`` when no number of items would do."""

    name: str
    type: str
    target: str
    metric: str
    verdict: str
    counts_as_fail: bool
    higher_is_better: bool
    alpha: float
    threshold: float
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    bound: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    mde: float | None = None
    n: int = 0
    n_needed: float | None = None
    message: str = ""


@dataclass(frozen=True)
class GateReport:
    base: str
    candidate: str
    seed: int
    n_resamples: int
    gates: tuple[GateResult, ...]

    @property
    def verdict(self) -> str:
        """FAIL if any gate failed, INCONCLUSIVE if one counted as failing, else PASS."""
        if any(g.verdict == FAIL for g in self.gates):
            return FAIL
        return INCONCLUSIVE if any(g.counts_as_fail for g in self.gates) else PASS

    @property
    def exit_code(self) -> int:
        return 1 if any(g.counts_as_fail for g in self.gates) else 0


def evaluate_gates(
    gates: Sequence[Gate], base_run: RunResult, ft_run: RunResult, comparison: Comparison, *,
    seed: int, n_resamples: int,
) -> GateReport:
    """Decide every gate (see the module docstring for the rules and the multiplicity policy)."""
    from evalkit.stats import holm

    runs = (base_run, ft_run)
    found = [evidence(g, comparison, runs, seed, n_resamples) for g in gates]
    improve = [i for i, g in enumerate(gates) if g.type == "must_improve"]
    # Gates that could not be evaluated stay in the family with p = 1: m must not shrink.
    raw_p = {i: _superiority_p(found[i]) for i in improve}
    adjusted = dict(zip(improve, map(float, holm([1.0 if raw_p[i] is None else raw_p[i] for i in improve]))))
    results = []
    for i, (gate, ev) in enumerate(zip(gates, found)):
        context = {"p": raw_p.get(i), "p_adjusted": adjusted.get(i), "family": max(len(improve), 1)}
        results.append(_DECIDE[gate.type](gate, ev, context))
    return GateReport(comparison.base, comparison.candidate, seed, n_resamples, tuple(results))


def _quantiles(ev: Evidence, alpha: float) -> tuple[float, float, float]:
    """(one-sided lower bound, two-sided low, two-sided high), all at level 1 - alpha."""
    lo1, lo2, hi2 = np.quantile(ev.draws, [alpha, alpha / 2, 1 - alpha / 2])
    return float(lo1), float(lo2), float(hi2)


def _superiority_p(ev: Evidence) -> float | None:
    """One-sided percentile p of H0 "gain <= 0": (1 + #{gain* <= 0}) / (1 + B). Ties count
    as extreme, so a metric that often resamples to exactly 0 errs on the safe side."""
    if ev.missing:
        return None
    return (1.0 + int(np.count_nonzero(ev.draws <= 0))) / (1.0 + ev.draws.size)


def _power(ev: Evidence, effect: float, alpha: float) -> tuple[float, float]:
    """(minimum detectable effect at this n, n needed for ``effect``), one-sided, 80 % power."""
    from evalkit.stats import minimum_detectable_effect, n_needed

    kw = {"alpha": alpha, "power": _POWER, "sided": 1}
    return minimum_detectable_effect(ev.sd, ev.n, **kw), n_needed(ev.sd, effect, **kw)


def _result(gate, ev: Evidence, verdict: str, threshold: float, message: str, **numbers) -> GateResult:
    counts = verdict == FAIL or (verdict == INCONCLUSIVE and gate.inconclusive == "fail")
    return GateResult(
        name=gate.label, type=gate.type, target=gate.target, metric=gate.metric, verdict=verdict,
        counts_as_fail=counts, higher_is_better=ev.higher_is_better, alpha=gate.alpha, threshold=threshold,
        n=ev.n, message=message, **numbers,
    )


def _ci(ev: Evidence, lo2: float, hi2: float, alpha: float) -> str:
    return f"{ev.estimate:+.4f} [{100 * (1 - alpha):g}% CI {lo2:+.4f}, {hi2:+.4f}]"


def _n_text(n_needed: float) -> str:
    return "no n suffices" if math.isinf(n_needed) else f"n ~ {int(n_needed):,}"


def _decide_improve(gate: MustImprove, ev: Evidence, ctx: dict) -> GateResult:
    """PASS: Holm-adjusted one-sided p of "gain <= 0" below alpha AND estimated gain >=
    min_effect. FAIL: the two-sided interval's upper end is below min_effect."""
    if ev.missing:
        return _result(gate, ev, INCONCLUSIVE, gate.min_effect, ev.missing, p_adjusted=ctx["p_adjusted"])
    _, lo2, hi2 = _quantiles(ev, gate.alpha)
    level = gate.alpha / ctx["family"]
    mde, need = _power(ev, gate.min_effect if gate.min_effect > 0 else ev.estimate, level)
    p, p_adj = ctx["p"], ctx["p_adjusted"]
    text = f"gain {_ci(ev, lo2, hi2, gate.alpha)}, one-sided p {p:.4f} (Holm {p_adj:.4f}), n {ev.n}"
    if p_adj < gate.alpha and ev.estimate >= gate.min_effect:
        verdict, text = PASS, f"{text}: improved" + (f" by >= {gate.min_effect:g}" if gate.min_effect else "")
    elif hi2 < gate.min_effect:
        verdict, text = FAIL, f"{text}: a gain of {gate.min_effect:g} is ruled out"
    else:
        wanted = gate.min_effect if gate.min_effect > 0 else ev.estimate
        verdict = INCONCLUSIVE
        text = f"{text}: not shown; detectable now {mde:.4f} (80% power); {_n_text(need)} for a gain of {wanted:.4f}"
    nums = dict(estimate=ev.estimate, ci_low=lo2, ci_high=hi2, p_value=p, p_adjusted=p_adj, mde=mde, n_needed=need)
    return _result(gate, ev, verdict, gate.min_effect, text, **nums)


def _decide_not_regress(gate: MustNotRegress, ev: Evidence, ctx: dict) -> GateResult:
    """PASS: one-sided (1 - alpha) lower bound of the gain above -margin (percentile bootstrap).
    FAIL: the two-sided interval's upper end is below -margin."""
    from evalkit.stats import non_inferiority_from_bootstrap

    if ev.missing:
        return _result(gate, ev, INCONCLUSIVE, gate.margin, ev.missing)
    _, lo2, hi2 = _quantiles(ev, gate.alpha)
    ni = non_inferiority_from_bootstrap(ev.draws, ev.estimate, gate.margin, gate.alpha)
    # Planning numbers assume the fine-tune is truly as good as the base.
    mde, need = _power(ev, gate.margin, gate.alpha)
    text = (f"gain {_ci(ev, lo2, hi2, gate.alpha)}, one-sided lower bound {ni.lower_bound:+.4f} "
            f"vs -margin {-gate.margin:+.4f}, n {ev.n}")
    if ni.holds:
        verdict, text = PASS, f"{text}: no regression beyond the margin"
    elif hi2 < -gate.margin:
        verdict, text = FAIL, f"{text}: regressed by more than the margin"
    else:
        verdict = INCONCLUSIVE
        text = f"{text}: not shown; this n rules out losses > {mde:.4f} (80% power); {_n_text(need)} for this margin"
    nums = dict(estimate=ev.estimate, ci_low=lo2, ci_high=hi2, bound=ni.lower_bound, p_value=ni.p_value, mde=mde, n_needed=need)
    return _result(gate, ev, verdict, gate.margin, text, **nums)


def _floor_bounds(ev: Evidence, floor: float, alpha: float) -> tuple[float, float, float, float]:
    """(one-sided lower bound, two-sided low, high, one-sided p of "score < floor"), oriented."""
    from scipy import stats

    from evalkit.stats import wilson_interval

    if ev.binary_k is None or not 0 < floor < 1:
        lo1, lo2, hi2 = _quantiles(ev, alpha)
        return lo1, lo2, hi2, (1.0 + int(np.count_nonzero(ev.draws < floor))) / (1.0 + ev.draws.size)
    lo1 = wilson_interval(ev.binary_k, ev.n, alpha=2 * alpha)[0]
    lo2, hi2 = wilson_interval(ev.binary_k, ev.n, alpha=alpha)
    # The score test that the Wilson interval inverts.
    p = float(stats.norm.sf((ev.estimate - floor) / math.sqrt(floor * (1 - floor) / ev.n)))
    return lo1, lo2, hi2, p


def _decide_min_score(gate: MinScore, ev: Evidence, ctx: dict) -> GateResult:
    """PASS: one-sided (1 - alpha) lower bound >= min (Wilson for unclustered 0/1 items,
    bootstrap otherwise). FAIL: the two-sided upper end is below min. For a lower-is-better
    metric the same rule runs on the negated score, so ``min`` acts as a ceiling."""
    if ev.missing:
        return _result(gate, ev, INCONCLUSIVE, gate.min, ev.missing)
    sign = gain_sign(ev.higher_is_better)
    floor = sign * gate.min
    lo1, lo2, hi2, p = _floor_bounds(ev, floor, gate.alpha)
    mde, need = _power(ev, ev.estimate - floor, gate.alpha)
    low, high = sorted((sign * lo2, sign * hi2))
    word = ">=" if ev.higher_is_better else "<="
    text = (f"{gate.metric} {sign * ev.estimate:.4f} [{100 * (1 - gate.alpha):g}% CI {low:.4f}, {high:.4f}], "
            f"one-sided bound {sign * lo1:.4f}, required {word} {gate.min:g}, n {ev.n}")
    if lo1 >= floor:
        verdict, text = PASS, f"{text}: meets the floor"
    elif hi2 < floor:
        verdict, text = FAIL, f"{text}: below the floor"
    else:
        tail = f"{_n_text(need)} at this score" if math.isfinite(need) else "the estimate itself misses it"
        verdict, text = INCONCLUSIVE, f"{text}: not shown; {tail}"
    nums = dict(estimate=sign * ev.estimate, ci_low=low, ci_high=high, bound=sign * lo1, p_value=p, mde=mde, n_needed=need)
    return _result(gate, ev, verdict, gate.min, text, **nums)


_DECIDE = {"must_improve": _decide_improve, "must_not_regress": _decide_not_regress, "min_score": _decide_min_score}
