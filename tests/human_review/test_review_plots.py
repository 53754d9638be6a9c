"""The figures the admin page shows."""

from __future__ import annotations

import subprocess
import sys

import pytest

from evalkit.report.plots import figure_to_svg, strengths_plot, win_tie_loss_bars


def test_win_tie_loss_bars_and_strengths_render_to_svg():
    pytest.importorskip("matplotlib", reason="the review extra is not installed: pip install -e '.[review]'")
    rows = [{"label": "ft vs base", "win": (0.5, 0.3, 0.7), "tie": (0.2, 0.1, 0.4), "both_bad": (0.1, 0.02, 0.3),
             "loss": (0.2, 0.1, 0.4)}]
    svg = figure_to_svg(win_tie_loss_bars(rows))
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    svg = figure_to_svg(strengths_plot([{"label": "base", "value": 0.0, "low": None, "high": None},
                                        {"label": "ft", "value": 0.8, "low": 0.2, "high": 1.4}]))
    assert "</svg>" in svg


def test_plots_module_imports_no_matplotlib_and_sets_no_backend():
    pytest.importorskip("matplotlib", reason="the review extra is not installed: pip install -e '.[review]'")
    code = ("import sys, evalkit.report.plots as p\nassert 'matplotlib' not in sys.modules\n"
            "p.figure_to_svg(p.strengths_plot([{'label': 'a', 'value': 0.0, 'low': None, 'high': None}]))\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
