"""Batched generation with stop sequences (greedy unless a temperature is asked for).

Prompts are sorted by length (longest first, as lm-eval does) and left-padded; a row stops
at its end-of-sequence token or as soon as its generated text contains a stop sequence,
which is then cut off. The batch size halves on out-of-memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from evalkit.backends.base import Generation
from evalkit.backends.hf_scoring import is_oom

log = logging.getLogger("evalkit.hf")


def _stop_criteria(tokenizer, stops: Sequence[Sequence[str]], prompt_width: int):
    """``stops[i]``: row i's own stop sequences. One batch may hold requests of several tasks
    (an lm-eval group); a stop shared by the batch would cut a row at another task's stop
    sequence and lose what it would have said after it."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    stops = [[s for s in row if s] for row in stops]

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            if not any(stops):
                return done
            texts = tokenizer.batch_decode(input_ids[:, prompt_width:], skip_special_tokens=True)
            for i, text in enumerate(texts):
                done[i] = any(s in text for s in stops[i])
            return done

    return StoppingCriteriaList([StopOnText()])


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    cuts = [text.find(s) for s in stops if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


class Generator:
    def __init__(self, run_model, tokenizer, max_length: int, batch_size: int, device: str):
        """``run_model(fn)`` calls ``fn(model)`` with the right adapter active, under the lock."""
        self.run_model = run_model
        self.tok = tokenizer
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.oom_halvings = 0

    def generate(self, prompts: Sequence[str], reqs) -> Iterator[tuple[int, Generation]]:
        """One Generation per (prompt, GenerateRequest), yielded a batch at a time."""
        enc = self.tok(list(prompts), add_special_tokens=True)["input_ids"]
        bos = self.tok.bos_token
        for i, p in enumerate(prompts):  # as lm-eval: no second BOS when the prompt has one
            if bos and p.startswith(bos):
                enc[i] = self.tok(p, add_special_tokens=False)["input_ids"]
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(reqs):
            groups.setdefault((r.max_tokens, r.temperature, r.seed), []).append(i)
        for (max_tokens, temperature, seed), idx in groups.items():
            idx.sort(key=lambda i: -len(enc[i]))
            pos = 0
            while pos < len(idx):
                chunk = idx[pos : pos + self.batch_size]
                try:
                    outs = self._batch([enc[i] for i in chunk], [reqs[i] for i in chunk], max_tokens, temperature, seed)
                except Exception as exc:
                    if not is_oom(exc) or len(chunk) == 1:
                        raise
                    self.batch_size = max(1, self.batch_size // 2)
                    self.oom_halvings += 1
                    log.warning("out of memory while generating: batch size halved to %d", self.batch_size)
                    continue
                pos += len(chunk)
                yield from zip(chunk, outs)

    def _batch(self, prompts: list[list[int]], reqs, max_tokens: int, temperature: float, seed: int | None):
        import time

        import torch

        started = time.perf_counter()

        room = max(1, self.max_length - max_tokens)
        prompts = [p[-room:] for p in prompts]
        width = max(len(p) for p in prompts)
        pad = self.tok.pad_token_id
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for j, p in enumerate(prompts):
            ids[j, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[j, width - len(p) :] = 1
        stops = [r.stop for r in reqs]
        kwargs = {"max_new_tokens": max_tokens, "pad_token_id": pad, "stopping_criteria": _stop_criteria(self.tok, stops, width)}
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)

        def run(model):
            with torch.inference_mode(), torch.random.fork_rng(devices=[]):
                if seed is not None:
                    torch.manual_seed(seed)
                return model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs)

        out = self.run_model(run).cpu()
        each = (time.perf_counter() - started) / len(reqs)
        eos = self.tok.eos_token_id
        results = []
        for j, r in enumerate(reqs):
            gen = out[j, width:].tolist()
            finish = "length"
            if eos is not None and eos in gen:
                gen = gen[: gen.index(eos)]
                finish = "stop"
            text, stopped = cut_at_stop(self.tok.decode(gen, skip_special_tokens=True), r.stop)
            if stopped:
                finish = "stop"
                n = len(self.tok(text, add_special_tokens=False)["input_ids"]) if text else 0
            else:
                n = len(gen)
            results.append(Generation(text, prompt_tokens=len(prompts[j]), completion_tokens=n, finish_reason=finish, latency_s=each))
        return results
