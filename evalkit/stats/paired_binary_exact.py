"""Exact unconditional one-sided tests of a paired difference of proportions, ordered by
Tango's score statistic, and the bounds that invert them.

Tango's score test is asymptotic; at some n it rejects a true null slightly more often than
alpha (5.3-5.6 % at n = 20 and 50 in the calibration table). The exact unconditional test
(Suissa & Shuster 1991; Berger & Sidik 2003 for matched pairs; Sidik 2003 for a margin)
keeps the same ordering of the outcomes but takes its p-value from the trinomial law of
(fixed, broke, rest) itself, at the least favourable value of the nuisance parameter:

    p(d0) = sup over theta of  P_theta( Z(F, B; d0) >= Z(f, b; d0) ),
    with P(broke) = theta, P(fixed) = theta + d0   (the null boundary delta = d0).

By construction its size is at most alpha at every n and every discordance rate. The sup is
taken over the boundary only, as those papers do (the tail grows towards it); a test
checks that against the interior at small n.

Computing it: Z grows with ``fixed`` when ``broke`` is held, so the rejection region is,
for each broke count c, ``fixed >= b_min(c)``; its probability is a sum over c of a
binomial probability times a binomial tail (fixed | broke = c is binomial), O(n) per theta.
The sup is a grid over theta with every local maximum refined (the grid sup can only
fall short of the true one: by at most 4e-4 relative against a 4,001-point grid in our
checks). The bound inverts the same test (root search on d0), so the bound a gate shows
always agrees with its p-value.

Cost: a p-value is a few milliseconds and a bound a dozen p-values, so the exact path is
used up to EXACT_MAX_N items (cached per cell counts); above it Tango's asymptotic test,
whose exact size there is within a few per cent of alpha (over the whole null boundary, at
most 1.04 alpha at n = 200 and 1.01 alpha at n = 1000), with half an item of continuity
correction (``paired_binary.CONTINUITY``) that brings the calibration rows under alpha.

Why hand-written: neither scipy (``boschloo_exact``/``barnard_exact`` are for two
independent samples) nor statsmodels has an exact unconditional test for paired
proportions with a margin.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from evalkit.stats.paired_binary import _z_of, score_z

# Up to this many items the tests and bounds are exact; above it, Tango's asymptotic ones,
# continuity-corrected (close to exact there, and O(1) in n where the exact ones grow with n).
EXACT_MAX_N = 100
_GRID = 24  # nuisance grid points on the null boundary
_REFINE = 2  # rounds of a finer grid around each local maximum of the grid
# Outcomes whose Z equals the observed one within rounding count as extreme (conservative).
_TIE = 1e-9
_BOUND_TOL = 1e-5
_P_TOL = 1e-5


@lru_cache(maxsize=64)
def _log_choose(n: int) -> np.ndarray:
    from scipy.special import gammaln

    k = np.arange(n + 1, dtype=float)
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def _b_min(t_obs: float, n: int, d0: float) -> list[int]:
    """For each broke count c = 0..n, the smallest fixed count b (<= n - c) with
    Z(b, c; d0) >= t_obs, or n - c + 1 where there is none.

    Z rises with b and falls with c, so b_min never decreases with c: one walk up the
    boundary of the region, O(n) scalar evaluations in all (numpy's per-call overhead on
    arrays this small cost more than the arithmetic). The monotonicity this relies on is
    checked against full enumeration in the tests."""
    cut = t_obs - _TIE * (1.0 + abs(t_obs))
    out, b = [], 0
    for c in range(n + 1):
        while b <= n - c and _z_of(b, c, n, d0) < cut:
            b += 1
        if b > n - c:  # the region is empty here, hence for every larger c too
            out.extend(n - k + 1 for k in range(c, n + 1))
            break
        out.append(b)
    return out


def _tail(b_min: np.ndarray, n: int, d0: float, theta: np.ndarray) -> np.ndarray:
    """P_theta(fixed >= b_min(broke)) for each theta, with P(broke) = theta and
    P(fixed) = theta + d0: a sum over broke counts c of P(broke = c) times the binomial
    tail of fixed given broke = c, O(n) per theta instead of O(n^2)."""
    from scipy.special import bdtrc, xlog1py, xlogy

    c = np.arange(n + 1)
    b_min = np.asarray(b_min)
    p_broke = theta[:, None]
    p_fixed = np.clip(theta + d0, 0.0, 1.0)[:, None]
    log_pc = _log_choose(n)[None, :] + xlogy(c, p_broke) + xlog1py(n - c, -p_broke)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.clip(np.where(p_broke < 1.0, p_fixed / (1.0 - p_broke), 0.0), 0.0, 1.0)
    rest = n - c
    b_min = np.broadcast_to(b_min, log_pc.shape)
    rest = np.broadcast_to(rest, log_pc.shape)
    q = np.broadcast_to(q, log_pc.shape)
    # Binomial tails (an incomplete beta function each: the cost of this test) only where
    # the broke count has any mass (e^-40 ~ 4e-18) and the region is neither all nor none.
    weight = np.exp(log_pc)
    need = (log_pc > -40.0) & (b_min > 0) & (b_min <= rest)
    tail = (b_min <= 0).astype(float)
    # bdtrc(k, m, q) = P(Bin(m, q) > k).
    tail[need] = bdtrc(b_min[need] - 1, rest[need], q[need])
    return np.sum(weight * tail, axis=1)


def _theta_range(d0: float) -> tuple[float, float]:
    return max(0.0, -d0), (1.0 - d0) / 2.0


def _sup_tail(b_min, n: int, d0: float) -> float:
    """The sup over the null boundary of the region's probability.

    As a function of theta it has a few local maxima (three to five in the cases we looked
    at), any of which can be the highest: a grid, then every local maximum of the grid
    refined twice on a finer grid around it (refining only the best grid point missed the
    sup by 2 % at n = 100)."""
    lo, hi = _theta_range(d0)
    if hi - lo <= 0.0:
        return float(_tail(b_min, n, d0, np.array([lo]))[0])
    grid = np.linspace(lo, hi, _GRID)
    vals = _tail(b_min, n, d0, grid)
    best = float(vals.max())
    padded = np.concatenate(([-np.inf], vals, [-np.inf]))
    peaks = np.flatnonzero((padded[1:-1] >= padded[:-2]) & (padded[1:-1] >= padded[2:]))
    centres, half = grid[peaks], grid[1] - grid[0]
    offsets = np.linspace(-1.0, 1.0, 9)
    for _ in range(_REFINE):
        pts = np.clip(centres[:, None] + half * offsets[None, :], lo, hi)
        vals = _tail(b_min, n, d0, pts.ravel()).reshape(pts.shape)
        best = max(best, float(vals.max()))
        centres, half = pts[np.arange(len(pts)), np.argmax(vals, axis=1)], half / 4.0
    return min(1.0, best)


def _p_greater(fixed: int, broke: int, n: int, d0: float) -> float:
    if d0 >= 1.0:
        return 1.0
    if d0 <= -1.0:
        return 0.0 if broke < n else 1.0
    return _sup_tail(_b_min(_z_of(fixed, broke, n, d0), n, d0), n, d0)


@lru_cache(maxsize=100_000)
def p_greater(fixed: int, broke: int, n: int, d0: float) -> float:
    """Exact unconditional one-sided p of H0 ``delta <= d0`` (small: delta exceeds d0)."""
    return _p_greater(fixed, broke, n, d0)


def p_less(fixed: int, broke: int, n: int, d0: float) -> float:
    """Exact one-sided p of H0 ``delta >= d0``: the mirror image (swap fixed and broke)."""
    return p_greater(broke, fixed, n, -d0)


@lru_cache(maxsize=50_000)
def lower_bound(fixed: int, broke: int, n: int, alpha: float) -> float:
    """The exact lower confidence bound: every d0 below it is rejected at level alpha
    (p < alpha; p increases with d0), so a gate's bound and its p-value always agree.

    A bracket (lo rejected, hi not) from Tango's asymptotic bound, which is close, then
    regula falsi; the answer is the rejected end, so it is never above the exact bound, and
    is within _BOUND_TOL of it or has a p within _P_TOL of alpha.
    """
    from scipy.special import ndtri

    from evalkit.stats.paired_binary import _invert

    start = _invert(fixed, broke, n, float(ndtri(1.0 - alpha)), -1)
    step = 0.5 / math.sqrt(n)

    def gap(d: float) -> float:  # < 0: rejected
        return p_greater(fixed, broke, n, d) - alpha

    # Bracket: lo rejected, hi not.
    lo, hi = max(-1.0, start - step), min(1.0, start + 0.25 * step)
    g_lo = gap(lo)
    while g_lo >= 0.0:
        if lo <= -1.0:
            return -1.0
        lo, hi = max(-1.0, lo - 2.0 * step), lo
        g_lo, step = gap(lo), 2.0 * step
    g_hi = gap(hi)
    while g_hi < 0.0:
        if hi >= 1.0:
            return 1.0
        lo, g_lo, hi = hi, g_hi, min(1.0, hi + step)
        g_hi, step = gap(hi), 2.0 * step
    # Regula falsi (Illinois): p is smooth in d0 between the jumps where an outcome enters
    # or leaves the region, so this takes a handful of steps where bisection takes twenty.
    side = 0
    while hi - lo > _BOUND_TOL and g_lo < -_P_TOL:
        mid = hi - g_hi * (hi - lo) / (g_hi - g_lo) if g_hi != g_lo else 0.5 * (lo + hi)
        width = hi - lo
        if not lo + 1e-3 * width < mid < hi - 1e-3 * width:
            mid = 0.5 * (lo + hi)
        g_mid = gap(mid)
        if g_mid < 0.0:
            lo, g_lo = mid, g_mid
            g_hi = 0.5 * g_hi if side == -1 else g_hi
            side = -1
        else:
            hi, g_hi = mid, g_mid
            g_lo = 0.5 * g_lo if side == 1 else g_lo
            side = 1
    return lo


def upper_bound(fixed: int, broke: int, n: int, alpha: float) -> float:
    return -lower_bound(broke, fixed, n, alpha)


@lru_cache(maxsize=4096)
def critical_z(n: int, d0: float, alpha: float) -> float:
    """The smallest Z the exact test rejects H0 ``delta <= d0`` at: rejecting when
    p < alpha is rejecting when Z >= this (p falls as the observed Z rises), which is
    what the power calculation needs."""
    # Every attainable Z, in order; p is a step function of the observed Z.
    b, c = np.triu_indices(n + 1)
    c = c - b  # pairs with b + c <= n: (b, c) = (i, j - i) for i <= j
    zs = np.unique(np.round(np.asarray(score_z(b, c, n, d0)), 12))
    lo, hi = 0, zs.size  # p(zs[hi]) < alpha is the search target; hi = size: never
    while lo < hi:
        mid = (lo + hi) // 2
        if _sup_tail(_b_min(float(zs[mid]), n, d0), n, d0) < alpha:
            hi = mid
        else:
            lo = mid + 1
    return float(zs[lo]) if lo < zs.size else math.inf


def power(n: int, d0: float, alpha: float, delta: float, discordance: float) -> float:
    """Power of the exact level-alpha test of H0 ``delta <= d0`` when the true difference is
    ``delta`` and the share of discordant items is ``discordance``."""
    z = critical_z(n, d0, alpha)
    if not math.isfinite(z):
        return 0.0
    p_broke = max(0.0, (discordance - delta) / 2.0)
    return float(_tail(_b_min(z, n, d0), n, delta, np.array([p_broke]))[0])
