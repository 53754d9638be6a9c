"""Paired difference of two proportions (fine-tune minus base, item by item, 0/1 scores).

The four paired cells are ``n11`` (both right), ``n10`` (base right, fine-tune wrong:
broke), ``n01`` (base wrong, fine-tune right: fixed) and ``n00``; the difference is
``delta = (n01 - n10) / n``.

Interval and one-sided tests: Tango's (1998) score test, inverted. Under H0
``delta = d`` the broke-cell probability has a closed-form constrained maximum-likelihood
estimate (Tango 1998, eq. 3; Nam 1997), and

    Z(d) = (n01 - n10 - n d) / sqrt(n (2 p10~ + d (1 - d)))

is referred to the standard normal. The interval is ``{d : |Z(d)| <= z}``; unlike the
Wald interval it is never zero-width (ten identical answers give about [-0.28, 0.28]) and
it keeps close to nominal coverage from n = 10 up. Close is not at most: up to
``paired_binary_exact.EXACT_MAX_N`` items the one-sided tests, bounds and intervals the
gates and the compare table read are the exact unconditional ones with the same ordering
(:mod:`evalkit.stats.paired_binary_exact`), whose size never exceeds alpha; above it
Tango's test with half an item of continuity correction (``CONTINUITY``); the plain
asymptotic ones stay available as ``score_*``. The two-sided p-value at 0 is the
exact mid-p McNemar test (Fagerland, Lydersen & Laake 2013), which holds its size better
than the asymptotic score test when few pairs are discordant.

Why hand-written: statsmodels offers Tango/Nam-style score intervals only for two
*independent* proportions (``confint_proportions_2indep``, ``score_test_proportions_2indep``)
and McNemar's test for paired ones, but no score interval for a paired difference; scipy
has none either. Everything here is O(1) after the cells are counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evalkit.stats._validate import check_alpha, check_power_args

# Score-test inversion searches the open interval (-1, 1); at the ends the statistic is 0/0.
_EDGE = 1e-12
# The one-sided confidence level of the upper bound on the discordance rate that the power
# calculations use when few or no discordant pairs were seen (rule of three at 95 %).
_DISCORDANCE_UPPER = 0.05
# Above EXACT_MAX_N the gates use Tango's statistic with half an item taken off the observed
# distance from the hypothesis, the continuity correction of McNemar's test (Edwards 1948)
# at the unconditional lattice step of n01 - n10 (one item; McNemar's 1 is half of the step
# 2 that n01 - n10 takes with the discordant total held). Uncorrected, the test's size sat a
# hair above alpha at some n (5.01 % computed at n = 500 at min_effect); the bounds, MDE and
# items-needed of that path carry the same correction, so they describe the test applied.
CONTINUITY = 0.5


def score_z(fixed, broke, n, delta0, correction=0.0):
    """Tango's score statistic for H0 ``delta = delta0``; numpy-vectorised over all arguments.

    Large positive values are evidence that the true difference exceeds ``delta0``.
    ``correction`` (in items) is taken off ``|n01 - n10 - n delta0|`` before dividing, as
    McNemar's continuity-corrected test does (see ``CONTINUITY``); 0 is Tango's own statistic.
    """
    b = np.asarray(fixed, dtype=float)
    c = np.asarray(broke, dtype=float)
    n = np.asarray(n, dtype=float)
    d = np.clip(np.asarray(delta0, dtype=float), -1.0 + _EDGE, 1.0 - _EDGE)
    a_coef = 2.0 * n
    b_coef = -b - c + (2.0 * n - b + c) * d
    c_coef = -c * d * (1.0 - d)
    root = np.sqrt(np.maximum(b_coef * b_coef - 4.0 * a_coef * c_coef, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        # The larger root of A p^2 + B p + C = 0, written so that neither branch subtracts
        # two nearly equal numbers (B >= 0 would cancel in (-B + root) / 2A).
        p_broke = np.where(b_coef < 0, (root - b_coef) / (2.0 * a_coef), -2.0 * c_coef / (b_coef + root))
        p_broke = np.where(np.isfinite(p_broke), np.maximum(p_broke, 0.0), 0.0)
        var = np.maximum(2.0 * p_broke + d * (1.0 - d), 0.0)
        num = b - c - n * d
        num = np.sign(num) * np.maximum(np.abs(num) - correction, 0.0)
        z = num / np.sqrt(n * var)
    # 0/0 happens only where the hypothesis sits exactly on the observed boundary.
    return np.where(num == 0.0, 0.0, z)


def _z_of(fixed: int, broke: int, n: int, delta0: float, correction: float = 0.0) -> float:
    """:func:`score_z` for one hypothesis, in plain floats: the root-finders call it dozens of
    times per bound, and numpy's per-call overhead (error-state contexts, 0-d arrays) made
    one bound cost milliseconds. Same formula, same branches; a test checks they agree."""
    b, c, n = float(fixed), float(broke), float(n)
    d = min(max(float(delta0), -1.0 + _EDGE), 1.0 - _EDGE)
    a_coef = 2.0 * n
    b_coef = -b - c + (2.0 * n - b + c) * d
    c_coef = -c * d * (1.0 - d)
    root = math.sqrt(max(b_coef * b_coef - 4.0 * a_coef * c_coef, 0.0))
    num = math.copysign(max(abs(b - c - n * d) - correction, 0.0), b - c - n * d)
    if num == 0.0:
        return 0.0
    try:
        p_broke = (root - b_coef) / (2.0 * a_coef) if b_coef < 0 else -2.0 * c_coef / (b_coef + root)
    except ZeroDivisionError:
        p_broke = 0.0
    p_broke = max(p_broke, 0.0) if math.isfinite(p_broke) else 0.0
    var = max(2.0 * p_broke + d * (1.0 - d), 0.0)
    scale = math.sqrt(n * var)
    if scale == 0.0:
        return math.copysign(math.inf, num)
    return num / scale


def _invert(fixed: int, broke: int, n: int, z_crit: float, side: int, correction: float = 0.0) -> float:
    """The end of the score interval on ``side`` (-1 lower, +1 upper) at critical value z_crit."""
    est = (fixed - broke) / n
    # Z decreases in delta: the lower end solves Z = +z_crit, the upper end Z = -z_crit.
    target = -side * z_crit
    edge = side * (1.0 - _EDGE)
    if (_z_of(fixed, broke, n, edge, correction) - target) * side > 0.0:
        # Z never reaches the critical value before the edge (e.g. every pair fixed):
        # the data cannot rule out the extreme difference.
        return float(side)
    lo, hi = sorted((est, edge))
    return _bisect(lambda d: _z_of(fixed, broke, n, d, correction) - target, lo, hi)


def _bisect(f, lo: float, hi: float, tol: float = 1e-13) -> float:
    """The root of ``f`` in [lo, hi], where f changes sign once (Z is monotone in delta).
    Plain bisection rather than scipy's brentq: importing scipy.optimize costs about 0.7 s,
    more than every interval of a compare together; 50 halvings of a width <= 2 reach 1e-13."""
    f_lo = f(lo)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if hi - lo <= tol * max(1.0, abs(mid)):
            break
        f_mid = f(mid)
        if f_mid == 0.0:
            return mid
        if (f_mid > 0.0) == (f_lo > 0.0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def mid_p_mcnemar(fixed: int, broke: int) -> tuple[float, float]:
    """Two-sided (exact, mid-p) McNemar p-values from the discordant counts.

    Same values as :func:`evalkit.stats.mcnemar` (a test checks they agree), without
    rebuilding per-item arrays. Binomial(m, 1/2) is symmetric, so the exact two-sided p
    is twice the smaller tail; scipy.special's bdtr avoids scipy.stats' per-call overhead.
    """
    from scipy.special import bdtr

    m = fixed + broke
    if m == 0:
        return 1.0, 1.0
    k = min(fixed, broke)
    tail = float(bdtr(k, m, 0.5))
    point = tail - (float(bdtr(k - 1, m, 0.5)) if k > 0 else 0.0)
    return min(1.0, 2.0 * tail), min(1.0, 2.0 * tail - point)


def _z_quantiles(alpha: float, power: float, sided: int) -> tuple[float, float]:
    from scipy.special import ndtri

    check_power_args(alpha, power, sided)
    return float(ndtri(1.0 - alpha / sided)), float(ndtri(power))


@dataclass(frozen=True)
class PairedBinaryEstimate:
    """Tango score interval and tests for ``p_ft - p_base`` from the four paired cells."""

    n11: int
    n10: int  # broke: base right, fine-tune wrong
    n01: int  # fixed: base wrong, fine-tune right
    n00: int
    method: str = "tango-score"
    n_clusters: int | None = None
    usable: bool = True
    reason: str | None = None

    @property
    def n(self) -> int:
        return self.n11 + self.n10 + self.n01 + self.n00

    @property
    def fixed(self) -> int:
        return self.n01

    @property
    def broke(self) -> int:
        return self.n10

    @property
    def delta(self) -> float:
        return (self.n01 - self.n10) / self.n

    def _z(self, delta0: float) -> float:
        return _z_of(self.n01, self.n10, self.n, delta0)

    @property
    def exact(self) -> bool:
        """Whether the one-sided tests, bounds and intervals are the exact unconditional
        ones (:mod:`evalkit.stats.paired_binary_exact`) rather than Tango's asymptotic test."""
        from evalkit.stats.paired_binary_exact import EXACT_MAX_N

        return self.n <= EXACT_MAX_N

    @property
    def test_name(self) -> str:
        return "exact unconditional (Tango-ordered)" if self.exact else f"{self.method}, continuity-corrected"

    # Tango's asymptotic score interval and tests: the known-answer ones with the default
    # correction 0; above EXACT_MAX_N the gates read them with correction CONTINUITY.
    def score_ci(self, alpha: float, correction: float = 0.0) -> tuple[float, float]:
        from scipy.special import ndtri

        check_alpha(alpha)
        z = float(ndtri(1.0 - alpha / 2.0))
        return (_invert(self.n01, self.n10, self.n, z, -1, correction),
                _invert(self.n01, self.n10, self.n, z, +1, correction))

    def score_lower_bound(self, alpha: float, correction: float = 0.0) -> float:
        from scipy.special import ndtri

        check_alpha(alpha)
        return _invert(self.n01, self.n10, self.n, float(ndtri(1.0 - alpha)), -1, correction)

    def score_upper_bound(self, alpha: float, correction: float = 0.0) -> float:
        from scipy.special import ndtri

        check_alpha(alpha)
        return _invert(self.n01, self.n10, self.n, float(ndtri(1.0 - alpha)), +1, correction)

    def score_p_greater(self, delta0: float, correction: float = 0.0) -> float:
        from scipy.special import ndtr

        return float(ndtr(-_z_of(self.n01, self.n10, self.n, delta0, correction)))

    def score_p_less(self, delta0: float, correction: float = 0.0) -> float:
        from scipy.special import ndtr

        return float(ndtr(_z_of(self.n01, self.n10, self.n, delta0, correction)))

    # What gates and the compare table read: exact up to EXACT_MAX_N items, Tango's with
    # the continuity correction above. Each bound inverts the very test whose p-value
    # decides, so the two never disagree.
    def ci(self, alpha: float) -> tuple[float, float]:
        """Two-sided (1 - alpha) interval: the two one-sided (1 - alpha / 2) bounds."""
        if not self.exact:
            return self.score_ci(alpha, CONTINUITY)
        check_alpha(alpha)
        return self.lower_bound(alpha / 2.0), self.upper_bound(alpha / 2.0)

    def lower_bound(self, alpha: float) -> float:
        if not self.exact:
            return self.score_lower_bound(alpha, CONTINUITY)
        from evalkit.stats import paired_binary_exact as exact

        check_alpha(alpha)
        return exact.lower_bound(self.n01, self.n10, self.n, float(alpha))

    def upper_bound(self, alpha: float) -> float:
        if not self.exact:
            return self.score_upper_bound(alpha, CONTINUITY)
        from evalkit.stats import paired_binary_exact as exact

        check_alpha(alpha)
        return exact.upper_bound(self.n01, self.n10, self.n, float(alpha))

    def p_greater(self, delta0: float) -> float:
        """One-sided p of H0 ``delta <= delta0``; below alpha iff lower_bound(alpha) > delta0."""
        if not self.exact:
            return self.score_p_greater(delta0, CONTINUITY)
        from evalkit.stats import paired_binary_exact as exact

        return exact.p_greater(self.n01, self.n10, self.n, float(delta0))

    def p_less(self, delta0: float) -> float:
        """One-sided p of H0 ``delta >= delta0``; below alpha iff upper_bound(alpha) < delta0."""
        if not self.exact:
            return self.score_p_less(delta0, CONTINUITY)
        from evalkit.stats import paired_binary_exact as exact

        return exact.p_less(self.n01, self.n10, self.n, float(delta0))

    def p_two_sided(self) -> float:
        """Exact mid-p McNemar p of H0 ``delta == 0``."""
        return mid_p_mcnemar(self.n01, self.n10)[1]

    @property
    def p_exact(self) -> float:
        """The conservative exact McNemar p (binomial test on the discordant pairs)."""
        return mid_p_mcnemar(self.n01, self.n10)[0]

    def discordance_for_power(self) -> float:
        """The discordance rate the power calculations assume.

        The observed rate ``(n01 + n10) / n`` is floored at the one-sided 95 % upper bound
        for *zero* observed discordant pairs, ``1 - 0.05 ** (1 / n)`` (about 3 / n, the
        rule of three): seeing no discordant pairs among n items does not show that none
        exist, and an MDE computed from a zero rate would be 0.
        """
        observed = (self.n01 + self.n10) / self.n
        return min(1.0, max(observed, 1.0 - _DISCORDANCE_UPPER ** (1.0 / self.n)))

    def discordance_at(self, gain: float) -> float:
        """The discordance rate planned for when the fine-tune gains ``gain`` on these data.

        A gain is not made of discordant pairs out of nothing: the planning model is that
        the fine-tune turns a share ``lam`` of its wrong answers right, whichever the base's
        answer was, so the broke cell shrinks to ``p10 (1 - lam)``, the fixed cell grows by
        ``lam p00``, and with ``gain = lam (p10 + p00)`` the discordance moves by
        ``gain (p00 - p10) / (p00 + p10)``. (When both models answer each item independently
        given its difficulty and the gain goes to items in proportion to their room to
        improve, as in ``benchmarks/calibration.py``, this is the exact change; on A/A
        data it is ``gain (1 - 2 accuracy)``, up for a weak model, down for a strong one.)
        Holding the discordance fixed instead had the 0/1 power at the reported MDE at 70 %
        at n = 50, not 80 %. Margin tests (``must_not_regress``, planned at no true
        difference) use the same rule with the margin as the distance, an approximation
        there: the changed items then sit at the null boundary, not at the alternative,
        and a loss moves the discordance by its own amount (not calibrated in the table).
        Starts from :meth:`discordance_for_power`; never below
        ``|gain|`` (a difference cannot exceed the share of items that changed) nor above 1.
        """
        wrong = self.n00 + self.n10
        slope = (self.n00 - self.n10) / wrong if wrong else 0.0
        g = abs(gain)
        return min(1.0, max(self.discordance_for_power() + slope * g, g))

    def mde(self, alpha: float, power: float = 0.8, sided: int = 2) -> float:
        """Smallest |delta| the test detects with ``power`` at this n.

        One-sided, up to EXACT_MAX_N items: the power of the exact test itself (its
        rejection region summed under the trinomial alternative), solved for 80 %. Else
        normal theory for Tango's test with its continuity correction ``k`` (in items):
        ``sqrt(n) d - k / sqrt(n) = z_a sqrt(psi) + z_b sqrt(psi - d^2)`` (Connor 1987).
        Either way the discordance rate ``psi`` is :meth:`discordance_at` the effect.
        """
        from scipy.optimize import brentq

        z_a, z_b = _z_quantiles(alpha, power, sided)
        root_n = math.sqrt(self.n)
        if sided == 1 and self.exact:
            from evalkit.stats import paired_binary_exact as exact

            def short(d: float) -> float:
                return exact.power(self.n, 0.0, float(alpha), d, self.discordance_at(d)) - power

            if short(1.0) >= 0.0:
                return float(brentq(short, 0.0, 1.0, xtol=1e-9))
            return (z_a + z_b) * math.sqrt(self.discordance_at(0.0) / self.n)

        corr = 0.0 if self.exact else CONTINUITY / root_n

        def gap(d: float) -> float:
            psi = self.discordance_at(d)
            return root_n * d - corr - z_a * math.sqrt(psi) - z_b * math.sqrt(max(psi - d * d, 0.0))

        if gap(1.0) <= 0.0:
            # Too few items for any effect: report the (large) normal-approximation value
            # rather than pretend a bound.
            return (z_a + z_b) * math.sqrt(self.discordance_at(0.0) / self.n)
        return float(brentq(gap, 0.0, 1.0, xtol=1e-12))

    def n_needed(self, effect: float, alpha: float, power: float = 0.8, sided: int = 1) -> float:
        """Paired items needed to detect a true difference of ``|effect|``.

        Connor's (1987) normal-theory count for Tango's continuity-corrected test (the
        smallest n with ``e n - a sqrt(n) - k >= 0``, ``a = z_a sqrt(psi) + z_b sqrt(psi -
        e^2)``, ``k`` the correction in items); where that count is within the exact test's
        range (one-sided, at most EXACT_MAX_N items), the smallest n from there up at which
        the exact test itself has the power. The discordance rate is :meth:`discordance_at`
        the effect.
        """
        from evalkit.stats.paired_binary_exact import EXACT_MAX_N

        z_a, z_b = _z_quantiles(alpha, power, sided)
        e = abs(effect)
        if e == 0.0 or not math.isfinite(e):
            return math.inf
        psi = self.discordance_at(e)
        a = z_a * math.sqrt(psi) + z_b * math.sqrt(max(psi - e * e, 0.0))
        plain = math.ceil(a * a / (e * e) - 1e-9)
        if plain > EXACT_MAX_N:  # Tango's corrected test: e sqrt(n)^2 - a sqrt(n) - k = 0
            root = (a + math.sqrt(a * a + 4.0 * e * CONTINUITY)) / (2.0 * e)
            return float(max(math.ceil(root * root - 1e-9), plain))
        need = plain
        if sided == 1:
            from evalkit.stats import paired_binary_exact as exact

            # The exact power is not monotone in n (the discreteness saw-tooth) and may beat
            # the normal approximation: scan up from half Connor's count; past the exact
            # range Tango's test (and Connor's count) takes over.
            need = next((m for m in range(max(plain // 2, 1), EXACT_MAX_N + 1)
                         if exact.power(m, 0.0, float(alpha), e, psi) >= power), EXACT_MAX_N + 1)
        return float(need)


def cells(base: np.ndarray, ft: np.ndarray) -> tuple[int, int, int, int]:
    """(n11, n10, n01, n00) from 0/1 per-item vectors; ValueError on other values."""
    a = np.asarray(base, dtype=float)
    b = np.asarray(ft, dtype=float)
    for name, x in (("base", a), ("fine-tune", b)):
        if not np.all((x == 0.0) | (x == 1.0)):
            raise ValueError(f"{name} per-item scores must be 0/1 for a binary metric")
    counts = np.bincount((2 * a + b).astype(np.intp), minlength=4)
    n00, n01, n10, n11 = (int(x) for x in counts)
    return n11, n10, n01, n00
