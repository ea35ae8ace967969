"""The pure parts of variations: which models take a strength, the shape a model can make of an
image, seeds that never repeat the source's, and options without server-set state."""

from __future__ import annotations

import dataclasses

import pytest

from pixelforge.domain import Mode, Size, Tier
from pixelforge.domain.request import MAX_SEED
from pixelforge.engines.compose.engine import CAPABILITIES as COMPOSE
from pixelforge.engines.gemini_images import PRO_3, GeminiOptions, Turn, TurnPart
from pixelforge.engines.local.options import LocalOptions
from pixelforge.errors import InvalidRequestError
from pixelforge.services.variations import (
    fresh_options,
    output_shape,
    takes_strength,
    variation_seed,
)

LOCAL = dataclasses.replace(COMPOSE, options_type=LocalOptions)


def test_takes_strength_needs_a_strength_option_and_an_input_image() -> None:
    assert takes_strength(LOCAL)
    assert not takes_strength(COMPOSE)  # compose's options have no strength
    assert not takes_strength(dataclasses.replace(LOCAL, modes=frozenset({Mode.GENERATE})))
    assert not takes_strength(dataclasses.replace(LOCAL, max_references=0))


def test_output_shape_keeps_the_size_on_a_model_with_explicit_sizes() -> None:
    assert output_shape(COMPOSE, 320, 256) == {"size": Size(320, 256)}


@pytest.mark.parametrize(
    ("width", "height", "ratio", "tier"),
    [
        (1264, 848, "3:2", Tier.T1K),  # a Gemini 3:2 image
        (1024, 1024, "1:1", Tier.T1K),
        (256, 256, "1:1", Tier.T1K),  # below the smallest tier Pro makes: the nearest
        (2400, 1350, "16:9", Tier.T2K),
        (900, 3600, "9:16", Tier.T4K),  # 1:4 is not Pro's: the nearest ratio it has
    ],
)
def test_output_shape_picks_the_nearest_ratio_and_tier_otherwise(
    width: int, height: int, ratio: str, tier: Tier
) -> None:
    assert output_shape(PRO_3, width, height) == {"size": None, "aspect_ratio": ratio, "tier": tier}


def test_output_shape_falls_back_to_ratio_and_tier_for_a_size_no_model_takes() -> None:
    # 1000 is not a multiple of 16: no explicit size, the nearest named shape instead.
    assert output_shape(COMPOSE, 1000, 1000) == {"size": None, "aspect_ratio": "1:1",
                                                 "tier": Tier.T1K}  # fmt: skip


def test_variation_seed_takes_a_given_seed_whose_run_misses_the_source() -> None:
    assert variation_seed(7, 4, 8) == 8
    assert variation_seed(7, 4, 3) == 3  # 3..6
    assert variation_seed(None, 4, 7) == 7


@pytest.mark.parametrize(("seed", "n", "source"), [(7, 1, 7), (4, 4, 7), (MAX_SEED, 2, 0)])
def test_variation_seed_refuses_a_run_over_the_sources_seed(seed: int, n: int, source: int) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        variation_seed(source, n, seed)
    assert caught.value.param == "seed"
    assert f"the source image's seed {source}" in caught.value.message


def test_variation_seed_draws_again_while_the_run_would_repeat_the_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draws = iter([2, 5, 6])
    monkeypatch.setattr("pixelforge.services.variations.secrets.randbelow", lambda _: next(draws))

    assert variation_seed(5, 4) == 6  # 2..5 and 5..8 hold the source's seed


def test_fresh_options_drop_server_set_state_and_keep_the_rest() -> None:
    history = (Turn(role="user", parts=(TurnPart(text="a"),)),
               Turn(role="model", parts=(TurnPart(text="b", thought_signature="c2ln"),)))  # fmt: skip
    assert fresh_options(GeminiOptions(history=history)) == GeminiOptions()
    local = LocalOptions(steps=3, strength=0.5)
    assert fresh_options(local) is local
    assert fresh_options(None) is None
