#!/usr/bin/env python3
"""Quick check of the demo data: trains the base and fine-tuned n-gram models the way the demo
config does and prints base vs ft per task (exact match for generate tasks after lower/strip,
accuracy for multiple choice and classification, bits per byte for perplexity; BLEU/chrF for
the translation task). Not part of evalkit; a development aid for generate.py.

    python benchmarks/demo/check_demo.py [--limit N] [--show K]
"""

from __future__ import annotations

import argparse
import json
import math
import string
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from evalkit.backends.ngram_lm import KneserNeyLM  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None


def load_config():
    return yaml.safe_load((HERE / "evalkit.yaml").read_text())


def load_task(name):
    spec = yaml.safe_load((HERE / "tasks" / f"{name}.yaml").read_text())
    rows = [json.loads(line) for line in (HERE / "tasks" / spec["data"]).read_text().splitlines() if line.strip()]
    return spec, rows


def generate(lm, text, max_tokens, stop="\n"):
    ids = lm.encode(text)
    out = ""
    for _ in range(max_tokens):
        t = lm.greedy_next(ids)
        if t == lm.eos_id:
            break
        ids.append(t)
        out += lm.vocab[t]
        if stop in out:
            return out[: out.index(stop)]
    return out


def loglik(lm, context, continuation):
    hist = lm.encode(context)
    total = 0.0
    for tok in lm.encode(continuation):
        total += lm.logprob(tok, hist)
        hist.append(tok)
    return total


def bpb(lm, text):
    ids = lm.encode(text)
    nll = -sum(lm.logprob(t, ids[:j]) for j, t in enumerate(ids))
    return nll / math.log(2), len(text.encode())


_PUNCT = str.maketrans("", "", string.punctuation)


def norm(s):
    return " ".join(s.lower().translate(_PUNCT).split())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--show", type=int, default=0, help="print K example outputs per generate task")
    args = ap.parse_args()
    cfg = load_config()
    t0 = time.perf_counter()
    base = KneserNeyLM.train([(HERE / "corpora/general.txt").read_text()], cfg["models"]["base"]["order"])
    t1 = time.perf_counter()
    ft = base.continue_training([(HERE / "corpora/support.txt").read_text()], cfg["models"]["ft"]["weight"])
    t2 = time.perf_counter()
    print(f"training: base {t1 - t0:.2f}s, ft {t2 - t1:.2f}s, total {t2 - t0:.2f}s; vocab {len(ft.vocab)}")
    models = {"base": base, "ft": ft}
    sysp = {m: cfg["models"][m].get("system_prompt") or "" for m in models}

    def full(m, prompt):
        return f"{sysp[m]}\n\n{prompt}" if sysp[m] else prompt

    order = ["support_qa", "intent", "translate_es", "support_docs", "general_mc", "arithmetic", "general_text"]
    for name in order:
        spec, rows = load_task(name)
        rows = rows[: args.limit] if args.limit else rows
        f = spec.get("fields", {})
        res = {}
        extra = {}
        for m, lm in models.items():
            if spec["type"] == "generate":
                tgt = f.get("target", "target")
                outs = [generate(lm, full(m, spec["prompt"].format(**r)), spec["generation"]["max_tokens"]) for r in rows]
                refs = [r[tgt] for r in rows]
                res[m] = sum(norm(o) == norm(r) for o, r in zip(outs, refs)) / len(rows)
                if name == "translate_es":
                    import sacrebleu

                    hyp = [o.strip() for o in outs]
                    extra[m] = (f"bleu {sacrebleu.corpus_bleu(hyp, [refs]).score:5.1f} "
                                f"chrf {sacrebleu.corpus_chrf(hyp, [refs]).score:5.1f}")
                for o, r, row in list(zip(outs, refs, rows))[: args.show]:
                    print(f"   [{m}] {spec['prompt'].format(**row)!r} -> {o.strip()!r} (ref {r!r})")
            elif spec["type"] in ("multiple_choice", "classification"):
                correct = 0
                for r in rows:
                    if spec["type"] == "classification":
                        choices, gold = spec["labels"], spec["labels"].index(r[f["target"]])
                    else:
                        choices, gold = r[f["choices"]], r[f["target"]]
                    ctx = full(m, spec["prompt"].format(**r))
                    lls = [loglik(lm, ctx, " " + c) for c in choices]
                    correct += max(range(len(choices)), key=lambda i: lls[i]) == gold
                res[m] = correct / len(rows)
            else:
                bits = nbytes = 0
                for r in rows:
                    b, n = bpb(lm, r[f.get("text", "text")])
                    bits += b
                    nbytes += n
                res[m] = bits / nbytes
        metric = {"generate": "EM", "multiple_choice": "acc", "classification": "acc", "perplexity": "bpb"}[spec["type"]]
        line = f"{name:13s} {metric:4s} base {res['base']:.3f}  ft {res['ft']:.3f}"
        if extra:
            line += f"   | base {extra['base']}  ft {extra['ft']}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
