"""Adjusting p-values for many comparisons (one per task or slice)."""

from __future__ import annotations

import numpy as np

_METHODS = ("holm", "bh", "none")


def _p_vector(p_values) -> np.ndarray:
    """Return p-values as a 1-D float array, raising ValueError outside [0, 1] or on NaN."""
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must be in [0, 1] and not NaN")
    return p


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values, in the input order.

    Sorted ascending, the i-th (1-based) gets ``(m - i + 1) * p_(i)``; a running
    maximum keeps the adjusted values monotone, and they are capped at 1.
    Controls the family-wise error rate under any dependence.
    """
    p = _p_vector(p_values)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    out = np.empty(m)
    out[order] = adjusted_sorted
    return out


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg (step-up) adjusted p-values, in the input order.

    Sorted ascending, the i-th gets ``m / i * p_(i)``; a running minimum from the
    largest downwards keeps them monotone, capped at 1. Controls the false discovery
    rate for independent or positively dependent tests.
    """
    p = _p_vector(p_values)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = m / np.arange(1, m + 1) * p[order]
    adjusted_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adjusted_sorted
    return out


def adjust(p_values, method: str) -> np.ndarray:
    """Adjust p-values with ``method`` in {"holm", "bh", "none"} ("none" copies them)."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    if method == "none":
        return _p_vector(p_values).copy()
    raise ValueError(f"unknown p-value adjustment {method!r}; known: {', '.join(_METHODS)}")
