"""A fully cached compare of a Hugging Face base and its LoRA fine-tune imports no model
library: the fingerprints come from the model files and the device found for ``auto`` is
kept in the cache folder (issue 17, item 5)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the tiny model is built with torch (pip install 'evalkit[hf]')")
pytest.importorskip("transformers", reason="needs transformers (pip install 'evalkit[hf]')")
pytest.importorskip("peft", reason="needs peft (pip install 'evalkit[hf]')")

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "lm_eval", "peft")


def _compare(project: Path, out: str) -> str:
    code = (
        "import sys\nfrom evalkit.cli.main import main\n"
        f"code = main(['compare', 'base', 'ft', '--limit', '3', '--output', {out!r}, '--quiet'])\n"
        f"print('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules), code)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "HOME": str(project)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=project, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def test_cached_hf_compare_imports_no_model_library(tmp_path):
    from evalkit.backends.hf_tiny import build_lora_adapter, build_tiny_model

    build_tiny_model(tmp_path / "base")
    build_lora_adapter(tmp_path / "base", tmp_path / "lora")
    (tmp_path / "evalkit.yaml").write_text(json.dumps({
        "cache_dir": "cache", "tasks": [str(REPO / "benchmarks" / "demo" / "tasks" / "general_mc.yaml")],
        "models": {"base": {"backend": "hf", "model": "base"},  # device auto: found once, then kept
                   "ft": {"backend": "hf", "model": "base", "adapter": "lora"}}}))
    first = _compare(tmp_path, "first")
    assert first.startswith("HEAVY:torch") and first.endswith(" 0")  # the models ran
    assert _compare(tmp_path, "again") == "HEAVY: 0"
    tables = [[c["tasks"] for c in json.loads((tmp_path / d / "compare.json").read_text())["comparisons"]]
              for d in ("first", "again")]
    assert tables[0] == tables[1] and tables[0][0]


def test_auto_device_is_kept_per_machine_and_corrected_when_torch_disagrees(tmp_path, monkeypatch):
    from evalkit.backends import hf_loading

    probes = []
    monkeypatch.setattr(hf_loading, "probe_device", lambda: probes.append(1) or "cpu")
    assert hf_loading.resolve_device("auto", tmp_path) == "cpu" and len(probes) == 1
    assert hf_loading.resolve_device("auto", tmp_path) == "cpu" and len(probes) == 1  # kept: no torch
    assert hf_loading.resolve_device("cuda:1", tmp_path) == "cuda:1" and len(probes) == 1
    assert hf_loading.resolve_device("auto", None) == "cpu" and len(probes) == 2  # --no-cache: nothing kept
    assert hf_loading.check_device("auto", "cpu", tmp_path) is None
    (tmp_path / hf_loading.DEVICE_MEMO).write_text(json.dumps({hf_loading._device_key(): "cuda"}))
    assert hf_loading.resolve_device("auto", tmp_path) == "cuda"  # what an earlier run found
    assert "now finds cpu" in hf_loading.check_device("auto", "cuda", tmp_path)
    assert hf_loading.resolve_device("auto", tmp_path) == "cpu"  # corrected
