"""The length-controlled win rate, as AlpacaEval 2 computes it.

A judge that likes long answers makes a wordier model look better. Each readable judgment (one
order of one item) is regressed on the length difference of the two answers and on the
position of the candidate's answer:

    logit P(judge prefers the candidate) = b0 + b1 * (len_ft - len_base) / sd + b2 * pos

with ``pos`` = +1 when the candidate's answer is shown first, -1 when second, and a tie counted
as half a preference (a fractional-response binomial GLM; fitted by Newton's method here, batched
over the bootstrap, and checked against statsmodels' GLM in the tests). The length-controlled
win rate is the fitted preference at zero length difference and no position, ``expit(b0)``.
AlpacaEval 2 passes the difference through tanh, which bounds the pull of a few very long
answers but bends a preference that grows steadily with length, and then leaves part of the
length effect in b0; the plain difference (lengths in characters, scaled by their standard
deviation) is used here.
Its interval resamples items with both their orders kept together (percentile bootstrap,
seeded Generator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evalkit.judge.pairwise import SCORE, PairJudgment


@dataclass(frozen=True)
class LengthControlled:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    length_coef: float | None  # b1: how much the judge leans on length (log-odds)
    n_resamples: int
    reason: str | None = None  # why there is no value


def _rows(judgments: Sequence[PairJudgment]):
    """Per readable judgment: (item index, preference, length difference, position)."""
    out = []
    for i, j in enumerate(judgments):
        for order, v in enumerate(j.verdicts):
            if v is not None:
                out.append((i, SCORE[v], j.len_ft - j.len_base, 1.0 if order == 1 else -1.0))
    return np.array(out, dtype=float).reshape(-1, 4)


def _design(rows: np.ndarray, sd: float) -> np.ndarray:
    return np.column_stack([np.ones(len(rows)), rows[:, 2] / sd, rows[:, 3]])


def newton_weighted(y: np.ndarray, x: np.ndarray, w: np.ndarray, iters: int = 30) -> np.ndarray:
    """Maximum-likelihood logistic coefficients for every row of weights ``w`` (B, R) at once:
    a bootstrap resample is a set of item counts, so all B fits share one design and run as
    one batched Newton iteration (statsmodels' GLM gives the same numbers, which a test
    checks, but a thousand separate fits take seconds). Rows of ``w`` whose fit diverges
    (separation) come back as NaN."""
    from scipy.special import expit

    k = x.shape[1]
    outer = (x[:, :, None] * x[:, None, :]).reshape(len(x), k * k)  # per row, x x^T flattened
    beta = np.zeros((w.shape[0], k))
    for _ in range(iters):
        mu = expit(beta @ x.T)  # (B, R)
        grad = (w * (y - mu)) @ x  # (B, k)
        hess = ((w * mu * (1 - mu)) @ outer).reshape(-1, k, k) + 1e-9 * np.eye(k)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        beta = np.clip(beta + step, -50, 50)
        if np.nanmax(np.abs(step)) < 1e-10:
            break
    bad = (np.abs(beta) > 30).any(axis=1)
    beta[bad] = np.nan
    return beta


def length_controlled(judgments: Sequence[PairJudgment], rng: np.random.Generator, n_resamples: int = 1000,
                      confidence: float = 0.95) -> LengthControlled:
    rows = _rows(judgments)
    items = np.unique(rows[:, 0]).astype(int) if len(rows) else np.array([], dtype=int)
    if len(items) < 10:
        return LengthControlled(None, None, None, None, 0, f"only {len(items)} judged item(s); needs >= 10")
    if np.all(rows[:, 1] == rows[0, 1]):  # one verdict throughout: no preference varies with length
        return LengthControlled(None, None, None, None, 0, "every judgment gave the same verdict; nothing to control for")
    # scipy.special is imported only past the early returns: on the demo (one verdict throughout) a
    # cached compare then never pays for importing it.
    from scipy.special import expit

    sd = float(np.std(rows[:, 2]))
    if sd == 0:  # every pair of answers has the same length difference: nothing to control for
        sd = 1.0
    x = _design(rows, sd)
    params = newton_weighted(rows[:, 1], x, np.ones((1, len(rows))))[0]
    if np.isnan(params).any():
        return LengthControlled(None, None, None, None, 0,
                                "the regression does not converge (the judge's choice is a fixed function of length or position)")
    # Items, not judgments, are resampled: both orders of an item go in or out together.
    pos = np.searchsorted(items, rows[:, 0].astype(int))
    counts = rng.multinomial(len(items), np.full(len(items), 1 / len(items)), size=n_resamples)
    beta = newton_weighted(rows[:, 1], x, counts[:, pos].astype(float))
    boots = expit(beta[~np.isnan(beta).any(axis=1), 0])
    if len(boots) < 0.9 * n_resamples:  # the interval would describe only the resamples that fit
        return LengthControlled(float(expit(params[0])), None, None, float(params[1]), n_resamples,
                                f"only {len(boots)} of {n_resamples} resamples could be fitted; no interval")
    alpha = 1 - confidence
    low, high = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return LengthControlled(float(expit(params[0])), float(low), float(high), float(params[1]), n_resamples)
