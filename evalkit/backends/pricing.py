"""What an API call costs: USD per 1M input and output tokens, by model.

The defaults are OpenAI's published list prices (standard tier, no batch or cached-input
discount) as of PRICES_AS_OF; prices change, so a config can override any model with
``prices: {MODEL: {input: X, output: Y}}``. A fine-tuned model (``ft:BASE:org::id``) is billed at
its base model's fine-tuned inference rate, which is higher than the base model's rate: that
difference is part of the "is the fine-tune cheaper?" question. An unknown model costs ``None``
(unknown), never 0.

Tiered prices: some providers bill a whole request at a higher rate once its prompt passes a
length (``long_context: {above: TOKENS, input: X, output: Y}`` on a price). None of the
models in the table below has such a tier on PRICES_AS_OF; a config's price can add one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.backends.openai_ft_id import parse_ft_id

# When the tables below were taken from openai.com/api/pricing (June 2025; the day is the
# month's first). Shown wherever evalkit shows a cost: a price is a fact about a date.
PRICES_AS_OF = "2025-06-01"
# OpenAI's Batch API bills every token at half the list rate (answers within 24 h).
BATCH_DISCOUNT = 0.5

# model -> (input, output) USD per 1M tokens. Dated snapshots ("gpt-4o-2024-08-06") resolve to
# the longest matching prefix.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-3.5-turbo-instruct": (1.50, 2.00),
    "o1": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "davinci-002": (2.00, 2.00),
    "babbage-002": (0.40, 0.40),
}

# Fine-tuned inference rates, by base model (same date).
FINE_TUNED_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4.1": (3.00, 12.00),
    "gpt-4.1-mini": (0.80, 3.20),
    "gpt-4.1-nano": (0.20, 0.80),
    "gpt-4o": (3.75, 15.00),
    "gpt-4o-mini": (0.30, 1.20),
    "gpt-3.5-turbo": (3.00, 6.00),
    "o4-mini": (4.00, 16.00),
    "davinci-002": (12.00, 12.00),
    "babbage-002": (1.60, 1.60),
}


def _lookup(table: Mapping[str, Any], model: str) -> Any | None:
    if model in table:
        return table[model]
    matches = [k for k in table if model.startswith(k + "-")]
    return table[max(matches, key=len)] if matches else None


def _pair(value: Any) -> tuple[float, float]:
    if isinstance(value, Mapping):
        return float(value["input"]), float(value["output"])
    if hasattr(value, "input"):
        return float(value.input), float(value.output)
    inp, out = value[:2]
    return float(inp), float(out)


def _long_tier(value: Any) -> tuple[int, float, float] | None:
    """(above, input, output) of a price's long-prompt tier, or None."""
    tier = value.get("long_context") if isinstance(value, Mapping) else getattr(value, "long_context", None)
    if tier is None:
        return None
    if isinstance(tier, Mapping):
        return int(tier["above"]), float(tier["input"]), float(tier["output"])
    return int(tier.above), float(tier.input), float(tier.output)


def _entry(model: str, prices: Mapping[str, Any] | None) -> Any | None:
    """The price entry (pair, mapping or config Price) that bills ``model``."""
    if prices and model in prices:
        return prices[model]
    ft = parse_ft_id(model)
    # A fine-tune is never billed at its base model's rate: an override for all fine-tunes of
    # a base is keyed "ft:BASE".
    key, table = (f"ft:{ft.base_model}", FINE_TUNED_PRICES) if ft else (model, PRICES)
    found = _lookup(prices, key) if prices else None
    if found is None:
        found = _lookup(table, ft.base_model if ft else model)
    return found


def price_per_million(model: str, prices: Mapping[str, Any] | None = None, prompt_tokens: int = 0) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens for ``model``, or None when unknown. ``prices``
    overrides the defaults by model id (``ft:`` ids included, or ``ft:BASE`` for all of a
    base model's fine-tunes). A prompt longer than a long-context tier's ``above`` gets
    that tier's rates."""
    found = _entry(model, prices)
    if found is None:
        return None
    tier = _long_tier(found)
    if tier is not None and prompt_tokens > tier[0]:
        return tier[1], tier[2]
    return _pair(found)


def fine_tuned_price(model: str, prices: Mapping[str, Any] | None = None) -> tuple[float, float] | None:
    """The rate a fine-tune of ``model`` is billed at (``model`` itself when it is one)."""
    if parse_ft_id(model) is not None:
        return price_per_million(model, prices)
    if prices and f"ft:{model}" in prices:
        return _pair(prices[f"ft:{model}"])
    found = _lookup(FINE_TUNED_PRICES, model)
    return _pair(found) if found is not None else None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, prices: Mapping[str, Any] | None = None) -> float | None:
    """USD for one call at the list rate; None when the model's price is unknown."""
    rate = price_per_million(model, prices, prompt_tokens)
    if rate is None:
        return None
    return (prompt_tokens * rate[0] + completion_tokens * rate[1]) / 1_000_000
