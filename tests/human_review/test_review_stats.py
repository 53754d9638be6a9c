"""Known answers for the statistics of a review: Bradley-Terry, Cohen's kappa, Krippendorff's alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest

from human_review.agreement import (
    cohen_pairs,
    krippendorff_alpha,
    krippendorff_alpha_nominal,
)
from human_review.analysis import verdict
from human_review.bradley_terry import BOUND, fit, fit_with_intervals


def test_two_players_strength_is_log_odds():
    # Closed form for two players: s = log(wins / losses).
    wins = np.array([[0.0, 3.0], [7.0, 0.0]])  # player 1 beat player 0 seven times, lost three
    assert fit(wins)[1] == pytest.approx(math.log(7 / 3), abs=1e-6)
    assert fit(wins, ref=1)[0] == pytest.approx(-math.log(7 / 3), abs=1e-6)


def test_three_players_match_a_direct_likelihood_fit():
    from scipy.optimize import minimize

    wins = np.array([[0, 4, 2], [6, 0, 3.5], [8, 5.5, 0]], dtype=float)

    def nll(free):
        s = np.concatenate([[0.0], free])
        return -sum(wins[i, j] * math.log(1 / (1 + math.exp(s[j] - s[i]))) for i in range(3) for j in range(3) if i != j)

    direct = minimize(nll, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10000}).x
    assert fit(wins)[1:] == pytest.approx(direct, abs=1e-5)


def test_a_clean_sweep_sits_at_the_bound_and_is_flagged():
    res = fit_with_intervals(np.array([[[0, 0], [1, 0]]] * 5, dtype=float), ("base", "ft"), n_boot=50)
    assert res.strength[1] == pytest.approx(BOUND) and res.at_bound == (False, True)


def test_bootstrap_resamples_items_and_is_seeded():
    rng = np.random.default_rng(0)
    items = np.zeros((40, 2, 2))
    for k in range(40):  # per item, three raters
        w = rng.binomial(3, 0.7)
        items[k, 1, 0], items[k, 0, 1] = w, 3 - w
    a = fit_with_intervals(items, ("base", "ft"), n_boot=300, seed=5)
    b = fit_with_intervals(items, ("base", "ft"), n_boot=300, seed=5)
    assert a == b
    assert a.low[1] < a.strength[1] < a.high[1]
    assert a.low[0] == a.high[0] == 0.0  # the reference does not move


def test_kappa_hand_example_and_sklearn():
    from sklearn.metrics import cohen_kappa_score

    a = ["x", "x", "x", "y", "y", "tie", "tie", "x", "y", "x"]
    b = ["x", "x", "y", "y", "y", "tie", "x", "x", "y", "tie"]
    # p_o = 7/10; marginals a (x 5, y 3, tie 2), b (x 4, y 4, tie 2): p_e = (20 + 12 + 4) / 100 = 0.36
    hand = (0.7 - 0.36) / (1 - 0.36)
    labels = {"ann": dict(enumerate(a)), "bob": dict(enumerate(b))}
    (pair,) = cohen_pairs(labels, ["x", "tie", "y", "both_bad"])
    assert pair["kappa"] == pytest.approx(hand) == pytest.approx(cohen_kappa_score(a, b))
    assert pair["n"] == 10 and pair["agreement"] == pytest.approx(0.7)


def test_kappa_undefined_when_both_raters_use_one_label():
    (pair,) = cohen_pairs({"a": {1: "x", 2: "x"}, "b": {1: "x", 2: "x"}}, ["x", "y"])
    assert pair["kappa"] is None and pair["agreement"] == 1.0


def test_alpha_hand_example():
    # Coincidences: o_aa = 2 + 1 = 3 (unit 5 adds 2 ordered a-a pairs / (3-1)), o_ab = o_ba = 1 + 1 = 2, o_bb = 4;
    # n_a = 5, n_b = 6, n = 11; alpha = 1 - (n-1) * (o_ab + o_ba) / (2 n_a n_b) = 1 - 10 * 4 / 60 = 1/3.
    units = {1: "aa", 2: "ab", 3: "bb", 4: "bb", 5: "aab", 6: "a"}
    assert krippendorff_alpha_nominal(units) == pytest.approx(1 / 3)
    assert krippendorff_alpha(units)[0] == pytest.approx(1 / 3)


def test_alpha_published_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example: alpha = 0.743.
    rows = ["1 2 3 3 2 1 4 1 2 . . .", "1 2 3 3 2 2 4 1 2 5 . 3", ". 3 3 3 2 3 4 2 2 5 1 .", "1 2 3 3 2 4 4 1 2 5 1 ."]
    cols = zip(*(r.split() for r in rows))
    units = {u: [v for v in col if v != "."] for u, col in enumerate(cols)}
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units)[0] == pytest.approx(0.743, abs=5e-4)


def test_alpha_undefined_with_one_category():
    assert krippendorff_alpha_nominal({1: "xx", 2: "xx"}) is None


@pytest.mark.parametrize("labels, expected", [
    (["x", "x", "y"], "x"), (["y", "tie"], "y"), (["x", "y"], "tie"), (["both_bad", "both_bad", "tie"], "both_bad"),
    (["x", "y", "both_bad"], "both_bad"), (["tie", "both_bad"], "tie"),
])
def test_item_verdict(labels, expected):
    assert verdict(labels) == expected


def test_batched_fits_match_a_bounded_optimiser_one_by_one():
    # The vectorised projected Newton against scipy's L-BFGS-B on the same box, fit by fit,
    # including sweeps (a player beaten by everyone) whose strength sits at the bound.
    from scipy.optimize import minimize

    from human_review.bradley_terry import fit_many

    rng = np.random.default_rng(3)
    stack = rng.poisson(2.0, size=(30, 4, 4)).astype(float) / 2  # halves, as ties give
    stack[:, np.arange(4), np.arange(4)] = 0
    stack[:5, 3, :] = 0  # player 3 never wins in the first five

    def nll(free, w):
        s = np.concatenate([[0.0], free])
        return -np.sum(w * -np.logaddexp(0.0, -(s[:, None] - s[None, :])))

    got = fit_many(stack)
    for w, g in zip(stack, got):
        ref = minimize(nll, np.zeros(3), args=(w,), method="L-BFGS-B", bounds=[(-BOUND, BOUND)] * 3,
                       options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10000})
        assert nll(g[1:], w) <= ref.fun + 1e-7
        assert g[1:] == pytest.approx(ref.x, abs=2e-3)
    assert (got[:5, 3] == -BOUND).all()


def test_a_thousand_resamples_over_five_hundred_items_take_well_under_a_second():
    import time

    rng = np.random.default_rng(0)
    items = np.zeros((500, 3, 3))
    for k in range(500):
        c = 1 + k % 2
        w = rng.binomial(2, 0.6)
        items[k, c, 0], items[k, 0, c] = w, 2 - w
    start = time.perf_counter()
    res = fit_with_intervals(items, ("base", "c1", "c2"), n_boot=1000, seed=1)
    assert time.perf_counter() - start < 2.0
    assert all(lo < s < hi for s, lo, hi in zip(res.strength[1:], res.low[1:], res.high[1:]))


def test_fleiss_kappa_on_the_textbook_example():
    # The worked example on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters each,
    # 5 categories; kappa = 0.210 (P-bar = 0.378, P_e = 0.213), recomputed here by hand.
    from human_review.agreement import fleiss_kappa

    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    cats = ["c1", "c2", "c3", "c4", "c5"]
    units = {i: [c for c, n in zip(cats, row) for _ in range(n)] for i, row in enumerate(table)}
    units["odd"] = ["c1", "c2"]  # a unit with another number of raters is left out, and counted
    n, m = len(table), 14
    p_j = [sum(row[j] for row in table) / (n * m) for j in range(5)]
    p_bar = sum((sum(x * x for x in row) - m) / (m * (m - 1)) for row in table) / n
    p_e = sum(p * p for p in p_j)
    res = fleiss_kappa(units, cats)
    assert res["kappa"] == pytest.approx((p_bar - p_e) / (1 - p_e), abs=1e-12)
    assert res["kappa"] == pytest.approx(0.210, abs=1e-3)
    assert (res["units"], res["raters_per_unit"], res["left_out"]) == (10, 14, 1)
    assert fleiss_kappa({1: ["a", "a"], 2: ["a", "a"]}, ["a", "b"])["kappa"] is None


def test_kappas_match_sklearn_and_statsmodels_on_random_labels():
    # The kappas are computed here rather than imported (the import is the cost of a fresh
    # `review results`); the libraries stay the independent check.
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    from human_review.agreement import fleiss_kappa

    rng = np.random.default_rng(13)
    cats = ["x", "tie", "y", "both_bad"]
    for _ in range(20):
        n = int(rng.integers(5, 40))
        a = list(rng.choice(cats, n, p=[0.4, 0.2, 0.3, 0.1]))
        b = [v if rng.random() < 0.6 else str(rng.choice(cats)) for v in a]
        (pair,) = cohen_pairs({"a": dict(enumerate(a)), "b": dict(enumerate(b))}, cats)
        if len(set(a) | set(b)) >= 2:
            assert pair["kappa"] == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
        m = int(rng.integers(2, 6))
        units = {i: list(rng.choice(cats, m, p=[0.5, 0.2, 0.2, 0.1])) for i in range(n)}
        table = np.array([[vals.count(c) for c in cats] for vals in units.values()], dtype=float)
        assert fleiss_kappa(units, cats)["kappa"] == pytest.approx(float(sm_fleiss(table)), abs=1e-12)


def test_sign_test_and_t_quantile_match_scipy_stats():
    from scipy.stats import binomtest, t

    from human_review.analysis import _binom_p

    for n in (1, 2, 7, 20, 101, 1000):
        for k in sorted({0, 1, n // 3, n // 2, (n + 1) // 2, n - 1, n}):
            assert _binom_p(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue, rel=1e-9, abs=1e-300)
    assert _binom_p(0, 0) is None
    from scipy.special import stdtrit

    for df in (1, 3, 30):
        assert stdtrit(df, 0.975) == pytest.approx(t.ppf(0.975, df), rel=1e-12)


def test_analysis_leaves_heavy_libraries_unimported(tmp_path):
    # `review results` must stay under 2 s in a fresh process; scikit-learn, statsmodels
    # (through pandas) and scipy.stats each cost most of a second to import.
    import subprocess
    import sys
    from pathlib import Path

    child = (
        "import sys\n"
        "from test_review_analysis import answer, comp, study\n"
        "from human_review.analysis import analyse\n"
        "from human_review.report import render_markdown\n"
        "comps = [comp(i) for i in range(1, 9)]\n"
        "labels = ['x', 'y', 'tie', 'x', 'x', 'y', 'both_bad', 'x']\n"
        "answers = [answer(10 * i + r, c.id, f'r{r}', labels[(i + r) % 8], left_is_x=bool((i + r) % 2))\n"
        "           for i, c in enumerate(comps) for r in range(3)]\n"
        "render_markdown(analyse(study(comps, answers, ['r0', 'r1', 'r2']), reveal=True, n_boot=20))\n"
        "print(sorted(m for m in ('sklearn', 'statsmodels', 'pandas', 'scipy.stats') if m in sys.modules))\n"
    )
    here = Path(__file__).parent
    env = {**__import__("os").environ, "PYTHONPATH": f"{here}{__import__('os').pathsep}{here.parent.parent}"}
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
