"""What the votes say: win / tie / loss rates with Wilson intervals and a sign test per
candidate, Bradley-Terry strengths, agreement between raters, position bias, the quality
of each rater, and how well each automated metric agrees with the people.

Units: an item's verdict comes from all of its raters (the mean of +1 candidate better,
-1 base better, 0 tie or both bad; a zero is "both bad" when more raters said so than
"tie"), and the rates, intervals and sign tests count items, not votes, since the votes
on one item are not independent. Gold items and hidden repeats are left out of the
verdicts; they only measure the raters.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from human_review.records import LABELS, StudyData

GOLD_MIN_ACCURACY = 0.7  # flag a rater below this on at least GOLD_MIN_N gold items
GOLD_MIN_N = 3
REPEAT_MIN_CONSISTENCY = 0.6  # flag a rater who repeats their own verdict less often (at least REPEAT_MIN_N repeats)
REPEAT_MIN_N = 3
MIN_SECONDS = 3.0  # flag a median below this (at least 5 votes): too fast to have read both answers
POSITION_P = 0.01  # flag a rater whose left/right choices a binomial test finds lopsided at this level


def verdict(labels: list[str]) -> str:
    score = sum(1 if lab == "x" else -1 if lab == "y" else 0 for lab in labels)
    if score > 0:
        return "x"
    if score < 0:
        return "y"
    counts = Counter(labels)
    return "both_bad" if counts["both_bad"] > counts["tie"] else "tie"


def _wilson(k: int, n: int, confidence: float) -> list[float]:
    from evalkit.stats import wilson_interval

    return list(wilson_interval(k, n, alpha=1.0 - confidence))


def _binom_p(k: int, n: int) -> float | None:
    """Two-sided binomial test of k in n against 1/2 (scipy's binomtest). At p = 1/2 the
    distribution is symmetric, so the outcomes as unlikely as k are the two tails beyond
    min(k, n - k): p = 2 * cdf. scipy.special's cdf, because importing scipy.stats alone
    costs over a second of a fresh `review results` (tested against binomtest)."""
    from scipy.special import bdtr

    return min(1.0, 2.0 * float(bdtr(min(k, n - k), n, 0.5))) if n else None


def _names(data: StudyData, reveal: bool) -> dict[str, str]:
    return {s.label: (s.model if reveal else s.label) for s in data.systems}


def _pair_labels(data: StudyData) -> dict[int, list[tuple[str, str]]]:
    """comparison id -> [(rater, relative label)] over the answered pair assignments."""
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for a in data.answers:
        if a.kind == "pair" and a.label is not None:
            out[a.comparison_id].append((a.rater, a.label))
    return out


def verdicts(data: StudyData) -> dict[int, str]:
    return {cid: verdict([lab for _, lab in labs]) for cid, labs in _pair_labels(data).items()}


def win_rates(data: StudyData, names: dict[str, str], confidence: float) -> list[dict[str, Any]]:
    by_comp = verdicts(data)
    votes = _pair_labels(data)
    rows = []
    # Each candidate against the base, then (a study with pairs "all") candidate against candidate.
    matchups = [(c.label, data.base.label) for c in data.candidates]
    matchups += sorted({(c.candidate, c.opponent) for c in data.comparisons.values()
                        if c.kind == "pair" and c.opponent not in (None, data.base.label)})
    for cand, opp in matchups:
        comps = [cid for cid in by_comp if data.comparisons[cid].candidate == cand
                 and (data.comparisons[cid].opponent or data.base.label) == opp]
        counts = Counter(by_comp[cid] for cid in comps)
        vote_counts = Counter(lab for cid in comps for _, lab in votes[cid])
        n = len(comps)
        row: dict[str, Any] = {"candidate": names[cand], "base": names[opp], "items": n,
                               "votes": {k: vote_counts[k] for k in LABELS}}
        for key, lab in (("win", "x"), ("tie", "tie"), ("both_bad", "both_bad"), ("loss", "y")):
            row[key] = {"n": counts[lab], "rate": counts[lab] / n if n else None, "interval": _wilson(counts[lab], n, confidence)}
        decisive = counts["x"] + counts["y"]
        row["sign_test"] = {"wins": counts["x"], "losses": counts["y"], "p_value": _binom_p(counts["x"], decisive)}
        rows.append(row)
    return rows


def strengths(data: StudyData, names: dict[str, str], *, n_boot: int, seed: int, confidence: float) -> dict[str, Any]:
    import numpy as np

    from human_review.bradley_terry import fit_with_intervals

    players = [data.base.label] + [c.label for c in data.candidates]
    index = {p: i for i, p in enumerate(players)}
    per_item: dict[int, np.ndarray] = {}
    for cid, labs in _pair_labels(data).items():
        comp = data.comparisons[cid]
        w = per_item.setdefault(comp.item_id, np.zeros((len(players), len(players))))
        c, o = index[comp.candidate], index[comp.opponent or data.base.label]
        for _, lab in labs:
            if lab == "x":
                w[c, o] += 1
            elif lab == "y":
                w[o, c] += 1
            else:  # tie or both bad: half a win each
                w[c, o] += 0.5
                w[o, c] += 0.5
    if not per_item:
        return {"players": [names[p] for p in players], "rows": [], "items": 0}
    fit = fit_with_intervals(np.array(list(per_item.values())), tuple(players), n_boot=n_boot, seed=seed, confidence=confidence)
    rows = [{"system": names[p], "strength": s, "interval": [lo, hi], "at_bound": b, "reference": i == 0}
            for i, (p, s, lo, hi, b) in enumerate(zip(players, fit.strength, fit.low, fit.high, fit.at_bound))]
    return {"rows": rows, "items": len(per_item), "resamples": n_boot, "seed": seed, "ties": "half a win each"}


def criteria(data: StudyData, names: dict[str, str], confidence: float) -> list[dict[str, Any]]:
    """Per pair of systems and criterion: the mean score of each side and the mean paired
    difference (x - y), item by item (an item's difference is the mean over its raters who
    scored both sides), with a t interval over items."""
    # scipy.special's t quantile (what scipy.stats.t.ppf calls): scipy.stats costs a second to import.
    from scipy.special import stdtrit

    from human_review.study_file import from_settings

    per: dict[tuple[str, str, str], dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for a in data.answers:
        comp = data.comparisons[a.comparison_id]
        if a.kind != "pair" or not a.scores:
            continue
        for crit, vx in (a.scores.get("x") or {}).items():
            vy = (a.scores.get("y") or {}).get(crit)
            if isinstance(vx, (int, float)) and isinstance(vy, (int, float)):
                per[(comp.candidate, comp.opponent or data.base.label, crit)][comp.item_id].append((vx, vy))
    order = [c.name for c in from_settings(data.settings).criteria]
    rows = []
    for (cand, opp, crit), items in sorted(per.items(), key=lambda kv: (kv[0][0], kv[0][1], order.index(kv[0][2]) if kv[0][2] in order else 99)):
        xs = [statistics.fmean(x for x, _ in v) for v in items.values()]
        ys = [statistics.fmean(y for _, y in v) for v in items.values()]
        d = [x - y for x, y in zip(xs, ys)]
        n = len(d)
        iv = [None, None]
        if n >= 2:
            sd = statistics.stdev(d)
            half = float(stdtrit(n - 1, 0.5 + confidence / 2)) * sd / n ** 0.5
            iv = [statistics.fmean(d) - half, statistics.fmean(d) + half]
        rows.append({"candidate": names[cand], "base": names[opp], "criterion": crit, "items": n,
                     "mean_x": statistics.fmean(xs), "mean_y": statistics.fmean(ys), "difference": statistics.fmean(d),
                     "interval": iv})
    return rows


def agreement(data: StudyData) -> dict[str, Any]:
    from human_review.agreement import cohen_pairs, fleiss_kappa, krippendorff_alpha

    by_rater: dict[str, dict[int, str]] = defaultdict(dict)
    units: dict[int, list[str]] = defaultdict(list)
    for cid, labs in _pair_labels(data).items():
        for rater, lab in labs:
            by_rater[rater][cid] = lab
            units[cid].append(lab)
    alpha, impl = krippendorff_alpha(units)
    return {"labels": list(LABELS), "cohen_kappa": cohen_pairs(by_rater, LABELS), "krippendorff_alpha": alpha,
            "alpha_implementation": impl, "units_with_2_or_more": sum(len(v) >= 2 for v in units.values()),
            "fleiss_kappa": fleiss_kappa(units, LABELS)}


def _left_share(answers) -> dict[str, Any]:
    decisive = [a for a in answers if a.choice in ("left", "right")]
    k = sum(a.choice == "left" for a in decisive)
    return {"left": k, "n": len(decisive), "share": k / len(decisive) if decisive else None, "p_value": _binom_p(k, len(decisive))}


def position_bias(data: StudyData) -> dict[str, Any]:
    shown = [a for a in data.answers if a.kind in ("pair", "repeat")]
    per = {r: _left_share([a for a in shown if a.rater == r]) for r in sorted({a.rater for a in shown})}
    return {"overall": _left_share(shown), "per_rater": per}


def rater_quality(data: StudyData, confidence: float) -> list[dict[str, Any]]:
    by_id = {a.assignment_id: a for a in data.answers}
    rows = []
    for rater in data.raters:
        mine = [a for a in data.answers if a.rater == rater]
        votes = [a for a in mine if a.label is not None]
        gold = [a for a in votes if a.kind == "gold"]
        correct = sum(a.label == "x" for a in gold)
        pairs = [(a, by_id.get(a.repeat_of)) for a in votes if a.kind == "repeat"]
        pairs = [(a, o) for a, o in pairs if o is not None and o.label is not None]
        same = sum(a.label == o.label for a, o in pairs)
        secs = [a.seconds for a in votes if a.seconds is not None]
        left = _left_share([a for a in votes if a.kind in ("pair", "repeat")])
        row = {
            "rater": rater, "votes": len(votes), "skips": len(mine) - len(votes),
            "gold": {"n": len(gold), "correct": correct, "accuracy": correct / len(gold) if gold else None,
                     "interval": _wilson(correct, len(gold), confidence)},
            "repeats": {"n": len(pairs), "consistent": same, "share": same / len(pairs) if pairs else None},
            "median_seconds": statistics.median(secs) if secs else None,
            "left_share": left["share"], "left_p_value": left["p_value"],
        }
        row["flags"] = _flags(row, len(votes), left)
        rows.append(row)
    return rows


def _flags(row: dict[str, Any], n_votes: int, left: dict[str, Any]) -> list[str]:
    flags = []
    g, r = row["gold"], row["repeats"]
    if g["n"] >= GOLD_MIN_N and g["accuracy"] < GOLD_MIN_ACCURACY:
        flags.append(f"gold accuracy {g['accuracy']:.0%} < {GOLD_MIN_ACCURACY:.0%}")
    if r["n"] >= REPEAT_MIN_N and r["share"] < REPEAT_MIN_CONSISTENCY:
        flags.append(f"agrees with self on {r['share']:.0%} of repeats < {REPEAT_MIN_CONSISTENCY:.0%}")
    if n_votes >= 5 and row["median_seconds"] is not None and row["median_seconds"] < MIN_SECONDS:
        flags.append(f"median {row['median_seconds']:.1f} s per item < {MIN_SECONDS:.0f} s")
    if left["p_value"] is not None and left["n"] >= 10 and left["p_value"] < POSITION_P:
        flags.append(f"chooses the left side {left['share']:.0%} of the time (p = {left['p_value']:.2g})")
    return flags


def metric_agreement(data: StudyData, confidence: float) -> list[dict[str, Any]]:
    """Per task and metric: on items where the people had a winner, how often the metric's
    per-item difference points the same way (metric ties counted apart)."""
    hib = data.settings.get("higher_is_better", {})
    tally: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for cid, v in verdicts(data).items():
        if v not in ("x", "y"):
            continue
        comp = data.comparisons[cid]
        for name, mx in comp.x_metrics.items():
            my = comp.y_metrics.get(name)
            if not isinstance(mx, (int, float)) or not isinstance(my, (int, float)):
                continue
            d = (mx - my) * (1 if hib.get(comp.task, {}).get(name, True) else -1)
            side = "x" if d > 0 else "y" if d < 0 else None
            tally[(comp.task, name)]["tie" if side is None else "agree" if side == v else "disagree"] += 1
    rows = []
    for (task, name), c in sorted(tally.items()):
        n = c["agree"] + c["disagree"]
        rows.append({"task": task, "metric": name, "items": n + c["tie"], "agree": c["agree"], "disagree": c["disagree"],
                     "metric_ties": c["tie"], "share": c["agree"] / n if n else None, "interval": _wilson(c["agree"], n, confidence)})
    return rows


def analyse(data: StudyData, *, reveal: bool, n_boot: int = 1000, seed: int | None = None, confidence: float = 0.95) -> dict[str, Any]:
    """The whole analysis as a JSON-ready dict. ``reveal`` False names systems by label only
    ("base", "candidate 1"): the form used while a study is open."""
    names = _names(data, reveal)
    seed = data.settings.get("seed", 0) if seed is None else seed
    kinds = Counter(a.kind for a in data.answers if a.label is not None)
    summary = {"status": data.status, "raters": len(data.raters), "answers": dict(kinds),
               "skips": sum(a.label is None for a in data.answers), "rows": data.rows, "confidence": confidence,
               "settings": {k: v for k, v in data.settings.items() if k != "higher_is_better"}}
    if reveal:
        summary["study"] = data.name
        summary["systems"] = [{"label": s.label, "model": s.model, "run_id": s.run_id, "source": s.source} for s in data.systems]
    return {
        "format": "evalkit.review/1",
        "summary": summary,
        "win_rates": win_rates(data, names, confidence),
        "bradley_terry": strengths(data, names, n_boot=n_boot, seed=seed, confidence=confidence),
        "criteria": criteria(data, names, confidence),
        "agreement": agreement(data),
        "position_bias": position_bias(data),
        "raters": rater_quality(data, confidence),
        "metric_agreement": metric_agreement(data, confidence),
    }
