"""Native assets API: list, read, download in any format, delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.domain.request import OutputFormat
from pixelforge.services.assets import Workspace

router = APIRouter(prefix="/api/assets", tags=["assets"])


@router.get("", summary="List assets (newest first)")
def list_assets(
    c: ContainerDep,
    request: Request,
    principal: CurrentUser,
    model: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the prompt")] = None,
    since: Annotated[float | None, Query(description="Created at or after (epoch s)")] = None,
    until: Annotated[float | None, Query(description="Created before (epoch s)")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    workspace: Annotated[
        Workspace | None, Query(description="Only this studio workspace's")
    ] = None,
) -> dict[str, Any]:
    owner = None if principal.is_admin else principal.user_id
    page = c.assets.search(
        owner=owner, model=model, text=q, since=since, until=until, offset=offset, limit=limit,
        workspace=workspace,
    )  # fmt: skip
    base = str(request.base_url).rstrip("/")
    return {
        "object": "list", "data": [c.assets.view(a, base) for a in page.items],
        "total": page.total, "offset": page.offset, "limit": page.limit,
        "has_more": page.offset + len(page.items) < page.total,
    }  # fmt: skip


@router.get("/{asset_id}", summary="Read an asset's record")
def get_asset(
    asset_id: str, c: ContainerDep, request: Request, principal: CurrentUser
) -> dict[str, Any]:
    return c.assets.view(c.assets.get(asset_id, principal), str(request.base_url).rstrip("/"))


@router.get(
    "/{asset_id}/file",
    summary="Download the image, optionally in another format",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}},
)
def get_asset_file(
    asset_id: str,
    c: ContainerDep,
    principal: CurrentUser,
    format: Literal["png", "jpeg", "webp"] | None = None,
) -> Response:
    data, fmt = c.exports.file(asset_id, OutputFormat(format) if format else None, principal)
    return Response(data, media_type=fmt.mime_type, headers={
        "Content-Disposition": f'inline; filename="{asset_id}.{fmt.extension}"',
        "Cache-Control": "private, max-age=31536000, immutable",
    })  # fmt: skip


@router.delete("/{asset_id}", status_code=204, summary="Delete an asset")
def delete_asset(asset_id: str, c: ContainerDep, principal: CurrentUser) -> Response:
    c.assets.delete(asset_id, principal)
    return Response(status_code=204)
