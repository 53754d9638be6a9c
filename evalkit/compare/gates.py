"""Gates: PASS / FAIL / INCONCLUSIVE verdicts on a base-vs-fine-tune comparison, for CI.

Every number a gate tests is a *gain*: oriented so that positive means "the fine-tune is
better" (``gain_sign`` flips lower-is-better metrics such as bits_per_byte once, and no gate
looks at the direction again). ``must_improve`` and ``must_not_regress`` read the same paired
estimate of ``ft - base`` as the compare table's row (Tango's score interval for 0/1 metrics,
paired t / delta method otherwise, CR1 when grouped); ``min_score`` reads the fine-tune alone
(Wilson for 0/1 items). With a gate's ``alpha``, every PASS is a one-sided test that rejects:

- must_improve: H0 "gain <= min_effect" at the Holm-adjusted level: the one-sided lower
  bound, not the estimate, must clear ``min_effect``;
- must_not_regress: H0 "gain <= -margin" at level alpha (for 0/1 metrics Tango's score test);
- min_score: H0 "score <= min" (a ceiling for lower-is-better metrics);
- FAIL needs the two-sided (1 - alpha) interval to lie wholly on the wrong side of the
  threshold (the data rule the requirement out); INCONCLUSIVE otherwise, and whenever the
  data cannot support a decision (too few items or clusters, statistics not finite). It
  counts as a failure unless the gate says ``inconclusive: pass``.

Missing items (failed requests) never make a gate easier: a PASS must also hold with the
candidate's missing items scored worst-case and the base's best-case (``outcomes``).

Multiplicity. The ``must_improve`` gates of one verdict form one family: their one-sided
p-values are adjusted with Holm-Bonferroni, so the probability that a verdict claims *any*
improvement that is not real stays at most alpha. ``must_not_regress`` gates need no
adjustment: "nothing regressed" is claimed only when *every* one of them passes (an
intersection-union test), so the false-PASS rate stays at most alpha; ``min_score`` floors
likewise. The bound a report shows is at the level the decision used (alpha / k at Holm's
k-th step); the minimum detectable effect and the items needed are for that same one-sided
test at alpha / (number of must_improve gates), the level Holm's first step applies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from evalkit.compare.compare import Comparison
from evalkit.compare.gain import gain_sign
from evalkit.compare.gate_evidence import Evidence, evidence
from evalkit.errors import ConfigError
# The gate models and their parser live with the config (gate_config) and are re-exported
# here, where callers have always found them.
from evalkit.gate_config import GATE_TYPES, Gate, MinScore, MustImprove, MustNotRegress, parse_gates  # noqa: F401
from evalkit.results import RunResult

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
_POWER = 0.80


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict. ``estimate``/``ci_*``/``bound`` are gains (ft - base, positive =
    ft better) for must_improve and must_not_regress, and the fine-tune's score in metric
    units for min_score. ``ci_*`` is the two-sided (1 - alpha) interval; ``bound`` the
    one-sided bound the decision used, at level ``bound_level``. ``threshold``
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
    bound_level: float | None = None  # the one-sided level of ``bound`` (Holm's for must_improve)
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
    return evaluate_gates_many(gates, base_run, [ft_run], [comparison], seed=seed, n_resamples=n_resamples)[0]


def evaluate_gates_many(
    gates: Sequence[Gate], base_run: RunResult, ft_runs: Sequence[RunResult], comparisons: Sequence[Comparison], *,
    seed: int, n_resamples: int, clean=None,
) -> list[GateReport]:
    """Decide every gate for every candidate of one sweep. With several candidates, each
    ``must_not_regress`` or ``min_score`` gate is one Holm family across the candidates, and
    all candidates' ``must_improve`` gates are one family: 5 equal candidates are not 5
    chances for one of them to pass by luck. ``clean``: (base run, candidate runs,
    comparisons) on the clean items, which ``clean_only`` gates are decided on."""
    inputs = _gate_inputs(gates, base_run, ft_runs, comparisons, clean)
    found = [[evidence(g, c, rs, seed, n_resamples) for g, (rs, c) in zip(gates, row)] for row in inputs]
    results = _decide_all(gates, found)
    # Missing items never make a gate easier: a PASS must survive the candidate's failed
    # requests scored worst-case and the base's best-case.
    worst = [[evidence(g, c, rs, seed, n_resamples, worst_case=True) for g, (rs, c) in zip(gates, row)] for row in inputs]
    if any(w is not None for row in worst for w in row):
        again = _decide_all(gates, [[w if w is not None else f for w, f in zip(wr, fr)] for wr, fr in zip(worst, found)])
        results = [[_worst_case_check(g, r, a, w) for g, r, a, w in zip(gates, rr, ar, wr)]
                   for rr, ar, wr in zip(results, again, worst)]
    return [GateReport(c.base, c.candidate, seed, n_resamples, tuple(r)) for c, r in zip(comparisons, results)]


def _paired_runs(base_run: RunResult, ft_runs: Sequence[RunResult], comparisons: Sequence[Comparison]):
    """Each candidate's columns: compare's own when this comparison was computed on these
    very runs in this process (no per-item field is read twice), else built here."""
    from evalkit.compare.columns import PairedRuns, RunColumns

    base = None
    out = []
    for r, c in zip(ft_runs, comparisons):
        cols = getattr(c, "columns", None)
        if cols is not None and cols.of(base_run, r):
            out.append(cols)
            continue
        base = base or RunColumns(base_run)
        out.append(PairedRuns(base, RunColumns(r)))
    return out


def _gate_inputs(gates, base_run, ft_runs, comparisons, clean) -> list[list[tuple]]:
    """Per candidate, per gate: ((base samples, candidate samples), comparison), the clean
    items' for a ``clean_only`` gate."""
    def pairs(b, fts, cs):
        return list(zip(_paired_runs(b, fts, cs), cs))

    full = pairs(base_run, ft_runs, comparisons)
    if clean is None:
        if any(g.clean_only for g in gates):
            raise ConfigError("a gate has clean_only: true but the config has no contamination: section to tell clean items")
        return [[row] * len(gates) for row in full]
    cleaned = pairs(*clean)
    return [[c if g.clean_only else f for g in gates] for f, c in zip(full, cleaned)]


def _holm_divisors(ps: list[float]) -> list[int]:
    """Holm tests each p at alpha / (m - rank), rank 0 for the smallest p: the divisors."""
    m = len(ps)
    out = [1] * m
    for rank, i in enumerate(sorted(range(m), key=lambda i: ps[i])):
        out[i] = m - rank
    return out


def _raw_p(gate, ev: Evidence) -> float:
    """One-sided p of the gate's null (the gain, or score, is not past its threshold).
    Gates that could not be evaluated stay in their family with p = 1: m must not shrink."""
    if ev.missing:
        return 1.0
    if gate.type == "must_improve":
        threshold = gate.min_effect
    elif gate.type == "must_not_regress":
        threshold = -gate.margin
    else:
        threshold = gain_sign(ev.higher_is_better) * gate.min
    p = ev.gain.p_above(threshold)
    return p if math.isfinite(p) else 1.0


def _decide_all(gates: Sequence[Gate], found: list[list[Evidence]]) -> list[list[GateResult]]:
    """``found[k][i]``: candidate k, gate i. Families: every must_improve gate of every
    candidate; each other gate across the candidates (with one candidate: just itself)."""
    from evalkit.stats import holm

    families: dict[object, list[tuple[int, int]]] = {}
    for k, row in enumerate(found):
        for i, gate in enumerate(gates):
            families.setdefault("improve" if gate.type == "must_improve" else i, []).append((k, i))
    ctx: dict[tuple[int, int], dict] = {}
    for members in families.values():
        ps = [_raw_p(gates[i], found[k][i]) for k, i in members]
        for (k, i), p, p_adj, div in zip(members, ps, holm(ps), _holm_divisors(ps)):
            # The level this p is in effect tested at: p < level exactly when the adjusted p
            # is below alpha (ties and a step-down that stopped earlier included), so the
            # bound shown at it agrees with the verdict.
            level = gates[i].alpha * p / p_adj if 0 < p and p_adj > 0 else gates[i].alpha / div
            ctx[(k, i)] = {"p": p, "p_adjusted": float(p_adj), "family": len(members), "level": min(level, gates[i].alpha)}
    return [[_DECIDE[g.type](g, found[k][i], ctx[(k, i)]) for i, g in enumerate(gates)] for k in range(len(found))]


def _worst_case_check(gate, result: GateResult, worst: GateResult, ev: Evidence | None) -> GateResult:
    """A PASS that does not hold with the failed requests scored against the candidate
    becomes INCONCLUSIVE, saying so."""
    from dataclasses import replace

    if ev is None or result.verdict != PASS or worst.verdict == PASS:
        return result
    why = ev.missing or f"with them scored against the candidate it is {worst.verdict} ({worst.message})"
    message = f"{result.message}; but some items had a failed request: {why}"
    return replace(result, verdict=INCONCLUSIVE, message=message, counts_as_fail=gate.inconclusive == "fail")


def _result(gate, ev: Evidence, verdict: str, threshold: float, message: str, **numbers) -> GateResult:
    counts = verdict == FAIL or (verdict == INCONCLUSIVE and gate.inconclusive == "fail")
    numbers = {k: (v if not isinstance(v, float) or math.isfinite(v) or k == "n_needed" else None) for k, v in numbers.items()}
    return GateResult(
        name=gate.label, type=gate.type, target=gate.target, metric=gate.metric, verdict=verdict,
        counts_as_fail=counts, higher_is_better=ev.higher_is_better, alpha=gate.alpha, threshold=threshold,
        n=ev.n, message=message, **numbers,
    )


def _pct(level: float) -> str:
    return f"{100 * (1 - level):.4g}%"


def _test_name(est) -> str:
    """The test a verdict used: for 0/1 metrics at small n the exact one, not Tango's asymptotic."""
    return getattr(est, "test_name", est.method)


def _n_text(n_needed: float) -> str:
    return "no n suffices" if math.isinf(n_needed) else f"n ~ {int(n_needed):,}"


def _decide_improve(gate: MustImprove, ev: Evidence, ctx: dict) -> GateResult:
    """PASS: the Holm-adjusted one-sided p of H0 "gain <= min_effect" is below alpha (the
    lower bound at this gate's Holm level clears min_effect). FAIL: the two-sided interval's
    upper end is below min_effect."""
    if ev.missing:
        return _result(gate, ev, INCONCLUSIVE, gate.min_effect, ev.missing, p_adjusted=ctx["p_adjusted"])
    g, level, planned = ev.gain, ctx["level"], gate.alpha / ctx["family"]
    lo2, hi2 = g.ci(gate.alpha)
    bound = g.lower(level)
    # Planning numbers for the test applied: H0 gain <= min_effect at Holm's first-step level.
    mde = g.est.mde(planned, sided=1)
    need = g.est.n_needed(g.value - gate.min_effect, planned, sided=1) if g.value > gate.min_effect else math.inf
    p, p_adj = ctx["p"], ctx["p_adjusted"]
    text = (f"gain {g.value:+.4f}, one-sided {_pct(level)} lower bound {bound:+.4f} vs min effect {gate.min_effect:g}, "
            f"p {p:.4f} (Holm {p_adj:.4f}), n {ev.n}, {_test_name(g.est)}")
    if p_adj < gate.alpha:
        verdict, text = PASS, f"{text}: improved" + (f" by more than {gate.min_effect:g}" if gate.min_effect else "")
    elif hi2 < gate.min_effect:
        verdict, text = FAIL, f"{text}: a gain of {gate.min_effect:g} is ruled out ({_pct(gate.alpha)} CI upper end {hi2:+.4f})"
    else:
        verdict = INCONCLUSIVE
        tail = f"{_n_text(need)} if the true gain is {g.value:+.4f}" if math.isfinite(need) else "the estimate itself does not clear it"
        text = (f"{text}: not shown; detectable now: a gain of {gate.min_effect + mde:.4f} (80% power, one-sided "
                f"at {planned:.3g}); {tail}")
    nums = dict(estimate=g.value, ci_low=lo2, ci_high=hi2, bound=bound, bound_level=level, p_value=p, p_adjusted=p_adj,
                mde=mde, n_needed=need)
    return _result(gate, ev, verdict, gate.min_effect, text, **nums)


def _decide_not_regress(gate: MustNotRegress, ev: Evidence, ctx: dict) -> GateResult:
    """PASS: the one-sided test of H0 "gain <= -margin" rejects at alpha (its lower bound is
    above -margin). FAIL: the two-sided interval's upper end is below -margin."""
    if ev.missing:
        return _result(gate, ev, INCONCLUSIVE, gate.margin, ev.missing)
    g, level, planned = ev.gain, ctx["level"], gate.alpha / ctx["family"]
    lo2, hi2 = g.ci(gate.alpha)
    bound, p, p_adj = g.lower(level), ctx["p"], ctx["p_adjusted"]
    # Planning numbers assume the fine-tune is truly as good as the base.
    mde, need = g.est.mde(planned, sided=1), g.est.n_needed(gate.margin, planned, sided=1)
    holm = f" (Holm over {ctx['family']} candidates {p_adj:.4f})" if ctx["family"] > 1 else ""
    text = (f"gain {g.value:+.4f}, one-sided {_pct(level)} lower bound {bound:+.4f} vs -margin {-gate.margin:+.4f}, "
            f"p {p:.4f}{holm}, n {ev.n}, {_test_name(g.est)}")
    if p_adj < gate.alpha:
        verdict, text = PASS, f"{text}: no regression beyond the margin"
    elif hi2 < -gate.margin:
        verdict, text = FAIL, f"{text}: regressed by more than the margin ({_pct(gate.alpha)} CI upper end {hi2:+.4f})"
    else:
        verdict = INCONCLUSIVE
        text = f"{text}: not shown; this n rules out losses > {mde:.4f} (80% power); {_n_text(need)} for this margin"
    nums = dict(estimate=g.value, ci_low=lo2, ci_high=hi2, bound=bound, bound_level=level, p_value=p,
                p_adjusted=p_adj if ctx["family"] > 1 else None, mde=mde, n_needed=need)
    return _result(gate, ev, verdict, gate.margin, text, **nums)


def _floor_power(g, floor: float, alpha: float) -> tuple[float, float]:
    """(MDE above the floor, items needed at this score): from the estimate where it plans,
    else (Wilson) from the half-width of its one-sided bound, which scales as 1 / sqrt(n)."""
    from scipy import stats

    if hasattr(g.est, "mde"):
        effect = g.value - floor
        return g.est.mde(alpha, sided=1), (g.est.n_needed(effect, alpha, sided=1) if effect > 0 else math.inf)
    z_a, z_b = stats.norm.ppf(1 - alpha), stats.norm.ppf(0.8)
    mde = (g.value - g.lower(alpha)) * (z_a + z_b) / z_a
    effect = g.value - floor
    return mde, (math.ceil(g.est.n * (mde / effect) ** 2) if effect > 0 else math.inf)


def _decide_min_score(gate: MinScore, ev: Evidence, ctx: dict) -> GateResult:
    """PASS: the one-sided test of H0 "score <= min" rejects at alpha (its lower bound is at
    least min; Wilson for unclustered 0/1 items). FAIL: the two-sided upper end is below
    min. For a lower-is-better metric the same rule runs on the negated score, so ``min``
    acts as a ceiling."""
    if ev.missing:
        return _result(gate, ev, INCONCLUSIVE, gate.min, ev.missing)
    g, sign, level = ev.gain, gain_sign(ev.higher_is_better), ctx["level"]
    floor = sign * gate.min
    lo1, (lo2, hi2), p = g.lower(level), g.ci(gate.alpha), ctx["p"]
    mde, need = _floor_power(g, floor, gate.alpha / ctx["family"])
    low, high = sorted((sign * lo2, sign * hi2))
    word = ">=" if ev.higher_is_better else "<="
    text = (f"{gate.metric} {sign * g.value:.4f}, one-sided {_pct(level)} bound {sign * lo1:.4f}, "
            f"required {word} {gate.min:g}, n {ev.n}, {g.est.method}")
    if lo1 >= floor:
        verdict, text = PASS, f"{text}: meets the floor"
    elif hi2 < floor:
        verdict, text = FAIL, f"{text}: below the floor ({_pct(gate.alpha)} CI {low:.4f}, {high:.4f})"
    else:
        tail = f"{_n_text(need)} at this score" if math.isfinite(need) else "the estimate itself misses it"
        verdict, text = INCONCLUSIVE, f"{text}: not shown; {tail}"
    nums = dict(estimate=sign * g.value, ci_low=low, ci_high=high, bound=sign * lo1, bound_level=level, p_value=p,
                p_adjusted=ctx["p_adjusted"] if ctx["family"] > 1 else None, mde=mde, n_needed=need)
    return _result(gate, ev, verdict, gate.min, text, **nums)


_DECIDE = {"must_improve": _decide_improve, "must_not_regress": _decide_not_regress, "min_score": _decide_min_score}
