"""Log-likelihood throughput: evalkit's hf backend against lm-eval's HFLM, same model, same
requests, same batch size, on CPU; the results must be identical.

The model is a random GPT-2 (4 layers, width 128, a 512-token BPE vocabulary trained on the
demo corpus) built locally: nothing is downloaded. Two multiple-choice tasks, the two common
shapes:
- ``general_mc``: the demo's general-knowledge task (218 cloze questions of about 15 tokens,
  four answers of 1-8 tokens: the shape of ARC, OpenBookQA, MMLU as cloze);
- ``endings``: HellaSwag-like, built from the demo's general-English corpus: the first half of
  a sentence, and as choices its true second half and those of three other sentences (300
  questions; contexts and endings of 10-20 tokens each).
Both sides get exactly the same (context, continuation) pairs, as both harnesses would make
them from the task: evalkit through ``HFBackend.submit``, lm-eval through
``HFLM.loglikelihood``. Runs alternate, and the median of the repetitions is reported.

    python benchmarks/hf_loglikelihood.py [--batch-size 16 32] [--repeats 7]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return f"{cpu}, {os.cpu_count()} cores ({torch.get_num_threads()} torch threads), {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def general_mc() -> list[tuple[str, list[str], int]]:
    import json

    from evalkit.config import demo_dir

    rows = [json.loads(line) for line in (demo_dir() / "tasks" / "data" / "general_mc.jsonl").read_text().splitlines() if line.strip()]
    return [(r["question"], r["choices"], r["answer_index"]) for r in rows]


def endings(n_questions: int = 300, seed: int = 0) -> list[tuple[str, list[str], int]]:
    from evalkit.config import demo_dir

    text = (demo_dir() / "corpora" / "general.txt").read_text(encoding="utf-8")
    sentences = sorted({s.strip() for s in re.split(r"(?<=[.!?])\s+", text)
                        if len(s.split()) >= 10 and "Question" not in s and "Answer" not in s})
    rng = random.Random(seed)
    rng.shuffle(sentences)

    def halves(s):
        words = s.split()
        return " ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])

    task = []
    for s in sentences[:n_questions]:
        ctx, end = halves(s)
        choices = [end] + [halves(o)[1] for o in rng.sample(sentences, 3)]
        rng.shuffle(choices)
        task.append((ctx, choices, choices.index(end)))
    return task


def measure(path: Path, task: list, batch_size: int, repeats: int) -> tuple[float, float, float, bool]:
    """(evalkit s, lm-eval s, max abs difference, shared-prefix reuse) for one task."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from evalkit.backends.base import LoglikelihoodRequest
    from evalkit.backends.hf import HFBackend, HFConfig
    from evalkit.backends.registry import BackendContext

    pairs = [(c, " " + x) for c, choices, _ in task for x in choices]
    hflm = HFLM(pretrained=str(path), device="cpu", batch_size=batch_size)
    ctx = BackendContext(root=path.parent, cache_dir=path.parent, backend_for=lambda n: None)
    ours = HFBackend.create(HFConfig(model=path.name, device="cpu", batch_size=batch_size), ctx)
    instances = [Instance("loglikelihood", {}, p, 0) for p in pairs]
    requests = [LoglikelihoodRequest(*p) for p in pairs]

    def run_lm_eval():
        return hflm.loglikelihood(instances, disable_tqdm=True)

    def run_evalkit():
        got = dict(ours.submit(requests))
        return [(got[i].logprob, got[i].is_greedy) for i in range(len(requests))]

    ref, mine = run_lm_eval(), run_evalkit()  # warm-up, and the results must agree
    worst = max(abs(a[0] - b[0]) for a, b in zip(ref, mine))
    assert worst <= 1e-6 and all(a[1] == b[1] for a, b in zip(ref, mine)), f"results differ by {worst}"
    times: dict[str, list[float]] = {"lm-eval": [], "evalkit": []}
    for _ in range(repeats):
        for name, fn in (("lm-eval", run_lm_eval), ("evalkit", run_evalkit)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    reuse = ours.run_info()["prefix_reuse"]
    ours.close()
    return statistics.median(times["evalkit"]), statistics.median(times["lm-eval"]), worst, reuse


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    from evalkit.backends.hf_tiny import build_tiny_model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_model(Path(tmp) / "bench", n_layer=4, n_embd=128, n_head=4, n_positions=512)
        for task_name, task in (("general_mc", general_mc()), ("endings", endings())):
            n = sum(len(choices) for _, choices, _ in task)
            for bs in args.batch_size:
                ek_t, lm_t, worst, reuse = measure(path, task, bs, args.repeats)
                rows.append((task_name, n, bs, n / ek_t, n / lm_t, lm_t / ek_t, worst, reuse))

    import lm_eval
    import torch
    import transformers

    print(f"Machine: {machine()}; torch {torch.__version__}, transformers {transformers.__version__}, lm-eval {lm_eval.__version__}")
    print(f"Median of {args.repeats} alternating runs per row; every row asserts identical results.\n")
    print("| task | requests | batch size | evalkit req/s | lm-eval HFLM req/s | ratio | max abs diff | shared-prefix reuse |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, n, bs, ek, lm, ratio, worst, reuse in rows:
        print(f"| {name} | {n:,} | {bs} | {ek:,.0f} | {lm:,.0f} | {ratio:.2f}x | {worst:.1e} | {'on' if reuse else 'off'} |")
    missed = [f"{r[0]} at batch size {r[2]}" for r in rows if r[5] < 1.2]
    print(f"\nTarget (at least 1.2x lm-eval): {'met' if not missed else 'NOT met for ' + ', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
