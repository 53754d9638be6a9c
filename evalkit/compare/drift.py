"""Generation drift: did the fine-tune become terse, verbose or repetitive?

On every generate task, per model: response length (words), distinct-1 and distinct-2, and
self-BLEU, each as a paired delta (fine-tune - base) over the items both models answered.

- Length and distinct-n are ratios of per-item sums (words / items; distinct n-grams within
  a response / n-grams in it, pooled over items, so an empty answer weighs nothing rather
  than counting as 0 or 1), estimated with ``evalkit.stats.paired_estimate`` (delta method;
  CR1 when items are clustered).
- Self-BLEU (Zhu et al. 2018, Texygen) is a corpus statistic: each response is scored with
  sacrebleu against all the *other* responses of the same model, and the scores averaged;
  high means the model says the same things to every prompt. Its interval is a paired
  bootstrap over items of those per-response scores with the reference pools held fixed
  (it leaves out the pools' own sampling variation, so it is somewhat narrow). More
  references mean more matches, so the pool is at most ``SELF_BLEU_ITEMS`` items (a seeded
  sample shared by both models): the score then does not grow with the task's size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from evalkit.compare.compare import align_items, item_groups, paired_keep, resample_rng
from evalkit.compare.sections import Section

SELF_BLEU_ITEMS = 200


@dataclass(frozen=True)
class DriftRow:
    task: str
    measure: str  # length_words | distinct_1 | distinct_2 | self_bleu
    base: float | None
    ft: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str


def _text(response) -> str:
    """A response as text: None (no answer) is empty; a non-text one (an lm-eval choice index) its str."""
    return response if isinstance(response, str) else "" if response is None else str(response)


def _words(text) -> list[str]:
    return _text(text).lower().split()


def _distinct_stats(responses, n: int) -> np.ndarray:
    rows = []
    for r in responses:
        w = _words(r)
        grams = [tuple(w[i:i + n]) for i in range(len(w) - n + 1)]
        rows.append((len(set(grams)), len(grams)))
    return np.array(rows, dtype=float).reshape(-1, 2)


def self_bleu_scores(responses: list[str]) -> np.ndarray:
    """Each response's sentence BLEU (0-100, sacrebleu's defaults: 13a tokens, exp smoothing,
    effective order) against every other response.

    Equal to ``BLEU(effective_order=True).sentence_score(r_i, others)`` for each i, but each
    response's n-grams are counted once: the clip count "max over the other responses" is the
    largest count, or the second largest when response i holds the largest. That makes it
    O(n-grams) instead of O(n^2) sacrebleu calls."""
    from collections import Counter

    from sacrebleu.metrics import BLEU
    from sacrebleu.metrics.helpers import extract_all_word_ngrams

    bleu = BLEU(effective_order=True)
    order = bleu.max_ngram_order
    grams, lens = zip(*(extract_all_word_ngrams(bleu._preprocess_segment(r or ""), 1, order) for r in responses))
    top: dict = {}  # n-gram -> (largest count, its owner, second largest count)
    for i, counter in enumerate(grams):
        for g, c in counter.items():
            c1, owner, c2 = top.get(g, (0, -1, 0))
            top[g] = (c, i, c1) if c > c1 else (c1, owner, max(c2, c))
    len_counts = Counter(lens)
    out = []
    for i, counter in enumerate(grams):
        correct, total = [0] * order, [0] * order
        for g, c in counter.items():
            c1, owner, c2 = top[g]
            total[len(g) - 1] += c
            correct[len(g) - 1] += min(c, c2 if owner == i else c1)
        len_counts[lens[i]] -= 1  # the closest length among the others (ties: the shorter, as sacrebleu)
        ref_len = min((abs(L - lens[i]), L) for L, k in len_counts.items() if k > 0)[1]
        len_counts[lens[i]] += 1
        out.append(BLEU.compute_bleu(correct, total, lens[i], ref_len, smooth_method=bleu.smooth_method,
                                     smooth_value=bleu.smooth_value, effective_order=True, max_ngram_order=order).score)
    return np.array(out, dtype=float)


def _finite(x) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def _ratio_row(task, measure, sa, sb, groups, alpha, value_range=None) -> DriftRow:
    from evalkit.stats import paired_estimate

    ratio = lambda s: s[..., 0] / s[..., 1]  # noqa: E731
    with np.errstate(all="ignore"):
        base, ft = (_finite(ratio(s.sum(axis=0))) for s in (sa, sb))
        est = paired_estimate(sa, sb, ratio, binary=False, groups=groups, value_range=value_range)
    if not est.usable:
        return DriftRow(task, measure, base, ft, None if base is None or ft is None else ft - base, None, None, len(sa), est.method)
    low, high = est.ci(alpha)
    return DriftRow(task, measure, base, ft, _finite(est.delta), _finite(low), _finite(high), len(sa), est.method)


def _self_bleu_row(task, rb, rf, groups, alpha, rng, n_resamples) -> DriftRow:
    from evalkit.stats import paired_bootstrap

    idx = np.arange(len(rb))
    if len(idx) > SELF_BLEU_ITEMS:
        idx = np.sort(rng.choice(len(idx), SELF_BLEU_ITEMS, replace=False))
    if len(idx) < 3:
        return DriftRow(task, "self_bleu", None, None, None, None, None, len(idx), "too few items")
    sa, sb = (self_bleu_scores([r[i] for i in idx]) for r in (rb, rf))
    ones = np.ones((len(idx), 1))
    g = None if groups is None else [groups[i] for i in idx]
    boot = paired_bootstrap(np.hstack([sa[:, None], ones]), np.hstack([sb[:, None], ones]), lambda s: s[..., 0] / s[..., 1],
                            n_resamples=n_resamples, rng=rng, alpha=alpha, groups=g)
    return DriftRow(task, "self_bleu", float(sa.mean()), float(sb.mean()), float(boot.delta), boot.ci_low, boot.ci_high,
                    len(idx), f"paired bootstrap over items, pools fixed ({n_resamples} resamples)")


def task_drift(task: str, b: list[dict], f: list[dict], *, confidence: float, seed: int, n_resamples: int) -> list[DriftRow]:
    b, f = align_items(task, b, f)
    keep = paired_keep(b, f)
    b, f = [b[i] for i in keep], [f[i] for i in keep]
    if not b:
        return []
    alpha, groups = 1 - confidence, item_groups(task, b)
    rb, rf = [_text(s.get("response")) for s in b], [_text(s.get("response")) for s in f]
    length = [np.array([[len(_words(r)), 1.0] for r in rs]) for rs in (rb, rf)]
    rows = [_ratio_row(task, "length_words", *length, groups, alpha)]
    for n in (1, 2):
        rows.append(_ratio_row(task, f"distinct_{n}", _distinct_stats(rb, n), _distinct_stats(rf, n), groups, alpha, (0.0, 1.0)))
    rows.append(_self_bleu_row(task, rb, rf, groups, alpha, resample_rng(seed, task, "self_bleu"), n_resamples))
    return rows


def generation_drift(base_run, run, *, confidence: float, seed: int, n_resamples: int = 2000) -> list[DriftRow]:
    from evalkit.compare.columns import RunColumns

    sb, sf = RunColumns(base_run), RunColumns(run)
    rows = []
    for tb in base_run.tasks:
        tf = run.task(tb.task)
        if tb.type != "generate" or tb.status != "ok" or tf is None or tf.status != "ok":
            continue
        rows += task_drift(tb.task, sb.samples_for(tb.task), sf.samples_for(tb.task),
                           confidence=confidence, seed=seed, n_resamples=n_resamples)
    return rows


def _memo_drift(cache, base_run, run, **kw) -> list[DriftRow]:
    """generation_drift, memoised in the response cache by everything it depends on (a
    repeated compare then spends nothing on self-BLEU's resamples)."""
    from dataclasses import asdict

    from evalkit.compare.compare import run_fingerprint
    from evalkit.runner.cache import code_version, digest

    if cache is None:
        return generation_drift(base_run, run, **kw)
    key = digest({"v": 1, "drift": True, "code": code_version(), "base": run_fingerprint(base_run),
                  "ft": run_fingerprint(run), **kw})
    hit = cache.memo_get(key)
    if hit is not None:
        return [DriftRow(**row) for row in hit]
    rows = generation_drift(base_run, run, **kw)
    cache.memo_put(key, "drift", [asdict(row) for row in rows])
    return rows


def drift_hook(con, base_run, runs, *, confidence: float, seed: int, n_resamples: int, cache=None) -> Section:
    """Compute and print the generation drift section; compare.json and compare.md parts."""
    from rich.table import Table

    from evalkit.report.format import num, signed

    by = {r.model: _memo_drift(cache, base_run, r, confidence=confidence, seed=seed, n_resamples=min(n_resamples, 2000))
          for r in runs}
    if not any(by.values()):
        return Section({})
    pct = round(confidence * 100)
    md = ["", "## Generation drift", "",
          f"Per generate task: words per response, distinct-1/2 (distinct n-grams within a response over all its n-grams, "
          f"pooled) and self-BLEU (each response against the model's other responses; higher = more repetitive). "
          f"delta = candidate - base, paired, {pct}% interval (delta method; self-BLEU: paired bootstrap, pools fixed).", "",
          "| candidate | task | measure | base | candidate value | delta [CI] | n |", "|---|---|---|---:|---:|---|---:|"]
    for cand, rows in by.items():
        table = Table(title=f"generation drift: {cand} vs {base_run.model} (paired delta, {pct}% interval)")
        for col in ("task", "measure", base_run.model, cand, "delta [CI]", "n"):
            table.add_column(col, justify="left" if col in ("task", "measure") else "right")
        for r in rows:
            ci = f"{signed(r.delta)} [{signed(r.ci_low)}, {signed(r.ci_high)}]"
            table.add_row(r.task, r.measure, num(r.base), num(r.ft), ci, str(r.n))
            md.append(f"| {cand} | {r.task} | {r.measure} | {num(r.base)} | {num(r.ft)} | {ci} | {r.n} |")
        con.print(table)
    return Section({"generation_drift": {c: [asdict(r) for r in rows] for c, rows in by.items()}}, "\n".join(md) + "\n")
