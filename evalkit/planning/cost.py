"""What planned requests cost and how long they take.

Cost: each request at the list rate of PRICES_AS_OF (a long prompt at its tier's rate), at the
batch rate (BATCH_DISCOUNT of list) and at the fine-tuned rate of the model's base (what a
fine-tune of it would cost; a fine-tune's own list rate already is). ``expected_usd`` is what
the run will actually pay: the batch rate for an openai model with ``mode: batch`` (its
requests go through the Batch API), else the list rate. Only a model whose
config has a price table (an API backend) is billed; a local model costs nothing here and
says so with None.

Time: a request takes the mean latency of this model's answers already in the cache when
there are some (measured), else ASSUMED_LATENCY_S plus its completion tokens at
ASSUMED_TOKENS_PER_S for an API model; a local model without measured answers has no
estimate. An API run is bounded by concurrency, rpm and tpm, whichever is slowest. A
``mode: batch`` model has no estimate: the Batch API only promises its completion window.
"""

from __future__ import annotations

from dataclasses import dataclass

ASSUMED_LATENCY_S = 0.3  # a round trip to an API before the first token
ASSUMED_TOKENS_PER_S = 60.0  # generated tokens per second per request


@dataclass(frozen=True)
class Costs:
    list_usd: float | None
    batch_usd: float | None
    fine_tuned_usd: float | None
    expected_usd: float | None = None  # at the rate the config pays: batch for mode: batch, else list
    pays: str | None = None  # "list" or "batch"; None: no bill


def pays_batch(cfg) -> bool:
    """Whether the model's requests go through a batch API (billed at the batch rate)."""
    return getattr(cfg, "mode", None) == "batch"


def price_requests(cfg, tokens: list[tuple[int, int]]) -> Costs:
    """The USD of sending requests with these (prompt, completion) tokens; None: unknown."""
    from evalkit.backends.pricing import BATCH_DISCOUNT, fine_tuned_price, price_per_million

    prices = getattr(cfg, "prices", False)
    if prices is False:  # no price table in the config's schema: a local model, no bill
        return Costs(None, None, None)
    total, ft_total = 0.0, 0.0
    ft_rate = fine_tuned_price(cfg.model, prices)
    for pt, ct in tokens:
        rate = price_per_million(cfg.model, prices, pt)
        if rate is None:
            return Costs(None, None, None)
        total += (pt * rate[0] + ct * rate[1]) / 1e6
        if ft_rate is not None:
            ft_total += (pt * ft_rate[0] + ct * ft_rate[1]) / 1e6
    batch = total * BATCH_DISCOUNT
    pays = "batch" if pays_batch(cfg) else "list"
    return Costs(total, batch, ft_total if ft_rate is not None else None, batch if pays == "batch" else total, pays)


def seconds(cfg, tokens: list[tuple[int, int]], measured_latency: float | None) -> tuple[float | None, str]:
    """(estimated wall seconds, how it was estimated) for sending these requests."""
    n = len(tokens)
    if n == 0:
        return 0.0, "nothing to send"
    if pays_batch(cfg):  # the Batch API answers when it answers: its window is the only promise
        return None, f"batch API: within its completion window ({getattr(cfg, 'batch_completion_window', '24h')})"
    concurrency = getattr(cfg, "concurrency", None)
    if concurrency is None:  # a local model answers in its own batches: only a measurement helps
        if measured_latency is None:
            return None, "local model: no answers measured yet"
        return n * measured_latency, "measured latency x requests"
    if measured_latency is not None:
        work, how = n * measured_latency, "measured latency"
    else:
        work = sum(ASSUMED_LATENCY_S + ct / ASSUMED_TOKENS_PER_S for _, ct in tokens)
        how = f"assumed {ASSUMED_LATENCY_S:g} s + {ASSUMED_TOKENS_PER_S:g} tokens/s"
    bounds = {f"concurrency {concurrency}": work / concurrency}
    if getattr(cfg, "rpm", None):
        bounds[f"rpm {cfg.rpm}"] = n / cfg.rpm * 60.0
    if getattr(cfg, "tpm", None):
        bounds[f"tpm {cfg.tpm}"] = sum(pt + ct for pt, ct in tokens) / cfg.tpm * 60.0
    limit = max(bounds, key=bounds.get)
    return bounds[limit], f"{how}; bound by {limit}"
