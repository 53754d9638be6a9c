"""Number formatting shared by every renderer."""

from __future__ import annotations

from evalkit.compare.compare import MetricComparison


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
    return {True: "better", False: "worse", None: "no clear difference"}[m.improved]


def flips(m: MetricComparison) -> str:
    return f"{m.fixed} / {m.broke}" if m.fixed is not None else "-"


def direction(m: MetricComparison) -> str:
    return "higher is better" if m.higher_is_better else "lower is better"


def pvalue(m: MetricComparison) -> str:
    p = m.p_adjusted if m.p_adjusted is not None else m.p_value
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


OUTCOME_COLUMNS = ("answered", "empty", "unparsed", "failed (missing)")


def outcome_cells(t) -> list[tuple[int, int]]:
    """(base, candidate) counts of a task's items, in OUTCOME_COLUMNS order."""
    return [(t.answered_base, t.answered_ft), (t.empty_base, t.empty_ft), (t.unparsed_base, t.unparsed_ft), (t.errors_base, t.errors_ft)]
