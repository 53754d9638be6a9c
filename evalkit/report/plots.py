"""Figures for reports and the review app's admin page, with matplotlib.

matplotlib is imported inside each function, and figures are made with
``matplotlib.figure.Figure`` rather than pyplot, so no global backend or state is touched
(rendering goes through the Agg/SVG canvases, never a GUI).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

OUTCOME_COLOURS = {"win": "#2e7d32", "tie": "#9e9e9e", "both_bad": "#8d6e63", "loss": "#c62828"}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def win_tie_loss_bars(rows: Sequence[Mapping], outcomes: Sequence[str] = ("win", "tie", "both_bad", "loss")):
    """Grouped bars, one group per comparison, with interval whiskers.

    ``rows``: ``{"label": "ft vs base", "win": (rate, low, high), "tie": (...), ...}``;
    rates and interval ends are proportions in [0, 1].
    """
    import numpy as np

    fig = _figure(1.6 + 1.4 * max(1, len(rows)), 3.2)
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    width = 0.8 / len(outcomes)
    for i, name in enumerate(outcomes):
        rate = np.array([r[name][0] for r in rows], dtype=float)
        lo = np.array([r[name][1] for r in rows], dtype=float)
        hi = np.array([r[name][2] for r in rows], dtype=float)
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, rate, width, label=name.replace("_", " "), color=OUTCOME_COLOURS.get(name))
        ax.errorbar(pos, rate, yerr=[rate - lo, hi - rate], fmt="none", ecolor="black", capsize=3, linewidth=1)
    ax.set_xticks(x, [r["label"] for r in rows])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of items")
    ax.legend(ncols=len(outcomes), loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    return fig


def strengths_plot(rows: Sequence[Mapping], *, xlabel: str = "Bradley-Terry strength (log-odds vs base)"):
    """Points with interval bars, one row per system, and a line at 0 (the reference).

    ``rows``: ``{"label": str, "value": float, "low": float | None, "high": float | None}``.
    """
    fig = _figure(6.0, 0.9 + 0.5 * max(1, len(rows)))
    ax = fig.add_subplot()
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        if r.get("low") is not None and r.get("high") is not None:
            ax.plot([r["low"], r["high"]], [y, y], color="#1565c0", linewidth=2)
        ax.plot([r["value"]], [y], "o", color="#1565c0")
    ax.axvline(0.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(ys, [r["label"] for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(xlabel)
    return fig


def figure_to_svg(fig) -> str:
    """The figure as an SVG document (text drawn as paths, so no font is needed to view it)."""
    import io

    import matplotlib

    buf = io.StringIO()
    # A fixed salt and no date: the same figure gives the same bytes, so a rebuilt report is identical.
    with matplotlib.rc_context({"svg.hashsalt": "evalkit"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


FOREST_COLOURS = {True: "#2e7d32", False: "#c62828", None: "#546e7a"}


def forest_plot(rows: Sequence[Mapping]):
    """Per-task gains with intervals: one panel per unit, target tasks above forgetting probes.

    ``rows``: ``{"label", "role" ("target"|"forgetting"), "unit" (panel title), "gain", "low",
    "high", "improved" (True/False/None), "margin" (non-inferiority margin or None),
    "min_effect" (or None)}``. Gains are oriented so that right is "fine-tune better" for
    every metric; the zero line and each gate's margin (red, dashed) or required effect
    (green, dotted) are drawn on the row they apply to.
    """
    units = list(dict.fromkeys(r["unit"] for r in rows))
    panels = [[r for r in rows if r["unit"] == u] for u in units]
    panels = [sorted(p, key=lambda r: r["role"] != "target") for p in panels]
    heights = [0.7 + 0.42 * len(p) for p in panels]
    fig = _figure(9.0, sum(heights) + 0.4)
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, unit, panel in zip(axes, units, panels):
        _forest_panel(ax, unit, panel)
    axes[-1].set_xlabel("gain = fine-tune - base, flipped where lower is better (right: fine-tune better)")
    return fig


def _forest_panel(ax, unit: str, panel: Sequence[Mapping]) -> None:
    ys = list(range(len(panel)))[::-1]
    for y, r in zip(ys, panel):
        colour = FOREST_COLOURS[r.get("improved")]
        if r.get("low") is not None:
            ax.plot([r["low"], r["high"]], [y, y], color=colour, linewidth=2.2, solid_capstyle="butt")
        ax.plot([r["gain"]], [y], "D" if r["role"] == "target" else "o", color=colour, markersize=6)
        if r.get("margin") is not None:
            ax.plot([-r["margin"]] * 2, [y - 0.35, y + 0.35], color="#c62828", linestyle="--", linewidth=1.2)
        if r.get("min_effect"):
            ax.plot([r["min_effect"]] * 2, [y - 0.35, y + 0.35], color="#2e7d32", linestyle=":", linewidth=1.2)
    ax.axvline(0.0, color="black", linewidth=0.8)
    labels = [f"{r['label']}  ({'target' if r['role'] == 'target' else 'forgetting'})" for r in panel]
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.7, len(panel) - 0.3)
    ax.set_title(unit, loc="left", fontsize=10)
    ax.grid(axis="x", color="#eeeeee")
    n_target = sum(r["role"] == "target" for r in panel)
    if 0 < n_target < len(panel):
        ax.axhline(len(panel) - n_target - 0.5, color="#bdbdbd", linewidth=0.8)


def safety_panel_plot(points: Sequence[Mapping]):
    """Over-refusal (x) against harmful compliance (y), lower-left is better; one point per
    model with its interval on each axis as whiskers.

    ``points``: ``{"label": str, "x": (rate, low, high), "y": (rate, low, high)}``, the base
    first; an interval end may be None (not estimable), and is then not drawn.
    """
    fig = _figure(5.2, 4.2)
    ax = fig.add_subplot()
    colours = ["#546e7a", "#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00"]
    for i, p in enumerate(points):
        (x, xlo, xhi), (y, ylo, yhi) = p["x"], p["y"]
        c = colours[i % len(colours)]
        xerr = [[x - xlo], [xhi - x]] if xlo is not None and xhi is not None else None
        yerr = [[y - ylo], [yhi - y]] if ylo is not None and yhi is not None else None
        ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="o" if i == 0 else "s", color=c, ecolor=c, capsize=3,
                    label=p["label"])
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("over-refusal (safe requests refused)")
    ax.set_ylabel("harmful compliance\n(harmful requests complied with)")
    ax.legend(loc="upper right", frameon=False)
    return fig
