"""One ``vllm.LLM`` per set of engine settings, shared by every model served from it.

vLLM serves LoRA adapters per request (``LoRARequest`` on ``LLM.generate``), so a base model
and all its adapter fine-tunes need one engine: ``compare base ft1 ft2 ft3`` loads the base
weights once. Engines are kept in a process-wide table keyed by the settings that decide what
the engine computes (weights, dtype, parallelism, context length...). LoRA is switched on for
an engine when any model of the project that shares it has an adapter, which is known before
the first request (the project's other model entries), so the base, run first, does not get
an engine without LoRA that its fine-tunes would have to reload.

A released engine stays loaded until one with different settings is needed (at most one
idle engine), because the runner answers the models of a compare one after the other.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("evalkit.vllm")

_LOCK = threading.Lock()
_ENGINES: dict[tuple, "Engine"] = {}
LOAD_COUNT = {"n": 0}  # engines constructed in this process (tests read it)


@dataclass(frozen=True)
class LoraSettings:
    max_lora_rank: int
    max_loras: int


@dataclass
class Engine:
    key: tuple
    llm: Any  # the vllm.LLM
    lora: LoraSettings | None
    users: int = 0
    adapters: dict[str, Any] = field(default_factory=dict)  # adapter fingerprint -> LoRARequest

    def lora_request(self, name: str, fingerprint: str, path: str):
        """The LoRARequest for an adapter: one integer id per adapter and engine, as vLLM
        requires ids to be unique and stable for the engine's lifetime (they key its LoRA cache)."""
        with _LOCK:
            if fingerprint not in self.adapters:
                from vllm.lora.request import LoRARequest

                self.adapters[fingerprint] = LoRARequest(name, len(self.adapters) + 1, path)
            return self.adapters[fingerprint]


def acquire(key: tuple, engine_kwargs: dict[str, Any], lora: LoraSettings | None, replicas: int = 1) -> Engine:
    """The engine for ``key``, built with ``engine_kwargs`` (and LoRA when ``lora``) on first use;
    ``replicas`` > 1: that many engines in their own processes and GPUs (vllm_replicas)."""
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            _drop_idle()
            kwargs = dict(engine_kwargs)
            if lora is not None:
                kwargs.update(enable_lora=True, max_lora_rank=lora.max_lora_rank, max_loras=lora.max_loras)
            log.info("loading vLLM engine for %s (%d replica(s))", engine_kwargs.get("model"), replicas)
            if replicas > 1:
                from evalkit.backends.vllm_replicas import Replicas

                per = kwargs.get("tensor_parallel_size", 1) * kwargs.get("pipeline_parallel_size", 1)
                llm = Replicas(kwargs, replicas, per)
            else:
                from vllm import LLM

                llm = LLM(**kwargs)
            engine = Engine(key, llm, lora)
            LOAD_COUNT["n"] += 1
            _ENGINES[key] = engine
        engine.users += 1
        return engine


def release(engine: Engine) -> None:
    with _LOCK:
        engine.users = max(0, engine.users - 1)


def _drop_idle() -> None:
    """Free engines nobody uses before loading another (GPU memory holds one model at a time)."""
    for key in [k for k, e in _ENGINES.items() if e.users == 0]:
        engine = _ENGINES.pop(key)
        if hasattr(engine.llm, "shutdown"):  # replicas: stop their processes
            engine.llm.shutdown()
        gc.collect()


def clear() -> None:
    """Forget every idle engine (tests; a long-lived process that is done with vLLM)."""
    with _LOCK:
        _drop_idle()
