"""Pure types: requests, sizes and aspect ratios, capabilities' vocabulary. No I/O here."""

from pixelforge.domain.overlay import OverlayPosition, Scrim, TextOverlay
from pixelforge.domain.request import (
    Background,
    Brand,
    EngineOptions,
    GenerationRequest,
    ImageInput,
    Mode,
    OutputFormat,
    Quality,
    Reference,
    ReferenceRole,
)
from pixelforge.domain.sizes import (
    ASPECT_RATIOS,
    Size,
    Tier,
    aspect_ratio_value,
    parse_size,
    resolve_size,
)

__all__ = [
    "ASPECT_RATIOS",
    "Background",
    "Brand",
    "EngineOptions",
    "GenerationRequest",
    "ImageInput",
    "Mode",
    "OutputFormat",
    "OverlayPosition",
    "Quality",
    "Reference",
    "ReferenceRole",
    "Scrim",
    "Size",
    "TextOverlay",
    "Tier",
    "aspect_ratio_value",
    "parse_size",
    "resolve_size",
]
