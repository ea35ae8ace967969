"""The brand kit on the engine contract: the domain record's checks, and the shared helpers
that phrase it for prose-reading engines and add its logo as a reference where there is room."""

from __future__ import annotations

import dataclasses

import pytest
from contract import reference_image

from pixelforge.domain import Brand, GenerationRequest, Reference, ReferenceRole
from pixelforge.domain.request import brand_palette, brand_tone
from pixelforge.engines.base import brand_prompt, brand_references
from pixelforge.errors import InvalidRequestError

LOGO = reference_image(90, 30)
KIT = Brand(palette=("#0b5394", "#f1c232"), headline_font="serif", body_font="sans",
            tone=("warm", "playful"), logo=LOGO)  # fmt: skip


def request(
    brand: Brand | None = KIT, prompt: str = "a poster for a bakery", refs: int = 0
) -> GenerationRequest:
    return GenerationRequest(prompt, references=(Reference(reference_image()),) * refs,
                             brand=brand)  # fmt: skip


def test_brand_prompt_appends_palette_fonts_and_tone_after_the_prompt() -> None:
    text = brand_prompt(request())

    assert text == (
        "a poster for a bakery\n\nBrand guidelines: use the brand colour palette #0b5394, "
        "#f1c232 (most important first); set headlines in a serif typeface; set body text in a "
        "sans-serif typeface; tone: warm, playful."
    )


def test_brand_prompt_says_where_the_logo_goes_when_it_was_sent() -> None:
    assert "the last reference image" in brand_prompt(request(), logo_sent=True)
    assert "logo" not in brand_prompt(request(), logo_sent=False)


def test_brand_prompt_leaves_prompt_unchanged_without_brand_or_with_empty_brand() -> None:
    assert brand_prompt(request(None)) == "a poster for a bakery"
    assert brand_prompt(request(Brand())) == "a poster for a bakery"


def test_brand_prompt_uses_given_base_and_stands_alone_when_base_is_empty() -> None:
    kit = Brand(tone=("calm",))
    assert (
        brand_prompt(request(kit), "A variation") == "A variation\n\nBrand guidelines: tone: calm."
    )
    assert brand_prompt(request(kit), "") == "Brand guidelines: tone: calm."


def test_brand_references_adds_logo_last_with_logo_role_when_model_has_room() -> None:
    refs = brand_references(request(refs=2), max_references=3)

    assert [r.role for r in refs] == [ReferenceRole.SUBJECT, ReferenceRole.SUBJECT,
                                      ReferenceRole.LOGO]  # fmt: skip
    assert refs[-1].image == LOGO


@pytest.mark.parametrize(("kit", "refs", "room"), [
    (KIT, 2, 2), (KIT, 0, 0), (dataclasses.replace(KIT, logo=None), 0, 4), (None, 1, 4),
])  # fmt: skip
def test_brand_references_adds_nothing_without_room_or_logo(
    kit: Brand | None, refs: int, room: int
) -> None:
    req = request(kit, refs=refs)
    assert brand_references(req, room) == req.references


@pytest.mark.parametrize(("fields", "param"), [
    ({"palette": ("#12345",)}, "brand.palette[0]"),
    ({"palette": ("#000000", "red")}, "brand.palette[1]"),
    ({"palette": tuple(f"#00000{i}" for i in range(7))}, "brand.palette"),
    ({"headline_font": "comic"}, "brand.fonts.headline"),
    ({"body_font": "papyrus"}, "brand.fonts.body"),
    ({"tone": ("<b>loud</b>",)}, "brand.tone[0]"),
    ({"tone": ("x" * 33,)}, "brand.tone[0]"),
    ({"tone": tuple(f"w{i}" for i in range(9))}, "brand.tone"),
])  # fmt: skip
def test_brand_refuses_bad_values_naming_the_field(fields: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        Brand(**fields)  # type: ignore[arg-type]
    assert excinfo.value.param == param


def test_brand_palette_lowercases_and_drops_repeats() -> None:
    assert brand_palette(["#0B5394", " #0b5394 ", "#F1C232"]) == ("#0b5394", "#f1c232")


def test_brand_tone_strips_and_keeps_hyphens_apostrophes_and_other_scripts() -> None:
    assert brand_tone([" warm ", "no-nonsense", "it's fun", "chaleureux", "温かい", "warm"]) == (
        "warm", "no-nonsense", "it's fun", "chaleureux", "温かい",
    )  # fmt: skip
