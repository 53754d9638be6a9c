"""Log-likelihoods from a causal LM, computed exactly as lm-eval's HFLM computes them.

Tokenization, truncation, the order of requests and the make-up of every batch follow
lm-eval 0.4 (``TemplateLM._encode_pair``, ``HFLM._loglikelihood_tokens``): on CPU the
attention kernel's rounding depends on the padded width of the batch, so only identical
batches give identical numbers, and the tests hold evalkit to lm-eval's own run to 1e-6 (in
practice bit for bit). The speed comes from what lm-eval leaves on the table: strings are
tokenized once and in bulk, the vocabulary projection and log-softmax run only where a
continuation is scored, and shared prefixes inside a batch are computed once (hf_dedup).

Rolling log-likelihoods use lm-eval's disjoint rolling windows (``get_rolling_token_windows``
with context length 1), batched as lm-eval batches them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

log = logging.getLogger("evalkit.hf")

TOKENIZER_INFINITY = 1000000000000000019884624838656
DEFAULT_MAX_LENGTH = 2048


def rolling_windows(tokens: list[int], prefix_token: int, max_len: int) -> list[tuple[list[int], list[int]]]:
    """lm-eval's ``get_rolling_token_windows(..., context_len=1)`` followed by
    ``make_disjoint_window``: (context, continuation) pairs that predict every token once."""
    if not tokens:
        return []
    out = []
    first = min(max_len, len(tokens))
    out.append(([prefix_token] + tokens[: first - 1], tokens[:first]))
    predicted = first
    while predicted < len(tokens):
        n = min(len(tokens) - predicted, max_len)
        end = predicted + n
        out.append((tokens[end - max_len - 1 : end - 1], tokens[end - n : end]))
        predicted += n
    return [(ctx[: len(ctx) - (len(cont) - 1)], cont) for ctx, cont in out]


def max_length_of(model_config, tokenizer, configured: int | None) -> int:
    """lm-eval's resolve_max_length: the config's context length, else the tokenizer's."""
    if configured:
        return configured
    cfg = getattr(model_config, "text_config", None) or model_config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(cfg, attr, None)
        if value is not None:
            return int(value)
    mml = getattr(tokenizer, "model_max_length", None)
    if mml is not None and mml != TOKENIZER_INFINITY:
        return int(mml)
    return DEFAULT_MAX_LENGTH


def chat_prompt(tokenizer, req, *, model: str, use_template: bool) -> str:
    """A generation request's prompt text: plain, or (``chat_template: true``) the messages
    through the tokenizer's chat template, as the hf and vllm backends both send it."""
    if not use_template:
        return req.as_text()
    if not getattr(tokenizer, "chat_template", None):
        from evalkit.errors import FatalBackendError

        raise FatalBackendError(f"model '{model}': chat_template is true but its tokenizer has no chat template")
    msgs = [{"role": m.role, "content": m.content} for m in req.messages]
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


class Tokens:
    """lm-eval's tokenization of contexts, continuations and documents, done in bulk."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.prefix_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self._prefix_text = tokenizer.decode(self.prefix_id) if self.prefix_id is not None else None

    def encode_many(self, texts: Sequence[str], add_special_tokens: bool | None = None) -> dict[str, list[int]]:
        """{text: ids}; as HFLM.tok_encode: no special tokens when the text starts with BOS."""
        uniq = list(dict.fromkeys(texts))
        out: dict[str, list[int]] = {}
        groups: dict[bool | None, list[str]] = {}
        for t in uniq:
            flag = add_special_tokens
            if flag is None and self._prefix_text and t.startswith(self._prefix_text):
                flag = False
            groups.setdefault(flag, []).append(t)
        for flag, batch in groups.items():
            kwargs = {} if flag is None else {"add_special_tokens": flag}
            out.update(zip(batch, self.tok(batch, **kwargs)["input_ids"]))
        return out

    def pairs(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """(context ids, continuation ids) per pair, as TemplateLM.loglikelihood encodes them."""
        plans = []
        for ctx, cont in pairs:
            if ctx == "":
                plans.append(("", cont))
                continue
            n = len(ctx) - len(ctx.rstrip())
            if n:  # trailing spaces belong to the continuation
                ctx, cont = ctx[:-n], ctx[-n:] + cont
            plans.append((ctx, ctx + cont))
        empty = self.encode_many([w for c, w in plans if c == ""], add_special_tokens=False)
        full = self.encode_many([t for c, w in plans if c != "" for t in (c, w)])
        out = []
        for c, w in plans:
            if c == "":
                ids = empty[w]
                out.append(([self.prefix_id], ids) if not ids or self.prefix_id != ids[0] else (ids[:1], ids[1:]))
            else:
                ctx_ids = full[c]
                out.append((ctx_ids, full[w][len(ctx_ids) :]))
        return out


@dataclass(frozen=True)
class Scored:
    logprob: float
    greedy: bool
    latency_s: float = 0.0  # the batch's time, shared out over its pairs


class OutOfMemory(Exception):
    pass


def is_oom(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


class Scorer:
    """Batched scoring of token-level (context, continuation) pairs on one model.

    ``forward(ids, keep)`` runs the model on a right-padded batch and returns the logits of
    the last ``keep`` positions; ``dedup`` (optional) is the model's PrefixDedup. The batch
    size halves on out-of-memory; ``batch_size`` then holds the size that worked.
    """

    def __init__(self, forward, max_length: int, batch_size: int, device: str, dedup=None, verify_key=None, lock=None):
        import contextlib

        self.forward = forward
        self.lock = lock or contextlib.nullcontext()
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.dedup = dedup
        self.verify_key = verify_key
        self.oom_halvings = 0

    def score(self, pairs: Sequence[tuple[list[int], list[int]]], batch_size: int | None = None) -> Iterator[tuple[int, Scored]]:
        """Yield (index, Scored) per pair, a batch at a time, in lm-eval's batch order.

        A context that does not fit is cut from the left, as lm-eval does. A continuation
        longer than the model's context cannot be scored in one pass (lm-eval's loglikelihood
        asserts against it); it is scored in disjoint windows of ``max_length`` tokens, each
        seeing the tokens before it that fit, exactly as lm-eval's loglikelihood_rolling
        scores a document: with an empty context the numbers are lm-eval's rolling ones.
        The pairs that fit are scored first, on their own, so their batches stay lm-eval's.
        """
        long = {i for i, (_, cont) in enumerate(pairs) if len(cont) > self.max_length}
        if not long:
            yield from self._score(pairs, batch_size)
            return
        fits = [i for i in range(len(pairs)) if i not in long]
        yield from ((fits[j], s) for j, s in self._score([pairs[i] for i in fits], batch_size))
        yield from self._score_windows(pairs, sorted(long), batch_size)

    def _score_windows(self, pairs, long: list[int], batch_size: int | None) -> Iterator[tuple[int, Scored]]:
        windows: list[tuple[int, tuple[list[int], list[int]]]] = []
        for i in long:
            ctx, cont = pairs[i]
            for start in range(0, len(cont), self.max_length):
                # The Scorer keeps only the last max_length + 1 tokens of ctx + window.
                windows.append((i, (ctx + cont[:start], cont[start : start + self.max_length])))
        left = {i: 0 for i in long}
        for i, _ in windows:
            left[i] += 1
        total = {i: [0.0, True, 0.0] for i in long}
        for j, s in self._score([w for _, w in windows], batch_size):
            i = windows[j][0]
            acc = total[i]
            acc[0] += s.logprob
            acc[1] = acc[1] and s.greedy
            acc[2] += s.latency_s
            left[i] -= 1
            if left[i] == 0:
                yield i, Scored(acc[0], acc[1], acc[2])

    def _score(self, pairs: Sequence[tuple[list[int], list[int]]], batch_size: int | None) -> Iterator[tuple[int, Scored]]:
        # lm-eval's Collator(group_by="contexts"): pairs with the same context + continuation[:-1]
        # are one input row; the row of the pair with the longest continuation stands for them.
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, cont) in enumerate(pairs):
            groups.setdefault(tuple(ctx + cont[:-1]), []).append(i)
        order = sorted(groups, key=lambda k: (-(len(k) + 1), k))
        pos = 0
        while pos < len(order):
            n = min(batch_size or self.batch_size, self.batch_size)
            chunk = order[pos : pos + n]
            try:
                results = self._batch(chunk, groups, pairs)
            except Exception as exc:
                if not is_oom(exc) or n == 1:
                    raise
                self._halve(exc)
                continue
            pos += len(chunk)
            yield from results

    def _halve(self, exc) -> None:
        from evalkit.backends.hf_loading import _free_accelerator_memory

        self.batch_size = max(1, self.batch_size // 2)
        self.oom_halvings += 1
        _free_accelerator_memory()
        log.warning("out of memory (%s): batch size halved to %d", type(exc).__name__, self.batch_size)

    def _batch(self, chunk, groups, pairs):
        import time

        import numpy as np
        import torch
        import torch.nn.functional as F

        started = time.perf_counter()
        limit = self.max_length + 1
        rows, who, sizes, scored_from = [], [], [], []
        for key in chunk:
            members = groups[key]
            rep = max(members, key=lambda i: len(pairs[i][1]))  # the first of the longest
            ctx, cont = pairs[rep]
            row = (ctx + cont)[-limit:][:-1]
            rows.append(row)
            who.extend(members)
            sizes.extend(len(pairs[i][1]) for i in members)
            scored_from.append(len(row) - len(cont))
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        for j, r in enumerate(rows):
            ids[j, : len(r)] = r
        per_row = [len(groups[k]) for k in chunk]
        sizes_a = np.array(sizes)
        row_of = np.repeat(np.repeat(np.arange(len(rows)), per_row), sizes)
        offsets = np.arange(len(row_of)) - np.repeat(np.cumsum(sizes_a) - sizes_a, sizes)
        # A pair is judged greedy on the last len(continuation) positions of its row. Its
        # log-probability is gathered where the row's longest continuation starts: the same
        # place for pairs that own their row; for a shorter continuation sharing a row (same
        # context + continuation[:-1], split elsewhere) this is how lm-eval 0.4's logits cache
        # indexes it, kept so that the numbers stay lm-eval's.
        ends = np.repeat(np.array([len(r) for r in rows]), per_row)
        greedy_pos = np.repeat(ends - sizes_a, sizes) + offsets
        gather_pos = np.repeat(np.repeat(np.array(scored_from), per_row), sizes) + offsets
        targets = [t for i in who for t in pairs[i][1]]
        first = min(scored_from)
        with self.lock:  # the dedup plan and the forward pass that reads it go together
            logits = self._forward(torch.from_numpy(ids), rows, width, first, scored_from, row_of, gather_pos)
        r = torch.from_numpy(row_of).to(logits.device)
        tgt = torch.tensor(targets, device=logits.device)
        logp = F.log_softmax(logits[r, torch.from_numpy(gather_pos - first).to(logits.device)], dim=-1)
        token_lp = logp.gather(1, tgt[:, None]).squeeze(1).cpu()
        if not np.array_equal(gather_pos, greedy_pos):
            logp = F.log_softmax(logits[r, torch.from_numpy(greedy_pos - first).to(logits.device)], dim=-1)
        greedy = (logp.argmax(dim=-1) == tgt).cpu()
        each = (time.perf_counter() - started) / len(who)
        # One sum per pair over its own slice: the same float32 reduction lm-eval performs.
        return [
            (i, Scored(float(lp.sum()), bool(g.all()), each))
            for i, lp, g in zip(who, torch.split(token_lp, sizes), torch.split(greedy, sizes))
        ]

    def _forward(self, ids, rows, width, first, scored_from, row_of, positions):
        import torch

        ids = ids.to(self.device)
        keep = width - first
        dd = self.dedup
        if dd is None or dd.verified.get(self.verify_key) is False or not dd.plan(rows, width, scored_from):
            return self.forward(ids, keep)
        try:
            fast = self.forward(ids, keep)
        finally:
            dd.clear()
        if self.verify_key not in dd.verified:  # prove it once per model and adapter
            plain = self.forward(ids, keep)
            r, p = torch.from_numpy(row_of), torch.from_numpy(positions - first)
            same = torch.equal(fast[r, p], plain[r, p])
            dd.verified[self.verify_key] = same
            if not same:
                log.info("shared-prefix reuse is not bitwise exact on this platform: switched off")
                return plain
        return fast
