"""Known-answer tests for the exact unconditional paired tests, against an independent
brute-force computation: every outcome enumerated with itertools, trinomial probabilities
from scipy.stats.multinomial, the sup over the nuisance on a fine grid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from evalkit.stats import paired_binary_exact as exact
from evalkit.stats.paired_binary import CONTINUITY, PairedBinaryEstimate, score_z


def _outcomes(n: int) -> np.ndarray:
    return np.array([(b, c) for b, c in itertools.product(range(n + 1), repeat=2) if b + c <= n])


def _pmf(out: np.ndarray, n: int, p_fixed: float, p_broke: float) -> np.ndarray:
    probs = [p_fixed, p_broke, max(0.0, 1.0 - p_fixed - p_broke)]
    return stats.multinomial.pmf(np.c_[out, n - out.sum(axis=1)], n, probs)


def _brute_p(fixed: int, broke: int, n: int, d0: float, grid: int = 801) -> float:
    """sup over the null boundary of P(Z >= Z_obs), every outcome enumerated."""
    out = _outcomes(n)
    z = score_z(out[:, 0], out[:, 1], n, d0)
    z_obs = float(score_z(fixed, broke, n, d0))
    region = out[z >= z_obs - 1e-9 * (1 + abs(z_obs))]
    lo, hi = max(0.0, -d0), (1.0 - d0) / 2.0
    return max(float(_pmf(region, n, t + d0, t).sum()) for t in np.linspace(lo, hi, grid))


CASES = [(3, 1, 20, -0.05), (0, 0, 10, 0.0), (2, 0, 2, 0.0), (5, 9, 25, -0.1), (7, 2, 30, 0.05),
         (1, 4, 12, -0.3), (10, 10, 40, 0.0), (0, 3, 8, 0.2)]


@pytest.mark.parametrize("case", CASES)
def test_p_value_matches_brute_force_enumeration(case):
    fixed, broke, n, d0 = case
    want = _brute_p(fixed, broke, n, d0)
    assert exact.p_greater(fixed, broke, n, d0) == pytest.approx(want, rel=2e-4, abs=1e-9)
    # The mirror-image test is the same computation with the roles swapped.
    assert exact.p_less(broke, fixed, n, -d0) == exact.p_greater(fixed, broke, n, d0)


def test_the_boundary_is_the_least_favourable_part_of_the_null():
    """The p-value takes its sup over delta = d0 only; inside the null (delta < d0) the
    tail is never larger (checked on a 2-D grid)."""
    fixed, broke, n, d0 = 6, 2, 15, -0.05
    out = _outcomes(n)
    z = score_z(out[:, 0], out[:, 1], n, d0)
    region = out[z >= float(score_z(fixed, broke, n, d0)) - 1e-9]
    inside = max(float(_pmf(region, n, pf, pb).sum())
                 for pb in np.linspace(0, 1, 81) for pf in np.linspace(0, 1, 81) if pf + pb <= 1 and pf - pb < d0)
    assert inside <= exact.p_greater(fixed, broke, n, d0) + 1e-9


@pytest.mark.parametrize("n, d0", [(12, 0.0), (20, -0.05), (40, 0.1)])
def test_region_walk_matches_enumeration(n, d0):
    """b_min relies on Z rising in the fixed count and falling in the broke count."""
    out = _outcomes(n)
    z = np.asarray(score_z(out[:, 0], out[:, 1], n, d0))
    for t in np.quantile(z, [0.05, 0.5, 0.9, 0.99]):
        b_min = exact._b_min(float(t), n, d0)
        inside = {(int(b), int(c)) for (b, c), zz in zip(out, z) if zz >= t - 1e-9 * (1 + abs(t))}
        walked = {(b, c) for c in range(n + 1) for b in range(b_min[c], n - c + 1)}
        assert walked == inside


@pytest.mark.parametrize("n, d0, alpha", [(20, -0.05, 0.05), (30, -0.05, 0.05)])
def test_size_never_exceeds_alpha_where_the_asymptotic_test_does(n, d0, alpha):
    """The exact size of each test, from its rejection region summed under the null
    boundary: the exact test stays at or below alpha at every nuisance value; Tango's
    asymptotic test (same ordering, normal critical value) does not everywhere."""
    out = _outcomes(n)
    p = np.array([exact.p_greater(int(b), int(c), n, d0) for b, c in out])
    tango = stats.norm.sf(score_z(out[:, 0], out[:, 1], n, d0)) < alpha
    thetas = np.linspace(max(0.0, -d0), (1.0 - d0) / 2.0, 121)[1:-1]
    size_exact = max(float(_pmf(out[p < alpha], n, t + d0, t).sum()) for t in thetas)
    size_tango = max(float(_pmf(out[tango], n, t + d0, t).sum()) for t in thetas)
    assert size_exact <= alpha * (1 + 1e-6)
    assert size_tango > alpha
    assert size_exact > 0.6 * alpha  # not vacuous


def test_bound_inverts_the_test():
    for fixed, broke, n in [(3, 1, 20), (10, 5, 50), (0, 0, 10), (30, 20, 100), (5, 0, 5)]:
        for alpha in (0.01, 0.05):
            low = exact.lower_bound(fixed, broke, n, alpha)
            assert exact.p_greater(fixed, broke, n, low - 1e-6) < alpha <= exact.p_greater(fixed, broke, n, low + 1e-4)
            high = exact.upper_bound(fixed, broke, n, alpha)
            if high < 1.0:  # (5, 0, 5): no upper limit below 1 is shown
                assert exact.p_less(fixed, broke, n, high + 1e-6) < alpha <= exact.p_less(fixed, broke, n, high - 1e-4)
    assert exact.lower_bound(0, 5, 5, 0.05) == -1.0 and exact.upper_bound(5, 0, 5, 0.05) == 1.0


def test_estimate_uses_the_exact_test_up_to_the_threshold():
    small = PairedBinaryEstimate(30, 3, 12, 5)  # n = 50
    assert small.exact and small.p_greater(-0.05) == exact.p_greater(12, 3, 50, -0.05)
    assert small.lower_bound(0.05) == exact.lower_bound(12, 3, 50, 0.05)
    low, high = small.ci(0.05)
    assert low == exact.lower_bound(12, 3, 50, 0.025) and high == exact.upper_bound(12, 3, 50, 0.025)
    # The exact interval is no narrower than Tango's asymptotic one here, and never zero-width.
    s_low, s_high = small.score_ci(0.05)
    assert low <= s_low + 1e-9 and high >= s_high - 1e-9
    same = PairedBinaryEstimate(10, 0, 0, 0)
    assert same.ci(0.05)[0] < 0 < same.ci(0.05)[1]
    big = PairedBinaryEstimate(306, 14, 26, 54)  # n = 400: Tango's test
    # Above the exact range: Tango's test with the continuity correction, a little more
    # conservative than Tango's own.
    assert not big.exact and big.p_greater(0.0) == big.score_p_greater(0.0, CONTINUITY)
    assert big.p_greater(0.0) > big.score_p_greater(0.0)
    assert big.ci(0.05) == big.score_ci(0.05, CONTINUITY)
    assert big.score_ci(0.05, CONTINUITY)[0] < big.score_ci(0.05)[0]


def test_mde_gives_80_percent_power_of_the_exact_test():
    """At the reported MDE the exact test's power, computed by enumerating its rejection
    region and summing the trinomial alternative, is 80 %."""
    est = PairedBinaryEstimate(15, 6, 6, 13)  # n = 40, discordance 0.3
    alpha, n = 0.05, est.n
    mde = est.mde(alpha, 0.8, sided=1)
    # The planning alternative: the fine-tune turns a share of its 19 wrong answers right,
    # whichever the base's, so the discordance 0.3 moves by mde (13 - 6) / 19.
    psi = 0.3 + mde * 7 / 19
    assert est.discordance_at(mde) == pytest.approx(psi)
    out = _outcomes(n)
    reject = out[np.array([exact.p_greater(int(b), int(c), n, 0.0) for b, c in out]) < alpha]
    power = float(_pmf(reject, n, (psi + mde) / 2, (psi - mde) / 2).sum())
    assert power == pytest.approx(0.8, abs=1e-4)


def test_n_needed_is_where_the_exact_test_reaches_the_power():
    est = PairedBinaryEstimate(15, 6, 6, 13)  # discordance 0.3
    effect, alpha = 0.25, 0.05
    need = int(est.n_needed(effect, alpha, 0.8, sided=1))
    psi = 0.3 + effect * 7 / 19
    assert need <= exact.EXACT_MAX_N
    assert exact.power(need, 0.0, alpha, effect, psi) >= 0.8
    assert all(exact.power(m, 0.0, alpha, effect, psi) < 0.8 for m in range(1, need))
