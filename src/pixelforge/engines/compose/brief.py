"""The structured brief: what the compose engine lays out.

A brief is what a free-text prompt is parsed into, and what users (or other engines) can
send directly with ``--brief brief.json``. Its JSON Schema is published in docs/.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pixelforge.errors import InvalidRequestError

Kind = Literal[
    "poster", "banner", "social", "thumbnail", "product_card", "infographic", "ui_mockup",
    "quote_card",
]  # fmt: skip
Style = Literal[
    "minimal", "bold", "retro", "pastel", "neon", "dark", "corporate", "playful", "elegant",
]  # fmt: skip
Layout = Literal["centered", "left", "right", "top", "bottom", "split", "grid"]
ChartKind = Literal["bar", "line", "pie", "table", "timeline"]
FontFamily = Literal["sans", "serif", "display"]
HexColor = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChartPoint(_Frozen):
    label: Annotated[str, Field(min_length=1, max_length=80)]
    value: float = Field(description="The number plotted.")
    display: str | None = Field(
        default=None, max_length=40, description="The value exactly as it should be printed."
    )

    @property
    def text(self) -> str:
        if self.display is not None:
            return self.display
        return f"{self.value:g}"


class Chart(_Frozen):
    kind: ChartKind = "bar"
    title: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, max_length=12, description="e.g. '%' or '$'.")
    points: Annotated[list[ChartPoint], Field(min_length=1, max_length=24)]
    show_values: bool = True


class Brief(_Frozen):
    """A design: what to say, how it should feel, and what to show."""

    kind: Kind = "poster"
    headline: str | None = Field(default=None, max_length=400)
    subtitle: str | None = Field(default=None, max_length=400)
    body: str | None = Field(default=None, max_length=2000)
    cta: str | None = Field(default=None, max_length=80, description="Call to action button.")
    labels: Annotated[list[str], Field(max_length=12)] = Field(
        default_factory=list, description="Short extra texts: prices, dates, buttons, tags."
    )
    attribution: str | None = Field(
        default=None, max_length=200, description="e.g. a quote's author."
    )
    style: Style | None = None
    palette: Annotated[list[HexColor], Field(max_length=6)] = Field(
        default_factory=list, description="Colours to use, most important first."
    )
    layout: Layout | None = None
    font: FontFamily | None = None
    icons: Annotated[list[str], Field(max_length=8)] = Field(
        default_factory=list, description="Emoji characters or icon names, e.g. '☕' or 'coffee'."
    )
    chart: Chart | None = None

    @field_validator("headline", "subtitle", "body", "cta", "attribution")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def texts(self) -> list[str]:
        """Every string the design must render exactly."""
        out = [t for t in (self.headline, self.subtitle, self.body, self.cta) if t]
        out += self.labels
        if self.attribution:
            out.append(self.attribution)
        return out


def json_schema() -> dict[str, object]:
    """The brief's JSON Schema, as published in docs/brief.schema.json."""
    schema = Brief.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Pixelforge compose brief"
    return schema


def parse_brief(text: str, param: str = "brief") -> Brief:
    """Parse a JSON brief; errors name the field path, the bad value and what is allowed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"{param}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "see docs/brief.md",
            param=param,
        ) from None
    try:
        return Brief.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        value = first.get("input")
        shown = json.dumps(value, ensure_ascii=False)[:60] if value is not None else "missing"
        where = f"field {loc!r}" if loc else "the brief"
        raise InvalidRequestError(
            f"{param}: {where} = {shown} is not valid: {first['msg']}; see docs/brief.md",
            param=f"{param}.{loc}" if loc else param,
        ) from None
