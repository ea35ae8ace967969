"""The text edit action: exact text on an asset, as a job (202, like ``POST /api/jobs``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import Field

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.api.schemas import TextOverlayIn
from pixelforge.domain import TextOverlay
from pixelforge.services.jobs import Idempotency, fingerprint

router = APIRouter(prefix="/api/assets", tags=["assets"])


class TextOverlayCreate(TextOverlayIn):
    """``POST /api/assets/{id}/text``: the text overlay's fields, plus a brand kit of yours
    (a reference set id) whose palette and fonts apply."""

    brand_kit: str | None = Field(default=None, min_length=1, max_length=64)


@router.post("/{asset_id}/text", status_code=202,
             summary="Draw exact text on an asset: a new asset with the source as parent")  # fmt: skip
def create_text_overlay(
    asset_id: str,
    body: TextOverlayCreate,
    c: ContainerDep,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    overlay = TextOverlay.from_dict(body.model_dump(exclude={"brand_kit"}), param="")
    idem = None
    if idem_key is not None:
        route = f"POST /api/assets/{asset_id}/text"
        idem = Idempotency(f"{principal.scope} {route}", idem_key,
                           fingerprint(body.model_dump(mode="json")))  # fmt: skip
    submitted = c.text_overlays.submit(asset_id, overlay, principal, idem, body.brand_kit)
    headers = {"Location": f"/api/jobs/{submitted.job.id}"}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
        if submitted.stored_body is not None:
            return JSONResponse(json.loads(submitted.stored_body), status_code=202, headers=headers)
    view = c.jobs.view(submitted.job)
    if idem is not None and not submitted.replayed:
        c.jobs.store_response(idem, 202, json.dumps(view))
    return JSONResponse(view, status_code=202, headers=headers)
