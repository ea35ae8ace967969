"""Upscaling an asset, as a job (202, like ``POST /api/jobs``)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.services.jobs import Idempotency, fingerprint

router = APIRouter(prefix="/api/assets", tags=["assets"])


class UpscaleCreate(BaseModel):
    """``POST /api/assets/{id}/upscale``: how big, with what. No factor and no tier: 2x."""

    model_config = ConfigDict(extra="forbid")

    factor: Literal[2, 4] | None = None
    """Exactly this many times the asset's width and height."""
    tier: Literal["2K", "4K"] | None = None
    """This long edge (2048 or 4096 px), the asset's aspect ratio kept."""
    model: str = Field(default="auto", min_length=1, max_length=200)
    """``auto`` (the best installed super-resolution model, else classical), ``classical``,
    or an upscaler's name (see ``GET /v1/models``: ``upscale/<name>``)."""
    rerender: bool = True
    """A ``compose`` asset is rendered again at the target size (crisp); false: upscale its
    pixels like any other image."""


@router.post("/{asset_id}/upscale", status_code=202,
             summary="Upscale an asset (2x, 4x or to 2K/4K) into a new asset")  # fmt: skip
def create_upscale(
    asset_id: str,
    body: UpscaleCreate,
    c: ContainerDep,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    idem = None
    if idem_key is not None:
        route = f"POST /api/assets/{asset_id}/upscale"
        idem = Idempotency(f"{principal.scope} {route}", idem_key,
                           fingerprint(body.model_dump(mode="json")))  # fmt: skip
    submitted = c.upscales.submit(asset_id, principal, factor=body.factor, tier=body.tier,
                                  model=body.model, rerender=body.rerender, idem=idem)  # fmt: skip
    headers = {"Location": f"/api/jobs/{submitted.job.id}"}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
        if submitted.stored_body is not None:
            return JSONResponse(json.loads(submitted.stored_body), status_code=202, headers=headers)
    view = c.jobs.view(submitted.job)
    if idem is not None and not submitted.replayed:
        c.jobs.store_response(idem, 202, json.dumps(view))
    return JSONResponse(view, status_code=202, headers=headers)
