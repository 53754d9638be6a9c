"""The real vLLM engine on a GPU: one short check for a machine that has one (the tests use a
stand-in, tests/vllm_standin.py, because vLLM cannot run on CPU-only machines).

It builds a tiny random Llama and a LoRA adapter locally (no download), then
1. runs ``compare base ft`` with ``backend: vllm`` and asserts that ONE engine was built;
2. runs ``evalkit parity`` of vllm against hf (same weights, float16, same GPU) for the base
   and for the adapter, and prints the agreement and log-likelihood differences.

    python benchmarks/vllm_gpu_check.py [--items 20] [--keep DIR]

Exit 0 when one engine served both models and both parity checks ran; the agreement numbers
are printed, not asserted (float16 kernels differ between the two stacks; read them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_TASKS = ROOT / "benchmarks" / "demo" / "tasks"


def build(root: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from evalkit.backends.hf_tiny import build_tokenizer

    tok = build_tokenizer(root / "base", vocab_size=512)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                      bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # wide weights: clear winners, so ties cannot hide differences
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.1)
    model.save_pretrained(root / "base")
    lora = get_peft_model(LlamaForCausalLM.from_pretrained(root / "base"),
                          LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.2)
    lora.save_pretrained(root / "lora")


def project(root: Path) -> Path:
    (root / "tasks" / "data").mkdir(parents=True)
    for name in ("arithmetic", "general_mc", "general_text"):
        shutil.copy(DEMO_TASKS / f"{name}.yaml", root / "tasks")
        shutil.copy(DEMO_TASKS / "data" / f"{name}.jsonl", root / "tasks" / "data")
    v = "backend: vllm, model: base, dtype: float16, enforce_eager: true, gpu_memory_utilization: 0.3, max_model_len: 257"
    h = "backend: hf, model: base, dtype: float16, device: cuda, max_length: 256"
    (root / "evalkit.yaml").write_text(
        "cache_dir: .cache\ntasks: [tasks/*.yaml]\nmodels:\n"
        f"  vllm-base: {{{v}}}\n  vllm-ft: {{{v}, adapter: lora}}\n"
        f"  hf-base: {{{h}}}\n  hf-ft: {{{h}, adapter: lora}}\n"
    )
    return root / "evalkit.yaml"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--keep", type=Path, default=None, help="work here and keep the files")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="vllm-check-"))
    root.mkdir(parents=True, exist_ok=True)
    build(root)
    cfg = project(root)

    from evalkit.backends import vllm_engine
    from evalkit.cli.main import main as evalkit

    code = evalkit(["compare", "vllm-base", "vllm-ft", "--config", str(cfg), "--limit", str(args.items),
                    "--output", str(root / "cmp"), "--quiet"])
    engines = vllm_engine.LOAD_COUNT["n"]
    print(f"compare vllm-base vllm-ft: exit {code}, vLLM engines built: {engines}")
    ok = code in (0, 1) and engines == 1
    for ref, other in (("hf-base", "vllm-base"), ("hf-ft", "vllm-ft")):
        out = root / f"parity-{other}.json"
        with open(out, "w") as fh:
            old, sys.stdout = sys.stdout, fh
            try:
                code = evalkit(["parity", ref, other, "--config", str(cfg), "--items", str(args.items), "--json"])
            finally:
                sys.stdout = old
        report = json.loads(out.read_text())
        print(f"parity {other} vs {ref}: exit {code}, agreement {report['agreement']:.3f} over {report['n']} items")
        for t in report["tasks"]:
            print(f"  {t['task']:14s} {t['method']:22s} agree {t['agreement']:.3f}  |dll| max {t['ll_abs_diff_max']}")
        ok = ok and code in (0, 1)
    print("OK" if ok else "FAILED", f"(files in {root})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
