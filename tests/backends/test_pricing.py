"""The price table: dated, tiered prices for long prompts, fine-tuned rates of a base model."""

from __future__ import annotations

import datetime

import pytest

from evalkit.backends.pricing import FINE_TUNED_PRICES, PRICES, PRICES_AS_OF, cost_usd, fine_tuned_price


def test_the_table_is_dated():
    assert datetime.date.fromisoformat(PRICES_AS_OF) <= datetime.date.today()


def test_a_long_prompt_is_billed_at_its_tier():
    prices = {"my-model": {"input": 1.0, "output": 2.0, "long_context": {"above": 1000, "input": 3.0, "output": 4.0}}}
    assert cost_usd("my-model", 1000, 10, prices) == pytest.approx((1000 * 1.0 + 10 * 2.0) / 1e6)
    assert cost_usd("my-model", 1001, 10, prices) == pytest.approx((1001 * 3.0 + 10 * 4.0) / 1e6)


def test_a_config_price_with_a_tier_validates_and_bills():
    from evalkit.backends.openai_api import Price

    price = Price.model_validate({"input": 1, "output": 2, "long_context": {"above": 5, "input": 10, "output": 20}})
    assert cost_usd("m", 6, 0, {"m": price}) == pytest.approx(60 / 1e6)
    assert cost_usd("m", 5, 0, {"m": price}) == pytest.approx(5 / 1e6)


def test_fine_tuned_rate_of_a_base_model_and_of_a_fine_tune():
    assert fine_tuned_price("gpt-4o-mini-2024-07-18") == FINE_TUNED_PRICES["gpt-4o-mini"]
    assert fine_tuned_price("ft:gpt-4o-mini-2024-07-18:acme::x") == FINE_TUNED_PRICES["gpt-4o-mini"]
    assert fine_tuned_price("gpt-4o-mini", {"ft:gpt-4o-mini": {"input": 7, "output": 8}}) == (7.0, 8.0)
    assert fine_tuned_price("o3") is None  # no fine-tuned rate in the table: unknown, not the list rate
    assert PRICES["o3"]
