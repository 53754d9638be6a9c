"""Each generation request keeps its own stop sequences inside a shared batch (an lm-eval
group batches the requests of tasks whose ``until`` differ)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the hf backend needs torch (pip install 'evalkit[hf]')")
pytest.importorskip("transformers", reason="the hf backend needs transformers (pip install 'evalkit[hf]')")

from evalkit.backends.base import GenerateRequest, Message
from evalkit.backends.hf import HFBackend, HFConfig
from evalkit.backends.hf_tiny import build_tiny_model
from evalkit.backends.registry import BackendContext


def test_a_row_is_not_cut_at_another_rows_stop_sequence(tmp_path):
    build_tiny_model(tmp_path / "base")
    ctx = BackendContext(root=tmp_path, cache_dir=tmp_path / ".cache", backend_for=lambda n: None)
    b = HFBackend.create(HFConfig(model="base", device="cpu", batch_size=4), ctx)

    def answers(reqs):
        out = dict(b.submit(reqs))
        return [out[i] for i in range(len(reqs))]

    prompts = ["The capital of France is", "Kofi got up"]
    free = answers([GenerateRequest((Message("user", p),), max_tokens=12) for p in prompts])
    other_stop = free[0].text[4:7]  # occurs in row 0's free text, but is row 1's stop only
    assert other_stop and free[0].completion_tokens == 12
    together = answers([
        GenerateRequest((Message("user", prompts[0]),), max_tokens=12, stop=("<never>",)),
        GenerateRequest((Message("user", prompts[1]),), max_tokens=12, stop=(other_stop,)),
    ])
    assert together[0].text == free[0].text and together[0].completion_tokens == 12
    alone = answers([GenerateRequest((Message("user", prompts[1]),), max_tokens=12, stop=(other_stop,))])
    assert together[1].text == alone[0].text
