"""Quotes: what one set of request settings would cost on each model, and which models can
honour them at all, before anything runs (no job, no charge)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.api.routes.jobs import references_of, to_request
from pixelforge.api.schemas import JobCreate, RequestFields
from pixelforge.domain import Reference
from pixelforge.errors import CapabilityError, InvalidRequestError
from pixelforge.services.accounts import Principal
from pixelforge.services.pricing import from_micro

router = APIRouter(tags=["jobs"])

#: The most models one quote names.
MAX_MODELS = 64


class QuoteCreate(RequestFields):
    """``POST /api/quote``: the request fields of ``POST /api/jobs`` (``prompt`` optional)
    and the models to quote (None: every model of the server)."""

    prompt: str = Field(default="quote", min_length=1, max_length=32_000)
    models: (
        list[Annotated[str, Field(min_length=1, max_length=200)]] | None
    ) = Field(default=None, min_length=1, max_length=MAX_MODELS)  # fmt: skip


def _refused(model: str, speed_class: str | None, exc: InvalidRequestError) -> dict[str, Any]:
    return {
        "model": model, "ok": False, "price": None, "per_image": None,
        "speed_class": speed_class,
        "error": {"param": exc.param, "message": exc.message, "code": exc.code},
    }  # fmt: skip


def _quote(
    c: ContainerDep, fields: dict[str, Any], model: str, refs: tuple[Reference, ...],
    principal: Principal,
) -> dict[str, Any]:  # fmt: skip
    """One model's entry. What the model cannot honour (its capabilities, its own checks) is
    the entry's error; what is wrong whatever the model raises (a 400 for the whole quote)."""
    try:
        _, info = c.registry.resolve(model)
    except InvalidRequestError as exc:
        return _refused(model, None, exc)
    speed = info.capabilities.speed_class
    try:
        request = to_request(c, JobCreate(**fields, model=model), principal, refs)
    except CapabilityError as exc:  # e.g. more reference-set images than the model takes
        return _refused(model, speed, exc)
    try:
        c.jobs.check(request)
    except InvalidRequestError as exc:
        return _refused(model, speed, exc)
    prices = c.jobs.prices
    return {
        "model": model, "ok": True, "price": str(from_micro(prices.price(request))),
        "per_image": str(from_micro(prices.per_image(request))), "speed_class": speed,
        "error": None,
    }  # fmt: skip


@router.post("/api/quote", summary="Price and check one request on several models (no job)")
def create_quote(body: QuoteCreate, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    fields = body.model_dump(exclude={"models"})
    refs = references_of(c, body, principal)  # once, whatever the number of models
    models = body.models if body.models is not None else [m.id for m in c.registry.models()]
    return {
        "object": "list",
        "data": [_quote(c, fields, model, refs, principal) for model in models],
        "billed": principal.user_id is not None,
    }
