"""A small version of benchmarks/calibration.py: the gates' error rates on simulated runs."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "calibration.py"


@pytest.fixture(scope="module")
def calibration():
    spec = importlib.util.spec_from_file_location("evalkit_calibration", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def design(calibration):
    # Only the five target tasks: the must_improve family is what these checks are about.
    return replace(calibration.Design(), n_resamples=500, forgetting=())


def test_shift_moves_the_mean_by_exactly_the_effect(calibration):
    import numpy as np

    p = np.random.default_rng(0).beta(2, 2, size=500)
    for effect in (0.1, -0.1):
        q = calibration.shifted(p, effect)
        assert q.mean() - p.mean() == pytest.approx(effect) and q.min() >= 0 and q.max() <= 1


def test_family_wise_false_alarms_under_a_a(calibration, design):
    passed, _ = calibration.pass_rates(design, {}, sims=60, first_seed=11)
    false_alarm = sum(any(p[t] for t in design.targets) for p in passed) / len(passed)
    assert false_alarm <= 0.15


def test_power_against_a_large_gain(calibration, design):
    effects = {t: 0.15 for t in design.targets}
    passed, _ = calibration.pass_rates(design, effects, sims=40, first_seed=12)
    power = sum(p[t] for p in passed for t in design.targets) / (len(passed) * len(design.targets))
    assert power >= 0.7
