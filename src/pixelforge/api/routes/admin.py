"""Admin: users, credits, quotas, usage reports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.api.auth import AdminUser
from pixelforge.api.deps import ContainerDep
from pixelforge.errors import InvalidRequestError
from pixelforge.services.pricing import from_micro, to_micro
from pixelforge.store.models import User

router = APIRouter(prefix="/api/admin", tags=["admin"])
Usd = Annotated[str, Field(pattern=r"^-?\d+(\.\d{1,6})?$", description="USD, e.g. '10.50'")]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=8, max_length=1024)]
    role: Literal["admin", "member"] = "member"


class CreditChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Usd
    kind: Literal["grant", "adjust"] = "grant"
    note: Annotated[str, Field(max_length=400)] = ""


class Quotas(BaseModel):
    model_config = ConfigDict(extra="forbid")
    daily: Usd | None = None
    monthly: Usd | None = None


def user_view(user: User, balance: int) -> dict[str, Any]:
    def usd(v: int | None) -> str | None:
        return str(from_micro(v)) if v is not None else None

    return {
        "id": user.id, "object": "user", "email": user.email, "role": user.role,
        "disabled": user.disabled, "created": int(user.created_at), "balance": usd(balance),
        "daily_quota": usd(user.daily_quota), "monthly_quota": usd(user.monthly_quota),
    }  # fmt: skip


@router.get("/users", summary="All users with balances")
def list_users(c: ContainerDep, _: AdminUser) -> dict[str, Any]:
    users = c.accounts.list_users()
    return {"object": "list", "data": [user_view(u, c.credits.balance(u.id)) for u in users]}


@router.post("/users", status_code=201, summary="Create a user")
def create_user(body: UserCreate, c: ContainerDep, _: AdminUser) -> dict[str, Any]:
    return user_view(c.accounts.create_user(body.email, body.password, body.role), 0)


@router.post(
    "/users/{user_id}/credits", summary="Grant or adjust credits (Idempotency-Key required)"
)
def change_credits(
    user_id: str,
    body: CreditChange,
    c: ContainerDep,
    principal: AdminUser,
    idem_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> dict[str, Any]:
    if idem_key is None:
        raise InvalidRequestError(
            "Idempotency-Key: required for requests that move credits", param="Idempotency-Key",
            code="idempotency_key_required",
        )  # fmt: skip
    note = body.note or f"by {principal.email}"
    balance = c.credits.grant_once(
        f"{principal.scope} credits {user_id}", idem_key, user_id, to_micro(body.amount),
        note, body.kind,
    )  # fmt: skip
    return {"user_id": user_id, "balance": str(from_micro(balance))}


@router.put("/users/{user_id}/quotas", summary="Set daily and monthly spending quotas")
def set_quotas(user_id: str, body: Quotas, c: ContainerDep, _: AdminUser) -> dict[str, Any]:
    daily = to_micro(body.daily) if body.daily is not None else None
    monthly = to_micro(body.monthly) if body.monthly is not None else None
    user = c.credits.set_quotas(user_id, daily, monthly)
    return user_view(user, c.credits.balance(user.id))


@router.get(
    "/usage",
    summary="Charged credits per user, model and day (JSON or CSV)",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def usage(
    c: ContainerDep,
    _: AdminUser,
    since: float | None = None,
    until: float | None = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    rows = c.credits.usage(since, until)
    if format == "csv":
        return Response(c.credits.usage_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="usage.csv"'})  # fmt: skip
    return {"object": "list", "data": rows}
