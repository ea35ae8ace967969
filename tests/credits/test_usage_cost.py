"""Usage -> cost: token prices per class, shares of a call's usage, the charge of a job
(never above its reservation), and the shipped token prices against the per-image ones."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pixelforge.engines.base import usage_info
from pixelforge.services.pricing import PriceTable, charge_for, split


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def test_usage_cost_prices_each_openai_token_class(table: PriceTable) -> None:
    info = usage_info(text_input=50, image_input=200, image_output=4000)
    # 50 x 5 + 200 x 10 + 4000 x 40 micro-USD (USD per 1M tokens == micro-USD per token)
    assert table.usage_cost("gpt-image-1", [info]) == [Decimal(162_250)]


def test_usage_cost_shares_a_calls_usage_among_its_images(table: PriceTable) -> None:
    info = usage_info(images=2, text_input=50, image_output=8000)
    costs = table.usage_cost("gpt-image-1", [info, info])
    assert costs == [Decimal(160_125), Decimal(160_125)]


def test_usage_cost_leaves_unpriced_classes_free(table: PriceTable) -> None:
    info = usage_info(text_input=12, text_output=80, image_output=1290)
    assert table.usage_cost("gemini-2.5-flash-image", [info]) == [Decimal(38_700)]


def test_usage_cost_of_a_batch_job_gets_the_batch_discount(table: PriceTable) -> None:
    info = usage_info(text_input=50, image_input=200, image_output=4000)
    assert table.usage_cost("gpt-image-1", [info], batch=True) == [Decimal(81_125)]


def test_usage_cost_is_none_for_models_without_token_prices(table: PriceTable) -> None:
    assert table.usage_cost("compose", [usage_info(image_output=10)]) is None


def test_usage_cost_is_none_when_an_image_lacks_usage(table: PriceTable) -> None:
    infos = [usage_info(image_output=4000), {"provider_model": "gpt-image-1"}]
    assert table.usage_cost("gpt-image-1", infos) is None


@pytest.mark.parametrize(
    "info",
    [
        {"usage_image_output_tokens": "lots"},
        {"usage_image_output_tokens": "-5"},
        {"usage_image_output_tokens": "5", "usage_images": "0"},
    ],
)
def test_usage_cost_is_none_when_usage_is_unusable(table: PriceTable, info: dict[str, str]) -> None:
    assert table.usage_cost("gpt-image-1", [info]) is None


def test_usage_info_refuses_unknown_class() -> None:
    with pytest.raises(ValueError, match="unknown token classes"):
        usage_info(audio_output=3)


def test_charge_for_rounds_up_to_the_micro_usd() -> None:
    charge = charge_for(10_000, [Decimal("100.2"), Decimal("100.2")], 2)
    assert (charge.total, sum(charge.shares)) == (201, 201)


def test_charge_for_caps_at_the_reservation() -> None:
    charge = charge_for(1_000, [Decimal(900), Decimal(300)], 2)
    assert (charge.total, charge.shares) == (1_000, [750, 250])


def test_charge_for_without_usage_charges_the_reservation_evenly() -> None:
    charge = charge_for(1_001, None, 2)
    assert (charge.total, sorted(charge.shares)) == (1_001, [500, 501])


def test_charge_for_without_reservation_charges_nothing() -> None:
    charge = charge_for(None, [Decimal(5)], 1)
    assert (charge.total, charge.shares) == (None, [0])


@pytest.mark.parametrize(
    ("total", "weights"),
    [(10, [1, 1, 1]), (7, [0, 0]), (1_000_001, [3, 1, 7, 2]), (0, [5, 5]), (3, [1])],
)
def test_split_sums_exactly_and_follows_weights(total: int, weights: list[int]) -> None:
    parts = split(total, [Decimal(w) for w in weights])
    assert sum(parts) == total
    whole = sum(weights) or len(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - total * (weight or 1) / whole) < 1


@pytest.mark.parametrize(
    "entry",
    [
        {"tokens": {"image_output": "1"}},
        {"per_image": "0.01", "tokens": {"audio_output": "1"}},
    ],
)
def test_price_table_refuses_unusable_token_entries(entry: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="prices: model 'm'"):
        PriceTable({"models": {"m": entry}})


@pytest.mark.parametrize(
    ("model", "tier", "tokens"),
    [
        ("gemini-2.5-flash-image", None, 1290),
        ("gemini-3-pro-image-preview", "1K", 1120),
        ("gemini-3-pro-image-preview", "4K", 2000),
        ("gemini-3.1-flash-image-preview", "512", 747),
    ],
)
def test_gemini_token_prices_match_per_image_prices_at_documented_tokens(
    table: PriceTable, model: str, tier: str | None, tokens: int
) -> None:
    entry = table.models[model]
    per_image = Decimal(entry["per_image"] if tier is None else entry["tier"][tier]) * 10**6
    (cost,) = table.usage_cost(model, [usage_info(image_output=tokens)]) or [Decimal(-1)]
    assert abs(cost - per_image) / per_image < Decimal("0.01")
