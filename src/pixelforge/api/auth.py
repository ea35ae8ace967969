"""Who is calling: API keys (Bearer), browser sessions (cookie + CSRF), or the local user.

With accounts off (no users yet, on loopback) every request acts as the local admin. Once a
user exists every route but :data:`PUBLIC_PATHS` needs credentials; a test enumerates
``app.routes`` to keep it so.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from pixelforge.api.deps import ContainerDep
from pixelforge.errors import AuthenticationError, PermissionDeniedError, RateLimitedError
from pixelforge.services.accounts import LOCAL, Principal

PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/auth/login",
        "/auth/oidc/login",
        "/auth/oidc/callback",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/redoc",
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "pixelforge_session"
SECURE_SESSION_COOKIE = "__Host-pixelforge_session"


def cookie_name(request: Request) -> str:
    return SECURE_SESSION_COOKIE if request.url.scheme == "https" else SESSION_COOKIE


def _check_csrf(request: Request, principal: Principal) -> None:
    """Cookie-authenticated changes need our own Origin and the session's CSRF token."""
    origin = request.headers.get("origin")
    expected = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin is None or origin == "null" or origin != expected:
        raise PermissionDeniedError(
            f"Origin: {origin!r} is not this site ({expected}); cross-site requests are refused",
            param="Origin", code="csrf_failed",
        )  # fmt: skip
    token = request.headers.get("x-csrf-token", "")
    if not principal.csrf_token or not hmac.compare_digest(token, principal.csrf_token):
        raise PermissionDeniedError(
            "X-CSRF-Token: missing or wrong; send the token returned by /auth/login",
            param="X-CSRF-Token", code="csrf_failed",
        )  # fmt: skip


async def _identify(request: Request, c: ContainerDep) -> Principal:
    if not await run_in_threadpool(c.auth_required):
        return LOCAL
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Authorization: use 'Bearer <API key>'",
                                      param="Authorization")  # fmt: skip
        principal = await run_in_threadpool(c.accounts.key_principal, token.strip())
        if principal is None:
            raise AuthenticationError("the API key is not valid (unknown, revoked or expired)")
        return principal
    raw = request.cookies.get(cookie_name(request))
    if raw:
        session = await run_in_threadpool(c.accounts.session_principal, raw)
        if session is not None:
            if request.method not in SAFE_METHODS:
                _check_csrf(request, session)
            return session
    raise AuthenticationError(
        "sign in, or send an API key as 'Authorization: Bearer <key>'", code="missing_api_key"
    )


async def current_principal(request: Request, c: ContainerDep) -> Principal:
    """The caller, after authentication and (for changes) the rate limits."""
    principal = await _identify(request, c)
    if request.method not in SAFE_METHODS and principal.user_id is not None:
        limiter = c.limiter
        headers: dict[str, str] = {}
        for key in dict.fromkeys(k for k in (principal.api_key_id, principal.user_id) if k):
            ok, remaining, reset = limiter.hit(key)
            headers = limiter.headers(remaining, reset)
            if not ok:
                raise RateLimitedError(
                    f"rate limit of {limiter.limit} requests per minute reached; retry in "
                    f"{reset:.1f} s", retry_after=reset, headers=headers,
                )  # fmt: skip
        request.state.ratelimit_headers = headers
    return principal


async def admin_principal(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if not principal.is_admin:
        raise PermissionDeniedError("this needs an admin account", code="admin_required")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(admin_principal)]
