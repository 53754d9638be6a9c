"""Known-answer tests for the paired t analysis, cluster-robust SE and McNemar."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalkit.stats import clustered_difference, mcnemar, paired_difference


def _binary_case() -> tuple[np.ndarray, np.ndarray]:
    """n = 400; base right on 320 (80 %), fine-tune on 332 (83 %); 26 fixed, 14 broken."""
    both_right, both_wrong, fixed, broke = 306, 54, 26, 14
    a = np.array([1] * both_right + [0] * both_wrong + [0] * fixed + [1] * broke)
    b = np.array([1] * both_right + [0] * both_wrong + [1] * fixed + [0] * broke)
    # Shuffle so nothing depends on the order of the items.
    perm = np.random.default_rng(0).permutation(a.size)
    return a[perm], b[perm]


def test_binary_case_is_built_as_described():
    a, b = _binary_case()
    assert a.size == 400 and a.mean() == pytest.approx(0.80) and b.mean() == pytest.approx(0.83)


def test_paired_difference_binary_known_answer():
    a, b = _binary_case()
    res = paired_difference(a, b)
    assert res.n == 400
    assert res.delta == pytest.approx(0.030, abs=1e-12)
    assert round(res.se, 5) == 0.01576
    # Hand formula: var(d) with ddof=1 from sum(d^2) = 40 discordant items.
    hand_se = math.sqrt((40 - 400 * 0.03**2) / 399 / 400)
    assert res.se == pytest.approx(hand_se, rel=1e-12)
    t_crit = stats.t.ppf(0.975, 399)
    assert res.ci_low == pytest.approx(0.03 - t_crit * hand_se, rel=1e-10)
    assert res.ci_high == pytest.approx(0.03 + t_crit * hand_se, rel=1e-10)
    assert res.p_value == pytest.approx(stats.ttest_rel(b, a).pvalue, rel=1e-10)


def test_paired_difference_edge_cases():
    one = paired_difference([0.2], [0.5])
    assert one.delta == pytest.approx(0.3) and math.isnan(one.se) and math.isnan(one.p_value)
    same = paired_difference([1, 2, 3], [1, 2, 3])
    assert same.se == 0.0 and same.p_value == 1.0
    shifted = paired_difference([1, 2, 3], [2, 3, 4])
    assert shifted.p_value == 0.0 and shifted.ci_low == shifted.ci_high == 1.0
    with pytest.raises(ValueError):
        paired_difference([1, 2], [1, 2, 3])


def test_mcnemar_known_answer():
    a, b = _binary_case()
    res = mcnemar(a, b)
    assert (res.fixed, res.broke, res.n) == (26, 14, 400)
    assert round(res.p_exact, 4) == 0.0807
    assert round(res.p_mid, 4) == 0.0596
    # Independent: exact binomial tail sums with integer arithmetic.
    tail = sum(math.comb(40, x) for x in range(26, 41)) / 2**40
    point = math.comb(40, 26) / 2**40
    assert res.p_exact == pytest.approx(2 * tail, rel=1e-10)
    assert res.p_mid == pytest.approx(2 * tail - point, rel=1e-10)


def test_mcnemar_agrees_with_statsmodels():
    sm_contingency = pytest.importorskip("statsmodels.stats.contingency_tables")
    a, b = _binary_case()
    table = [[54, 26], [14, 306]]  # rows: base wrong/right; cols: ft wrong/right
    assert mcnemar(a, b).p_exact == pytest.approx(sm_contingency.mcnemar(table, exact=True).pvalue)


def test_mcnemar_edge_cases():
    none = mcnemar([1, 0, 1], [1, 0, 1])
    assert (none.fixed, none.broke, none.p_exact, none.p_mid) == (0, 0, 1.0, 1.0)
    tied = mcnemar([0, 1, 0, 1], [1, 0, 1, 0])
    assert tied.p_exact == 1.0 and tied.p_mid == 1.0
    with pytest.raises(ValueError):
        mcnemar([0, 2], [1, 1])


def _cr1_by_hand(d: np.ndarray, groups: np.ndarray) -> float:
    """Cluster-robust SE of a mean written as a plain loop over clusters."""
    labels = sorted(set(groups.tolist()))
    resid = d - d.mean()
    total = sum(resid[groups == g].sum() ** 2 for g in labels)
    n_groups = len(labels)
    return math.sqrt(n_groups / (n_groups - 1) * total / d.size**2)


def test_clustered_difference_matches_hand_computation():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(25), rng.integers(1, 8, size=25))
    cluster_effect = rng.normal(0, 0.3, size=25)[groups]
    a = rng.normal(size=groups.size)
    b = a + 0.1 + cluster_effect + rng.normal(0, 0.2, size=groups.size)
    res = clustered_difference(a, b, groups.astype(str))  # string labels on purpose
    assert res.se == pytest.approx(_cr1_by_hand(b - a, groups), rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs(res.delta) / res.se, 24), rel=1e-10)
    # Clustering inflates the SE relative to treating items as independent.
    assert res.se > 1.3 * paired_difference(a, b).se


def test_clustered_difference_agrees_with_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(30), 4)
    d = rng.normal(size=30)[groups] + rng.normal(size=120)
    fit = sm.OLS(d, np.ones(120)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    res = clustered_difference(np.zeros(120), d, groups)
    assert res.se == pytest.approx(float(fit.bse[0]), rel=1e-10)


def test_clustered_with_singleton_groups_equals_paired():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=50), rng.normal(size=50)
    clustered = clustered_difference(a, b, np.arange(50))
    paired = paired_difference(a, b)
    for field in ("delta", "se", "ci_low", "ci_high", "p_value"):
        assert getattr(clustered, field) == pytest.approx(getattr(paired, field), rel=1e-12)
    assert math.isnan(clustered_difference(a, b, np.zeros(50)).se)  # one cluster: no SE
