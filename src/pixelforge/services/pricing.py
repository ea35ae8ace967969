"""Price tables as data: micro-USD per request, from ``data/prices.json`` or an override file.

A model's entry is a flat ``per_image`` price, a ``tier`` table (512/1K/2K/4K), or a
``quality`` table by size (the smallest listed size with at least the requested pixels, else
the largest). ``auto`` quality is priced as ``high``: a reservation must cover the worst case.
Models without an entry (local engines, ``compose``) cost ``local_per_image``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from pixelforge.domain import GenerationRequest

MICRO = Decimal(1_000_000)
#: The largest amount we accept anywhere (one billion USD): fits every database's BIGINT.
MAX_MICRO = 10**15


def to_micro(usd: str | Decimal) -> int:
    """Exact USD -> integer micro-USD (rounded up: we never under-reserve)."""
    value = Decimal(usd) * MICRO
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def from_micro(micro: int) -> Decimal:
    return (Decimal(micro) / MICRO).normalize()


class PriceTable:
    def __init__(self, data: dict[str, Any]) -> None:
        self.models: dict[str, Any] = data.get("models", {})
        self.local = to_micro(str(data.get("local_per_image", "0")))
        self.batch_discount = Decimal(str(data.get("batch_discount", "0.5")))

    @classmethod
    def load(cls, path: Path | None = None, local_per_image: str | None = None) -> PriceTable:
        text = path.read_text() if path else (
            resources.files("pixelforge") / "data" / "prices.json"
        ).read_text()  # fmt: skip
        data = json.loads(text)
        if local_per_image is not None:
            data["local_per_image"] = local_per_image
        return cls(data)

    def per_image(self, request: GenerationRequest) -> int:
        entry = self.models.get(request.model)
        if entry is None:
            return self.local
        if "per_image" in entry:
            return to_micro(entry["per_image"])
        if "tier" in entry:
            return to_micro(entry["tier"].get(request.tier.value, max(entry["tier"].values())))
        quality = request.quality.value
        by_size: dict[str, str] = entry["quality"].get(quality if quality != "auto" else "high")
        size = request.output_size
        options = sorted(
            ((int(w) * int(h), price) for w, h, price in
             ((*k.split("x"), v) for k, v in by_size.items())),
        )  # fmt: skip
        for pixels, price in options:
            if pixels >= size.pixels:
                return to_micro(price)
        return to_micro(options[-1][1])

    def price(self, request: GenerationRequest, batch: bool = False) -> int:
        """The reservation for a whole request (n images), with the batch discount if any."""
        total = Decimal(self.per_image(request) * request.n)
        if batch:
            total *= self.batch_discount
        return int(total.to_integral_value(rounding="ROUND_CEILING"))
