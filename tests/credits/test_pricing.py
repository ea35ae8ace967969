"""Price table: documented per-image prices, n, batch discount, local models, exact integers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pixelforge.domain import GenerationRequest
from pixelforge.domain.request import Quality
from pixelforge.domain.sizes import Tier, parse_size
from pixelforge.services.pricing import PriceTable, from_micro, to_micro


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def request(model: str = "gpt-image-1", quality: str = "low", size: str = "1024x1024",
            n: int = 1, tier: Tier = Tier.T1K) -> GenerationRequest:  # fmt: skip
    return GenerationRequest(
        prompt="a lighthouse", model=model, quality=Quality(quality), size=parse_size(size),
        n=n, tier=tier,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("quality", "size", "micro"),
    [
        ("low", "1024x1024", 11_000),
        ("medium", "1024x1024", 42_000),
        ("high", "1024x1024", 167_000),
        ("low", "1536x1024", 16_000),
        ("medium", "1536x1024", 63_000),
        ("high", "1536x1024", 250_000),
        ("low", "1024x1536", 16_000),
        ("high", "1024x1536", 250_000),
    ],
)
def test_price_gpt_image_1_matches_documented_table(
    table: PriceTable, quality: str, size: str, micro: int
) -> None:
    assert table.price(request(quality=quality, size=size)) == micro


@pytest.mark.parametrize("size", ["1024x1024", "1536x1024"])
def test_price_auto_quality_bills_as_high(table: PriceTable, size: str) -> None:
    assert table.price(request(quality="auto", size=size)) == table.price(
        request(quality="high", size=size)
    )


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_price_n_images_multiplies_per_image(table: PriceTable, n: int) -> None:
    assert table.price(request(quality="medium", n=n)) == 42_000 * n


@pytest.mark.parametrize(("n", "micro"), [(1, 5_500), (2, 11_000), (3, 16_500)])
def test_price_batch_applies_half_discount(table: PriceTable, n: int, micro: int) -> None:
    assert table.price(request(quality="low", n=n), batch=True) == micro


def test_price_batch_odd_micro_rounds_up() -> None:
    odd = PriceTable({"models": {"m": {"per_image": "0.000003"}}, "batch_discount": "0.5"})
    assert odd.price(request(model="m"), batch=True) == 2


@pytest.mark.parametrize("model", ["compose", "zero", "some-unknown-model"])
def test_price_unlisted_model_uses_local_per_image(model: str) -> None:
    local = PriceTable.load(local_per_image="0.01")
    assert local.price(request(model=model, n=3)) == 30_000


def test_price_default_local_per_image_comes_from_table(table: PriceTable) -> None:
    assert table.price(request(model="compose")) == 1_000


def test_price_larger_than_listed_size_uses_largest_entry(table: PriceTable) -> None:
    assert table.price(request(quality="low", size="2048x2048")) == 16_000


def test_price_smaller_than_listed_size_uses_smallest_entry(table: PriceTable) -> None:
    assert table.price(request(quality="high", size="512x512")) == 167_000


def test_price_flat_per_image_model(table: PriceTable) -> None:
    assert table.price(request(model="gemini-2.5-flash-image", n=2)) == 78_000


@pytest.mark.parametrize(("tier", "micro"), [(Tier.T1K, 67_000), (Tier.T4K, 151_000)])
def test_price_tier_model_uses_tier_price(table: PriceTable, tier: Tier, micro: int) -> None:
    req = GenerationRequest(prompt="x", model="gemini-3.1-flash-image-preview", tier=tier)
    assert table.price(req) == micro


@pytest.mark.parametrize(
    "req",
    [
        request(quality="high", n=3),
        request(quality="medium", size="1536x1024", n=7),
        request(model="compose", n=9),
    ],
)
def test_price_is_int_micro_usd(table: PriceTable, req: GenerationRequest) -> None:
    assert type(table.price(req)) is int
    assert type(table.price(req, batch=True)) is int


def test_to_micro_is_decimal_exact_where_float_is_not() -> None:
    # 0.1 + 0.2 in floats is 0.30000000000000004; the ledger must see exactly 300000.
    assert to_micro("0.3") == 300_000
    assert to_micro(Decimal("0.1") + Decimal("0.2")) == 300_000


def test_to_micro_rounds_sub_micro_amounts_up() -> None:
    assert to_micro("0.0000001") == 1


def test_from_micro_round_trips_exactly() -> None:
    assert from_micro(to_micro("12.345678")) == Decimal("12.345678")


def test_price_sum_of_many_is_exact(table: PriceTable) -> None:
    # 0.011 * 1000 images, summed as ints, is exactly $11.
    total = sum(table.price(request(quality="low")) for _ in range(1000))
    assert from_micro(total) == Decimal("11")


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (10_000_000, "10"),
        (100_000_000, "100"),
        (1_500_000, "1.5"),
        (0, "0"),
        (1, "0.000001"),
        (120_000_000, "120"),
    ],
)
def test_from_micro_prints_plain_decimals(micro: int, text: str) -> None:
    assert str(from_micro(micro)) == text
