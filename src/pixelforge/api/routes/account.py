"""Sign-in, the signed-in user, their API keys and credits."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pixelforge.api.auth import CurrentUser, cookie_name
from pixelforge.api.deps import ContainerDep
from pixelforge.services.pricing import from_micro, to_micro
from pixelforge.store.models import ApiKey

router = APIRouter(tags=["account"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=120)] = "default"
    expires_in_days: Annotated[float | None, Field(gt=0, le=3650)] = None
    budget: Annotated[str | None, Field(pattern=r"^\d+(\.\d{1,6})?$")] = None
    """Spending cap in USD for this key, e.g. "5.00"."""


def key_view(key: ApiKey, owner_email: str | None) -> dict[str, Any]:
    return {
        "id": key.id, "object": "api_key", "name": key.name, "prefix": key.prefix,
        "owner": {"id": key.user_id, "email": owner_email},
        "last4": key.last4, "created": int(key.created_at),
        "last_used": int(key.last_used_at) if key.last_used_at else None,
        "expires": int(key.expires_at) if key.expires_at else None,
        "revoked": key.revoked_at is not None,
        "budget": str(from_micro(key.budget)) if key.budget is not None else None,
    }  # fmt: skip


@router.post("/auth/login", summary="Sign in with email and password (sets the session cookie)")
async def login(body: Login, request: Request, c: ContainerDep) -> JSONResponse:
    user = await run_in_threadpool(c.accounts.verify_password, body.email, body.password)
    old = request.cookies.get(cookie_name(request))
    if old:
        await run_in_threadpool(c.accounts.revoke_session, old)  # the id rotates on sign-in
    raw, csrf = await run_in_threadpool(c.accounts.create_session, user)
    response = JSONResponse({"user": {"id": user.id, "email": user.email, "role": user.role},
                             "csrf_token": csrf})  # fmt: skip
    secure = request.url.scheme == "https"
    response.set_cookie(
        cookie_name(request), raw, max_age=int(c.settings.session_days * 86400), path="/",
        httponly=True, samesite="lax", secure=secure,
    )  # fmt: skip
    return response


@router.post("/auth/logout", summary="Sign out (the session is invalidated server-side)")
def logout(request: Request, c: ContainerDep, _: CurrentUser) -> Response:
    raw = request.cookies.get(cookie_name(request))
    if raw:
        c.accounts.revoke_session(raw)
    response = Response(status_code=204)
    response.delete_cookie(cookie_name(request), path="/")
    return response


@router.get("/auth/me", summary="The signed-in user and their balance")
def me(c: ContainerDep, principal: CurrentUser, response: Response) -> dict[str, Any]:
    """``csrf_token``: the session's token for a browser session (a reloaded page recovers it;
    only our own pages can read it: no CORS), else None."""
    balance = c.credits.balance(principal.user_id) if principal.user_id else None
    response.headers["Cache-Control"] = "no-store"  # it carries the session's CSRF token
    return {
        "id": principal.user_id, "email": principal.email, "role": principal.role,
        "via": principal.via, "api_key_id": principal.api_key_id,
        "balance": str(from_micro(balance)) if balance is not None else None,
        "accounts": c.auth_required(),
        "csrf_token": principal.csrf_token if principal.via == "session" else None,
    }  # fmt: skip


@router.get("/api/keys", summary="Your API keys (admins: everyone's)")
def list_keys(c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    owner = None if principal.is_admin else principal.user_id
    keys = c.accounts.list_keys(owner)
    emails = c.accounts.emails({k.user_id for k in keys})
    return {"object": "list", "data": [key_view(k, emails.get(k.user_id)) for k in keys]}


@router.post("/api/keys", status_code=201, summary="Create an API key (shown once)")
def create_key(body: KeyCreate, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    if principal.user_id is None:
        from pixelforge.errors import InvalidRequestError

        raise InvalidRequestError("API keys need an account; create a user first", param="user")
    expires = time.time() + body.expires_in_days * 86400 if body.expires_in_days else None
    budget = to_micro(body.budget) if body.budget is not None else None
    key, raw = c.accounts.create_key(principal.user_id, body.name, expires_at=expires,
                                     budget=budget)  # fmt: skip
    return {**key_view(key, principal.email), "key": raw}


@router.delete("/api/keys/{key_id}", summary="Revoke an API key (takes effect at once)")
def revoke_key(key_id: str, c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    owner = None if principal.is_admin else (principal.user_id or "-")
    key = c.accounts.revoke_key(key_id, owner)
    return key_view(key, c.accounts.emails({key.user_id}).get(key.user_id))


@router.get("/api/credits", summary="Your balance and recent ledger entries")
def my_credits(c: ContainerDep, principal: CurrentUser) -> dict[str, Any]:
    if principal.user_id is None:
        return {"balance": None, "entries": []}
    return {
        "balance": str(from_micro(c.credits.balance(principal.user_id))),
        "entries": c.credits.history(principal.user_id),
    }
