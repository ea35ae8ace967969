"""The published brief schema matches the model, and brief errors name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixelforge.engines.compose.brief import json_schema, parse_brief
from pixelforge.errors import InvalidRequestError

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "docs" / "brief.schema.json"


def test_published_schema_matches_brief_model() -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == json_schema()


def test_json_schema_names_draft_2020_12() -> None:
    assert json_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_parse_brief_returns_brief_when_json_valid() -> None:
    brief = parse_brief('{"kind": "banner", "headline": "Hello", "palette": ["#112233"]}')
    assert (brief.kind, brief.headline, brief.palette) == ("banner", "Hello", ["#112233"])


@pytest.mark.parametrize(
    ("text", "param_prefix"),
    [
        pytest.param('{"chart": {"points": []}}', "brief.chart.points", id="empty-points"),
        pytest.param(
            '{"chart": {"points": [{"label": "A", "value": "x"}]}}',
            "brief.chart.points.0.value",
            id="point-value",
        ),
        pytest.param('{"kind": "flyer"}', "brief.kind", id="kind"),
        pytest.param('{"style": "grunge"}', "brief.style", id="style"),
        pytest.param('{"palette": ["red"]}', "brief.palette.0", id="palette-entry"),
        pytest.param('{"headline": "x", "colour": "red"}', "brief.colour", id="unknown-field"),
    ],
)
def test_parse_brief_names_field_path_when_field_invalid(text: str, param_prefix: str) -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_brief(text)
    assert str(excinfo.value.param).startswith(param_prefix)


def test_parse_brief_names_field_in_message_when_field_invalid() -> None:
    with pytest.raises(InvalidRequestError, match=r"'chart\.points'"):
        parse_brief('{"chart": {"points": []}}')


def test_parse_brief_names_param_when_json_malformed() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_brief('{"headline": ', param="options.brief")
    assert excinfo.value.param == "options.brief"


def test_parse_brief_names_bare_param_when_json_not_an_object() -> None:
    with pytest.raises(InvalidRequestError) as excinfo:
        parse_brief("[1, 2]")
    assert excinfo.value.param == "brief"
