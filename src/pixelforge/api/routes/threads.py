"""Edit threads: multi-turn editing as a tree (start, turn, read, list, delete)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.api.routes.jobs import _reference, to_request
from pixelforge.api.schemas import JobCreate, ReferenceIn, engine_options
from pixelforge.domain.request import MAX_SEED
from pixelforge.errors import InvalidRequestError
from pixelforge.services.assets import Workspace
from pixelforge.services.images import load_mask
from pixelforge.services.jobs import Idempotency, fingerprint

router = APIRouter(prefix="/api/threads", tags=["threads"])

#: Generation fields of ``POST /api/jobs`` a thread's generated root may set.
ROOT_FIELDS = ("prompt", "model", "options", "negative_prompt", "aspect_ratio", "resolution",
               "size", "seed", "quality", "output_format", "background", "references",
               "workspace")  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThreadCreate(_Strict):
    """``POST /api/threads``: from an asset of yours (``asset_id``), or from a prompt generated
    on ``model`` (the root is that job's image; the other fields as for ``POST /api/jobs``)."""

    asset_id: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    prompt: str | None = Field(default=None, min_length=1, max_length=32_000)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    """With ``asset_id``: the model later turns default to (default: the asset's)."""
    options: dict[str, Any] | None = None
    negative_prompt: str | None = None
    aspect_ratio: str = "1:1"
    resolution: str = "1K"
    size: str | None = None
    seed: int | None = Field(default=None, ge=0)
    quality: Literal["auto", "low", "medium", "high"] = "auto"
    output_format: Literal["png", "jpeg", "webp"] = "png"
    background: Literal["auto", "opaque", "transparent"] = "auto"
    references: list[ReferenceIn] = Field(default_factory=list, max_length=16)
    workspace: Workspace | None = None
    """The studio workspace the root image (and so every turn) belongs to; a thread started
    from ``asset_id`` follows that asset's."""


class TurnCreate(_Strict):
    """``POST /api/threads/{id}/turns``: an instruction applied to one node's image."""

    instruction: str = Field(min_length=1, max_length=32_000)
    node_id: str | None = Field(default=None, max_length=64)
    """The node to edit; default: the most recent node of the thread."""
    model: str | None = Field(default=None, min_length=1, max_length=200)
    """Default: the node's model."""
    mask: str | None = None
    """Base64 PNG the size of the node's image; transparent pixels mark the area to edit."""
    references: list[ReferenceIn] = Field(default_factory=list, max_length=15)
    options: dict[str, Any] | None = None
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


def _base(c: ContainerDep, request: Request) -> str:
    return (c.settings.public_url or str(request.base_url)).rstrip("/")


def _idem(key: str | None, route: str, payload: Any, scope: str) -> Idempotency | None:
    if key is None:
        return None
    return Idempotency(f"{scope} POST {route}", key, fingerprint(payload))


@router.post("", status_code=201, summary="Start an edit thread from an asset or a prompt")
def create_thread(
    body: ThreadCreate,
    c: ContainerDep,
    request: Request,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    threads = c.edit_threads
    if (body.asset_id is None) == (body.prompt is None):
        raise InvalidRequestError(
            "asset_id: give asset_id (start from an image of yours) or prompt (generate the "
            "first image), not both", param="asset_id",
        )  # fmt: skip
    headers: dict[str, str] = {}
    if body.asset_id is not None:
        given = sorted(f for f in body.model_fields_set if f in ROOT_FIELDS and f != "model")
        if given:
            raise InvalidRequestError(
                f"{given[0]}: a thread started from asset_id uses that image as it is; "
                f"{given[0]} applies only to a thread that generates its first image",
                param=given[0],
            )  # fmt: skip
        thread = threads.start_from_asset(body.asset_id, principal, model=body.model,
                                          title=body.title)  # fmt: skip
        status = 201
    else:
        fields = body.model_dump(include=set(ROOT_FIELDS), exclude_none=True)
        job = JobCreate(**{**fields, "model": body.model or "compose"})
        generation = to_request(c, job, principal)
        idem = _idem(idem_key, "/api/threads", body.model_dump(mode="json"), principal.scope)
        thread, replayed = threads.start_from_request(generation, principal, title=body.title,
                                                      idem=idem, workspace=body.workspace)  # fmt: skip
        status = 202
        if replayed:
            headers["Idempotent-Replayed"] = "true"
    headers["Location"] = f"/api/threads/{thread.id}"
    return JSONResponse(threads.view(thread, _base(c, request)), status_code=status,
                        headers=headers)  # fmt: skip


@router.get("", summary="Your edit threads, newest first")
def list_threads(
    c: ContainerDep,
    principal: CurrentUser,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    threads = c.edit_threads
    page, total, counts = threads.list_threads(principal, offset=offset, limit=limit)
    return {
        "object": "list", "data": [threads.summary(t, counts.get(t.id, 0)) for t in page],
        "total": total, "offset": offset, "limit": limit,
        "has_more": offset + len(page) < total,
    }  # fmt: skip


@router.get("/{thread_id}", summary="An edit thread: the whole tree of nodes")
def get_thread(
    thread_id: str, c: ContainerDep, request: Request, principal: CurrentUser
) -> dict[str, Any]:
    threads = c.edit_threads
    return threads.view(threads.get(thread_id, principal), _base(c, request))


@router.post("/{thread_id}/turns", status_code=202,
             summary="Apply an instruction to a node's image (a new node)")  # fmt: skip
def create_turn(
    thread_id: str,
    body: TurnCreate,
    c: ContainerDep,
    request: Request,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    threads = c.edit_threads
    base = _base(c, request)
    idem = _idem(idem_key, f"/api/threads/{thread_id}/turns", body.model_dump(mode="json"),
                 principal.scope)  # fmt: skip
    if idem is not None:
        threads.get(thread_id, principal)  # 404 before anything else
        earlier = threads.replayed_turn(idem)
        if earlier is not None:
            return JSONResponse(threads.node_view(earlier, base), status_code=202, headers={
                "Location": f"/api/threads/{thread_id}", "Idempotent-Replayed": "true"})  # fmt: skip
    target = threads.target(thread_id, body.node_id, principal)
    model = body.model or target.node.model
    c.registry.resolve(model)
    options = engine_options(c.registry, model, body.options)
    refs = tuple(_reference(c, i, r, principal) for i, r in enumerate(body.references))
    mask = None
    if body.mask is not None:
        try:
            raw = base64.b64decode(body.mask, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError("mask: not valid base64", param="mask") from None
        mask = load_mask(raw, target.image, param="mask",
                         max_bytes=c.settings.max_upload_bytes)  # fmt: skip
    edit = threads.edit_request(target, body.instruction, model, principal, options=options,
                                references=refs, mask=mask, seed=body.seed)  # fmt: skip
    node, replayed = threads.turn(target, edit, principal, idem=idem)
    headers = {"Location": f"/api/threads/{thread_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(threads.node_view(node, base), status_code=202, headers=headers)


@router.delete("/{thread_id}", status_code=204, summary="Delete an edit thread (not its images)")
def delete_thread(thread_id: str, c: ContainerDep, principal: CurrentUser) -> Response:
    c.edit_threads.delete(thread_id, principal)
    return Response(status_code=204)
