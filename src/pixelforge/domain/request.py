"""The request every engine receives, as a frozen, validated record."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from pixelforge.domain.sizes import Size, Tier, aspect_ratio_value, resolve_size, validate_size
from pixelforge.errors import InvalidRequestError, allowed

if TYPE_CHECKING:
    from pixelforge.domain.overlay import TextOverlay

MAX_PROMPT_CHARS = 32_000
MAX_N = 10
MAX_SEED = 2**63 - 1


class Mode(StrEnum):
    GENERATE = "generate"
    EDIT = "edit"
    VARIATION = "variation"


class ReferenceRole(StrEnum):
    SUBJECT = "subject"
    CHARACTER = "character"
    PRODUCT = "product"
    STYLE = "style"
    COMPOSITION = "composition"
    BACKGROUND = "background"
    LOGO = "logo"


class Quality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    AUTO = "auto"


class OutputFormat(StrEnum):
    PNG = "png"
    JPEG = "jpeg"
    WEBP = "webp"

    @property
    def mime_type(self) -> str:
        return f"image/{self.value}"

    @property
    def extension(self) -> str:
        return "jpg" if self is OutputFormat.JPEG else self.value


class Background(StrEnum):
    AUTO = "auto"
    OPAQUE = "opaque"
    TRANSPARENT = "transparent"


class EngineOptions(BaseModel):
    """Base of every engine's typed options; each engine declares its own subclass."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Fields only the server sets (e.g. from stored state); the API refuses them from clients.
    server_fields: ClassVar[frozenset[str]] = frozenset()


@dataclass(frozen=True, slots=True)
class ImageInput:
    """An input image that has already been decoded, checked and re-encoded on ingest."""

    data: bytes
    width: int
    height: int
    format: str = "png"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    image: ImageInput
    role: ReferenceRole = ReferenceRole.SUBJECT


#: Brand kits: at most this many colours (as many as a compose brief's palette), tone words,
#: characters per tone word; font roles and the families a role may name.
MAX_BRAND_COLORS = 6
MAX_TONE_WORDS = 8
MAX_TONE_CHARS = 32
FONT_ROLES = ("headline", "body")
FONT_FAMILIES = ("sans", "serif", "display", "mono")
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_TONE_WORD = re.compile(r"[^\W_](?:[\w' -]*[^\W_])?")


def brand_palette(colors: Iterable[str], param: str = "palette") -> tuple[str, ...]:
    """Check and normalize brand colours: ``#rrggbb`` (lower-cased), at most
    :data:`MAX_BRAND_COLORS`, repeats dropped; errors name ``param[i]``."""
    out: list[str] = []
    for i, color in enumerate(colors):
        if not isinstance(color, str) or not _HEX_COLOR.fullmatch(color.strip()):
            raise InvalidRequestError(
                f"{param}[{i}]: {color!r} is not a colour; write it as #rrggbb, e.g. '#1d4ed8'",
                param=f"{param}[{i}]",
            )
        if color.strip().lower() not in out:
            out.append(color.strip().lower())
    if len(out) > MAX_BRAND_COLORS:
        raise InvalidRequestError(
            f"{param}: {len(out)} colours is too many; at most {MAX_BRAND_COLORS}", param=param
        )
    return tuple(out)


def brand_fonts(fonts: Mapping[str, str], param: str = "fonts") -> dict[str, str]:
    """Check a font family per role (``{"headline": "serif", "body": "sans"}``)."""
    out: dict[str, str] = {}
    for role, family in fonts.items():
        if role not in FONT_ROLES:
            raise InvalidRequestError(
                f"{param}: {role!r} is not a font role; allowed: {allowed(FONT_ROLES)}",
                param=f"{param}.{role}",
            )
        if family not in FONT_FAMILIES:
            raise InvalidRequestError(
                f"{param}.{role}: {family!r} is not a font family; allowed: "
                f"{allowed(FONT_FAMILIES)}", param=f"{param}.{role}",
            )  # fmt: skip
        out[role] = family
    return out


def brand_tone(words: Iterable[str], param: str = "tone") -> tuple[str, ...]:
    """Check tone words (``warm``, ``playful``, ``no-nonsense``): at most
    :data:`MAX_TONE_WORDS` of 1 to :data:`MAX_TONE_CHARS` letters, digits, spaces, hyphens or
    apostrophes; surrounding spaces and repeats dropped."""
    out: list[str] = []
    for i, word in enumerate(words):
        text = word.strip() if isinstance(word, str) else ""
        if len(text) > MAX_TONE_CHARS or not _TONE_WORD.fullmatch(text):
            raise InvalidRequestError(
                f"{param}[{i}]: {word!r} is not a tone word; use 1 to {MAX_TONE_CHARS} letters, "
                "digits, spaces, hyphens or apostrophes, e.g. 'warm'", param=f"{param}[{i}]",
            )  # fmt: skip
        if text not in out:
            out.append(text)
    if len(out) > MAX_TONE_WORDS:
        raise InvalidRequestError(
            f"{param}: {len(out)} tone words is too many; at most {MAX_TONE_WORDS}", param=param
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Brand:
    """A brand kit applied to one request: colours (``#rrggbb``, most important first), a font
    family per role, tone words and a logo.

    Every engine gets it through the request: compose lays it out (its colours win over the
    prompt's, its fonts set the type, its logo is drawn where no text goes); engines that read
    prose get it as prompt phrasing (``engines.base.brand_prompt``), and the logo as one more
    reference image where the model has room for it (``engines.base.brand_references``).
    """

    palette: tuple[str, ...] = ()
    headline_font: str | None = None
    body_font: str | None = None
    tone: tuple[str, ...] = ()
    logo: ImageInput | None = None

    def __post_init__(self) -> None:
        brand_palette(self.palette, "brand.palette")
        brand_fonts(self.fonts, "brand.fonts")
        brand_tone(self.tone, "brand.tone")

    @property
    def fonts(self) -> dict[str, str]:
        """The font family per role, for the roles the kit sets."""
        pairs = (("headline", self.headline_font), ("body", self.body_font))
        return {role: family for role, family in pairs if family is not None}

    @property
    def empty(self) -> bool:
        return not (self.palette or self.fonts or self.tone or self.logo)


E = TypeVar("E", bound=StrEnum)


def parse_enum(kind: type[E], value: str | E, param: str) -> E:
    """Strict parse of a closed value set: unknown values are errors, never coerced."""
    try:
        return kind(value)
    except ValueError:
        raise InvalidRequestError(
            f"{param}: {value!r} is not allowed; allowed: {allowed(m.value for m in kind)}",
            param=param,
        ) from None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One generation, edit or variation request.

    In ``edit`` and ``variation`` mode, ``references[0]`` is the image being worked on.
    ``brand`` is a brand kit every engine applies (see :class:`Brand`).
    ``text_overlay`` is exact text the output chain draws on every image, whatever the engine
    (see ``domain.overlay``).
    ``size`` (explicit ``WxH``) wins over ``aspect_ratio`` + ``tier``.
    """

    prompt: str
    model: str = "compose"
    mode: Mode = Mode.GENERATE
    negative_prompt: str | None = None
    references: tuple[Reference, ...] = ()
    mask: ImageInput | None = None
    aspect_ratio: str = "1:1"
    tier: Tier = Tier.T1K
    size: Size | None = None
    n: int = 1
    seed: int | None = None
    quality: Quality = Quality.AUTO
    output_format: OutputFormat = OutputFormat.PNG
    output_compression: int | None = None
    background: Background = Background.AUTO
    options: EngineOptions | None = field(default=None)
    brand: Brand | None = None
    text_overlay: TextOverlay | None = None

    def __post_init__(self) -> None:
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequestError(
                f"prompt: {len(self.prompt)} characters is too long; at most {MAX_PROMPT_CHARS}",
                param="prompt",
            )
        if not 1 <= self.n <= MAX_N:
            raise InvalidRequestError(
                f"n: {self.n!r} is out of range; allowed: 1 to {MAX_N}", param="n"
            )
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise InvalidRequestError(
                f"seed: {self.seed!r} is out of range; allowed: 0 to {MAX_SEED}", param="seed"
            )
        if self.output_compression is not None and not 0 <= self.output_compression <= 100:
            raise InvalidRequestError(
                f"output_compression: {self.output_compression!r} is out of range; "
                "allowed: 0 to 100",
                param="output_compression",
            )
        if self.background is Background.TRANSPARENT and self.output_format is OutputFormat.JPEG:
            raise InvalidRequestError(
                "background: 'transparent' needs an output format with alpha; "
                "allowed with transparent: png, webp",
                param="background",
            )
        if self.mode is not Mode.GENERATE and not self.references:
            raise InvalidRequestError(
                f"image: mode {self.mode.value!r} needs an input image; add one reference",
                param="image",
            )
        if self.mask is not None and self.mode is not Mode.EDIT:
            raise InvalidRequestError("mask: a mask applies only to mode 'edit'", param="mask")
        aspect_ratio_value(self.aspect_ratio)
        if self.size is not None:
            validate_size(self.size)

    @property
    def output_size(self) -> Size:
        return resolve_size(self.aspect_ratio, self.tier, self.size)
