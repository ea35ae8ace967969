"""Aspect ratios, resolution tiers and the one size function.

A request names its shape either as an aspect ratio plus a resolution tier (the tier fixes
the long edge, the ratio the short one, rounded to a multiple of 16) or as an explicit
``WxH``. ``resolve_size`` is the only place that turns either into pixels.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from pixelforge.errors import InvalidRequestError, allowed

#: The named aspect ratios, in the order the UI and docs list them.
ASPECT_RATIOS: tuple[str, ...] = (
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9", "1:4", "4:1",
)  # fmt: skip

#: Explicit sizes: each side a multiple of 16 within these bounds, ratio within 1:8..8:1.
SIDE_STEP = 16
MIN_SIDE = 64
MAX_SIDE = 4096
MAX_RATIO = 8.0

_SIZE_RE = re.compile(r"^\s*([0-9]{1,6})\s*[xX×]\s*([0-9]{1,6})\s*$")


class Tier(StrEnum):
    """Resolution tier: the long edge of the output."""

    T512 = "512"
    T1K = "1K"
    T2K = "2K"
    T4K = "4K"

    @property
    def long_edge(self) -> int:
        return _LONG_EDGE[self]

    @classmethod
    def parse(cls, value: str, param: str = "resolution") -> Tier:
        for tier in cls:
            if tier.value.lower() == value.strip().lower():
                return tier
        raise InvalidRequestError(
            f"{param}: {value!r} is not a resolution tier; allowed: {allowed(t.value for t in cls)}",
            param=param,
        )


_LONG_EDGE = {Tier.T512: 512, Tier.T1K: 1024, Tier.T2K: 2048, Tier.T4K: 4096}


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def ratio(self) -> float:
        return self.width / self.height

    @property
    def long_edge(self) -> int:
        return max(self.width, self.height)


def aspect_ratio_value(name: str, param: str = "aspect_ratio") -> tuple[int, int]:
    """``"16:9"`` -> ``(16, 9)``; anything outside the named set is an error."""
    if name not in ASPECT_RATIOS:
        raise InvalidRequestError(
            f"{param}: {name!r} is not a supported aspect ratio; allowed: {allowed(ASPECT_RATIOS)}",
            param=param,
        )
    w, h = name.split(":")
    return int(w), int(h)


def _round_to_step(x: float) -> int:
    return max(SIDE_STEP, math.floor(x / SIDE_STEP + 0.5) * SIDE_STEP)


def resolve_size(
    aspect_ratio: str = "1:1", tier: Tier = Tier.T1K, size: Size | None = None
) -> Size:
    """The pixel size of a request: an explicit ``size`` wins, else ratio + tier.

    The long edge is the tier's; the short edge follows the ratio, rounded to a multiple of 16.
    """
    if size is not None:
        return validate_size(size)
    rw, rh = aspect_ratio_value(aspect_ratio)
    long_edge = tier.long_edge
    if rw >= rh:
        return Size(long_edge, _round_to_step(long_edge * rh / rw))
    return Size(_round_to_step(long_edge * rw / rh), long_edge)


def validate_size(size: Size, param: str = "size") -> Size:
    """Check an explicit size against the rules every engine shares."""
    rule = (
        f"each side a multiple of {SIDE_STEP} between {MIN_SIDE} and {MAX_SIDE}, "
        f"ratio within 1:{MAX_RATIO:g}..{MAX_RATIO:g}:1"
    )
    w, h = size.width, size.height
    if (
        w % SIDE_STEP
        or h % SIDE_STEP
        or not MIN_SIDE <= w <= MAX_SIDE
        or not MIN_SIDE <= h <= MAX_SIDE
        or max(w / h, h / w) > MAX_RATIO
    ):
        raise InvalidRequestError(f"{param}: {str(size)!r} is not allowed; {rule}", param=param)
    return size


def parse_size(text: str, param: str = "size") -> Size:
    """Parse ``"WxH"`` into a validated :class:`Size`."""
    match = _SIZE_RE.match(text)
    if not match:
        raise InvalidRequestError(
            f"{param}: {text!r} is not a size; write it as WIDTHxHEIGHT, e.g. 1536x1024",
            param=param,
        )
    return validate_size(Size(int(match.group(1)), int(match.group(2))), param=param)
