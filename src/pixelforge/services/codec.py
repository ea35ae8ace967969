"""GenerationRequest <-> JSON for the job table. Image bytes live in the blob store.

Engine options are dumped with a ``blob_put(data, extension) -> key`` serialization context
and loaded with a ``blob_get(key) -> data`` validation context, so options that carry images
(the gemini engine's conversation history) store them as blobs too, not inside the job row.
"""

from __future__ import annotations

from typing import Any

from pixelforge.domain import (
    Brand,
    GenerationRequest,
    ImageInput,
    Reference,
    TextOverlay,
    Tier,
    parse_size,
)
from pixelforge.domain.request import (
    Background,
    EngineOptions,
    Mode,
    OutputFormat,
    Quality,
    ReferenceRole,
)
from pixelforge.engines.registry import ModelRegistry
from pixelforge.store.blobs import BlobStore


def _image_out(image: ImageInput, blobs: BlobStore) -> dict[str, Any]:
    ext = {"jpeg": "jpg"}.get(image.format, image.format)
    key = blobs.put(image.data, ext if ext in ("png", "jpg", "webp") else "bin")
    return {"blob": key, "width": image.width, "height": image.height,
            "format": image.format, "name": image.name}  # fmt: skip


def _image_in(data: dict[str, Any], blobs: BlobStore) -> ImageInput:
    return ImageInput(
        blobs.get(data["blob"]), int(data["width"]), int(data["height"]),
        str(data["format"]), data.get("name"),
    )  # fmt: skip


def _brand_out(brand: Brand, blobs: BlobStore) -> dict[str, Any]:
    return {
        "palette": list(brand.palette), "headline_font": brand.headline_font,
        "body_font": brand.body_font, "tone": list(brand.tone),
        "logo": _image_out(brand.logo, blobs) if brand.logo is not None else None,
    }  # fmt: skip


def _brand_in(data: dict[str, Any], blobs: BlobStore) -> Brand:
    return Brand(
        palette=tuple(data.get("palette") or ()), headline_font=data.get("headline_font"),
        body_font=data.get("body_font"), tone=tuple(data.get("tone") or ()),
        logo=_image_in(data["logo"], blobs) if data.get("logo") else None,
    )  # fmt: skip


def encode_request(request: GenerationRequest, blobs: BlobStore) -> dict[str, Any]:
    """The request as JSON; a brand kit's logo, like every image, goes to the blob store."""
    return {
        "prompt": request.prompt,
        "model": request.model,
        "mode": request.mode.value,
        "negative_prompt": request.negative_prompt,
        "references": [
            {**_image_out(r.image, blobs), "role": r.role.value} for r in request.references
        ],
        "mask": _image_out(request.mask, blobs) if request.mask else None,
        "aspect_ratio": request.aspect_ratio,
        "tier": request.tier.value,
        "size": str(request.size) if request.size else None,
        "n": request.n,
        "seed": request.seed,
        "quality": request.quality.value,
        "output_format": request.output_format.value,
        "output_compression": request.output_compression,
        "background": request.background.value,
        "options": (
            request.options.model_dump(mode="json", context={"blob_put": blobs.put})
            if request.options
            else None
        ),
        "brand": _brand_out(request.brand, blobs) if request.brand is not None else None,
        "text_overlay": (
            request.text_overlay.to_dict() if request.text_overlay is not None else None
        ),
    }


def decode_request(
    data: dict[str, Any], blobs: BlobStore, registry: ModelRegistry
) -> GenerationRequest:
    options: EngineOptions | None = None
    if data.get("options") is not None:
        _, info = registry.resolve(data["model"])
        kind = info.capabilities.options_type
        if kind is not None:
            options = kind.model_validate(data["options"], context={"blob_get": blobs.get})
    return GenerationRequest(
        prompt=data["prompt"],
        model=data["model"],
        mode=Mode(data["mode"]),
        negative_prompt=data.get("negative_prompt"),
        references=tuple(
            Reference(_image_in(r, blobs), ReferenceRole(r["role"])) for r in data["references"]
        ),
        mask=_image_in(data["mask"], blobs) if data.get("mask") else None,
        aspect_ratio=data["aspect_ratio"],
        tier=Tier(data["tier"]),
        size=parse_size(data["size"]) if data.get("size") else None,
        n=int(data["n"]),
        seed=data.get("seed"),
        quality=Quality(data["quality"]),
        output_format=OutputFormat(data["output_format"]),
        output_compression=data.get("output_compression"),
        background=Background(data["background"]),
        options=options,
        brand=_brand_in(data["brand"], blobs) if data.get("brand") else None,
        text_overlay=(
            TextOverlay.from_dict(data["text_overlay"]) if data.get("text_overlay") else None
        ),
    )
