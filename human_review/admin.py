"""What the admin pages show, as plain data (tables, SVG charts), so that ``app`` only lays
it out. While a study is open every system is named by its label ("base", "candidate 1"),
never by model name or run id; closing the study reveals them."""

from __future__ import annotations

from typing import Any

from human_review.analysis import analyse


def results(store, study, *, n_boot: int = 500) -> dict[str, Any]:
    data = store.data(study)
    return analyse(data, reveal=data.status != "open", n_boot=n_boot)


def _iv(iv) -> str:
    return "" if not iv or iv[0] is None else f"{iv[0]:.0%} – {iv[1]:.0%}"


def progress_table(progress: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"rater": name, "rated": c["done"], "skipped": c["skipped"], "open": c["open"]}
            for name, c in sorted(progress["raters"].items())]


def win_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in result["win_rates"]:
        row = {"comparison": f"{r['candidate']} vs {r['base']}", "items": r["items"]}
        for k in ("win", "tie", "both_bad", "loss"):
            rate = r[k]["rate"]
            row[k] = "" if rate is None else f"{rate:.0%} ({_iv(r[k]['interval'])})"
        row["sign test p"] = r["sign_test"]["p_value"]
        rows.append(row)
    return rows


def criteria_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    def num(x):
        return "" if x is None else f"{x:.2f}"

    return [{"pair": f"{c['candidate']} vs {c['base']}", "criterion": c["criterion"], "items": c["items"],
             "mean x": num(c["mean_x"]), "mean y": num(c["mean_y"]), "difference": num(c["difference"]),
             "interval": "" if c["interval"][0] is None else f"{c['interval'][0]:.2f} – {c['interval'][1]:.2f}"}
            for c in result.get("criteria", [])]


def rater_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [{
        "rater": r["rater"], "votes": r["votes"], "skips": r["skips"],
        "gold": f"{r['gold']['correct']}/{r['gold']['n']}", "repeats consistent": f"{r['repeats']['consistent']}/{r['repeats']['n']}",
        "median s": r["median_seconds"], "left share": r["left_share"], "flags": "; ".join(r["flags"]),
    } for r in result["raters"]]


def metric_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"task": m["task"], "metric": m["metric"], "items": m["items"], "agree": m["agree"], "disagree": m["disagree"],
             "metric ties": m["metric_ties"], "agreement": "" if m["share"] is None else f"{m['share']:.0%} ({_iv(m['interval'])})"}
            for m in result["metric_agreement"]]


def charts(result: dict[str, Any]) -> dict[str, str]:
    """SVG documents: win/tie/loss bars and Bradley-Terry strengths (empty when no votes yet)."""
    from evalkit.report.plots import figure_to_svg, strengths_plot, win_tie_loss_bars

    out = {}
    rows = [r for r in result["win_rates"] if r["items"]]
    if rows:
        bars = [{"label": f"{r['candidate']} vs {r['base']}",
                 **{k: (r[k]["rate"], *r[k]["interval"]) for k in ("win", "tie", "both_bad", "loss")}} for r in rows]
        out["win_rates"] = figure_to_svg(win_tie_loss_bars(bars))
    bt = result["bradley_terry"]["rows"]
    if bt:
        pts = [{"label": r["system"], "value": r["strength"], "low": r["interval"][0], "high": r["interval"][1]} for r in bt]
        out["strengths"] = figure_to_svg(strengths_plot(pts))
    return out
