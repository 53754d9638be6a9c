"""Anytime-valid confidence sequences for a paired mean difference: look after every chunk.

A fixed-n interval is valid once, at an n fixed in advance. Looking after every chunk of items
and stopping at the first look where a gate PASSes is optional stopping: with ten looks the
false-PASS rate of a 5 % test climbs past 10 %. A confidence sequence is a sequence of
intervals that covers the truth at EVERY look at once with probability >= 1 - alpha, so a
decision may be taken at any look, on any rule, and its error rate stays at alpha.

We use the asymptotic confidence sequence (AsympCS) of Waudby-Smith, Arbour, Sinha, Kennedy
and Ramdas (2024, "Time-uniform central limit theory and asymptotic confidence sequences",
Annals of Statistics): Robbins' normal-mixture boundary applied to the running mean with the
running standard deviation plugged in,

    mean_t +- sd_t * sqrt( 2 (t rho^2 + 1) / (t^2 rho^2) * log( sqrt(t rho^2 + 1) / alpha ) ),

two-sided at level alpha (the mixture martingale bounds |S_t|; using it for a one-sided
decision is conservative). ``rho`` sets the n where the sequence is tightest; we tune it to
the planned number of items. Written here because no maintained Python package offers it:
``confseq`` (the authors' C++ library) has not been released since 2023 and needs a compiler.

The per-item values are paired differences ``b_i - a_i`` (or their linearised influence
values for ratio metrics); items must be looked at in a random order fixed in advance (the
seeded order of ``evalkit compare --sequential``), so that the i.i.d. assumption holds
across looks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from evalkit.stats._validate import check_alpha


def best_rho2(t_opt: int, alpha: float) -> float:
    """rho^2 that makes the boundary tightest near ``t_opt`` items (the paper's closed-form
    approximation, from the Lambert-W optimum)."""
    check_alpha(alpha)
    if t_opt < 1:
        raise ValueError(f"t_opt must be >= 1, got {t_opt}")
    la = -2.0 * math.log(alpha)
    return (la + math.log(la + 1.0)) / t_opt


def margin(t: int, sd: float, alpha: float, rho2: float) -> float:
    """Half-width of the normal-mixture confidence sequence after ``t`` items."""
    if t < 1:
        return math.inf
    return sd * math.sqrt(2.0 * (t * rho2 + 1.0) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1.0) / alpha))


@dataclass(frozen=True)
class SequenceBound:
    """The running-intersection confidence sequence after the latest look."""

    n: int
    estimate: float
    low: float
    high: float
    looks: int


def _sd_with_floor(d: np.ndarray, value_range: float | None) -> float:
    """The sample SD, but never 0 from an observed lack of spread: with differences bounded
    by ``value_range``, at most about 3/n of the items (rule of three, 95 %) could differ
    unseen, each by at most the range. Unbounded and spreadless: infinite (no decision)."""
    n = d.size
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    if value_range is None:
        return sd if sd > 0 else math.inf
    return max(sd, value_range * math.sqrt(3.0 / n))


class ConfidenceSequence:
    """Anytime-valid interval for the mean of paired differences, updated look by look.

    ``update(d)`` takes ALL differences seen so far (the first n items of the fixed random
    order) and returns the running intersection of every look's interval, which is valid
    simultaneously over looks and so never needs to widen again.
    """

    def __init__(self, *, alpha: float, planned_n: int, value_range: float | None = None):
        check_alpha(alpha)
        self.alpha = alpha
        self.rho2 = best_rho2(max(planned_n, 1), alpha)
        self.value_range = value_range
        self._low, self._high, self._looks = -math.inf, math.inf, 0

    def update(self, d) -> SequenceBound:
        d = np.asarray(d, dtype=np.float64).reshape(-1)
        if d.size == 0 or not np.all(np.isfinite(d)):
            raise ValueError("need at least one finite difference")
        mean = float(d.mean())
        half = margin(d.size, _sd_with_floor(d, self.value_range), self.alpha, self.rho2)
        self._low = max(self._low, mean - half)
        self._high = min(self._high, mean + half)
        self._looks += 1
        return SequenceBound(int(d.size), mean, self._low, self._high, self._looks)
