"""Number formatting shared by every renderer."""

from __future__ import annotations

from evalkit.compare.compare import MetricComparison


CAPTION = (
    "verdict: two-sided test at {pct}%, Holm-adjusted within each family (the primary metric, listed first, of "
    "every target task; of every forgetting probe); other metrics are shown, not tested. Gates test one-sided "
    "(see gate.md). MDE: the change detectable with 80% power at the row's Holm level. 0/1 metrics: the exact "
    "unconditional interval up to 100 items, Tango's score interval above; others: paired t / delta method; CR1 when items are grouped."
)


def num(x: float | None, digits: int = 3) -> str:
    if x is None or x != x:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def signed(x: float | None, digits: int = 3) -> str:
    if x is None or x != x:
        return "-"
    return f"{x:+.{digits}f}"


def interval(m: MetricComparison, digits: int = 3) -> str:
    if m.ci_low is None:
        return "-"
    return f"[{signed(m.ci_low, digits)}, {signed(m.ci_high, digits)}]"


def verdict_word(m: MetricComparison) -> str:
    """The row's verdict: a two-sided Holm-adjusted test, on a task's primary metric only."""
    if not m.tested:
        return "not tested (secondary)"
    if m.reason:
        for word, short in (("finite", "not finite"), ("cluster", "too few clusters"), ("item", "too few items"), ("spread", "no spread")):
            if word in m.reason:
                return short
        return "no verdict"
    return {True: "better", False: "worse", None: "no clear difference"}[m.improved]


def flips(m: MetricComparison) -> str:
    return f"{m.fixed} / {m.broke}" if m.fixed is not None else "-"


def direction(m: MetricComparison) -> str:
    return "higher is better" if m.higher_is_better else "lower is better"


def pvalue(m: MetricComparison) -> str:
    """Holm-adjusted p of a tested row; a secondary row's raw p, in parentheses."""
    if not m.tested and m.p_value is not None:
        return f"({m.p_value:.3f})"
    p = m.p_adjusted if m.p_adjusted is not None else m.p_value
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


OUTCOME_COLUMNS = ("answered", "empty", "unparsed", "failed (missing)")


def outcome_cells(t) -> list[tuple[int, int]]:
    """(base, candidate) counts of a task's items, in OUTCOME_COLUMNS order."""
    return [(t.answered_base, t.answered_ft), (t.empty_base, t.empty_ft), (t.unparsed_base, t.unparsed_ft), (t.errors_base, t.errors_ft)]
