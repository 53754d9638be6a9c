"""Planning numbers against independent closed forms (Connor 1987 for paired 0/1 items, the
normal sample-size formula otherwise), and the stored-run path against the gate's own
estimator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from evalkit.compare.gates import parse_gates
from evalkit.planning.power import ASSUMED_DISCORDANCE, ASSUMED_SD_SHARE, gate_power


def gates(*raw):
    return parse_gates(list(raw), known_tasks={"qa", "mc", "tr"}, known_suites={"s"})


def test_binary_must_not_regress_uses_connor_at_the_assumed_discordance():
    (gp,) = gate_power(gates({"type": "must_not_regress", "task": "qa", "metric": "exact_match", "margin": 0.05}),
                       {"qa": 400}, {}, n_candidates=1)
    za, zb, psi0, e = norm.ppf(0.95), norm.ppf(0.8), ASSUMED_DISCORDANCE, 0.05
    # The planned discordance moves with the effect: at p = 0.5 and discordance 0.2 the
    # cells are 0.4 / 0.1 / 0.1 / 0.4, so by e (0.4 - 0.1) / (0.4 + 0.1) = 0.6 e
    # (PairedBinaryEstimate.discordance_at); Tango's test carries half an item of
    # continuity correction: the smallest n with e n - a sqrt(n) - 0.5 >= 0.
    psi = psi0 + 0.6 * e
    a = za * math.sqrt(psi) + zb * math.sqrt(psi - e * e)
    assert gp.n_needed == math.ceil(((a + math.sqrt(a * a + 2.0 * e)) / (2.0 * e)) ** 2)
    # The detectable d solves sqrt(n) d - 0.5 / sqrt(n) = za sqrt(psi) + zb sqrt(psi - d^2)
    # (n = 400: psi0 exact), psi = psi0 + 0.6 d.
    d = gp.detectable
    psi = psi0 + 0.6 * d
    assert math.sqrt(400) * d - 0.5 / 20 == pytest.approx(za * math.sqrt(psi) + zb * math.sqrt(psi - d * d), rel=1e-6)


def test_bounded_metric_must_improve_uses_the_normal_formula_at_holms_first_level():
    raw = [{"type": "must_improve", "task": "tr", "metric": "chrf", "min_effect": 5.0},
           {"type": "must_improve", "task": "qa", "metric": "exact_match", "min_effect": 0.1}]
    gp = gate_power(gates(*raw), {"tr": 200, "qa": 200}, {}, n_candidates=2)[0]
    level = 0.05 / 4  # two must_improve gates x two candidates
    sd = ASSUMED_SD_SHARE * 100
    z = norm.ppf(1 - level) + norm.ppf(0.8)
    assert gp.level == pytest.approx(level)
    assert gp.detectable == pytest.approx(5.0 + z * sd / math.sqrt(200))
    assert gp.n_needed == math.ceil((z * sd / 5.0) ** 2)


def test_unbounded_metric_without_a_stored_run_has_no_number():
    (gp,) = gate_power(gates({"type": "must_not_regress", "task": "tr", "metric": "bits_per_byte", "margin": 0.05}),
                       {"tr": 100}, {}, n_candidates=1)
    assert gp.detectable is None and gp.n_needed is None and "unbounded" in gp.basis


def test_suite_gate_counts_the_items_of_all_its_tasks():
    (gp,) = gate_power(gates({"type": "must_not_regress", "suite": "s", "metric": "exact_match", "margin": 0.05}),
                       {"qa": 100, "mc": 50}, {"s": ["qa", "mc"]}, n_candidates=1)
    assert gp.n == 150


def test_stored_runs_give_the_gates_own_estimate_scaled_to_the_planned_n():
    from evalkit.compare import estimates
    from evalkit.results import RunResult, TaskResult

    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 2, 300), rng.integers(0, 2, 300)

    def run(model, xs):
        samples = [{"task": "qa", "suite": "s", "id": f"i{i}", "group": None, "status": "ok",
                    "metrics": {"exact_match": float(x)}, "stats": {"exact_match": [float(x), 1.0]}} for i, x in enumerate(xs)]
        r = RunResult(model=model, backend="fake", identity={}, model_config={}, project="", tasks=[
            TaskResult(task="qa", suite="s", role="target", type="generate", status="ok", n=len(xs))], seed=0)
        r.samples = samples
        return r

    (gp,) = gate_power(gates({"type": "must_not_regress", "task": "qa", "metric": "exact_match", "margin": 0.05}),
                       {"qa": 1200}, {}, n_candidates=1, stored=(run("base", a), run("ft", b)))
    est = estimates.paired("exact_match", a.astype(float), b.astype(float), None)
    assert gp.basis.startswith("stored runs")
    assert gp.n_needed == est.n_needed(0.05, 0.05, 0.8, sided=1)
    assert gp.detectable == pytest.approx(est.mde(0.05, 0.8, sided=1) / 2)  # 4x the items: half the effect
