"""OpenAI-compatible images API: generations, edits, variations.

Each call becomes a durable job; these endpoints wait for it (bounded by
``sync_timeout_seconds``) and answer in the OpenAI ``ImagesResponse`` shape, or stream
``image_generation.*`` server-sent events when ``stream`` is true.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.api.errors import error_response
from pixelforge.api.schemas import ImageGenerationBody, to_request
from pixelforge.domain import GenerationRequest, ImageInput, Reference
from pixelforge.domain.request import Mode, ReferenceRole
from pixelforge.errors import InvalidRequestError
from pixelforge.services.accounts import Principal
from pixelforge.services.images import load_image, load_mask
from pixelforge.services.jobs import Idempotency, fingerprint
from pixelforge.store.jobs import SUCCEEDED
from pixelforge.store.models import Job

router = APIRouter(prefix="/v1/images", tags=["images (OpenAI-compatible)"])
IdemHeader = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]

_ZERO_USAGE = {
    "input_tokens": 0, "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
    "output_tokens": 0, "output_tokens_details": {"image_tokens": 0, "text_tokens": 0},
    "total_tokens": 0,
}  # fmt: skip


def _base_url(c: ContainerDep, request: Request) -> str:
    return (c.settings.public_url or str(request.base_url)).rstrip("/")


def _failure(job: Job) -> JSONResponse:
    err = job.error or {}
    code = str(err.get("code") or "engine_error")
    if job.status == "canceled":
        return error_response(409, "the job was cancelled", "conflict_error", "job_cancelled", None)
    if code in ("content_policy_violation", "moderation_blocked"):
        return error_response(
            400, str(err.get("message")), "image_generation_user_error", code, None
        )
    status = 400 if err.get("type") == "invalid_request_error" else 500
    kind = str(err.get("type") or "server_error")
    return error_response(status, str(err.get("message") or "generation failed"), kind, code, None)


def _images_body(
    c: ContainerDep, job: Job, request: GenerationRequest, fmt: str, base: str
) -> dict[str, Any]:
    data = []
    for asset in c.assets.of_job(job.id):
        if fmt == "url":
            data.append({"url": f"{base}/api/assets/{asset.id}/file", "revised_prompt": None})
        else:
            raw = c.assets.data(asset)
            data.append({"b64_json": base64.b64encode(raw).decode(), "revised_prompt": None})
    size = request.output_size
    return {
        "created": int(job.created_at), "data": data,
        "background": "transparent" if request.background.value == "transparent" else "opaque",
        "output_format": request.output_format.value,
        "quality": "medium" if request.quality.value == "auto" else request.quality.value,
        "size": f"{size.width}x{size.height}", "usage": _ZERO_USAGE,
    }  # fmt: skip


def _respond(
    c: ContainerDep, http: Request, request: GenerationRequest, response_format: str,
    stream: bool, idem: Idempotency | None, event_prefix: str, principal: Principal,
) -> Response:  # fmt: skip
    submitted = c.jobs.submit(request, idem, wait_for_result=not stream, principal=principal)
    replay_headers = {"Idempotent-Replayed": "true"} if submitted.replayed else {}
    if submitted.replayed and submitted.stored_body is not None and not stream:
        return Response(submitted.stored_body, status_code=submitted.stored_status or 200,
                        media_type="application/json", headers=replay_headers)  # fmt: skip
    if stream:
        return StreamingResponse(
            _events(c, submitted.job.id, request, event_prefix), media_type="text/event-stream",
            headers={"Cache-Control": "no-store", **replay_headers},
        )  # fmt: skip
    job = c.jobs.wait(submitted.job.id, c.settings.sync_timeout_seconds)
    if job.status != SUCCEEDED:
        return _failure(job)
    body = json.dumps(_images_body(c, job, request, response_format, _base_url(c, http)))
    if idem is not None and not submitted.replayed:
        c.jobs.store_response(idem, 200, body)
    return Response(body, media_type="application/json", headers=replay_headers)


def _events(c: ContainerDep, job_id: str, request: GenerationRequest, prefix: str) -> Iterator[str]:
    job = c.jobs.wait(job_id, c.settings.sync_timeout_seconds)
    if job.status != SUCCEEDED:
        failure = _failure(job)
        yield f"event: error\ndata: {bytes(failure.body).decode()}\n\n"
        return
    body = _images_body(c, job, request, "b64_json", "")
    for item in body["data"]:
        event = {
            "type": f"{prefix}.completed", "b64_json": item["b64_json"],
            "background": body["background"], "created_at": body["created"],
            "output_format": body["output_format"], "quality": body["quality"],
            "size": body["size"], "usage": _ZERO_USAGE,
        }  # fmt: skip
        yield f"event: {prefix}.completed\ndata: {json.dumps(event)}\n\n"


def _idempotency(
    key: str | None, route: str, payload: Any, principal: Principal
) -> Idempotency | None:
    if key is None:
        return None
    return Idempotency(f"{principal.scope} POST {route}", key, fingerprint(payload))


@router.post("/generations", summary="Create images from a prompt")
def generations(
    body: ImageGenerationBody,
    c: ContainerDep,
    http: Request,
    principal: CurrentUser,
    idem_key: IdemHeader = None,
) -> Response:
    request = to_request(body, c.registry)
    payload = body.model_dump(mode="json")
    idem = _idempotency(idem_key, "/v1/images/generations", payload, principal)
    return _respond(c, http, request, body.response_format, body.stream, idem,
                    "image_generation", principal)  # fmt: skip


async def _read_upload(upload: UploadFile, param: str, c: ContainerDep) -> ImageInput:
    data = await upload.read(c.settings.max_upload_bytes + 1)
    return load_image(data, param=param, name=upload.filename,
                      max_bytes=c.settings.max_upload_bytes,
                      max_pixels=c.settings.max_image_pixels)  # fmt: skip


def _form_body(**fields: Any) -> ImageGenerationBody:
    """Multipart fields through the same schema as the JSON endpoint (same errors)."""
    try:
        return ImageGenerationBody.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidRequestError(
            f"{param}: {first['msg']} (got {str(first.get('input'))[:80]!r})", param=param
        ) from None


def _digest(images: list[ImageInput]) -> list[str]:
    return [hashlib.sha256(i.data).hexdigest() for i in images]


@router.post("/edits", summary="Edit images with a prompt (multipart)")
async def edits(
    c: ContainerDep,
    http: Request,
    principal: CurrentUser,
    prompt: Annotated[str, Form(min_length=1, max_length=32_000)],
    image: Annotated[list[UploadFile] | None, File(description="Image(s) to edit")] = None,
    image_list: Annotated[list[UploadFile] | None, File(alias="image[]")] = None,
    mask: Annotated[UploadFile | None, File()] = None,
    model: Annotated[str, Form()] = "compose",
    n: Annotated[int, Form(ge=1, le=10)] = 1,
    size: Annotated[str, Form()] = "auto",
    quality: Annotated[str, Form()] = "auto",
    background: Annotated[str, Form()] = "auto",
    output_format: Annotated[str, Form()] = "png",
    output_compression: Annotated[int | None, Form(ge=0, le=100)] = None,
    input_fidelity: Annotated[str | None, Form()] = None,
    response_format: Annotated[str, Form()] = "b64_json",
    stream: Annotated[bool, Form()] = False,
    partial_images: Annotated[int, Form(ge=0, le=3)] = 0,
    moderation: Annotated[str, Form()] = "auto",
    user: Annotated[str | None, Form(max_length=256)] = None,
    idem_key: IdemHeader = None,
) -> Response:
    uploads = (image or []) + (image_list or [])
    if not uploads:
        raise InvalidRequestError("image: at least one image is required", param="image",
                                  code="missing_required_parameter")  # fmt: skip
    if input_fidelity not in (None, "low", "high"):
        raise InvalidRequestError(f"input_fidelity: {input_fidelity!r} is not allowed; "
                                  "allowed: low, high", param="input_fidelity")  # fmt: skip
    images = [await _read_upload(u, f"image[{i}]", c) for i, u in enumerate(uploads)]
    mask_image = None
    if mask is not None:
        mask_bytes = await mask.read(c.settings.max_upload_bytes + 1)
        mask_image = load_mask(mask_bytes, images[0], param="mask", name=mask.filename,
                               max_bytes=c.settings.max_upload_bytes)  # fmt: skip
    body = _form_body(
        prompt=prompt,
        model=model,
        n=n,
        size=size,
        quality=quality,
        background=background,
        output_format=output_format,
        output_compression=output_compression,
        response_format=response_format,
        stream=stream,
        partial_images=partial_images,
        moderation=moderation,
        user=user,
    )
    refs = tuple(Reference(i, ReferenceRole.SUBJECT) for i in images)
    request = to_request(body, c.registry, Mode.EDIT, refs, mask_image)
    payload = {**body.model_dump(mode="json"), "images": _digest(images),
               "mask": _digest([mask_image]) if mask_image else None}  # fmt: skip
    idem = _idempotency(idem_key, "/v1/images/edits", payload, principal)
    return _respond(c, http, request, response_format, stream, idem, "image_edit", principal)


@router.post("/variations", summary="Variations of an image (multipart)")
async def variations(
    c: ContainerDep,
    http: Request,
    principal: CurrentUser,
    image: Annotated[UploadFile, File()],
    model: Annotated[str, Form()] = "compose",
    n: Annotated[int, Form(ge=1, le=10)] = 1,
    size: Annotated[str, Form()] = "auto",
    response_format: Annotated[str, Form()] = "b64_json",
    prompt: Annotated[str, Form(max_length=32_000)] = "",
    user: Annotated[str | None, Form(max_length=256)] = None,
    idem_key: IdemHeader = None,
) -> Response:
    source = await _read_upload(image, "image", c)
    body = _form_body(
        prompt=prompt or "A variation of the image",
        model=model,
        n=n,
        size=size,
        response_format=response_format,
        user=user,
    )
    request = to_request(body, c.registry, Mode.VARIATION, (Reference(source),))
    payload = {**body.model_dump(mode="json"), "image": _digest([source])}
    idem = _idempotency(idem_key, "/v1/images/variations", payload, principal)
    return _respond(c, http, request, response_format, False, idem, "image_variation", principal)
