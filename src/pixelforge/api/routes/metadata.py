"""Metadata and export: read an image's settings back, an asset's sidecar, exports, and a
gallery as a zip (see docs/output.md, "Metadata and export")."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.api.schemas import GalleryExport
from pixelforge.errors import ImageTooLargeError
from pixelforge.services import metadata
from pixelforge.services.export import GalleryFilter, export_options, parse_time

router = APIRouter(tags=["metadata"])

_IMAGES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}
}
_ZIP: dict[int | str, dict[str, Any]] = {200: {"content": {"application/zip": {}}}}
_FORMAT = "png, jpeg or webp (default: the asset's own)"
_QUALITY = "1-100, for JPEG and WebP (default 92)"
_BACKGROUND = "auto, transparent or #rrggbb (JPEG: auto is white)"


@router.post("/api/metadata/import", summary="Read generation settings back from an image")
async def import_metadata(
    c: ContainerDep,
    principal: CurrentUser,
    image: Annotated[UploadFile, File(description="A PNG, JPEG or WebP from any tool")],
) -> dict[str, Any]:
    limit = c.settings.max_upload_bytes
    data = await image.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(f"image: the file is larger than {limit} bytes", param="image",
                                 code="file_too_large")  # fmt: skip
    served = {m.id: m.capabilities.options_type for m in c.registry.models()}
    found = await run_in_threadpool(metadata.inspect, data, served, limit)
    return found.as_dict()


@router.get("/api/assets/{asset_id}/metadata", summary="The asset's JSON sidecar")
def asset_metadata(asset_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    return c.exports.metadata(asset_id, principal)


@router.get(
    "/api/assets/{asset_id}/export",
    summary="Export the image as PNG, JPEG or WebP (sRGB, metadata, re-signed)",
    response_class=Response,
    responses=_IMAGES,
)
def export_asset(
    asset_id: str,
    c: ContainerDep,
    principal: CurrentUser,
    format: Annotated[str | None, Query(max_length=16, description=_FORMAT)] = None,
    quality: Annotated[str | None, Query(max_length=16, description=_QUALITY)] = None,
    background: Annotated[str | None, Query(max_length=16, description=_BACKGROUND)] = None,
) -> Response:
    options = export_options(format, quality, background)
    done = c.exports.export(asset_id, options, principal)
    return Response(done.data, media_type=done.format.mime_type, headers={
        "Content-Disposition": f'attachment; filename="{done.file_name}"',
        "Cache-Control": "private, no-store",
    })  # fmt: skip


@router.post(
    "/api/assets/export",
    summary="Export assets as a zip: images, sidecars and manifest.json",
    response_class=StreamingResponse,
    responses=_ZIP,
)
def export_gallery(body: GalleryExport, c: ContainerDep, principal: CurrentUser) -> Response:
    where = None
    if body.filter is not None:
        where = GalleryFilter(body.filter.model, parse_time(body.filter.since, "filter.since"),
                              parse_time(body.filter.until, "filter.until"))  # fmt: skip
    chosen = c.exports.select(body.asset_ids, where, principal)
    name = time.strftime("pixelforge-export-%Y%m%d-%H%M%S.zip", time.gmtime())
    return StreamingResponse(c.exports.zip_stream(chosen), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
    })  # fmt: skip
