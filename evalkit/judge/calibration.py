"""The judge against people: does it agree with blind human votes on the same items as well
as the people agree with one another?

Labels are relative to the models, as in the review study: ``x`` the candidate is better,
``y`` the base is better, ``tie``. The study's "both bad" counts as a tie here (the judge has
no such verdict), and the judge's own tie includes its order disagreements (both-orders rule).

- judge vs the human majority of each item: raw agreement, Cohen's kappa (sklearn);
- Krippendorff's alpha (nominal, the ``krippendorff`` package when installed) among the people, and with the
  judge as one more rater;
- each rater vs the majority of the *other* raters, for scale: the judge may stand in for a
  rater on this task when it agrees with the majority at least as often as the median rater;
- the win rate by the people's majority and by the judge, side by side on the same items.

Intervals: percentile bootstrap over items (a seeded Generator), Wilson for raw agreement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

CATEGORIES = ("x", "tie", "y")
_FROM_JUDGE = {"ft": "x", "base": "y", "tie": "tie"}


def collapse(label: str) -> str:
    return "tie" if label == "both_bad" else label


def majority(labels: Sequence[str]) -> str:
    """The item's verdict from all its raters: the sign of (x votes - y votes), else a tie."""
    score = sum(1 if lab == "x" else -1 if lab == "y" else 0 for lab in labels)
    return "x" if score > 0 else "y" if score < 0 else "tie"


def _kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(set(a) | set(b)) < 2:
        return None
    with np.errstate(all="ignore"):
        k = float(cohen_kappa_score(a, b, labels=list(CATEGORIES)))
    return None if np.isnan(k) else k


def _alpha(units: Sequence[Sequence[str]]) -> float | None:
    # The review's own: the ``krippendorff`` package when installed, else evalkit's coincidence
    # matrix (a test holds the two equal).
    from human_review.agreement import krippendorff_alpha

    pairable = [u for u in units if len(u) >= 2]
    if not pairable or len({v for u in pairable for v in u}) < 2:
        return None
    return krippendorff_alpha(dict(enumerate(pairable)))[0]


def _win_rate(labels: Sequence[str]) -> float | None:
    return (labels.count("x") + 0.5 * labels.count("tie")) / len(labels) if labels else None


def _interval(stat, n: int, rng: np.random.Generator, n_boot: int, confidence: float) -> list[float | None]:
    values = []
    for _ in range(n_boot):
        v = stat(rng.integers(0, n, size=n))
        if v is not None:
            values.append(v)
    if len(values) < 0.9 * n_boot:  # undefined on too many resamples to describe
        return [None, None]
    a = 1 - confidence
    return [float(x) for x in np.quantile(values, [a / 2, 1 - a / 2])]


def _rater_agreement(votes: Mapping[str, Sequence[tuple[str, str]]]) -> list[dict]:
    """Each rater against the majority of the other raters of the same items."""
    per: dict[str, list[bool]] = {}
    for labs in votes.values():
        for i, (rater, lab) in enumerate(labs):
            others = [x for j, (_, x) in enumerate(labs) if j != i]
            if others:
                per.setdefault(rater, []).append(lab == majority(others))
    return [{"rater": r, "items": len(v), "agreement": sum(v) / len(v)} for r, v in sorted(per.items())]


def judge_vs_humans(votes: Mapping[str, Sequence[tuple[str, str]]], judge: Mapping[str, str], *,
                    rng: np.random.Generator, n_boot: int = 1000, confidence: float = 0.95) -> dict:
    """``votes``: item key -> [(rater, label)]; ``judge``: item key -> the judge's outcome
    ("ft", "base" or "tie"). Items the judge has no outcome for are left out (and counted)."""
    from evalkit.stats import wilson_interval

    keys = sorted(k for k in votes if votes[k] and k in judge and judge[k] in _FROM_JUDGE)
    human = [[(r, collapse(x)) for r, x in votes[k]] for k in keys]
    maj = [majority([x for _, x in h]) for h in human]
    jl = [_FROM_JUDGE[judge[k]] for k in keys]
    n = len(keys)
    out: dict = {"items": n, "items_without_judge": sum(1 for k in votes if votes[k]) - n, "confidence": confidence}
    if n == 0:
        return {**out, "statement": "no item has both human votes and a judge verdict"}
    agree = sum(a == b for a, b in zip(jl, maj))
    units_h = [[x for _, x in h] for h in human]
    units_j = [u + [j] for u, j in zip(units_h, jl)]
    raters = _rater_agreement({k: h for k, h in zip(keys, human)})
    typical = float(np.median([r["agreement"] for r in raters])) if raters else None
    out.update({
        "judge_agreement": {"share": agree / n, "interval": list(wilson_interval(agree, n, alpha=1 - confidence))},
        "cohen_kappa": {"value": _kappa(jl, maj),
                        "interval": _interval(lambda i: _kappa([jl[x] for x in i], [maj[x] for x in i]), n, rng, n_boot, confidence)},
        "alpha_humans": {"value": _alpha(units_h),
                         "interval": _interval(lambda i: _alpha([units_h[x] for x in i]), n, rng, n_boot, confidence)},
        "alpha_with_judge": {"value": _alpha(units_j),
                             "interval": _interval(lambda i: _alpha([units_j[x] for x in i]), n, rng, n_boot, confidence)},
        "raters": raters, "typical_rater_agreement": typical,
        "win_rate": {"humans": _win_rate(maj), "judge": _win_rate(jl)},
        "labels": {"humans": dict(Counter(maj)), "judge": dict(Counter(jl))},
    })
    out["statement"] = _statement(agree / n, typical, n)
    return out


def _statement(judge_share: float, typical: float | None, n: int) -> str:
    if typical is None:
        return (f"the judge agrees with the raters on {judge_share:.0%} of {n} items; with one rater per item there is "
                "no human-vs-human agreement to compare with: have two or more raters see each item")
    if judge_share >= typical:
        return (f"the judge agrees with the human majority on {judge_share:.0%} of {n} items, a typical rater with the "
                f"others' majority on {typical:.0%}: on this task the judge may stand in for a rater")
    return (f"the judge agrees with the human majority on {judge_share:.0%} of {n} items, less than a typical rater "
            f"({typical:.0%}): on this task the judge should not stand in for raters")


def markdown(rows: Sequence[dict]) -> str:
    """The "Judge against people" section, one block per (task, candidate)."""
    if not rows:
        return ""

    def num(x):
        return "n/a" if x is None else f"{x:.2f}"

    def iv(v):
        return "" if v[0] is None else f" [{v[0]:.2f}, {v[1]:.2f}]"

    out = ["", "## Judge against people", "",
           "| task | candidate | items | judge = majority | Cohen's kappa | alpha (people) | alpha (people + judge) | "
           "typical rater = others' majority | win rate people / judge |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a = r["agreement"]
        if not a["items"]:
            out.append(f"| {r['task']} | {r['candidate']} | 0 | | | | | | |")
            continue
        wr = a["win_rate"]
        out.append(f"| {r['task']} | {r['candidate']} | {a['items']} | {a['judge_agreement']['share']:.0%}"
                   f"{iv(a['judge_agreement']['interval'])} | {num(a['cohen_kappa']['value'])}{iv(a['cohen_kappa']['interval'])} | "
                   f"{num(a['alpha_humans']['value'])}{iv(a['alpha_humans']['interval'])} | "
                   f"{num(a['alpha_with_judge']['value'])}{iv(a['alpha_with_judge']['interval'])} | "
                   f"{'n/a' if a['typical_rater_agreement'] is None else format(a['typical_rater_agreement'], '.0%')} | "
                   f"{num(wr['humans'])} / {num(wr['judge'])} |")
    out += [""] + [f"- {r['task']}, {r['candidate']}: {r['agreement']['statement']}" for r in rows]
    return "\n".join(out) + "\n"
