"""Price tables as data: micro-USD per request, from ``data/prices.json`` or an override file.

A model's entry is a flat ``per_image`` price, a ``tier`` table (512/1K/2K/4K), or a
``quality`` table by size (the smallest listed size with at least the requested pixels, else
the largest). ``auto`` quality is priced as ``high``: a reservation must cover the worst case.
Models without an entry (local engines, ``compose``) cost ``local_per_image``.

That per-request price is the *reservation*: the worst case, held when a job is accepted. A
model's entry may add ``tokens``, USD per 1M tokens by class (``text_input``, ``image_input``,
``text_output``, ``image_output``); then a finished job is charged what its reported usage
costs (:meth:`PriceTable.usage_cost`), never more than the reservation
(:func:`charge_for`). A class without a price costs nothing; no usage, no charge from usage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from pixelforge.domain import GenerationRequest
from pixelforge.engines.base import USAGE_CLASSES

MICRO = Decimal(1_000_000)
#: The largest amount we accept anywhere (one billion USD): fits every database's BIGINT.
MAX_MICRO = 10**15
#: The key in a job's stored request that marks a batch job (priced at the batch discount).
BATCH_KEY = "batch"


def to_micro(usd: str | Decimal) -> int:
    """Exact USD -> integer micro-USD (rounded up: we never under-reserve)."""
    value = Decimal(usd) * MICRO
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def from_micro(micro: int) -> Decimal:
    """Micro-USD -> USD without trailing zeros, never in exponent form (10, not 1E+1)."""
    value = (Decimal(micro) / MICRO).normalize()
    exponent = value.as_tuple().exponent
    return value.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else value


class PriceTable:
    def __init__(self, data: dict[str, Any]) -> None:
        self.models: dict[str, Any] = data.get("models", {})
        self.local = to_micro(str(data.get("local_per_image", "0")))
        self.batch_discount = Decimal(str(data.get("batch_discount", "0.5")))
        self.tokens: dict[str, dict[str, Decimal]] = {}
        for model, entry in self.models.items():
            if "tokens" not in entry:
                continue
            if not {"per_image", "tier", "quality"} & set(entry):
                raise ValueError(f"prices: model {model!r} has token prices but no per-image "
                                 "price; reservations need one (per_image, tier or quality)")  # fmt: skip
            unknown = set(entry["tokens"]) - set(USAGE_CLASSES)
            if unknown:
                raise ValueError(f"prices: model {model!r}: unknown token classes "
                                 f"{sorted(unknown)}; allowed: {', '.join(USAGE_CLASSES)}")  # fmt: skip
            self.tokens[model] = {k: Decimal(str(v)) for k, v in entry["tokens"].items()}

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

    def usage_cost(
        self, model: str, infos: Sequence[Mapping[str, str]], batch: bool = False
    ) -> list[Decimal] | None:
        """Each image's exact cost in micro-USD from the usage in its ``info``, or None.

        None (charge the reservation) when the model has no token prices, or any image lacks
        usable ``usage_*`` keys (see :func:`pixelforge.engines.base.usage_info`). An image
        whose usage covers a call that made ``usage_images`` images bears that share of it.
        ``batch`` applies the batch discount, as :meth:`price` does.
        """
        prices = self.tokens.get(model)
        if prices is None or not infos:
            return None
        costs = []
        for info in infos:
            try:
                counts = {c: int(info[f"usage_{c}_tokens"]) for c in USAGE_CLASSES
                          if f"usage_{c}_tokens" in info}  # fmt: skip
                images = int(info.get("usage_images", "1"))
            except ValueError:
                return None
            if not counts or images < 1 or min(counts.values()) < 0:
                return None
            # micro-USD per token == USD per 1M tokens
            cost = sum((Decimal(n) * prices.get(c, Decimal(0)) for c, n in counts.items()),
                       Decimal(0))  # fmt: skip
            costs.append(cost / images * (self.batch_discount if batch else 1))
        return costs


def split(total: int, weights: Sequence[Decimal]) -> list[int]:
    """``total`` in integer parts proportional to ``weights`` (largest remainder; exact sum)."""
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [Decimal(1)] * len(weights)
    whole = sum(weights)
    exact = [Decimal(total) * w / whole for w in weights]
    parts = [int(x) for x in exact]  # floor: all are >= 0
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


@dataclass(frozen=True, slots=True)
class Charge:
    """What a finished job is charged (``total``, None when nothing was reserved) and each
    image's part of it (``shares``)."""

    total: int | None
    shares: list[int]


def charge_for(reserved: int | None, costs: Sequence[Decimal] | None, images: int) -> Charge:
    """The charge of a successful job: its usage cost rounded up to the micro-USD, at most
    the reservation; the reservation itself when there is no usage cost."""
    if reserved is None:
        return Charge(None, [0] * images)
    if costs is None or len(costs) != images:
        return Charge(reserved, split(reserved, [Decimal(1)] * images))
    total = int(sum(costs, Decimal(0)).to_integral_value(rounding="ROUND_CEILING"))
    total = max(0, min(total, reserved))
    return Charge(total, split(total, costs))
