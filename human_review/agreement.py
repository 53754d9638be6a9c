"""Agreement between raters on labels relative to the models (candidate better / tie /
base better / both bad), never on left/right, which the side balancing would scramble."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations


# Both kappas are one line from a count table, and their library versions cost the import:
# scikit-learn's pulls all of sklearn and pandas, statsmodels' pulls pandas (statsmodels.tools),
# ~0.7-0.9 s each, which alone broke the "results in under 2 s" budget of a fresh
# `evalkit review results`. So the formulas are here, and tests check them against
# sklearn.metrics.cohen_kappa_score and statsmodels' fleiss_kappa on random tables.


def _kappa(po: float, pe: float) -> float | None:
    """Chance-corrected agreement; None when undefined (chance agreement 1)."""
    return None if pe >= 1.0 else (po - pe) / (1.0 - pe)


def cohen_pairs(labels: Mapping[str, Mapping[Hashable, str]], categories: Sequence[str], min_common: int = 2) -> list[dict]:
    """Cohen's kappa for each pair of raters on the units both labelled, from their confusion
    table: (p_o - p_e) / (1 - p_e) with p_e from the two raters' marginals.
    ``kappa`` is None when it is undefined (both raters used one and the same category)."""
    import numpy as np

    index = {c: i for i, c in enumerate(categories)}
    out = []
    for a, b in combinations(sorted(labels), 2):
        common = sorted(set(labels[a]) & set(labels[b]), key=str)
        if len(common) < min_common:
            continue
        ya, yb = [labels[a][u] for u in common], [labels[b][u] for u in common]
        agree = sum(x == y for x, y in zip(ya, yb)) / len(common)
        kappa = None
        if len(set(ya) | set(yb)) >= 2:
            table = np.zeros((len(categories), len(categories)))
            np.add.at(table, ([index[x] for x in ya], [index[y] for y in yb]), 1.0)
            p = table / table.sum()
            kappa = _kappa(float(np.trace(p)), float(p.sum(axis=1) @ p.sum(axis=0)))
        out.append({"raters": [a, b], "n": len(common), "agreement": agree, "kappa": kappa})
    return out


def krippendorff_alpha_nominal(units: Mapping[Hashable, Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data from each unit's values (one per rater who rated
    it; units with fewer than two values are not pairable and drop out). Built from the
    coincidence matrix: alpha = 1 - (n - 1) * sum_{c!=k} o_ck / sum_{c!=k} n_c * n_k.
    None when undefined (fewer than two pairable values, or a single category in all)."""
    o: dict[tuple, float] = defaultdict(float)
    for values in units.values():
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    o[(c, k)] += 1.0 / (m - 1)
    n_c: dict[Hashable, float] = defaultdict(float)
    for (c, _), v in o.items():
        n_c[c] += v
    n = sum(n_c.values())
    expected = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k)
    if n < 2 or expected == 0:
        return None
    observed = sum(v for (c, k), v in o.items() if c != k)
    return 1.0 - (n - 1) * observed / expected


def krippendorff_alpha(units: Mapping[Hashable, Sequence[Hashable]]) -> tuple[float | None, str]:
    """Alpha (nominal) with the ``krippendorff`` package when installed, else our own; returns
    (alpha, which implementation)."""
    try:
        import krippendorff
        import numpy as np
    except ImportError:
        return krippendorff_alpha_nominal(units), "evalkit"
    cats = sorted({v for vals in units.values() for v in vals}, key=str)
    pairable = [vals for vals in units.values() if len(vals) >= 2]
    if len(cats) < 2 or not pairable:
        return krippendorff_alpha_nominal(units), "evalkit"
    width = max(len(v) for v in pairable)
    # The package wants a raters x units matrix; which row a value sits in does not matter
    # for alpha, so each unit's values fill its column from the top.
    data = np.full((width, len(pairable)), np.nan)
    for u, vals in enumerate(pairable):
        for r, v in enumerate(vals):
            data[r, u] = cats.index(v)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")), "krippendorff"


def fleiss_kappa(units: Mapping[Hashable, Sequence[Hashable]], categories: Sequence[str]) -> dict:
    """Fleiss' kappa over the units rated by the most common number of raters
    (Fleiss' kappa assumes the same number per unit; units with other counts are left out
    and counted). ``kappa`` None when undefined (fewer than two such units, or one category)."""
    from collections import Counter

    import numpy as np

    sizes = Counter(len(v) for v in units.values() if len(v) >= 2)
    if not sizes:
        return {"kappa": None, "units": 0, "raters_per_unit": None, "left_out": len(units)}
    m = max(sizes, key=lambda k: (sizes[k], k))
    rows = [vals for vals in units.values() if len(vals) == m]
    table = np.array([[sum(v == c for v in vals) for c in categories] for vals in rows], dtype=float)
    kappa = None
    if len(rows) >= 2 and (table.sum(axis=0) > 0).sum() >= 2:
        # Mean pairwise agreement within units against chance from the pooled category shares.
        shares = table.sum(axis=0) / table.sum()
        kappa = _kappa(float(((table * (table - 1)).sum(axis=1) / (m * (m - 1))).mean()), float(shares @ shares))
    return {"kappa": kappa, "units": len(rows), "raters_per_unit": m, "left_out": len(units) - len(rows)}
