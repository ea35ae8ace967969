"""OpenAI-compatible batch API for the images endpoints (see ``services.batches``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pixelforge.api.auth import CurrentUser
from pixelforge.api.batch_bodies import check_lines, line_request
from pixelforge.api.deps import ContainerDep
from pixelforge.domain import GenerationRequest
from pixelforge.services.accounts import Principal
from pixelforge.services.batch_lines import LineError, RawLine
from pixelforge.services.batches import BatchLine, BatchService
from pixelforge.services.jobs import Idempotency, fingerprint

router = APIRouter(prefix="/v1/batches", tags=["batches (OpenAI-compatible)"])

MAX_METADATA, MAX_KEY, MAX_VALUE = 16, 64, 512


class BatchCreate(BaseModel):
    """``POST /v1/batches``."""

    model_config = ConfigDict(extra="forbid")

    input_file_id: str = Field(min_length=1, max_length=64)
    endpoint: Literal["/v1/images/generations", "/v1/images/edits"]
    completion_window: Literal["24h"]
    metadata: dict[str, str] | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if len(value) > MAX_METADATA:
            raise ValueError(f"{len(value)} pairs; at most {MAX_METADATA}")
        for key, item in value.items():
            if len(key) > MAX_KEY:
                raise ValueError(f"key {key[:20]!r}... is {len(key)} characters; at most {MAX_KEY}")
            if len(item) > MAX_VALUE:
                raise ValueError(f"value of {key!r} is {len(item)} characters; at most {MAX_VALUE}")
        return value


def _converter(c: ContainerDep, principal: Principal) -> Any:
    def load_asset(asset_id: str, param: str) -> bytes:
        return c.assets.data(c.assets.get(asset_id, principal))

    def convert(raw: RawLine) -> tuple[GenerationRequest, str]:
        return line_request(
            raw.url, raw.body, c.registry, c.jobs.check, load_asset=load_asset,
            max_bytes=c.settings.max_upload_bytes, max_pixels=c.settings.max_image_pixels,
        )  # fmt: skip

    return convert


def _view(c: ContainerDep, batch: Any) -> dict[str, Any]:
    return BatchService.view(batch, c.batches.counts([batch.id])[batch.id])


@router.post("", summary="Create a batch from an uploaded JSONL file")
def create_batch(
    body: BatchCreate,
    c: ContainerDep,
    http: Request,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> dict[str, Any]:
    stored, raw, errors = c.batches.read_input(body.input_file_id, body.endpoint, principal)
    lines: list[BatchLine] = []
    bad: list[LineError] = []
    if all(e.line is not None for e in errors):  # a file-level error: the lines do not matter
        lines, bad = check_lines(raw, _converter(c, principal))
    errors = sorted([*errors, *bad], key=lambda e: e.line or 0)
    idem = None
    if idem_key is not None:
        idem = Idempotency(f"{principal.scope} POST /v1/batches", idem_key,
                           fingerprint(body.model_dump(mode="json")))  # fmt: skip
    base = (c.settings.public_url or str(http.base_url)).rstrip("/")
    batch, _ = c.batches.create(
        stored, body.endpoint, body.metadata, lines, errors, principal=principal,
        base_url=base, idem=idem,
    )  # fmt: skip
    return _view(c, batch)


@router.get("", summary="List your batches (newest first)")
def list_batches(
    c: ContainerDep,
    principal: CurrentUser,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    page = c.batches.page(principal, after, limit)
    counts = c.batches.counts([b.id for b in page.items])
    data = [BatchService.view(b, counts[b.id]) for b in page.items]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": page.has_more}  # fmt: skip


@router.get("/{batch_id}", summary="A batch, with its progress (request_counts)")
def get_batch(batch_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    return _view(c, c.batches.get(batch_id, principal))


@router.post("/{batch_id}/cancel", summary="Cancel a batch (finished results are kept)")
def cancel_batch(batch_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    return _view(c, c.batches.cancel(batch_id, principal))
