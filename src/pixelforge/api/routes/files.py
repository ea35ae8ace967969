"""OpenAI-compatible files API: upload a batch's JSONL, read a batch's output files."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.services.files import MAX_LIST, FileService

router = APIRouter(prefix="/v1/files", tags=["files (OpenAI-compatible)"])

_MEDIA = {".jsonl": "application/jsonl", ".zip": "application/zip"}


@router.post("", summary="Upload a file (purpose 'batch': a batch's JSONL input)")
async def create_file(
    c: ContainerDep,
    principal: CurrentUser,
    file: Annotated[UploadFile, File(description="The JSONL file")],
    purpose: Annotated[str, Form()],
) -> dict[str, Any]:
    data = await file.read(c.files.max_bytes + 1)
    stored = await run_in_threadpool(c.files.create, data, file.filename or "upload.jsonl",
                                     purpose, principal)  # fmt: skip
    return FileService.view(stored)


@router.get("", summary="List your files (newest first)")
def list_files(
    c: ContainerDep,
    principal: CurrentUser,
    purpose: Annotated[str | None, Query(max_length=32)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = MAX_LIST,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    page = c.files.page(principal, purpose=purpose, after=after, limit=limit, order=order)
    data = [FileService.view(f) for f in page.items]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": page.has_more}  # fmt: skip


@router.get("/{file_id}", summary="A file's record")
def get_file(file_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    return FileService.view(c.files.get(file_id, principal))


@router.get(
    "/{file_id}/content",
    summary="A file's bytes",
    response_class=Response,
    responses={200: {"content": {"application/jsonl": {}, "application/zip": {}}}},
)
def get_file_content(file_id: str, c: ContainerDep, principal: CurrentUser) -> Response:
    stored, data = c.files.content(file_id, principal)
    suffix = stored.filename[stored.filename.rfind(".") :] if "." in stored.filename else ""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stored.filename)
    return Response(data, media_type=_MEDIA.get(suffix, "application/octet-stream"),
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})  # fmt: skip


@router.delete("/{file_id}", summary="Delete a file")
def delete_file(file_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    c.files.delete(file_id, principal)
    return {"id": file_id, "object": "file", "deleted": True}
