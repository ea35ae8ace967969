"""Request bodies, field by field (OpenAI images API plus Pixelforge extensions)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pixelforge.domain import GenerationRequest, Reference, TextOverlay, Tier, parse_size
from pixelforge.domain.request import (
    Background,
    EngineOptions,
    ImageInput,
    Mode,
    OutputFormat,
    Quality,
    parse_enum,
)
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import InvalidRequestError
from pixelforge.services.assets import Workspace

OpenAIQuality = Literal["auto", "low", "medium", "high", "standard", "hd"]
_QUALITY = {"standard": "medium", "hd": "high"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextOverlayIn(_Strict):
    """Exact text drawn on every output (see ``domain.overlay``): at least one of headline,
    subtitle, cta (a button-like pill) and labels; ``position`` auto (the calmest region) or
    fixed; ``color`` ``#rrggbb`` (default: the most readable); ``scrim`` auto, on or off;
    ``fonts``: a family (sans, serif, display, mono) per role (headline, subtitle, cta,
    label). Lengths and values are checked by the domain record, naming the field."""

    headline: str | None = None
    subtitle: str | None = None
    cta: str | None = None
    labels: list[str] = Field(default_factory=list)
    position: Literal["auto", "top", "bottom", "center", "left", "right"] = "auto"
    color: str | None = None
    scrim: Literal["auto", "on", "off"] = "auto"
    fonts: dict[str, str] = Field(default_factory=dict)


def text_overlay_of(body: TextOverlayIn | None, param: str = "text_overlay") -> TextOverlay | None:
    """The checked domain record of a ``text_overlay`` body (errors name ``param.<field>``)."""
    return None if body is None else TextOverlay.from_dict(body.model_dump(), param)


class ImageGenerationBody(_Strict):
    """``POST /v1/images/generations``. Extensions: aspect_ratio, resolution, seed,
    negative_prompt, options, text_overlay (send them with the SDK's ``extra_body``)."""

    prompt: str = Field(min_length=1, max_length=32_000)
    model: str = "compose"
    n: int = Field(default=1, ge=1, le=10)
    size: str = "auto"
    quality: OpenAIQuality = "auto"
    background: Literal["auto", "opaque", "transparent"] = "auto"
    output_format: Literal["png", "jpeg", "webp"] = "png"
    output_compression: int | None = Field(default=None, ge=0, le=100)
    moderation: Literal["auto", "low"] = "auto"
    response_format: Literal["url", "b64_json"] = "b64_json"
    stream: bool = False
    partial_images: int = Field(default=0, ge=0, le=3)
    style: Literal["vivid", "natural"] | None = None
    user: str | None = Field(default=None, max_length=256)
    aspect_ratio: str | None = None
    resolution: str | None = None
    seed: int | None = Field(default=None, ge=0)
    negative_prompt: str | None = Field(default=None, max_length=32_000)
    options: dict[str, Any] | None = None
    text_overlay: TextOverlayIn | None = None


class ReferenceIn(_Strict):
    """One reference image: an asset of yours, inline base64, or (if enabled) a URL."""

    asset_id: str | None = None
    b64_json: str | None = None
    url: str | None = Field(default=None, max_length=2048)
    role: str = "subject"


class ReferenceSetIn(_Strict):
    """A saved reference set of yours (``GET /api/references``) used in this request: its
    images follow the request's own references, with ``role`` (when given) instead of their
    own; ``take`` uses only its first images. A brand kit applies its palette, fonts, tone and
    logo (one brand kit per request)."""

    id: str = Field(min_length=1, max_length=64)
    role: str | None = None
    take: int | None = Field(default=None, ge=1, le=16)


class RequestFields(_Strict):
    """The request fields of ``POST /api/jobs`` that do not name a model (a compare shares
    them across its entries)."""

    prompt: str = Field(min_length=1, max_length=32_000)
    mode: Literal["generate", "edit", "variation"] = "generate"
    negative_prompt: str | None = None
    aspect_ratio: str = "1:1"
    resolution: str = "1K"
    size: str | None = None
    n: int = Field(default=1, ge=1, le=10)
    seed: int | None = Field(default=None, ge=0)
    quality: Literal["auto", "low", "medium", "high"] = "auto"
    output_format: Literal["png", "jpeg", "webp"] = "png"
    output_compression: int | None = Field(default=None, ge=0, le=100)
    background: Literal["auto", "opaque", "transparent"] = "auto"
    references: list[ReferenceIn] = Field(default_factory=list, max_length=16)
    reference_sets: list[ReferenceSetIn] = Field(default_factory=list, max_length=8)
    text_overlay: TextOverlayIn | None = None
    """Exact text drawn on every output, whatever the model (see :class:`TextOverlayIn`)."""


class JobCreate(RequestFields):
    """``POST /api/jobs``: the native request, one field per domain field."""

    model: str = "compose"
    options: dict[str, Any] | None = None
    continue_from: str | None = Field(default=None, max_length=64)
    """An asset of yours to continue (mode ``edit``): with the model that made it, the
    conversation goes on (multi-turn editing); otherwise its image is the one edited."""
    workspace: Workspace | None = None
    """The studio workspace the job's assets belong to (``GET /api/assets?workspace=``);
    None: the workspace of the asset it continues (``continue_from``), if any."""


def engine_options(
    registry: ModelRegistry, model: str, raw: dict[str, Any] | None
) -> EngineOptions | None:
    """Validate ``options`` against the model's own options type."""
    if raw is None:
        return None
    _, info = registry.resolve(model)
    kind = info.capabilities.options_type
    if kind is None:
        raise InvalidRequestError(f"options: model {model!r} takes no options", param="options")
    refused = sorted(kind.server_fields & set(raw))
    if refused:
        hint = "; to continue a conversation, send continue_from" if "history" in refused else ""
        raise InvalidRequestError(
            f"options.{refused[0]}: set by the server, not accepted in requests{hint}",
            param=f"options.{refused[0]}",
        )
    try:
        return kind.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        param = f"options{where}"
        got = f" (got {first['input']!r})" if first["type"] != "extra_forbidden" else ""
        raise InvalidRequestError(f"{param}: {first['msg']}{got}", param=param) from None


def shape(size: str, aspect: str | None, resolution: str | None) -> dict[str, Any]:
    """OpenAI ``size`` (``auto`` or ``WxH``) plus our ratio/tier extensions -> request fields."""
    if size != "auto":
        return {"size": parse_size(size)}
    out: dict[str, Any] = {}
    if aspect is not None:
        out["aspect_ratio"] = aspect
    if resolution is not None:
        out["tier"] = Tier.parse(resolution)
    return out


def to_request(
    body: ImageGenerationBody, registry: ModelRegistry, mode: Mode = Mode.GENERATE,
    references: tuple[Reference, ...] = (), mask: ImageInput | None = None,
) -> GenerationRequest:  # fmt: skip
    registry.resolve(body.model)
    return GenerationRequest(
        prompt=body.prompt, model=body.model, mode=mode, negative_prompt=body.negative_prompt,
        references=references, mask=mask, n=body.n, seed=body.seed,
        quality=parse_enum(Quality, _QUALITY.get(body.quality, body.quality), "quality"),
        output_format=OutputFormat(body.output_format),
        output_compression=body.output_compression,
        background=Background(body.background),
        options=engine_options(registry, body.model, body.options),
        text_overlay=text_overlay_of(body.text_overlay),
        **shape(body.size, body.aspect_ratio, body.resolution),
    )  # fmt: skip


class GalleryFilterIn(_Strict):
    """Which of your assets a gallery export holds: all fields optional (none: all)."""

    model: str | None = Field(default=None, max_length=200)
    since: float | str | None = None
    """Created at or after: epoch seconds, YYYY-MM-DD or an ISO 8601 time (UTC unless given)."""
    until: float | str | None = None
    """Created before (same forms as ``since``)."""


class GalleryExport(_Strict):
    """``POST /api/assets/export``: ``asset_ids`` or ``filter``, one of them."""

    asset_ids: list[str] | None = Field(default=None, min_length=1, max_length=500)
    filter: GalleryFilterIn | None = None
