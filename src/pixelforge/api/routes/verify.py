"""Verify an image's provenance: its C2PA manifest and its invisible watermark."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.concurrency import run_in_threadpool

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.errors import ImageTooLargeError
from pixelforge.services.verify import VerifyService

router = APIRouter(prefix="/api", tags=["provenance"])


@router.post("/verify", summary="Check an image's C2PA manifest and watermark")
async def verify(
    c: ContainerDep,
    principal: CurrentUser,
    image: Annotated[UploadFile, File(description="The image to check (PNG, JPEG or WebP)")],
) -> dict[str, Any]:
    limit = c.settings.max_upload_bytes
    data = await image.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(f"image: the file is larger than {limit} bytes", param="image",
                                 code="file_too_large")  # fmt: skip
    service = VerifyService(c.db, limit, c.settings.max_image_pixels)
    return await run_in_threadpool(service.verify, data, principal)
