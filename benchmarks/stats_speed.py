"""Time the verdict statistics on 20 tasks x 100,000 items (target: well under 1 s).

Half the tasks are binary (accuracy-like, stats [score, 1]) and half BLEU-like (10 count
columns). For each task: paired_estimate, its 95 % CI, both one-sided bounds, the
one-sided and two-sided p-values and the MDE. Building the data is not timed.

    python benchmarks/stats_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from evalkit.metrics.classification import Accuracy
from evalkit.metrics.translation import Bleu
from evalkit.stats import paired_estimate

N_TASKS, N_ITEMS = 20, 100_000


def _binary(rng):
    a = (rng.random(N_ITEMS) < 0.7).astype(float)
    b = np.where(rng.random(N_ITEMS) < 0.1, 1.0 - a, a)
    ones = np.ones(N_ITEMS)
    return np.c_[a, ones], np.c_[b, ones]


def _bleu_like(rng):
    def one():
        ref_len = rng.integers(5, 40, N_ITEMS).astype(float)
        sys_len = np.maximum(1.0, ref_len + rng.integers(-5, 6, N_ITEMS))
        total = np.maximum(sys_len[:, None] - np.arange(4), 0.0)
        correct = np.floor(total * rng.uniform(0.1, 0.8, (N_ITEMS, 1)) ** (1 + np.arange(4)))
        return np.c_[sys_len, ref_len, correct, total]

    return one(), one()


def main() -> None:
    rng = np.random.default_rng(0)
    acc, bleu = Accuracy(), Bleu()
    tasks = [(_binary(rng), acc.from_stats, True, (0.0, 1.0)) if i % 2 == 0
             else (_bleu_like(rng), bleu.from_stats, False, (0.0, 100.0)) for i in range(N_TASKS)]
    paired_estimate(*tasks[0][0], tasks[0][1], binary=True).ci(0.05)  # warm the lazy imports
    start = time.perf_counter()
    for (sa, sb), from_stats, binary, value_range in tasks:
        est = paired_estimate(sa, sb, from_stats, binary=binary, value_range=value_range)
        est.ci(0.05), est.lower_bound(0.05), est.upper_bound(0.05)
        est.p_greater(-0.01), est.p_less(0.01), est.p_two_sided(), est.mde(0.05)
    seconds = time.perf_counter() - start
    print(f"{N_TASKS} tasks x {N_ITEMS:,} items: {seconds:.3f} s")


if __name__ == "__main__":
    main()
