"""The size function: named ratios x tiers, explicit ``WxH`` sizes, tiers and ratio names."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixelforge.domain.sizes import (
    ASPECT_RATIOS,
    MAX_RATIO,
    MAX_SIDE,
    MIN_SIDE,
    SIDE_STEP,
    Size,
    Tier,
    aspect_ratio_value,
    parse_size,
    resolve_size,
)
from pixelforge.errors import InvalidRequestError

# Every named ratio at every tier, as (width, height). Computed independently of the code under
# test with exact arithmetic: long edge = the tier's, short edge = long * short/long rounded
# half-up to a multiple of 16.
EXPECTED: dict[tuple[str, Tier], tuple[int, int]] = {
    ("1:1", Tier.T512): (512, 512),
    ("1:1", Tier.T1K): (1024, 1024),
    ("1:1", Tier.T2K): (2048, 2048),
    ("1:1", Tier.T4K): (4096, 4096),
    ("2:3", Tier.T512): (336, 512),
    ("2:3", Tier.T1K): (688, 1024),
    ("2:3", Tier.T2K): (1360, 2048),
    ("2:3", Tier.T4K): (2736, 4096),
    ("3:2", Tier.T512): (512, 336),
    ("3:2", Tier.T1K): (1024, 688),
    ("3:2", Tier.T2K): (2048, 1360),
    ("3:2", Tier.T4K): (4096, 2736),
    ("3:4", Tier.T512): (384, 512),
    ("3:4", Tier.T1K): (768, 1024),
    ("3:4", Tier.T2K): (1536, 2048),
    ("3:4", Tier.T4K): (3072, 4096),
    ("4:3", Tier.T512): (512, 384),
    ("4:3", Tier.T1K): (1024, 768),
    ("4:3", Tier.T2K): (2048, 1536),
    ("4:3", Tier.T4K): (4096, 3072),
    ("4:5", Tier.T512): (416, 512),
    ("4:5", Tier.T1K): (816, 1024),
    ("4:5", Tier.T2K): (1632, 2048),
    ("4:5", Tier.T4K): (3280, 4096),
    ("5:4", Tier.T512): (512, 416),
    ("5:4", Tier.T1K): (1024, 816),
    ("5:4", Tier.T2K): (2048, 1632),
    ("5:4", Tier.T4K): (4096, 3280),
    ("9:16", Tier.T512): (288, 512),
    ("9:16", Tier.T1K): (576, 1024),
    ("9:16", Tier.T2K): (1152, 2048),
    ("9:16", Tier.T4K): (2304, 4096),
    ("16:9", Tier.T512): (512, 288),
    ("16:9", Tier.T1K): (1024, 576),
    ("16:9", Tier.T2K): (2048, 1152),
    ("16:9", Tier.T4K): (4096, 2304),
    ("21:9", Tier.T512): (512, 224),
    ("21:9", Tier.T1K): (1024, 432),
    ("21:9", Tier.T2K): (2048, 880),
    ("21:9", Tier.T4K): (4096, 1760),
    ("1:4", Tier.T512): (128, 512),
    ("1:4", Tier.T1K): (256, 1024),
    ("1:4", Tier.T2K): (512, 2048),
    ("1:4", Tier.T4K): (1024, 4096),
    ("4:1", Tier.T512): (512, 128),
    ("4:1", Tier.T1K): (1024, 256),
    ("4:1", Tier.T2K): (2048, 512),
    ("4:1", Tier.T4K): (4096, 1024),
}

ALL_CASES = [
    pytest.param(ratio, tier, id=f"{ratio}@{tier.value}")
    for ratio in ASPECT_RATIOS
    for tier in Tier
]

# Sides in units of SIDE_STEP: MIN_SIDE..MAX_SIDE is 4..256 steps.
MIN_STEPS = MIN_SIDE // SIDE_STEP
MAX_STEPS = MAX_SIDE // SIDE_STEP


def _ratio(name: str) -> tuple[int, int]:
    w, h = name.split(":")
    return int(w), int(h)


def _exact_short_edge(ratio: str, tier: Tier) -> Fraction:
    rw, rh = _ratio(ratio)
    return Fraction(tier.long_edge * min(rw, rh), max(rw, rh))


def _round_half_up_to_step(x: Fraction) -> int:
    return math.floor(x / SIDE_STEP + Fraction(1, 2)) * SIDE_STEP


# --- ratio + tier -------------------------------------------------------------------------


def test_expected_table_covers_every_ratio_and_tier() -> None:
    assert set(EXPECTED) == {(r, t) for r in ASPECT_RATIOS for t in Tier}


@pytest.mark.parametrize(("ratio", "tier"), ALL_CASES)
def test_resolve_matches_table_when_ratio_and_tier_named(ratio: str, tier: Tier) -> None:
    size = resolve_size(ratio, tier)
    assert (size.width, size.height) == EXPECTED[(ratio, tier)]


@pytest.mark.parametrize(("ratio", "tier"), ALL_CASES)
def test_resolve_uses_tier_long_edge_when_ratio_and_tier_named(ratio: str, tier: Tier) -> None:
    assert resolve_size(ratio, tier).long_edge == tier.long_edge


@pytest.mark.parametrize(("ratio", "tier"), ALL_CASES)
def test_resolve_gives_multiple_of_16_short_edge_when_ratio_and_tier_named(
    ratio: str, tier: Tier
) -> None:
    size = resolve_size(ratio, tier)
    assert min(size.width, size.height) % 16 == 0


@pytest.mark.parametrize(("ratio", "tier"), ALL_CASES)
def test_resolve_rounds_short_edge_half_up_when_ratio_and_tier_named(
    ratio: str, tier: Tier
) -> None:
    size = resolve_size(ratio, tier)
    expected = _round_half_up_to_step(_exact_short_edge(ratio, tier))
    assert min(size.width, size.height) == expected


@pytest.mark.parametrize(("ratio", "tier"), ALL_CASES)
def test_resolve_keeps_short_edge_within_half_step_when_ratio_and_tier_named(
    ratio: str, tier: Tier
) -> None:
    size = resolve_size(ratio, tier)
    assert abs(min(size.width, size.height) - _exact_short_edge(ratio, tier)) <= SIDE_STEP // 2


@pytest.mark.parametrize(("ratio", "tier"), ALL_CASES)
def test_resolve_matches_ratio_orientation_when_ratio_and_tier_named(
    ratio: str, tier: Tier
) -> None:
    rw, rh = _ratio(ratio)
    size = resolve_size(ratio, tier)
    expected = (rw > rh) - (rw < rh)
    assert (size.width > size.height) - (size.width < size.height) == expected


# Hand-computed spot checks:
#   16:9 @ 1K: 1024 * 9/16 = 576                               -> 1024x576
#   4:5 @ 2K: 2048 * 4/5 = 1638.4; /16 = 102.4 -> 102; *16     -> 1632x2048
#   21:9 @ 512: 512 * 9/21 = 219.43; /16 = 13.71 -> 14; *16    -> 512x224
#   1:4 @ 512: 512 / 4 = 128                                   -> 128x512
#   9:16 @ 4K: 4096 * 9/16 = 2304                              -> 2304x4096
#   4:5 @ 4K: 4096 * 4/5 = 3276.8; /16 = 204.8 -> 205; *16     -> 3280x4096
@pytest.mark.parametrize(
    ("ratio", "tier", "expected"),
    [
        ("16:9", Tier.T1K, Size(1024, 576)),
        ("4:5", Tier.T2K, Size(1632, 2048)),
        ("21:9", Tier.T512, Size(512, 224)),
        ("1:4", Tier.T512, Size(128, 512)),
        ("9:16", Tier.T4K, Size(2304, 4096)),
        ("4:5", Tier.T4K, Size(3280, 4096)),
    ],
)
def test_resolve_gives_hand_computed_size_when_spot_checked(
    ratio: str, tier: Tier, expected: Size
) -> None:
    assert resolve_size(ratio, tier) == expected


def test_resolve_prefers_explicit_size_when_given() -> None:
    assert resolve_size("16:9", Tier.T4K, Size(640, 480)) == Size(640, 480)


def test_resolve_rejects_explicit_size_when_invalid() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        resolve_size("1:1", Tier.T1K, Size(100, 100))
    assert excinfo.value.param == "size"


def test_resolve_defaults_to_square_1k_when_nothing_named() -> None:
    assert resolve_size() == Size(1024, 1024)


# --- explicit sizes -----------------------------------------------------------------------


@st.composite
def valid_sizes(draw: st.DrawFn) -> tuple[int, int]:
    w = draw(st.integers(MIN_STEPS, MAX_STEPS))
    lo = max(MIN_STEPS, math.ceil(w / MAX_RATIO))
    hi = min(MAX_STEPS, math.floor(w * MAX_RATIO))
    h = draw(st.integers(lo, hi))
    return w * SIDE_STEP, h * SIDE_STEP


def _maybe_swap(size: tuple[int, int], swap: bool) -> tuple[int, int]:
    return (size[1], size[0]) if swap else size


@given(valid_sizes())
def test_parse_accepts_size_when_all_rules_hold(wh: tuple[int, int]) -> None:
    w, h = wh
    assert parse_size(f"{w}x{h}") == Size(w, h)


@given(valid_sizes())
def test_parse_round_trips_text_when_size_valid(wh: tuple[int, int]) -> None:
    text = f"{wh[0]}x{wh[1]}"
    assert str(parse_size(text)) == text


def _assert_rejected(w: int, h: int) -> None:
    text = f"{w}x{h}"
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_size(text)
    assert excinfo.value.param == "size"
    assert text in excinfo.value.message


@given(st.integers(MIN_SIDE, MAX_SIDE).filter(lambda v: v % SIDE_STEP), st.booleans())
def test_parse_rejects_size_when_side_not_multiple_of_16(bad: int, swap: bool) -> None:
    # The other side is the multiple of 16 just below, so only the step rule is broken.
    good = bad // SIDE_STEP * SIDE_STEP
    _assert_rejected(*_maybe_swap((bad, good), swap))


@given(st.integers(0, MIN_STEPS - 1), st.booleans())
def test_parse_rejects_size_when_side_below_minimum(steps: int, swap: bool) -> None:
    small = steps * SIDE_STEP
    _assert_rejected(*_maybe_swap((small, MIN_SIDE), swap))


@given(st.integers(MAX_STEPS + 1, 999_999 // SIDE_STEP), st.booleans())
def test_parse_rejects_size_when_side_above_maximum(steps: int, swap: bool) -> None:
    big = steps * SIDE_STEP
    _assert_rejected(*_maybe_swap((big, MAX_SIDE), swap))


@st.composite
def too_elongated_sizes(draw: st.DrawFn) -> tuple[int, int]:
    # long > 8 * short with both sides legal on their own: short in 4..31 steps.
    short = draw(st.integers(MIN_STEPS, MAX_STEPS // 8 - 1))
    long = draw(st.integers(short * 8 + 1, MAX_STEPS))
    return long * SIDE_STEP, short * SIDE_STEP


@given(too_elongated_sizes(), st.booleans())
def test_parse_rejects_size_when_ratio_beyond_8_to_1(wh: tuple[int, int], swap: bool) -> None:
    _assert_rejected(*_maybe_swap(wh, swap))


@pytest.mark.parametrize(
    "size", [Size(512, 64), Size(64, 512), Size(4096, 512), Size(64, 64), Size(4096, 4096)]
)
def test_parse_accepts_size_when_on_boundary(size: Size) -> None:
    assert parse_size(str(size)) == size


@pytest.mark.parametrize(
    "text",
    ["abc", "1024", "1024x", "-16x64", "1e3x64", "", "x1024", "64x64x64", "64 by 64", "64.0x64"],
)
def test_parse_rejects_text_when_not_a_size(text: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_size(text)
    assert excinfo.value.param == "size"


@pytest.mark.parametrize("text", ["abc", "1024x", "-16x64"])
def test_parse_names_text_in_message_when_not_a_size(text: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_size(text)
    assert repr(text) in excinfo.value.message


@given(st.text(max_size=20))
def test_parse_returns_valid_size_or_raises_invalid_request_when_given_any_text(
    text: str,
) -> None:
    try:
        size = parse_size(text)
    except InvalidRequestError as exc:
        param = exc.param
    else:
        param = "size"
        assert size.width % SIDE_STEP == 0
        assert size.height % SIDE_STEP == 0
    assert param == "size"


def test_parse_uses_given_param_name_when_rejecting() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_size("abc", param="canvas")
    assert excinfo.value.param == "canvas"


# --- aspect ratio names -------------------------------------------------------------------


@pytest.mark.parametrize("name", ASPECT_RATIOS)
def test_aspect_ratio_value_splits_name_when_known(name: str) -> None:
    assert aspect_ratio_value(name) == _ratio(name)


@pytest.mark.parametrize("name", ["7:3", "16:10", "", "1:1 ", "16/9"])
def test_aspect_ratio_value_rejects_name_when_unknown(name: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        aspect_ratio_value(name)
    assert excinfo.value.param == "aspect_ratio"


@pytest.mark.parametrize("name", ["7:3", "16:10", ""])
def test_aspect_ratio_value_names_value_in_message_when_unknown(name: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        aspect_ratio_value(name)
    assert repr(name) in excinfo.value.message


def test_aspect_ratio_value_lists_allowed_in_message_when_unknown() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        aspect_ratio_value("7:3")
    assert excinfo.value.message.endswith("allowed: " + ", ".join(ASPECT_RATIOS))


# --- tiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1k", Tier.T1K),
        ("1K", Tier.T1K),
        ("2K", Tier.T2K),
        ("2k", Tier.T2K),
        ("4k", Tier.T4K),
        ("512", Tier.T512),
        (" 1k ", Tier.T1K),
    ],
)
def test_tier_parse_accepts_text_when_case_differs(text: str, expected: Tier) -> None:
    assert Tier.parse(text) is expected


@pytest.mark.parametrize(
    ("tier", "long_edge"),
    [(Tier.T512, 512), (Tier.T1K, 1024), (Tier.T2K, 2048), (Tier.T4K, 4096)],
)
def test_tier_long_edge_gives_pixels_when_read(tier: Tier, long_edge: int) -> None:
    assert tier.long_edge == long_edge


@pytest.mark.parametrize("text", ["8K", "", "k", "1K2"])
def test_tier_parse_rejects_text_when_unknown(text: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        Tier.parse(text)
    assert excinfo.value.param == "resolution"


def test_tier_parse_names_value_and_allowed_in_message_when_unknown() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        Tier.parse("8K")
    assert "'8K'" in excinfo.value.message
    assert excinfo.value.message.endswith("allowed: 512, 1K, 2K, 4K")
