"""``data_parallel_size: N`` for the vllm backend: N engine replicas, one process each on its
own GPUs, every ``generate`` split between them.

vLLM's offline ``LLM`` class does not do data parallelism itself (``data_parallel_size`` works
for its server; for offline use its maintainers point to one process per replica, each with
its own ``CUDA_VISIBLE_DEVICES``: vllm-project/vllm#16222, #16588, and
examples/offline_inference/data_parallel.py). lm-eval does the same with Ray actors. So a
replica here is a spawned process that builds ``vllm.LLM`` on its slice of the visible GPUs
(tensor x pipeline parallel size of them) and answers the prompts it is sent; the parent
splits each batch into contiguous shards and puts the answers back in order. Outputs come
back as plain picklable objects with the attributes the backend reads.

A ``Replicas`` object stands where a ``vllm.LLM`` would (``generate``, ``get_tokenizer``,
``llm_engine.model_config.max_model_len``), so the rest of the backend does not know.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import types
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PlainLogprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass(frozen=True)
class PlainCompletion:
    text: str
    token_ids: list[int]
    logprobs: list[dict[int, PlainLogprob]] | None
    finish_reason: str | None


@dataclass(frozen=True)
class PlainOutput:
    prompt_token_ids: list[int]
    prompt_logprobs: list[dict[int, PlainLogprob] | None] | None
    outputs: list[PlainCompletion]


def _plain_lp(d):
    if d is None:
        return None
    return {int(t): PlainLogprob(float(lp.logprob), getattr(lp, "rank", None), getattr(lp, "decoded_token", None)) for t, lp in d.items()}


def plain(out) -> PlainOutput:
    comps = [
        PlainCompletion(c.text, list(c.token_ids), [_plain_lp(x) for x in c.logprobs] if c.logprobs else None, c.finish_reason)
        for c in out.outputs
    ]
    plp = [_plain_lp(x) for x in out.prompt_logprobs] if out.prompt_logprobs is not None else None
    return PlainOutput(list(out.prompt_token_ids or ()), plp, comps)


def device_slices(n: int, per: int, visible: str | None) -> list[str]:
    """CUDA_VISIBLE_DEVICES for each of ``n`` replicas of ``per`` GPUs, from the parent's."""
    devices = [d for d in visible.split(",") if d.strip()] if visible else [str(i) for i in range(n * per)]
    if len(devices) < n * per:
        raise ValueError(f"{n} replicas x {per} GPUs need {n * per} GPUs; CUDA_VISIBLE_DEVICES has {len(devices)}")
    return [",".join(devices[r * per : (r + 1) * per]) for r in range(n)]


def _serve(conn, kwargs: dict, devices: str) -> None:
    """One replica: build the engine on its GPUs, then answer (prompts, params, lora) until None."""
    os.environ["CUDA_VISIBLE_DEVICES"] = devices
    try:
        from vllm import LLM

        llm = LLM(**kwargs)
        conn.send(("ready", llm.llm_engine.model_config.max_model_len))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    while (msg := conn.recv()) is not None:
        prompts, params, lora = msg
        try:
            outs = llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
            conn.send(("ok", [plain(o) for o in outs]))
        except Exception as exc:  # noqa: BLE001 - the parent retries prompt by prompt
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Replicas:
    def __init__(self, kwargs: dict[str, Any], n: int, gpus_per_replica: int):
        self.kwargs = kwargs
        ctx = mp.get_context("spawn")  # a forked CUDA context cannot be used; vLLM spawns too
        self._conns, self._procs = [], []
        for devices in device_slices(n, gpus_per_replica, os.environ.get("CUDA_VISIBLE_DEVICES")):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, kwargs, devices), daemon=True, name=f"evalkit-vllm-{devices}")
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)
        lengths = []
        for conn in self._conns:
            status, value = conn.recv()
            if status != "ready":
                self.shutdown()
                raise RuntimeError(f"a vLLM replica did not start: {value}")
            lengths.append(value)
        self.llm_engine = types.SimpleNamespace(model_config=types.SimpleNamespace(max_model_len=min(lengths)))
        self._tokenizer = None

    def get_tokenizer(self):
        """The model's Hugging Face tokenizer, as vLLM loads it (the replicas hold theirs)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            k = self.kwargs
            self._tokenizer = AutoTokenizer.from_pretrained(
                k.get("tokenizer") or k["model"], revision=k.get("tokenizer_revision") or k.get("revision"),
                trust_remote_code=bool(k.get("trust_remote_code")),
            )
        return self._tokenizer

    def generate(self, prompts, params, lora_request=None, use_tqdm=False) -> list:
        params = params if isinstance(params, list) else [params] * len(prompts)
        n = len(self._conns)
        step = -(-len(prompts) // n) if prompts else 0
        busy = []
        for r, conn in enumerate(self._conns):
            shard = slice(r * step, (r + 1) * step)
            if prompts[shard]:
                conn.send((prompts[shard], params[shard], lora_request))
                busy.append(conn)
        outs, errors = [], []
        for conn in busy:  # every busy replica answers before anything is raised: pipes stay in step
            status, value = conn.recv()
            if status == "ok":
                outs.extend(value)
            else:
                errors.append(value)
        if errors:
            raise RuntimeError(errors[0])
        return outs

    def shutdown(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for proc in self._procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
