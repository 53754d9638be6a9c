"""Known-answer tests for Tango's paired score interval, against a brute-force computation
(numerical constrained MLE and a grid + root search), plus McNemar and calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from evalkit.metrics.classification import Accuracy
from evalkit.stats import mcnemar, paired_estimate
from evalkit.stats.paired_binary import PairedBinaryEstimate, score_z

# (n11, n10 broke, n01 fixed, n00)
CELLS = [
    (10, 0, 0, 0),  # n = 10, identical answers
    (3, 0, 0, 7),
    (0, 0, 2, 0),  # n = 2, both improved
    (1, 0, 1, 0),
    (0, 1, 0, 0),  # n = 1
    (1, 0, 0, 0),
    (5, 1, 3, 1),  # n = 10
    (2, 4, 1, 3),
    (306, 14, 26, 54),  # n = 400, the McNemar known-answer vector
    (150, 40, 10, 200),
]


def _brute_z(fixed: int, broke: int, n: int, d: float) -> float:
    """Score statistic from a numerically maximised constrained multinomial likelihood.

    Under H0 the cells are (p_fixed, p_broke, rest) with p_fixed = p_broke + d; maximise the
    log-likelihood over p_broke, then Z = (fixed - broke - n d) / sqrt(n Var(d_i)) with the
    per-item variance p_fixed + p_broke - d^2 at the constrained MLE.
    """
    rest = n - fixed - broke
    lo, hi = max(0.0, -d), (1.0 - d) / 2.0

    def nll(p):
        return -(special.xlogy(fixed, p + d) + special.xlogy(broke, p) + special.xlogy(rest, 1 - 2 * p - d))

    res = optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13})
    # The optimum may sit on a bound, where 'bounded' only gets close.
    p = lo if nll(lo) <= res.fun else (hi if nll(hi) <= res.fun else res.x)
    var = (p + d) + p - d * d
    num = fixed - broke - n * d
    return 0.0 if num == 0 else num / math.sqrt(n * var)


def _brute_bound(fixed: int, broke: int, n: int, z_crit: float, side: int) -> float:
    """End of {d : |Z| <= z_crit} on ``side``, bracketed on a grid, refined by brentq."""
    est = (fixed - broke) / n
    target = -side * z_crit
    grid = np.linspace(est, side * (1 - 1e-9), 121)
    vals = np.array([_brute_z(fixed, broke, n, d) - target for d in grid])
    cross = np.flatnonzero(np.sign(vals[:-1]) != np.sign(vals[1:]))
    if cross.size == 0:
        return float(side)
    i = cross[0]
    return optimize.brentq(lambda d: _brute_z(fixed, broke, n, d) - target, grid[i], grid[i + 1], xtol=1e-12)


@pytest.mark.parametrize("cells", CELLS)
def test_tango_score_matches_brute_force(cells):
    n11, n10, n01, n00 = cells
    n = sum(cells)
    est = PairedBinaryEstimate(*cells)
    for d in (-0.9, -0.3, -0.05, 0.0, 0.1, 0.5, 0.95):
        assert float(score_z(n01, n10, n, d)) == pytest.approx(_brute_z(n01, n10, n, d), rel=1e-5, abs=1e-6)
    z = stats.norm.ppf(0.975)
    low, high = est.score_ci(0.05)
    assert low == pytest.approx(_brute_bound(n01, n10, n, z, -1), abs=1e-6)
    assert high == pytest.approx(_brute_bound(n01, n10, n, z, +1), abs=1e-6)
    z1 = stats.norm.ppf(0.95)
    assert est.score_lower_bound(0.05) == pytest.approx(_brute_bound(n01, n10, n, z1, -1), abs=1e-6)
    assert est.score_upper_bound(0.05) == pytest.approx(_brute_bound(n01, n10, n, z1, +1), abs=1e-6)
    # Never zero width, and the estimate lies inside.
    assert low < est.delta < high or (low < est.delta <= high == 1.0) or (-1.0 == low <= est.delta < high)
    assert high - low > 0.05


def test_identical_answers_give_a_wide_interval():
    est = PairedBinaryEstimate(10, 0, 0, 0)
    low, high = est.score_ci(0.05)
    z2 = stats.norm.ppf(0.975) ** 2
    # Closed form for zero discordant pairs: Z(d)^2 = n d / (1 - d)  =>  d = z^2 / (n + z^2).
    assert high == pytest.approx(z2 / (10 + z2), rel=1e-9) and low == pytest.approx(-high, rel=1e-9)
    assert est.p_two_sided() == 1.0 and est.mde(0.05) > 0.2 and est.n_needed(0.05, 0.05) > 100


def test_two_improved_items_are_not_significant():
    est = PairedBinaryEstimate(0, 0, 2, 0)
    assert est.delta == 1.0 and est.score_ci(0.05)[1] == 1.0
    z2 = stats.norm.ppf(0.975) ** 2
    assert est.score_ci(0.05)[0] == pytest.approx((2 - z2) / (2 + z2), rel=1e-9)  # below 0
    assert est.p_two_sided() == pytest.approx(0.25) and est.p_exact == pytest.approx(0.5)


def test_one_sided_tests_agree_with_bounds():
    est = PairedBinaryEstimate(306, 14, 26, 54)
    for alpha in (0.01, 0.05, 0.2):
        lb, ub = est.score_lower_bound(alpha), est.score_upper_bound(alpha)
        assert est.score_p_greater(lb) == pytest.approx(alpha, rel=1e-6)
        assert est.score_p_less(ub) == pytest.approx(alpha, rel=1e-6)
        assert est.score_p_greater(lb - 1e-4) < alpha < est.score_p_greater(lb + 1e-4)


def _items(cells):
    n11, n10, n01, n00 = cells
    base = np.array([1] * n11 + [1] * n10 + [0] * n01 + [0] * n00, dtype=float)
    ft = np.array([1] * n11 + [0] * n10 + [1] * n01 + [0] * n00, dtype=float)
    perm = np.random.default_rng(0).permutation(base.size)
    return base[perm], ft[perm]


def test_paired_estimate_binary_path_and_mcnemar_known_answer():
    base, ft = _items((306, 14, 26, 54))
    ones = np.ones_like(base)
    est = paired_estimate(np.c_[base, ones], np.c_[ft, ones], Accuracy().from_stats, binary=True)
    assert est.method == "tango-score" and est.usable and est.n == 400
    assert (est.n11, est.n10, est.n01, est.n00) == (306, 14, 26, 54)
    assert est.delta == pytest.approx(0.03, abs=1e-12)
    ref = mcnemar(base, ft)
    assert round(est.p_exact, 4) == 0.0807 and est.p_exact == pytest.approx(ref.p_exact, rel=1e-12)
    assert est.p_two_sided() == pytest.approx(ref.p_mid, rel=1e-12)
    # 1-D stats (the scores themselves) give the same estimate.
    assert paired_estimate(base, ft, Accuracy().from_stats, binary=True) == est
    with pytest.raises(ValueError):
        paired_estimate(base * 0.5, ft, Accuracy().from_stats, binary=True)


def test_mde_is_never_zero_and_uses_the_discordance_bound():
    none = PairedBinaryEstimate(400, 0, 0, 0)
    psi = 1 - 0.05 ** (1 / 400)
    assert none.discordance_for_power() == pytest.approx(psi) and psi == pytest.approx(3 / 400, rel=0.01)
    assert none.mde(0.05) > 0.01
    some = PairedBinaryEstimate(306, 14, 26, 54)
    m = some.mde(0.05, 0.8, 2)
    # At the MDE the normal power of the two-sided continuity-corrected test (Connor 1987,
    # half an item off) is 80 %, at the discordance of the planning model: the fine-tune
    # turns a share lam of its 68 wrong answers right, so psi = (40 + 54 lam - 14 lam) / 400.
    lam = m * 400 / 68
    psi = (40 + 40 * lam) / 400
    z = (math.sqrt(400) * m - 0.5 / math.sqrt(400) - stats.norm.ppf(0.975) * math.sqrt(psi)) / math.sqrt(psi - m * m)
    assert stats.norm.cdf(z) == pytest.approx(0.8, abs=1e-6)
    assert some.n_needed(m, 0.05, 0.8, 2) == pytest.approx(400, abs=1)


def test_mde_power_of_the_corrected_test_by_enumeration():
    """The MDE's 80 % is the real power of the test the gate applies (Tango's, continuity-
    corrected, above the exact range) under the planning alternative (:meth:`discordance_at`),
    summed over every trinomial outcome rather than taken from the normal approximation."""
    from scipy.special import gammaln, xlogy

    from evalkit.stats.paired_binary import CONTINUITY

    n, alpha = 400, 0.05
    some = PairedBinaryEstimate(306, 14, 26, 54)
    m = some.mde(alpha, 0.8, 1)
    # Planning alternative: true difference m, discordance 40/400 moved by m (54 - 14) / 68.
    psi = 40 / 400 + m * 40 / 68
    p10, p01 = (psi - m) / 2, (psi + m) / 2
    b, c = (x.ravel() for x in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
    keep = b + c <= n
    b, c = b[keep], c[keep]
    pmf = np.exp(gammaln(n + 1) - gammaln(b + 1) - gammaln(c + 1) - gammaln(n - b - c + 1)
                 + xlogy(b, p01) + xlogy(c, p10) + xlogy(n - b - c, 1 - p01 - p10))
    reject = stats.norm.sf(np.asarray(score_z(b, c, n, 0.0, CONTINUITY))) < alpha
    assert float(pmf[reject].sum()) == pytest.approx(0.8, abs=0.02)
    # The correction makes the test more conservative than Tango's own, never less.
    assert np.all(np.abs(score_z(b, c, n, 0.0, CONTINUITY)) <= np.abs(score_z(b, c, n, 0.0)) + 1e-12)


def _false_pass_rate(n, p_fixed, p_broke, margin, reps, rng, alpha=0.05):
    counts = rng.multinomial(n, [p_fixed, p_broke, 1 - p_fixed - p_broke], size=reps)
    z = score_z(counts[:, 0], counts[:, 1], n, -margin)
    return float(np.mean(stats.norm.sf(z) < alpha))


@pytest.mark.parametrize("n", [10, 30, 200])
def test_non_inferiority_false_pass_rate_at_the_margin(n):
    """True drop equal to the margin: the one-sided test may PASS at most ~alpha of the time."""
    rng = np.random.default_rng(12345 + n)
    reps = 4000
    quiet = _false_pass_rate(n, 0.0, 0.05, 0.05, reps, rng)  # the fine-tune only breaks items
    mixed = _false_pass_rate(n, 0.05, 0.15, 0.10, reps, rng)  # churn in both directions
    assert quiet <= 0.06 and mixed <= 0.06, (quiet, mixed)
    if n == 200:
        # ...and the test is not vacuous: with no true drop it passes often.
        assert _false_pass_rate(n, 0.05, 0.05, 0.10, reps, rng) > 0.5


def test_scalar_z_matches_the_vectorised_statistic():
    """The root-finders' plain-float Z is the vectorised score_z, value for value (edges too)."""
    import numpy as np

    from evalkit.stats.paired_binary import _z_of, score_z

    rng = np.random.default_rng(7)
    cases = [(0, 0, 10), (10, 0, 10), (0, 10, 10), (0, 0, 1), (1, 0, 1), (40, 20, 400)]
    for _ in range(300):
        n = int(rng.integers(1, 300))
        b = int(rng.integers(0, n + 1))
        cases.append((b, int(rng.integers(0, n - b + 1)), n))
    for b, c, n in cases:
        for d in [*np.linspace(-1.0, 1.0, 21), (b - c) / n, 1e-15]:
            with np.errstate(all="ignore"):
                want = float(score_z(b, c, n, d))
            assert _z_of(b, c, n, d) == want or (np.isnan(want) and np.isnan(_z_of(b, c, n, d)))
