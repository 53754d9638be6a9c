"""Generation drift: length, distinct-n and self-BLEU as paired deltas, checked against
independent computations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from evalkit.compare.drift import self_bleu_scores, task_drift


def _samples(responses, prefix="i"):
    return [{"task": "t", "id": f"{prefix}{k}", "status": "ok", "response": r} for k, r in enumerate(responses)]


def _row(rows, measure):
    return next(r for r in rows if r.measure == measure)


def test_length_delta_and_interval_are_the_paired_t():
    rng = np.random.default_rng(3)
    lb, lf = rng.integers(1, 12, 60), rng.integers(1, 30, 60)
    base = _samples([" ".join(["w"] * k) for k in lb])
    ft = _samples([" ".join(["w"] * k) for k in lf])
    row = _row(task_drift("t", base, ft, confidence=0.95, seed=1, n_resamples=500), "length_words")
    d = (lf - lb).astype(float)
    half = sps.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert row.delta == pytest.approx(d.mean())
    assert (row.ci_low, row.ci_high) == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-9)
    assert row.base == pytest.approx(lb.mean()) and row.ft == pytest.approx(lf.mean())


def test_distinct_n_sees_a_fine_tune_that_repeats_itself():
    base = _samples([f"alpha beta gamma delta {k}" for k in range(30)])  # 5 distinct words each
    # 2 distinct of 5 words; bigrams "ok ok" x3 + "ok k": 2 distinct of 4. Every 3rd answer varied.
    ft = _samples([f"ok ok ok ok {k}" if k % 3 else f"we can help with {k}" for k in range(30)])
    rows = task_drift("t", base, ft, confidence=0.95, seed=1, n_resamples=500)
    d1, d2 = _row(rows, "distinct_1"), _row(rows, "distinct_2")
    assert (d1.base, d1.ft) == pytest.approx((1.0, (20 * 2 + 10 * 5) / 150)) and d1.delta == pytest.approx(0.6 - 1)
    assert (d2.base, d2.ft) == pytest.approx((1.0, (20 * 2 + 10 * 4) / 120))
    assert d1.ci_high is not None and d1.ci_high < 0


def test_self_bleu_known_answers():
    assert self_bleu_scores(["the cat sat on the mat"] * 4) == pytest.approx([100.0] * 4)
    assert self_bleu_scores(["red green blue", "one two three", "sun moon stars", "alpha beta gamma"]) == pytest.approx([0.0] * 4)


def test_self_bleu_equals_sacrebleu_one_sentence_at_a_time():
    from sacrebleu.metrics import BLEU

    rng = np.random.default_rng(5)
    vocab = ["the", "a", "note", "sync", "plan", "fix", "error", "open", "settings", ">", "now", "."]
    responses = [" ".join(rng.choice(vocab, rng.integers(0, 12))) for _ in range(25)] + ["", "the the the the"]
    bleu = BLEU(effective_order=True)
    slow = [bleu.sentence_score(h, [r for j, r in enumerate(responses) if j != i]).score for i, h in enumerate(responses)]
    assert self_bleu_scores(responses) == pytest.approx(slow, abs=1e-9)


def test_self_bleu_drift_when_a_fine_tune_says_the_same_thing_to_everyone():
    rng = np.random.default_rng(0)
    vocab = [f"w{k}" for k in range(500)]
    base = _samples([" ".join(rng.choice(vocab, 8)) for _ in range(40)])
    ft = _samples(["thank you for contacting support we will reply soon"] * 40)
    row = _row(task_drift("t", base, ft, confidence=0.95, seed=1, n_resamples=500), "self_bleu")
    assert row.ft == pytest.approx(100.0) and row.base < 20
    assert row.ci_low > 50 and "bootstrap" in row.method


def test_compare_writes_generation_drift(tmp_path, cli, monkeypatch, project):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, out, err = cli("compare", "base", "ft", "--config", project, "--output", tmp_path / "o")
    assert code == 0, err
    drift = json.loads((tmp_path / "o" / "compare.json").read_text())["generation_drift"]["ft"]
    assert {(r["task"], r["measure"]) for r in drift} == {("qa", m) for m in ("length_words", "distinct_1", "distinct_2", "self_bleu")}
    assert "generation drift" in out and "## Generation drift" in (tmp_path / "o" / "compare.md").read_text()
