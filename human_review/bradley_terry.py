"""Bradley-Terry strengths by maximum likelihood, with the base fixed at 0.

P(i beats j) = 1 / (1 + exp(s_j - s_i)); strengths are natural-log odds. A tie (or "both
bad") counts half a win to each side, which keeps the fit a plain Bradley-Terry fit (a
Davidson tie parameter would need far more ties than a review study collects). Intervals
come from a bootstrap over items: the items are resampled, and every vote on a drawn item
comes with it, so several raters of one item are not counted as independent evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOUND = 10.0  # a side that wins (or loses) every comparison has no finite MLE: report the bound


@dataclass(frozen=True)
class Strengths:
    players: tuple[str, ...]
    strength: tuple[float, ...]
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]
    at_bound: tuple[bool, ...]


def _nll_grad(free: np.ndarray, wins: np.ndarray, ref: int):
    s = np.insert(free, ref, 0.0)
    diff = s[:, None] - s[None, :]
    log_p = -np.logaddexp(0.0, -diff)  # log sigma(s_i - s_j)
    nll = -np.sum(wins * log_p)
    q = 1.0 - np.exp(log_p)  # 1 - sigma(s_i - s_j)
    g = -(wins * q).sum(axis=1) + (wins * q).sum(axis=0)
    return nll, np.delete(g, ref)


def fit(wins: np.ndarray, ref: int = 0) -> np.ndarray:
    """Strengths from ``wins[i, j]`` (i beat j, halves for ties), with player ``ref`` at 0."""
    from scipy.optimize import minimize

    wins = np.asarray(wins, dtype=float)
    n = wins.shape[0]
    if n < 2:
        return np.zeros(n)
    res = minimize(_nll_grad, np.zeros(n - 1), args=(wins, ref), jac=True, method="L-BFGS-B",
                   bounds=[(-BOUND, BOUND)] * (n - 1), options={"ftol": 1e-12, "gtol": 1e-9})
    return np.insert(res.x, ref, 0.0)


def fit_with_intervals(item_wins: np.ndarray, players: tuple[str, ...], *, ref: int = 0, n_boot: int = 1000,
                       seed: int = 0, confidence: float = 0.95) -> Strengths:
    """``item_wins[k]`` is the wins matrix of item k alone; percentile bootstrap over items."""
    item_wins = np.asarray(item_wins, dtype=float).reshape(-1, len(players), len(players))
    s = fit(item_wins.sum(axis=0), ref)
    n_items = item_wins.shape[0]
    if n_items < 2 or n_boot <= 0:
        return Strengths(players, tuple(map(float, s)), (None,) * len(players), (None,) * len(players), _bound(s))
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=n_boot)
    boots = np.array([fit(np.tensordot(c, item_wins, axes=1), ref) for c in counts])
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boots, a, axis=0), np.quantile(boots, 1.0 - a, axis=0)
    return Strengths(players, tuple(map(float, s)), tuple(map(float, lo)), tuple(map(float, hi)), _bound(s))


def _bound(s: np.ndarray) -> tuple[bool, ...]:
    return tuple(bool(abs(v) >= BOUND - 1e-6) for v in s)
