"""`evalkit ls`: what tells models apart, item counts, which model can run which task, all
without building a backend (no torch, no transformers, no network)."""

from __future__ import annotations

import subprocess
import sys

from conftest import make_project

MODELS = (
    "  base: {backend: hf, model: gpt2}\n"
    "  ft: {backend: hf, model: gpt2, adapter: lora}\n"
    "  chat: {backend: openai, model: gpt-4o-mini-2024-07-18, api: chat}\n"
)


def _row(out: str, task: str) -> list[str]:
    return next(line.split() for line in out.splitlines() if line.split()[:1] == [task])


def test_ls_tells_a_base_from_its_adapter_and_counts_items(cli, tmp_path):
    project = make_project(tmp_path / "p", MODELS)
    code, out, err = cli("ls", "--config", project)
    assert code == 0, err
    base = next(line for line in out.splitlines() if line.strip().startswith("base "))
    ft = next(line for line in out.splitlines() if line.strip().startswith("ft "))
    assert "adapter=lora" in ft and "adapter" not in base
    # items from the data files written by make_project; a chat API only generates
    assert _row(out, "qa") == ["qa", "generate", "30", "generate", "generate", "generate"]
    assert _row(out, "intent")[2] == "20"
    assert _row(out, "mc") == ["mc", "multiple_choice", "24", "loglikelihood", "loglikelihood", "generate"]
    assert _row(out, "ppl") == ["ppl", "perplexity", "16", "loglikelihood_rolling", "loglikelihood_rolling", "no", "(loglikelihood_rolling)"]


def test_ls_imports_neither_torch_nor_transformers(tmp_path):
    project = make_project(tmp_path / "p", MODELS)
    code = (
        "import sys\nfrom evalkit.cli.main import main\n"
        f"rc = main(['ls', '--config', {str(project)!r}])\n"
        "print('HEAVY:' + ','.join(m for m in ('torch', 'transformers', 'lm_eval') if m in sys.modules), rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY: 0", out
