"""Small input checks shared by the statistics modules (private)."""

from __future__ import annotations

import numpy as np


def as_float_vector(x, name: str) -> np.ndarray:
    """Return ``x`` as a 1-D float64 array, raising ValueError if it is not 1-D."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def paired_vectors(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Return ``a`` and ``b`` as equal-length 1-D float arrays."""
    a_arr = as_float_vector(a, "a")
    b_arr = as_float_vector(b, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b must have the same length, got {a_arr.size} and {b_arr.size}")
    return a_arr, b_arr


def check_alpha(alpha: float) -> None:
    """Raise ValueError unless 0 < alpha < 1."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def group_codes(groups, n: int) -> tuple[np.ndarray, int]:
    """Map arbitrary group labels to integer codes 0..G-1; return (codes, G)."""
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.size != n:
        raise ValueError(f"groups must be 1-D with one label per item ({n}), got shape {labels.shape}")
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)  # numpy 2.x may keep the input shape; force 1-D
    n_groups = int(codes.max()) + 1 if codes.size else 0
    return codes.astype(np.intp), n_groups


def check_power_args(alpha: float, power: float, sided: int) -> None:
    """Raise ValueError unless 0 < alpha < 1, 0 < power < 1 and sided is 1 or 2."""
    check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if sided not in (1, 2):
        raise ValueError(f"sided must be 1 or 2, got {sided}")
