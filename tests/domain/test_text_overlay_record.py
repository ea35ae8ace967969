"""The text overlay record: checked on construction, errors naming the field, the JSON form."""

from __future__ import annotations

from typing import Any

import pytest

from pixelforge.domain import GenerationRequest, OverlayPosition, Scrim, TextOverlay
from pixelforge.errors import InvalidRequestError

BAD: list[Any] = [
    pytest.param({}, "text_overlay", "nothing to draw", id="empty"),
    pytest.param({"headline": "  "}, "text_overlay.headline", "blank", id="blank"),
    pytest.param({"headline": 7}, "text_overlay.headline", "not text", id="not-text"),
    pytest.param({"headline": "x" * 201}, "text_overlay.headline", "at most 200", id="long"),
    pytest.param({"cta": "a\nb"}, "text_overlay.cta", "U+000A", id="cta-line-break"),
    pytest.param({"subtitle": "a\tb"}, "text_overlay.subtitle", "U+0009", id="tab"),
    pytest.param({"labels": ["a"] * 7}, "text_overlay.labels", "at most 6", id="labels"),
    pytest.param({"labels": ["ok", ""]}, "text_overlay.labels[1]", "blank", id="label-blank"),
    pytest.param({"labels": "a"}, "text_overlay.labels", "not a list", id="labels-str"),
    pytest.param({"headline": "a", "position": "middle"}, "text_overlay.position",
                 "allowed: auto, top, bottom, center, left, right", id="position"),
    pytest.param({"headline": "a", "scrim": "maybe"}, "text_overlay.scrim", "auto, on, off",
                 id="scrim"),
    pytest.param({"headline": "a", "color": "red"}, "text_overlay.color", "#rrggbb", id="color"),
    pytest.param({"headline": "a", "fonts": {"title": "serif"}}, "text_overlay.fonts.title",
                 "headline, subtitle, cta, label", id="font-role"),
    pytest.param({"headline": "a", "fonts": {"cta": "comic"}}, "text_overlay.fonts.cta",
                 "sans, serif, display, mono", id="font-family"),
    pytest.param({"headline": "a", "size": 3}, "text_overlay.size", "not a text overlay field",
                 id="unknown"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "param", "says"), BAD)
def test_from_dict_rejects_bad_field_naming_it(
    fields: dict[str, Any], param: str, says: str
) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        TextOverlay.from_dict(fields)
    assert excinfo.value.param == param
    assert says in excinfo.value.message
    assert excinfo.value.message.startswith(f"{param}: ")


def test_from_dict_names_bare_fields_when_the_body_is_the_overlay() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        TextOverlay.from_dict({"headline": "a", "labels": ["x", " "]}, param="")
    assert excinfo.value.param == "labels[1]"


def test_record_checks_itself_when_built_directly() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        TextOverlay(headline="a", headline_font="comic")
    assert excinfo.value.param == "text_overlay.fonts.headline"
    with pytest.raises(InvalidRequestError):
        TextOverlay(headline="a", position="middle")  # type: ignore[arg-type]


def test_texts_are_kept_exactly_and_listed_top_to_bottom() -> None:
    overlay = TextOverlay(headline="  50% OFF  ", subtitle="Line one\nline two", cta="Go!",
                          labels=("$9.99", "ＡＢＣ"))  # fmt: skip
    assert overlay.texts() == [("headline", "  50% OFF  "), ("subtitle", "Line one\nline two"),
                               ("label", "$9.99"), ("label", "ＡＢＣ"), ("cta", "Go!")]  # fmt: skip


def test_json_form_round_trips_with_strings_as_enums_and_lower_case_colour() -> None:
    data = {"headline": "שלום", "subtitle": None, "cta": "Buy", "labels": ["a"],
            "position": "left", "color": "#AABBCC", "scrim": "on",
            "fonts": {"headline": "serif", "label": "mono"}}  # fmt: skip
    overlay = TextOverlay.from_dict(data)
    assert (overlay.position, overlay.scrim, overlay.color) == (
        OverlayPosition.LEFT, Scrim.ON, "#aabbcc",
    )  # fmt: skip
    assert overlay.fonts == {"headline": "serif", "label": "mono"}
    assert overlay.to_dict() == {**data, "color": "#aabbcc"}
    assert TextOverlay.from_dict(overlay.to_dict()) == overlay


def test_request_carries_an_overlay() -> None:
    overlay = TextOverlay(headline="Hi")
    assert GenerationRequest("poster", text_overlay=overlay).text_overlay == overlay
    assert GenerationRequest("poster").text_overlay is None
