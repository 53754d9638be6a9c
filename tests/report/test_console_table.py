"""The compare table at 80, 100 and 120 columns: every value of every row shown in full."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from evalkit.compare.compare import Comparison, MetricComparison, TaskComparison
from evalkit.report.console import print_comparison
from evalkit.report.console_table import FULL, rows


def _metric(name, base, ft, lo, hi, **kw):
    return MetricComparison(metric=name, higher_is_better=kw.pop("hib", True), base=base, ft=ft, delta=ft - base,
                            ci_low=lo, ci_high=hi, p_value=kw.pop("p", 0.0004), p_adjusted=kw.pop("padj", 0.0009),
                            n=kw.pop("n", 205), mde=kw.pop("mde", 0.028), **kw)


def comparison() -> Comparison:
    """Shaped like the demo's: 0/1 and BLEU-scale metrics, perplexities in the thousands,
    secondary metrics and a skipped task."""
    target = [
        TaskComparison("support_qa", "support", "target", "ok", n=205, metrics=[
            _metric("exact_match", 0.0, 1.0, 0.983, 1.0, fixed=205, broke=0),
            _metric("f1[strict]", 0.043, 1.0, 0.941, 0.974, tested=False, mde=0.024),
        ]),
        TaskComparison("translate_es", "support", "target", "ok", n=200, metrics=[
            _metric("bleu", 0.075, 32.997, 28.419, 37.426, mde=7.683, n=200),
            _metric("chrf", 10.799, 49.571, 34.418, 43.126, tested=False, mde=6.217, n=200),
        ]),
        TaskComparison("support_docs", "support", "target", "ok", n=200, metrics=[
            _metric("word_perplexity", 6204.1, 2.614, -6899.04, -5503.56, hib=False, tested=False, mde=996.173, n=200),
        ]),
        TaskComparison("code_review", "support", "target", "skipped", reason="ngram cannot generate"),
    ]
    forgetting = [
        TaskComparison("general_mc", "forgetting", "forgetting", "ok", n=218, metrics=[
            _metric("accuracy", 1.0, 0.95, -0.088, -0.028, fixed=0, broke=11, n=218, mde=0.049),
        ]),
        TaskComparison("arithmetic", "forgetting", "forgetting", "ok", n=200, metrics=[
            _metric("exact_match_arith", 1.0, 1.0, -0.019, 0.019, p=1.0, padj=1.0, fixed=0, broke=0, n=200),
        ]),
    ]
    return Comparison(base="base", candidate="ft", tasks=target + forgetting, seed=0, n_resamples=1000, confidence=0.95)


def render(width: int, terminal: bool, c: Comparison | None = None) -> str:
    con = Console(width=width, record=True, file=io.StringIO(), force_terminal=terminal, color_system=None)
    print_comparison(con, c or comparison())
    return con.export_text()


def _shown(value: str, block: str) -> bool:
    """``value`` whole in ``block``: not a prefix or suffix of a longer number."""
    return re.search(rf"(?<![\d.,]){re.escape(value)}(?![\d.,])", block) is not None


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("width", [80, 100, 120])
def test_every_value_of_every_row_is_shown_in_full(width, terminal):
    text = render(width, terminal)
    lines = text.splitlines()
    assert "…" not in text
    assert max(cell_len(line.rstrip()) for line in lines) <= width
    if not terminal:
        assert not set("─━│┃┏┓└┘") & set(text)  # plain text in logs
    metric_rows = [r for r in rows(comparison()) if r.kind == "metric"]
    assert len(metric_rows) == 7
    for r in metric_rows:
        name = r.cells["metric"].split()[0]
        # the lines that name the row's metric, each with the line after it (two-line layouts)
        starts = [i for i, line in enumerate(lines) if re.search(rf"(?<![\w\[]){re.escape(name)}(?![\w\[])", line)]
        assert starts, name
        blocks = ["\n".join(lines[i : i + 2]) for i in starts]
        for col in FULL[1:]:
            value = r.cells[col]
            assert any(_shown(value, b) for b in blocks), (width, name, col, value)
    assert "skipped: ngram cannot generate" in text


def test_the_layout_follows_the_width():
    wide, medium, narrow = render(120, False), render(100, False), render(80, False)
    assert "MDE" in wide.split("\n# forgetting")[0] and "details:" not in wide  # the full table
    assert "details:" in medium  # fixed/broke, MDE and n moved to a details table
    assert not re.search(r"^-{5}", narrow, re.M) and "fixed/broke 205 / 0" in narrow  # no table: two lines per metric


def test_a_log_is_as_wide_as_columns_says_else_120(monkeypatch):
    from evalkit.cli.common import log_width

    monkeypatch.setenv("COLUMNS", "93")
    assert log_width() == 93
    monkeypatch.setenv("COLUMNS", "wide")
    assert log_width() == 120
    monkeypatch.delenv("COLUMNS")
    assert log_width() == 120


@pytest.mark.parametrize("width", [80, 100, 120])
def test_long_task_and_model_names_cut_nothing(width):
    c = comparison()
    c.base, c.candidate = "llama-3.1-8b-instruct", "llama-3.1-8b-instruct-lora-support-v2"
    c.tasks[0].task = "mmlu_high_school_macroeconomics_and_more"
    text = render(width, False, c)
    assert "…" not in text and max(cell_len(line.rstrip()) for line in text.splitlines()) <= width
    assert "mmlu_high_school_macroeconomics_and_more" in text
    assert "llama-3.1-8b-instruct-lora-support-v2 vs llama-3.1-8b-instruct" in text  # named once, in the title
