"""Holm and Benjamini-Hochberg adjusted p-values against reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalkit.stats import adjust, benjamini_hochberg, holm

P = np.array([0.010, 0.040, 0.030, 0.0005, 0.20, 0.049, 0.80, 0.012, 0.030, 0.65])


def _holm_loop(p: np.ndarray) -> np.ndarray:
    """Holm step-down written as an explicit loop over the sorted p-values."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return np.array(out)


def test_against_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    np.testing.assert_allclose(holm(P), multitest.multipletests(P, method="holm")[1], rtol=1e-12)
    np.testing.assert_allclose(benjamini_hochberg(P),
                               multitest.multipletests(P, method="fdr_bh")[1], rtol=1e-12)


def test_against_scipy_and_a_loop():
    np.testing.assert_allclose(benjamini_hochberg(P), stats.false_discovery_control(P), rtol=1e-12)
    np.testing.assert_allclose(holm(P), _holm_loop(P), rtol=1e-12)


def test_monotone_capped_and_order_preserving():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=30) ** 2
    for adjusted in (holm(p), benjamini_hochberg(p)):
        order = np.argsort(p)
        assert np.all(np.diff(adjusted[order]) >= 0)
        assert np.all(adjusted >= p) and np.all(adjusted <= 1.0)
    assert np.all(holm(p) >= benjamini_hochberg(p))  # FWER control is the stricter one


def test_adjust_dispatch_and_errors():
    np.testing.assert_array_equal(adjust(P, "holm"), holm(P))
    np.testing.assert_array_equal(adjust(P, "bh"), benjamini_hochberg(P))
    np.testing.assert_array_equal(adjust(P, "none"), P)
    with pytest.raises(ValueError, match="holm.*bh.*none"):
        adjust(P, "bonferroni")
    with pytest.raises(ValueError):
        holm([0.1, float("nan")])
    assert holm([]).size == 0 and benjamini_hochberg([]).size == 0
