"""Time the contamination audit: 100,000 eval items against a generated training file.

The training file (plain text, paragraphs of 20 to 200 words from a 20,000-word vocabulary,
with 1,000 eval answers and 1,000 eval prompts planted in it) is written to a temporary
folder, audited with the default settings (13-grams, whole texts from 8 tokens, MinHash near
duplicates at Jaccard 0.8) and deleted. Writing the file is not timed. Prints items/s and
MB/s and the time a 1 GB file would take at that rate.

    python benchmarks/audit_speed.py            # 100 MB
    python benchmarks/audit_speed.py --mb 20 --no-near
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from evalkit.audit.audit import AuditSettings, EvalText, run_audit

N_ITEMS, VOCAB, PLANTED = 100_000, 20_000, 1_000


def _sentence(rng, words, k: int) -> str:
    return " ".join(words[rng.integers(0, len(words), k)])


def eval_items(rng, words) -> list[EvalText]:
    return [EvalText("bench", f"i{i}", _sentence(rng, words, int(rng.integers(10, 40))) + "?",
                     _sentence(rng, words, int(rng.integers(3, 15))) + ".") for i in range(N_ITEMS)]


def write_training(path: Path, mb: int, rng, words, items: list[EvalText]) -> tuple[int, int]:
    """Write about ``mb`` MB; return how many eval texts were planted in it (all of them,
    spread evenly through the file) and how many of those are 8 words or more (findable)."""
    planted = [items[i].reference for i in range(PLANTED)] + [items[i].prompt for i in range(PLANTED, 2 * PLANTED)]
    target = mb * 1_000_000
    with path.open("w", encoding="utf-8") as f:
        written = 0
        while written < target:
            lengths = rng.integers(20, 200, 2000)
            flat = words[rng.integers(0, len(words), int(lengths.sum()))]
            cuts = np.cumsum(lengths)[:-1]
            paras = [" ".join(p) for p in np.split(flat, cuts)]
            block_bytes = sum(len(p) + 2 for p in paras)
            blocks_left = max(1.0, (target - written) / block_bytes)
            for _ in range(min(len(planted), int(np.ceil(len(planted) / blocks_left)))):
                paras[int(rng.integers(0, len(paras)))] += " " + planted.pop() + " "
            block = "\n\n".join(paras) + "\n\n"
            f.write(block)
            written += len(block.encode())
    return 2 * PLANTED - len(planted), sum(len(t.split()) >= 8 for t in (it for it in
                                            [items[i].reference for i in range(PLANTED)] + [items[i].prompt for i in range(PLANTED, 2 * PLANTED)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100, help="training file size in MB (default 100: about a minute on a busy 2-core machine)")
    ap.add_argument("--no-near", action="store_true", help="n-gram overlap only (no MinHash)")
    args = ap.parse_args()
    rng = np.random.default_rng(2026)
    words = np.array([f"w{k}" for k in range(VOCAB)])
    items = eval_items(rng, words)
    tmp = Path(tempfile.mkdtemp(prefix="evalkit-audit-bench-"))
    try:
        train = tmp / "train.txt"
        planted, findable = write_training(train, args.mb, rng, words, items)
        size = train.stat().st_size
        started = time.perf_counter()
        res = run_audit(items, [train], AuditSettings(near_duplicate=None if args.no_near else 0.8))
        secs = time.perf_counter() - started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = sum(t.contaminated for t in res.tasks)
    scan = secs - res.index_seconds  # the part that grows with the training file
    print(f"{N_ITEMS:,} items x {size / 1e6:.0f} MB ({'n-grams only' if args.no_near else 'n-grams + near duplicates'}): "
          f"{secs:.1f} s in all; indexing the items {res.index_seconds:.1f} s ({N_ITEMS / res.index_seconds:,.0f} items/s), "
          f"scanning {scan:.1f} s ({size / 1e6 / scan:.1f} MB/s); 1 GB: {(res.index_seconds + 1e9 / size * scan) / 60:.1f} min; "
          f"contaminated found: {found} "
          f"(planted: {planted}, of which {findable} have 8 words or more)")


if __name__ == "__main__":
    main()
