"""Variations: "more like this" from any asset, as a job (202, like ``POST /api/jobs``)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.domain.request import MAX_N, MAX_SEED
from pixelforge.services.jobs import Idempotency, fingerprint
from pixelforge.services.variations import DEFAULT_N, Strength

router = APIRouter(prefix="/api/assets", tags=["assets"])


class VariationCreate(BaseModel):
    """``POST /api/assets/{id}/variations``: how many, how far, on which model."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=DEFAULT_N, ge=1, le=MAX_N)
    strength: Literal["subtle", "strong"] | None = None
    """None: the asset's own request again with new seeds; subtle or strong: an image-to-image
    run of the asset on a model that takes a strength."""
    model: str | None = Field(default=None, min_length=1, max_length=200)
    """Default: the model the asset's request named."""
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    """The first of the n seeds (default: random); never the asset's own seed."""


@router.post("/{asset_id}/variations", status_code=202,
             summary="Variations of an asset: same prompt and settings, new seeds")  # fmt: skip
def create_variations(
    asset_id: str,
    body: VariationCreate,
    c: ContainerDep,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    idem = None
    if idem_key is not None:
        route = f"POST /api/assets/{asset_id}/variations"
        idem = Idempotency(f"{principal.scope} {route}", idem_key,
                           fingerprint(body.model_dump(mode="json")))  # fmt: skip
    strength = Strength(body.strength) if body.strength is not None else None
    submitted = c.variations.submit(asset_id, principal, n=body.n, strength=strength,
                                    model=body.model, seed=body.seed, idem=idem)  # fmt: skip
    headers = {"Location": f"/api/jobs/{submitted.job.id}"}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
        if submitted.stored_body is not None:
            return JSONResponse(json.loads(submitted.stored_body), status_code=202, headers=headers)
    view = c.jobs.view(submitted.job)
    if idem is not None and not submitted.replayed:
        c.jobs.store_response(idem, 202, json.dumps(view))
    return JSONResponse(view, status_code=202, headers=headers)
