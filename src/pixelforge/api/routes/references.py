"""Reference library: saved reference sets (characters, products, styles, brand kits)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.domain import ImageInput, OutputFormat, ReferenceRole
from pixelforge.domain.request import parse_enum
from pixelforge.errors import InvalidRequestError, NotFoundError
from pixelforge.services.accounts import Principal
from pixelforge.services.images import load_image
from pixelforge.services.jobs import Idempotency, fingerprint
from pixelforge.services.references import MAX_IMAGES, Loaded, NewImage

router = APIRouter(prefix="/api/references", tags=["references"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageSource(_Strict):
    """An image: an asset of yours or inline base64 (PNG, JPEG or WebP by content)."""

    asset_id: str | None = Field(default=None, max_length=64)
    b64_json: str | None = None


class SetImageIn(ImageSource):
    """An image of a set, with the role it plays (default: the kind's) and a label."""

    role: str | None = None
    label: str = Field(default="", max_length=1000)


class ReferenceSetCreate(_Strict):
    """``POST /api/references``. ``palette``, ``fonts``, ``tone`` and ``logo`` are for brand
    kits only."""

    name: str = Field(max_length=1000)
    kind: str = Field(description="character, product, style or brand_kit")
    description: str = Field(default="", max_length=20_000)
    images: list[SetImageIn] = Field(default_factory=list, max_length=MAX_IMAGES)
    palette: list[str] = Field(default_factory=list, max_length=64,
                               description="#rrggbb colours, most important first (at most 6)")  # fmt: skip
    fonts: dict[str, str] = Field(default_factory=dict,
                                  description='e.g. {"headline": "serif", "body": "sans"}')  # fmt: skip
    tone: list[str] = Field(default_factory=list, max_length=64, description="e.g. ['warm']")
    logo: ImageSource | None = None


class ReferenceSetPatch(_Strict):
    """``PATCH /api/references/{id}``: the fields given change (``logo: null`` removes it)."""

    name: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20_000)
    palette: list[str] | None = Field(default=None, max_length=64)
    fonts: dict[str, str] | None = None
    tone: list[str] | None = Field(default=None, max_length=64)
    logo: ImageSource | None = None


class ImagesAdd(_Strict):
    """``POST /api/references/{id}/images``: images appended after the set's last one."""

    images: list[SetImageIn] = Field(min_length=1, max_length=MAX_IMAGES)


def _image(c: ContainerDep, source: ImageSource, param: str, principal: Principal) -> ImageInput:
    """Decode and check an image (the upload ingest: formats by content, size and pixel
    limits, re-encoded to a clean PNG); an asset's bytes go through the same checks."""
    given = [f for f in ("asset_id", "b64_json") if getattr(source, f) is not None]
    if len(given) != 1:
        raise InvalidRequestError(f"{param}: give exactly one of asset_id or b64_json",
                                  param=param)  # fmt: skip
    if source.asset_id is not None:
        try:
            raw = c.assets.data(c.assets.get(source.asset_id, principal))
        except NotFoundError:
            raise NotFoundError(f"{param}.asset_id: asset {source.asset_id!r} not found",
                                param=f"{param}.asset_id", code="asset_not_found") from None  # fmt: skip
    else:
        try:
            raw = base64.b64decode(source.b64_json or "", validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError(f"{param}.b64_json: not valid base64",
                                      param=f"{param}.b64_json") from None  # fmt: skip
    return load_image(raw, param=param, max_bytes=c.settings.max_upload_bytes,
                      max_pixels=c.settings.max_image_pixels)  # fmt: skip


def _new_images(c: ContainerDep, images: list[SetImageIn], principal: Principal) -> list[NewImage]:
    out = []
    for i, item in enumerate(images):
        param = f"images[{i}]"
        role = parse_enum(ReferenceRole, item.role, f"{param}.role") if item.role else None
        out.append(NewImage(_image(c, item, param, principal), role, item.label))
    return out


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _view(c: ContainerDep, loaded: Loaded, request: Request) -> dict[str, Any]:
    return c.references.view(loaded, _base(request))


@router.post("", status_code=201, summary="Save a reference set (character, product, style, "
             "brand kit)")  # fmt: skip
def create_reference_set(
    body: ReferenceSetCreate,
    c: ContainerDep,
    request: Request,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    idem = None
    if idem_key is not None:
        idem = Idempotency(f"{principal.scope} POST /api/references", idem_key,
                           fingerprint(body.model_dump(mode="json")))  # fmt: skip
    images = _new_images(c, body.images, principal)
    logo = _image(c, body.logo, "logo", principal) if body.logo is not None else None
    ref_set, replayed = c.references.create(
        body.name, body.kind, description=body.description, images=images,
        palette=body.palette, fonts=body.fonts, tone=body.tone, logo=logo,
        principal=principal, idem=idem,
    )  # fmt: skip
    headers = {"Location": f"/api/references/{ref_set.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    view = _view(c, Loaded(ref_set, c.references.images(ref_set.id)), request)
    return JSONResponse(view, status_code=201, headers=headers)


@router.get("", summary="Your reference sets (newest first)")
def list_reference_sets(
    c: ContainerDep,
    request: Request,
    principal: CurrentUser,
    kind: Annotated[str | None, Query(description="character, product, style or brand_kit")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page, total = c.references.search(principal, kind, offset, limit)
    return {
        "object": "list", "data": [_view(c, loaded, request) for loaded in page],
        "total": total, "offset": offset, "limit": limit,
        "has_more": offset + len(page) < total,
    }  # fmt: skip


@router.get("/{set_id}", summary="A reference set with its images")
def get_reference_set(
    set_id: str, c: ContainerDep, request: Request, principal: CurrentUser
) -> dict[str, Any]:
    return _view(c, c.references.load(set_id, principal), request)


@router.patch("/{set_id}", summary="Rename, describe, or change a brand kit's palette, fonts, "
              "tone or logo")  # fmt: skip
def update_reference_set(
    set_id: str,
    body: ReferenceSetPatch,
    c: ContainerDep,
    request: Request,
    principal: CurrentUser,
) -> dict[str, Any]:
    c.references.get(set_id, principal)  # 404 before any image is decoded
    changes: dict[str, Any] = {f: getattr(body, f) for f in body.model_fields_set}
    for field in ("name", "description"):
        if field in changes and changes[field] is None:
            raise InvalidRequestError(f"{field}: must not be null", param=field)
    if body.logo is not None:
        changes["logo"] = _image(c, body.logo, "logo", principal)
    c.references.update(set_id, changes, principal)
    return _view(c, c.references.load(set_id, principal), request)


@router.delete("/{set_id}", status_code=204, summary="Delete a reference set (jobs that used "
               "it keep their images)")  # fmt: skip
def delete_reference_set(set_id: str, c: ContainerDep, principal: CurrentUser) -> Response:
    c.references.delete(set_id, principal)
    return Response(status_code=204)


@router.post("/{set_id}/images", status_code=201, summary="Add images to a reference set")
def add_reference_images(
    set_id: str, body: ImagesAdd, c: ContainerDep, request: Request, principal: CurrentUser
) -> dict[str, Any]:
    c.references.get(set_id, principal)  # 404 before any image is decoded
    loaded = c.references.add_images(set_id, _new_images(c, body.images, principal), principal)
    return _view(c, loaded, request)


@router.delete("/{set_id}/images/{image_id}", status_code=204,
               summary="Remove an image from a reference set")  # fmt: skip
def delete_reference_image(
    set_id: str, image_id: str, c: ContainerDep, principal: CurrentUser
) -> Response:
    c.references.remove_image(set_id, image_id, principal)
    return Response(status_code=204)


def _png(data: bytes, name: str, cache: str) -> Response:
    return Response(data, media_type=OutputFormat.PNG.mime_type, headers={
        "Content-Disposition": f'inline; filename="{name}.png"', "Cache-Control": cache,
    })  # fmt: skip


@router.get(
    "/{set_id}/images/{image_id}/file",
    summary="An image of a reference set (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_reference_image_file(
    set_id: str, image_id: str, c: ContainerDep, principal: CurrentUser
) -> Response:
    data = c.references.image_file(set_id, image_id, principal)
    return _png(data, image_id, "private, max-age=31536000, immutable")


@router.get(
    "/{set_id}/logo",
    summary="A brand kit's logo (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_reference_logo(set_id: str, c: ContainerDep, principal: CurrentUser) -> Response:
    return _png(c.references.logo_file(set_id, principal), f"{set_id}-logo", "private, no-cache")
