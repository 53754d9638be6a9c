"""Known-answer tests for the linearised estimates: paired t, delta method, CR1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalkit.metrics.classification import Accuracy, MacroF1
from evalkit.metrics.perplexity import BitsPerByte
from evalkit.stats import MIN_CLUSTERS, paired_bootstrap, paired_estimate


def _mean_stats(x: np.ndarray) -> np.ndarray:
    return np.c_[x, np.ones_like(x)]


def test_paired_t_equals_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 40)
    b = np.clip(a + rng.normal(0.05, 0.2, 40), 0, 1)
    est = paired_estimate(_mean_stats(a), _mean_stats(b), Accuracy().from_stats, binary=False)
    ref = stats.ttest_rel(b, a)
    assert est.method == "paired-t" and est.df == 39
    assert est.delta == pytest.approx(float(np.mean(b - a)), rel=1e-12)
    assert est.p_two_sided() == pytest.approx(ref.pvalue, rel=1e-10)
    low, high = ref.confidence_interval(0.9)
    assert est.ci(0.10) == pytest.approx((low, high), rel=1e-10)
    one = stats.ttest_rel(b, a, alternative="greater").confidence_interval(0.95)
    assert est.lower_bound(0.05) == pytest.approx(one.low, rel=1e-10)
    assert est.p_greater(0.0) == pytest.approx(stats.ttest_rel(b, a, alternative="greater").pvalue, rel=1e-10)
    assert est.p_less(0.3) == pytest.approx(stats.ttest_rel(b - 0.3, a, alternative="less").pvalue, rel=1e-10)
    # 1-D stats are the scores themselves.
    assert paired_estimate(a, b, None, binary=False).se == pytest.approx(est.se, rel=1e-12)


def _bpb_items(rng, n, shift):
    n_bytes = rng.integers(50, 800, n).astype(float)
    nll = n_bytes * rng.gamma(20, 0.05, n) * (1 + shift)  # nats, about 1 per byte
    return np.c_[nll, n_bytes]


def test_delta_method_bits_per_byte_equals_ratio_estimator_se():
    rng = np.random.default_rng(1)
    sa = _bpb_items(rng, 300, 0.0)
    sb = sa.copy()
    sb[:, 0] = sa[:, 0] * rng.normal(0.97, 0.05, 300)
    est = paired_estimate(sa, sb, BitsPerByte().from_stats, binary=False)
    assert est.method == "delta-method-t" and est.df == 299
    # Hand-derived: R = sum(nll) / sum(bytes); the ratio estimator's linearisation is
    # (nll_i - R bytes_i) / mean(bytes); bits per byte divides by ln 2.
    def lin(s):
        r = s[:, 0].sum() / s[:, 1].sum()
        return (s[:, 0] - r * s[:, 1]) / s[:, 1].mean() / math.log(2)

    d = lin(sb) - lin(sa)
    hand_se = d.std(ddof=1) / math.sqrt(300)
    assert est.se == pytest.approx(hand_se, rel=1e-6)
    expected = (sb[:, 0].sum() - sa[:, 0].sum()) / sa[:, 1].sum() / math.log(2)
    assert est.delta == pytest.approx(expected, rel=1e-12)


_WORDS = ("the a cat dog house tree river boat man woman child sees likes paints finds red green old new "
          "small big near after before in on every morning rain garden station letter door car").split()


def _sentences(rng, n):
    return [" ".join(rng.choice(_WORDS, rng.integers(6, 16))) for _ in range(n)]


def _corrupt(rng, sentence, rate):
    words = sentence.split()
    return " ".join(w if rng.random() > rate else str(rng.choice(_WORDS)) for w in words)


@pytest.mark.parametrize("name", ["bleu", "chrf"])
def test_delta_method_tracks_the_bootstrap_for_corpus_metrics(name):
    pytest.importorskip("sacrebleu")
    from evalkit.metrics.translation import Bleu, Chrf

    metric = Bleu() if name == "bleu" else Chrf()
    rng = np.random.default_rng(2)
    refs = _sentences(rng, 500)
    rates_a, rates_b = rng.uniform(0.1, 0.6, 500), rng.uniform(0.05, 0.55, 500)
    hyp_a = [_corrupt(rng, r, p) for r, p in zip(refs, rates_a)]
    hyp_b = [_corrupt(rng, r, p) for r, p in zip(refs, rates_b)]
    sacre = metric.sacre()
    sa = np.array(sacre._extract_corpus_statistics(hyp_a, [refs]), dtype=float)
    sb = np.array(sacre._extract_corpus_statistics(hyp_b, [refs]), dtype=float)
    est = paired_estimate(sa, sb, metric.from_stats, binary=False, value_range=(0.0, 100.0))
    boot = paired_bootstrap(sa, sb, metric.from_stats, n_resamples=4000, rng=np.random.default_rng(3))
    assert est.method == "delta-method-t" and not est.se_floored
    assert est.delta == pytest.approx(boot.delta, rel=1e-12)
    assert est.se == pytest.approx(boot.se, rel=0.10)


def _cr1_case(rng, n_clusters, size):
    groups = np.repeat(np.arange(n_clusters), size)
    effect = rng.normal(0, 0.15, n_clusters)[groups]
    a = rng.uniform(0, 1, groups.size)
    b = np.clip(a + 0.02 + effect + rng.normal(0, 0.1, groups.size), 0, 1)
    return a, b, groups


def test_cr1_equals_statsmodels_cluster_ols():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(4)
    a, b, groups = _cr1_case(rng, 20, 7)
    est = paired_estimate(_mean_stats(a), _mean_stats(b), Accuracy().from_stats, binary=False,
                          groups=groups.astype(str))
    fit = sm.OLS(b - a, np.ones(a.size)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert est.method == "cr1-t" and est.n_clusters == 20 and est.df == 19
    assert est.se == pytest.approx(float(fit.bse[0]), rel=1e-10)
    assert est.p_two_sided() == pytest.approx(2 * stats.t.sf(abs(fit.params[0] / fit.bse[0]), 19), rel=1e-9)


def test_cr1_on_delta_method_influence_values_equals_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(15), 6)
    sa = _bpb_items(rng, groups.size, 0.0)
    sb = sa.copy()
    sb[:, 0] *= rng.normal(0.95, 0.1, 15)[groups]
    est = paired_estimate(sa, sb, BitsPerByte().from_stats, binary=False, groups=groups)

    def lin(s):
        r = s[:, 0].sum() / s[:, 1].sum()
        return (s[:, 0] - r * s[:, 1]) / s[:, 1].mean() / math.log(2)

    fit = sm.OLS(lin(sb) - lin(sa), np.ones(groups.size)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert est.se == pytest.approx(float(fit.bse[0]), rel=1e-6)


def test_too_few_clusters_is_unusable():
    rng = np.random.default_rng(6)
    a, b, groups = _cr1_case(rng, MIN_CLUSTERS - 1, 10)
    est = paired_estimate(_mean_stats(a), _mean_stats(b), Accuracy().from_stats, binary=False,
                          groups=groups)
    assert not est.usable and est.reason == f"only {MIN_CLUSTERS - 1} clusters; need >= {MIN_CLUSTERS}"
    assert math.isnan(est.lower_bound(0.05)) and math.isnan(est.p_greater(-0.1)) and est.mde(0.05) == math.inf
    one = paired_estimate(_mean_stats(a), _mean_stats(b), Accuracy().from_stats, binary=False,
                          groups=np.zeros(a.size))
    assert not one.usable and one.reason.startswith("only 1 clusters")


def test_grouped_binary_uses_cr1():
    rng = np.random.default_rng(7)
    groups = np.repeat(np.arange(12), 5)
    a = (rng.random(60) < 0.6).astype(float)
    b = (rng.random(60) < 0.7).astype(float)
    est = paired_estimate(_mean_stats(a), _mean_stats(b), Accuracy().from_stats, binary=True, groups=groups)
    assert est.method == "cr1-t" and est.n_clusters == 12 and est.delta == pytest.approx(np.mean(b - a))


def test_zero_spread_floor_and_unusable():
    x = np.full(10, 0.7)
    no_range = paired_estimate(x, x, None, binary=False)
    assert not no_range.usable and no_range.reason.startswith("no spread observed")
    floored = paired_estimate(x, x + 0.1, None, binary=False, value_range=(0.0, 1.0))
    assert floored.usable and floored.se_floored
    assert floored.se == pytest.approx(math.sqrt(3) / 10)
    low, high = floored.ci(0.05)
    assert high - low > 0.5 and floored.mde(0.05) > 0.3 and floored.n_needed(0.05, 0.05) > 100
    assert floored.p_greater(0.0) > 0.05  # ten identical +0.1 shifts prove nothing at n = 10
    single = paired_estimate(x[:1], x[:1] + 0.1, None, binary=False, value_range=(0.0, 1.0))
    assert not single.usable and "need >= 2" in single.reason


def test_non_finite_statistics_make_the_estimate_unusable():
    rng = np.random.default_rng(8)
    sa = _bpb_items(rng, 20, 0.0)
    sb = sa.copy()
    sb[3, 0] = -np.inf
    est = paired_estimate(sa, sb, BitsPerByte().from_stats, binary=False)
    assert not est.usable and "non-finite" in est.reason and "fine-tune" in est.reason
    sb[3, 0] = np.nan
    assert not paired_estimate(sb, sa, BitsPerByte().from_stats, binary=False).usable
    zero_bytes = sa.copy()
    zero_bytes[:, 1] = 0.0
    bad = paired_estimate(zero_bytes, zero_bytes, BitsPerByte().from_stats, binary=False)
    assert not bad.usable and "not finite" in bad.reason


def test_macro_f1_delta_method_runs_with_constant_columns():
    rng = np.random.default_rng(9)
    labels = ["x", "y", "z", "never"]
    metric = MacroF1(labels)
    from evalkit.metrics.base import Observation

    gold = rng.choice(labels[:3], 200)
    def stats_for(acc):
        pred = np.where(rng.random(200) < acc, gold, rng.choice(labels[:3], 200))
        return np.array([metric.item_stats(Observation(prediction=p, references=(g,))) for p, g in zip(pred, gold)])

    sa, sb = stats_for(0.6), stats_for(0.75)
    est = paired_estimate(sa, sb, metric.from_stats, binary=False, value_range=(0.0, 1.0))
    boot = paired_bootstrap(sa, sb, metric.from_stats, n_resamples=3000, rng=np.random.default_rng(10))
    assert est.usable and est.delta == pytest.approx(boot.delta, rel=1e-12)
    assert est.se == pytest.approx(boot.se, rel=0.12)


def test_n_needed_inverts_mde():
    rng = np.random.default_rng(11)
    a = rng.uniform(0, 1, 200)
    b = np.clip(a + rng.normal(0.0, 0.3, 200), 0, 1)
    est = paired_estimate(a, b, None, binary=False)
    m = est.mde(0.05, 0.8, 1)
    assert est.n_needed(m, 0.05, 0.8, 1) == pytest.approx(200, abs=1)
    assert est.n_needed(m / 2, 0.05, 0.8, 1) == pytest.approx(800, rel=0.02)


def test_bleu_with_an_order_never_seen_stays_finite():
    """Short outputs: no item has a 4-gram, so BLEU's 4-gram columns are zero everywhere and
    its derivative there does not exist; those columns carry no noise and are skipped."""
    from evalkit.metrics.translation import Bleu

    rng = np.random.default_rng(12)

    def items():
        ref_len = rng.integers(2, 4, 200).astype(float)
        sys_len = ref_len.copy()
        total = np.maximum(sys_len[:, None] - np.arange(4), 0.0)
        total[:, 3] = 0.0
        correct = np.floor(total * rng.uniform(0.3, 1.0, (200, 1)))
        return np.c_[sys_len, ref_len, correct, total]

    sa, sb = items(), items()
    metric = Bleu()
    est = paired_estimate(sa, sb, metric.from_stats, binary=False, value_range=(0.0, 100.0))
    assert est.usable and math.isfinite(est.se) and est.se > 0
    assert est.delta == pytest.approx(float(metric.from_stats(sb.sum(0)) - metric.from_stats(sa.sum(0))))
