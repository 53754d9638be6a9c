"""The effect each gate can detect at the planned n, and the n its threshold needs.

From a stored compare of the same models when there is one (the variance of its per-item
differences, through the estimator the gate itself uses, ``evalkit.compare.estimates``);
otherwise from stated assumptions:

- 0/1 metric, paired: both models right half the time and disagreeing on ASSUMED_DISCORDANCE
  of the items (McNemar / Tango planning, ``evalkit.stats.paired_binary``);
- 0/1 metric, the fine-tune alone (min_score): p = 0.5, the widest case;
- bounded metric: per-item differences with a standard deviation of ASSUMED_SD_SHARE of the
  metric's range (normal planning, ``evalkit.stats.power``);
- unbounded metric (bits_per_byte): no assumption is honest; a stored run is needed.

The level is the gate's first-step Holm level, as ``evalkit compare --gate`` applies it: a
must_improve gate's alpha over all must_improve gates of all candidates, any other gate's
alpha over the candidates. Power 80 %, one-sided. "detectable" is the smallest true gain the
gate would show (for must_improve: min_effect plus the minimum detectable effect; for
must_not_regress: the loss it would rule out; min_score: the distance above the floor);
"n needed" is the items that detect the gate's own threshold (min_effect, margin).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ASSUMED_DISCORDANCE = 0.2
ASSUMED_SD_SHARE = 0.25
POWER = 0.8


@dataclass(frozen=True)
class GatePower:
    gate: str
    type: str
    target: str
    metric: str
    n: int
    level: float
    threshold: float
    detectable: float | None  # see the module docstring; None: no honest number
    n_needed: float | None  # inf: no n suffices; None: unknown
    basis: str  # "stored run ..." or the assumption used


def _paired_assumed(m, n: int, level: float, effect: float) -> tuple[float | None, float | None, str]:
    from evalkit.stats import power
    from evalkit.stats.paired_binary import PairedBinaryEstimate

    if m.binary:
        changed = round(ASSUMED_DISCORDANCE * n / 2)
        same = n - 2 * changed
        est = PairedBinaryEstimate(same - same // 2, changed, changed, same // 2)
        big = PairedBinaryEstimate(40_000, 10_000, 10_000, 40_000)  # the assumed rate exactly
        need = big.n_needed(effect, level, POWER, sided=1) if effect > 0 else math.inf
        return est.mde(level, POWER, sided=1), need, f"assumed p = 0.5, discordance {ASSUMED_DISCORDANCE:g}"
    if m.value_range is None:
        return None, None, "unbounded metric: run a compare first (or --baseline) for its variance"
    sd = ASSUMED_SD_SHARE * (m.value_range[1] - m.value_range[0])
    need = power.n_needed(sd, effect, alpha=level, power=POWER, sided=1) if effect > 0 else math.inf
    return (power.minimum_detectable_effect(sd, n, alpha=level, power=POWER, sided=1), need,
            f"assumed SD of differences {sd:g} ({ASSUMED_SD_SHARE:g} x range)")


def _single_assumed(m, n: int, level: float) -> tuple[float | None, float | None, str]:
    from evalkit.stats import power

    if m.value_range is None:
        return None, None, "unbounded metric: run a compare first (or --baseline) for its variance"
    sd = 0.5 if m.binary else ASSUMED_SD_SHARE * (m.value_range[1] - m.value_range[0])
    how = "assumed p = 0.5" if m.binary else f"assumed SD {sd:g} ({ASSUMED_SD_SHARE:g} x range)"
    return power.minimum_detectable_effect(sd, n, alpha=level, power=POWER, sided=1), None, how


def _stored(gate, stored, task: str, n: int, level: float, effect: float):
    """(detectable, n needed, basis) from a stored base and candidate run, or None."""
    from evalkit.compare import estimates
    from evalkit.compare.columns import PairedRuns, RunColumns
    from evalkit.compare.gate_evidence import _paired_stats
    from evalkit.stats import power

    base, ft = stored
    if not (base.samples_for(task) and ft.samples_for(task)):
        return None
    runs = PairedRuns(RunColumns(base), RunColumns(ft))
    try:
        sa, sb, groups, _ = _paired_stats(runs, task, gate.metric)
        m = runs.base.metric(task, gate.metric)
        est = (estimates.one_sample(gate.metric, sb, groups, m) if gate.type == "min_score"
               else estimates.paired(gate.metric, sa, sb, groups, m))
    except (ValueError, KeyError):
        return None
    if not est.usable or est.n == 0:
        return None
    basis = f"stored runs ({base.model} vs {ft.model}, n {est.n})"
    if not hasattr(est, "mde"):  # Wilson (the fine-tune's own 0/1 score): its p's binomial SD
        sd = math.sqrt(est.value * (1 - est.value))
        return power.minimum_detectable_effect(sd, n, alpha=level, power=POWER, sided=1), None, basis
    # SE shrinks as 1 / sqrt(n): the stored n's detectable effect scaled to the planned n.
    mde = est.mde(level, POWER, sided=1) * math.sqrt(est.n / n)
    need = None if gate.type == "min_score" else (est.n_needed(effect, level, POWER, sided=1) if effect > 0 else math.inf)
    return mde, need, basis


def gate_power(gates, n_items: dict[str, int], suites: dict[str, list[str]], n_candidates: int,
               stored=None) -> list[GatePower]:
    """Each gate's planning numbers. ``n_items``: items per task for the candidate;
    ``suites``: suite -> its tasks; ``stored``: (base run, candidate run) or None."""
    from evalkit.errors import ConfigError
    from evalkit.metrics.registry import make_metric

    improve = sum(g.type == "must_improve" for g in gates)
    out = []
    for g in gates:
        tasks = suites.get(g.suite, []) if getattr(g, "suite", None) else [g.task]
        n = sum(n_items.get(t, 0) for t in tasks)
        family = improve * n_candidates if g.type == "must_improve" else n_candidates
        level = g.alpha / max(family, 1)
        effect = {"must_improve": getattr(g, "min_effect", 0.0), "must_not_regress": getattr(g, "margin", 0.0)}.get(g.type, 0.0)
        threshold = getattr(g, "min", effect)
        found = None
        if stored is not None and len(tasks) == 1 and n:
            found = _stored(g, stored, tasks[0], n, level, effect)
        if found is None and n:
            try:
                m = make_metric(g.metric)
            except ConfigError:
                found = (None, None, "a task's own metric: run a compare first (or --baseline) for its variance")
            else:
                found = _single_assumed(m, n, level) if g.type == "min_score" else _paired_assumed(m, n, level, effect)
        if found is None:
            found = (None, None, "no items planned for its task")
        mde, need, basis = found
        if mde is not None and g.type == "must_improve":
            mde += effect  # the gate's bound must clear min_effect, not 0
        out.append(GatePower(g.label, g.type, g.target, g.metric, n, level, threshold, mde, need, basis))
    return out
