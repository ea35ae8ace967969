"""The text overlay a request asks for: exact headline, subtitle, call to action and labels.

A :class:`TextOverlay` rides on a request (``GenerationRequest.text_overlay``); the output
chain draws it on every image the request makes, whatever the engine (see
``postprocess.overlay``), and the ``text-overlay`` edit action draws it on an existing image.
The strings are drawn exactly as given: nothing is trimmed inside, re-cased or translated.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pixelforge.domain.request import FONT_FAMILIES, parse_enum
from pixelforge.errors import InvalidRequestError, allowed


class OverlayPosition(StrEnum):
    """Where the text goes: ``auto`` picks the calmest of the others."""

    AUTO = "auto"
    TOP = "top"
    BOTTOM = "bottom"
    CENTER = "center"
    LEFT = "left"
    RIGHT = "right"


class Scrim(StrEnum):
    """A translucent panel behind the text: ``auto`` draws one only when no text colour
    reaches a 4.5:1 contrast on the image behind the text."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


#: Text roles, each with its own font family and size; most characters per text of a role.
OVERLAY_ROLES = ("headline", "subtitle", "cta", "label")
MAX_OVERLAY_CHARS = {"headline": 200, "subtitle": 300, "cta": 60, "label": 60}
MAX_OVERLAY_LABELS = 6
#: Fields of the JSON form (API bodies, ``--overlay``, the job row).
OVERLAY_FIELDS = ("headline", "subtitle", "cta", "labels", "position", "color", "scrim", "fonts")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _where(param: str, name: str) -> str:
    return f"{param}.{name}" if param else name


def _text(value: object, role: str, where: str) -> str:
    """A checked text: a non-blank string of at most the role's length without control
    characters (a line break is allowed in the headline and subtitle)."""
    limit = MAX_OVERLAY_CHARS[role]
    if not isinstance(value, str):
        raise InvalidRequestError(f"{where}: {value!r} is not text; give a string", param=where)
    if not value.strip():
        raise InvalidRequestError(
            f"{where}: {value!r} is blank; give the text to draw or leave {where} out",
            param=where,
        )
    if len(value) > limit:
        raise InvalidRequestError(
            f"{where}: {len(value)} characters is too long; at most {limit}", param=where
        )
    breaks = "\n" if role in ("headline", "subtitle") else ""
    bad = next((c for c in value if unicodedata.category(c) == "Cc" and c not in breaks), None)
    if bad is not None:
        lines = " (line breaks are allowed in headline and subtitle only)" if bad == "\n" else ""
        raise InvalidRequestError(
            f"{where}: control character U+{ord(bad):04X} is not allowed{lines}", param=where
        )
    return value


def _check(
    texts: Mapping[str, str | None], labels: tuple[object, ...], color: str | None,
    fonts: Mapping[str, str], param: str,
) -> None:  # fmt: skip
    """Raise :class:`InvalidRequestError` naming ``param.<field>`` for the first bad field."""
    for role, value in texts.items():
        if value is not None:
            _text(value, role, _where(param, role))
    if len(labels) > MAX_OVERLAY_LABELS:
        where = _where(param, "labels")
        raise InvalidRequestError(
            f"{where}: {len(labels)} labels is too many; at most {MAX_OVERLAY_LABELS}",
            param=where,
        )
    for i, label in enumerate(labels):
        _text(label, "label", f"{_where(param, 'labels')}[{i}]")
    if all(v is None for v in texts.values()) and not labels:
        where = param or "headline"
        raise InvalidRequestError(
            f"{where}: nothing to draw; give at least one of headline, subtitle, cta, labels",
            param=where,
        )
    if color is not None and not (isinstance(color, str) and _HEX.fullmatch(color)):
        where = _where(param, "color")
        raise InvalidRequestError(
            f"{where}: {color!r} is not a colour; write it as #rrggbb, e.g. '#ffffff'",
            param=where,
        )
    for role, family in fonts.items():
        if family not in FONT_FAMILIES:
            where = f"{_where(param, 'fonts')}.{role}"
            raise InvalidRequestError(
                f"{where}: {family!r} is not a font family; allowed: {allowed(FONT_FAMILIES)}",
                param=where,
            )


@dataclass(frozen=True, slots=True)
class TextOverlay:
    """Texts to draw on an image, where, and how.

    ``position`` ``auto`` places the text where the image has the least detail; ``color``
    (``#rrggbb``) fixes the text colour instead of the most readable one; ``scrim`` draws a
    translucent panel behind the text (``auto``: only when the text would read below 4.5:1).
    A font family per role (``headline_font``, ...) wins over the request's brand kit.
    """

    headline: str | None = None
    subtitle: str | None = None
    cta: str | None = None
    labels: tuple[str, ...] = ()
    position: OverlayPosition = OverlayPosition.AUTO
    color: str | None = None
    scrim: Scrim = Scrim.AUTO
    headline_font: str | None = None
    subtitle_font: str | None = None
    cta_font: str | None = None
    label_font: str | None = None

    def __post_init__(self) -> None:
        # Strict parse (unknown values are errors), so "bottom" and OverlayPosition.BOTTOM
        # name the same position.
        object.__setattr__(self, "position", parse_enum(OverlayPosition, self.position,
                                                        "text_overlay.position"))  # fmt: skip
        object.__setattr__(self, "scrim", parse_enum(Scrim, self.scrim, "text_overlay.scrim"))
        texts = {"headline": self.headline, "subtitle": self.subtitle, "cta": self.cta}
        _check(texts, self.labels, self.color, self.fonts, "text_overlay")
        if self.color is not None:
            object.__setattr__(self, "color", self.color.lower())

    @property
    def fonts(self) -> dict[str, str]:
        """The font family per role, for the roles the overlay sets."""
        pairs = (("headline", self.headline_font), ("subtitle", self.subtitle_font),
                 ("cta", self.cta_font), ("label", self.label_font))  # fmt: skip
        return {role: family for role, family in pairs if family is not None}

    def texts(self) -> list[tuple[str, str]]:
        """``(role, text)`` of everything drawn, top to bottom."""
        out = [(role, t) for role, t in (("headline", self.headline),
                                         ("subtitle", self.subtitle)) if t is not None]  # fmt: skip
        out += [("label", t) for t in self.labels]
        if self.cta is not None:
            out.append(("cta", self.cta))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the API's ``text_overlay`` object)."""
        return {
            "headline": self.headline, "subtitle": self.subtitle, "cta": self.cta,
            "labels": list(self.labels), "position": self.position.value, "color": self.color,
            "scrim": self.scrim.value, "fonts": self.fonts,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], param: str = "text_overlay") -> TextOverlay:
        """Parse the JSON form; errors name ``param.<field>`` (just the field when ``param``
        is empty), the bad value and what is allowed."""
        if not isinstance(data, Mapping):
            raise InvalidRequestError(
                f"{param or 'text overlay'}: {data!r} is not an object; give a JSON object "
                f"with {allowed(OVERLAY_FIELDS)}", param=param or None,
            )  # fmt: skip
        unknown = sorted(set(data) - set(OVERLAY_FIELDS))
        if unknown:
            where = _where(param, str(unknown[0]))
            raise InvalidRequestError(
                f"{where}: not a text overlay field; allowed: {allowed(OVERLAY_FIELDS)}",
                param=where,
            )
        labels = data.get("labels") or []
        if not isinstance(labels, list | tuple):
            where = _where(param, "labels")
            raise InvalidRequestError(f"{where}: {labels!r} is not a list of texts", param=where)
        fonts = data.get("fonts") or {}
        if not isinstance(fonts, Mapping):
            where = _where(param, "fonts")
            raise InvalidRequestError(
                f"{where}: {fonts!r} is not an object; give a family per role, e.g. "
                '{"headline": "serif"}', param=where,
            )  # fmt: skip
        for role in fonts:
            if role not in OVERLAY_ROLES:
                where = f"{_where(param, 'fonts')}.{role}"
                raise InvalidRequestError(
                    f"{where}: {role!r} is not a text role; allowed: {allowed(OVERLAY_ROLES)}",
                    param=where,
                )
        color = data.get("color")
        texts = {role: data.get(role) for role in ("headline", "subtitle", "cta")}
        _check(texts, tuple(labels), color, fonts, param)
        return cls(
            **texts, labels=tuple(labels), color=color,
            position=parse_enum(OverlayPosition, data.get("position") or "auto",
                                _where(param, "position")),
            scrim=parse_enum(Scrim, data.get("scrim") or "auto", _where(param, "scrim")),
            **{f"{role}_font": fonts.get(role) for role in OVERLAY_ROLES},
        )  # fmt: skip
