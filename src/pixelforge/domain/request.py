"""The request every engine receives, as a frozen, validated record."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from pixelforge.domain.sizes import Size, Tier, aspect_ratio_value, resolve_size, validate_size
from pixelforge.errors import InvalidRequestError, allowed

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
