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


def _loglik(s: np.ndarray, wins: np.ndarray) -> np.ndarray:
    diff = s[:, :, None] - s[:, None, :]
    return -(wins * np.logaddexp(0.0, -diff)).sum(axis=(1, 2))


def fit_many(wins: np.ndarray, ref: int = 0, *, max_iter: int = 100, tol: float = 1e-10) -> np.ndarray:
    """Strengths for a stack of wins matrices ``wins[b, i, j]`` at once: projected Newton with
    step halving, every fit in one set of array operations (a bootstrap of 1,000 resamples
    is one batched solve per iteration rather than 1,000 optimiser runs). A strength that
    the data push past ``BOUND`` stays at the bound (its coordinate leaves the Newton step),
    which is the maximum of the likelihood on the box."""
    wins = np.asarray(wins, dtype=float)
    b, n, _ = wins.shape
    s = np.zeros((b, n))
    if n < 2:
        return s
    free = np.arange(n) != ref
    games = wins + wins.transpose(0, 2, 1)
    ll = _loglik(s, wins)
    eye = np.eye(n)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(s[:, :, None] - s[:, None, :])))
        grad = (wins - games * p).sum(axis=2)  # d loglik / d s_i
        w = games * p * (1.0 - p)
        info = np.einsum("bij,ij->bij", -w, 1 - eye) + np.einsum("bi,ij->bij", w.sum(axis=2), eye)  # minus the Hessian
        fixed = ~free[None, :] | ((s >= BOUND) & (grad > 0)) | ((s <= -BOUND) & (grad < 0))
        grad = np.where(fixed, 0.0, grad)
        keep = ~fixed[:, :, None] & ~fixed[:, None, :]
        # A fixed coordinate gets an identity row; a tiny ridge covers a player with no games.
        info = np.where(keep, info, 0.0) + np.einsum("bi,ij->bij", fixed.astype(float), eye) + 1e-12 * eye
        step = np.linalg.solve(info, grad[:, :, None])[:, :, 0]
        t = np.ones(b)
        for _ in range(30):  # halve the step where it would lower the likelihood
            trial = np.clip(s + t[:, None] * step, -BOUND, BOUND)
            new = _loglik(trial, wins)
            worse = new < ll - 1e-12
            if not worse.any():
                break
            t = np.where(worse, t / 2, t)
        moved = np.abs(trial - s).max(axis=1)
        s, ll = trial, np.maximum(new, ll)
        if moved.max() < tol:
            break
    return s


def fit(wins: np.ndarray, ref: int = 0) -> np.ndarray:
    """Strengths from ``wins[i, j]`` (i beat j, halves for ties), with player ``ref`` at 0."""
    wins = np.asarray(wins, dtype=float)
    return fit_many(wins[None], ref)[0]


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
    boots = fit_many(np.tensordot(counts, item_wins, axes=1), ref)
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boots, a, axis=0), np.quantile(boots, 1.0 - a, axis=0)
    return Strengths(players, tuple(map(float, s)), tuple(map(float, lo)), tuple(map(float, hi)), _bound(s))


def _bound(s: np.ndarray) -> tuple[bool, ...]:
    return tuple(bool(abs(v) >= BOUND - 1e-6) for v in s)
