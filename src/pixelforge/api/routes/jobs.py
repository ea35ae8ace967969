"""Native jobs API: submit (202), read, watch (SSE), cancel."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.api.schemas import (
    JobCreate,
    RequestFields,
    engine_options,
    shape,
    text_overlay_of,
)
from pixelforge.domain import Brand, GenerationRequest, Reference, Tier
from pixelforge.domain.request import (
    Background,
    ImageInput,
    Mode,
    OutputFormat,
    Quality,
    ReferenceRole,
    parse_enum,
)
from pixelforge.errors import InvalidRequestError, PermissionDeniedError
from pixelforge.services.accounts import Principal
from pixelforge.services.images import load_image
from pixelforge.services.jobs import Idempotency, fingerprint
from pixelforge.services.references import SetUse
from pixelforge.store.jobs import TERMINAL

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


def _reference(c: ContainerDep, i: int, ref: Any, principal: Principal) -> Reference:
    param = f"references[{i}]"
    role = parse_enum(ReferenceRole, ref.role, f"{param}.role")
    given = [f for f in ("asset_id", "b64_json", "url") if getattr(ref, f) is not None]
    if len(given) != 1:
        raise InvalidRequestError(f"{param}: give exactly one of asset_id, b64_json or url",
                                  param=param)  # fmt: skip
    if ref.url is not None:
        if not c.settings.allow_reference_urls:
            raise PermissionDeniedError(
                f"{param}.url: reference images by URL are off on this server "
                "(PIXELFORGE_ALLOW_REFERENCE_URLS); send b64_json instead",
                param=f"{param}.url", code="feature_disabled",
            )  # fmt: skip
        raw = c.fetcher.fetch(ref.url, param=f"{param}.url")
        return Reference(load_image(raw, param=param, max_bytes=c.settings.max_upload_bytes,
                                    max_pixels=c.settings.max_image_pixels), role)  # fmt: skip
    if ref.asset_id is not None:
        asset = c.assets.get(ref.asset_id, principal)
        data = c.assets.data(asset)
        return Reference(ImageInput(data, asset.width, asset.height, asset.format), role)
    try:
        raw = base64.b64decode(ref.b64_json, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{param}.b64_json: not valid base64", param=param) from None
    return Reference(load_image(raw, param=param, max_bytes=c.settings.max_upload_bytes,
                                max_pixels=c.settings.max_image_pixels), role)  # fmt: skip


def references_of(
    c: ContainerDep, body: RequestFields, principal: Principal
) -> tuple[Reference, ...]:
    """The request's own reference images, loaded and checked (errors name ``references[i]``)."""
    return tuple(_reference(c, i, r, principal) for i, r in enumerate(body.references))


def to_request(
    c: ContainerDep, body: JobCreate, principal: Principal,
    loaded: tuple[Reference, ...] | None = None,
) -> GenerationRequest:  # fmt: skip
    """The checked request of ``body``; ``loaded``: its references, already loaded by
    :func:`references_of` (a quote builds one request per model from the same images)."""
    c.registry.resolve(body.model)
    extra = shape(body.size or "auto", body.aspect_ratio, body.resolution)
    extra.setdefault("tier", Tier.parse(body.resolution))
    refs = references_of(c, body, principal) if loaded is None else loaded
    options = engine_options(c.registry, body.model, body.options)
    if body.continue_from is not None:
        if body.mode != "edit":
            raise InvalidRequestError(
                f"continue_from: only an edit continues an asset; got mode {body.mode!r}, "
                "send mode 'edit'", param="continue_from",
            )  # fmt: skip
        continued = c.threads.continuation(body.continue_from, body.model, principal, options)
        refs, options = (Reference(continued.image), *refs), continued.options
    brand = None
    if body.reference_sets:
        from_sets, brand = _reference_sets(c, body, principal, len(refs))
        refs = (*refs, *from_sets)
    return GenerationRequest(
        prompt=body.prompt, model=body.model, mode=Mode(body.mode),
        negative_prompt=body.negative_prompt, n=body.n, seed=body.seed, references=refs,
        quality=Quality(body.quality), output_format=OutputFormat(body.output_format),
        output_compression=body.output_compression, background=Background(body.background),
        options=options, brand=brand, text_overlay=text_overlay_of(body.text_overlay), **extra,
    )  # fmt: skip


def _reference_sets(
    c: ContainerDep, body: JobCreate, principal: Principal, used: int
) -> tuple[tuple[Reference, ...], Brand | None]:
    """The references and brand kit of the request's saved sets (see services.references)."""
    uses = [
        SetUse(u.id, parse_enum(ReferenceRole, u.role, f"reference_sets[{i}].role")
               if u.role is not None else None, u.take)
        for i, u in enumerate(body.reference_sets)
    ]  # fmt: skip
    _, info = c.registry.resolve(body.model)
    return c.references.for_request(uses, principal, limit=info.capabilities.max_references,
                                    used=used, model=body.model)  # fmt: skip


@router.post("", status_code=202, summary="Submit a job")
def create_job(
    body: JobCreate,
    c: ContainerDep,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    request = to_request(c, body, principal)
    idem = None
    if idem_key is not None:
        idem = Idempotency(f"{principal.scope} POST /api/jobs", idem_key,
                           fingerprint(body.model_dump(mode="json")))  # fmt: skip
    submitted = c.jobs.submit(request, idem, principal=principal, continue_from=body.continue_from,
                              workspace=body.workspace)  # fmt: skip
    headers = {"Location": f"/api/jobs/{submitted.job.id}"}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
        if submitted.stored_body is not None:
            return JSONResponse(json.loads(submitted.stored_body), status_code=202, headers=headers)
    view = c.jobs.view(submitted.job)
    if idem is not None and not submitted.replayed:
        # The stored answer is the 202 job object: replays return the same job, whatever its fate.
        c.jobs.store_response(idem, 202, json.dumps(view))
    return JSONResponse(view, status_code=202, headers=headers)


@router.get("/{job_id}", summary="Read a job")
def get_job(job_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    return c.jobs.view(c.jobs.get(job_id, principal))


@router.post("/{job_id}/cancel", summary="Cancel a queued or running job")
def cancel_job(job_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    return c.jobs.view(c.jobs.cancel(job_id, principal))


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@router.get(
    "/{job_id}/events",
    summary="Server-sent events: queue position, progress (with step previews), done",
)
async def job_events(
    job_id: str, c: ContainerDep, request: Request, principal: CurrentUser
) -> StreamingResponse:
    await run_in_threadpool(c.jobs.get, job_id, principal)  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        last: tuple[Any, ...] | None = None
        sent_preview = 0
        idle = 0.0
        while not await request.is_disconnected():
            view = await run_in_threadpool(lambda: c.jobs.view(c.jobs.get(job_id)))
            preview = c.previews.latest(job_id)
            if preview is not None and preview.seq > sent_preview and view["status"] == "running":
                sent_preview = preview.seq
                view["preview"] = preview.data_url
            state = (view["status"], view["progress"], view["message"], view.get("queue_position"),
                     sent_preview)  # fmt: skip
            if state != last:
                last, idle = state, 0.0
                status = view["status"]
                if status in TERMINAL:
                    yield _sse({"succeeded": "done"}.get(status, status), view)
                    return
                yield _sse("queued" if status == "queued" else "progress", view)
            elif idle >= 15:
                idle = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(0.1)
            idle += 0.1

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})  # fmt: skip
