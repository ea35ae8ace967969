"""Compare and arena: one brief on several models side by side, pairwise votes, leaderboard."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.api.auth import CurrentUser
from pixelforge.api.deps import ContainerDep
from pixelforge.api.routes.jobs import to_request
from pixelforge.api.schemas import JobCreate, RequestFields
from pixelforge.errors import InvalidRequestError
from pixelforge.services.accounts import Principal
from pixelforge.services.assets import Workspace
from pixelforge.services.compare import MAX_ENTRIES, Category, EntrySpec, vote_view
from pixelforge.services.jobs import Idempotency, fingerprint

router = APIRouter(tags=["compare"])

CategoryName = Literal[
    "poster", "product", "portrait", "infographic", "ui", "thumbnail", "concept", "other"
]
#: Fields every entry shares; each entry adds its model, options and label.
SHARED = frozenset(RequestFields.model_fields)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompareEntryIn(_Strict):
    """One side: a model, its typed options (as for ``POST /api/jobs``) and a label naming
    the settings (needed when the same model appears more than once)."""

    model: str = Field(min_length=1, max_length=200)
    options: dict[str, Any] | None = None
    label: str | None = Field(default=None, min_length=1, max_length=80,
                              pattern=r"^[^\x00-\x1f\x7f]+$")  # fmt: skip


class CompareCreate(RequestFields):
    """``POST /api/compare``: the request fields of ``POST /api/jobs`` shared by every entry,
    plus the entries and the use case the leaderboard files the votes under."""

    category: CategoryName = "other"
    entries: list[CompareEntryIn] = Field(min_length=2, max_length=MAX_ENTRIES)
    workspace: Workspace | None = None
    """The studio workspace every entry's assets belong to (as for ``POST /api/jobs``)."""


class VoteCreate(_Strict):
    """``POST /api/compare/{id}/votes``: entry ``a`` better, ``b`` better, or a tie."""

    a: str = Field(min_length=1, max_length=64)
    b: str = Field(min_length=1, max_length=64)
    winner: Literal["a", "b", "tie"]


def _entry(c: ContainerDep, body: CompareCreate, i: int, principal: Principal) -> EntrySpec:
    """Entry ``i`` as a checked request; errors name ``entries[i]``."""
    entry = body.entries[i]
    job = JobCreate(
        **body.model_dump(include=set(SHARED)), model=entry.model, options=entry.options
    )
    try:
        request = to_request(c, job, principal)
        c.jobs.check(request)
    except InvalidRequestError as exc:
        param = exc.param or ""
        if param.split(".")[0].split("[")[0] in ("model", "options"):
            where = f"entries[{i}].{param}"
            message = f"entries[{i}].{exc.message}" if exc.message.startswith(param) else (
                f"{where}: {exc.message}")  # fmt: skip
            raise type(exc)(message, param=where, code=exc.code) from None
        raise type(exc)(f"entries[{i}] (model {entry.model!r}): {exc.message}", param=exc.param,
                        code=exc.code) from None  # fmt: skip
    return EntrySpec(request, entry.label or "", entry.options)


@router.post("/api/compare", status_code=202, summary="Send one brief to several models")
def create_compare(
    body: CompareCreate,
    c: ContainerDep,
    principal: CurrentUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> JSONResponse:
    entries = [_entry(c, body, i, principal) for i in range(len(body.entries))]
    idem = None
    if idem_key is not None:
        idem = Idempotency(f"{principal.scope} POST /api/compare", idem_key,
                           fingerprint(body.model_dump(mode="json")))  # fmt: skip
    compare, replayed = c.compares.create(body.prompt, Category(body.category), entries,
                                          principal, idem, workspace=body.workspace)  # fmt: skip
    headers = {"Location": f"/api/compare/{compare.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(c.compares.view(compare), status_code=202, headers=headers)


@router.get("/api/compare/{compare_id}", summary="A compare: entries side by side, votes")
def get_compare(compare_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    return c.compares.view(c.compares.get(compare_id, principal))


@router.post("/api/compare/{compare_id}/votes", status_code=201,
             summary="Vote on two finished entries (a, b or tie)")  # fmt: skip
def vote(
    compare_id: str, body: VoteCreate, c: ContainerDep, principal: CurrentUser
) -> dict[str, Any]:
    cast, replaced = c.compares.vote(compare_id, body.a, body.b, body.winner, principal)
    return vote_view(cast, replaced)


@router.get(
    "/api/leaderboard",
    summary="Bradley-Terry ratings with 95% intervals, per category (JSON or CSV)",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def leaderboard(
    c: ContainerDep,
    request: Request,
    principal: CurrentUser,
    category: CategoryName | None = None,
    mine: Annotated[bool, Query(description="Only your own votes")] = False,
    format: Literal["json", "csv"] | None = None,
) -> Response:
    wanted = Category(category) if category is not None else None
    board = c.arena.leaderboard(wanted, principal.user_id if mine else None)
    as_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    if as_csv:
        name = f"leaderboard-{category or 'all'}.csv"
        return Response(board.to_csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
    return JSONResponse(board.view())
