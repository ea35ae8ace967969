"""Optional "Sign in with SSO": OpenID Connect authorization code flow with PKCE.

Contract
--------
Enabled when both ``oidc_issuer`` and ``oidc_client_id`` are set; otherwise both routes
answer **403** ``feature_disabled`` (a ``permission_error``, like every refusal here).

``GET /auth/oidc/login[?next=/path]``
    302 to the provider's ``authorization_endpoint`` (read from
    ``{issuer}/.well-known/openid-configuration``, cached per app for an hour) with
    ``response_type=code``, ``scope=openid email profile``, ``client_id``, ``redirect_uri``,
    a random ``state`` and ``nonce`` and a PKCE ``code_challenge`` (S256). The state, nonce,
    code verifier and ``next`` travel in a 10-minute ``HttpOnly; SameSite=Lax`` cookie
    (``pixelforge_oidc``; ``__Secure-pixelforge_oidc`` under https, path ``/auth/oidc``)
    signed with HMAC-SHA256 under a random per-app secret kept in ``app.state``: nothing in
    it is trusted unless the signature and expiry check out. ``next`` is kept only when it is
    a same-site relative path (``/…``, not ``//…``, no backslash or control characters).

``GET /auth/oidc/callback?code=&state=``
    - missing, unsigned, expired or mismatched state → 400 ``oidc_state_mismatch``;
      a provider ``error=`` answer → 400 ``oidc_provider_error``; no ``code`` → 400.
    - the code is exchanged at the ``token_endpoint`` with the ``code_verifier``
      (``client_secret_basic``, or ``client_secret_post`` when that is all the provider
      lists); a refusal → 401 ``oidc_token_error``; provider unreachable → 502
      ``oidc_unavailable``.
    - the ID token must verify (RS256/ES256 only, keys from ``jwks_uri``, re-fetched once
      for an unknown ``kid``) with ``iss`` == the issuer, ``aud`` containing the client id
      (and ``azp`` == client id when present or when there are several audiences), valid
      ``exp``/``iat`` (60 s leeway), ``nonce`` == the stored nonce, and a ``sub``;
      otherwise → 401 ``oidc_invalid_token``.
    - ``email`` (lowercased) is required (403 ``email_required``) and, when
      ``email_verified`` is present, it must be true (403 ``email_not_verified``).
    - ``oidc_allowed_domains`` (comma list, exact domains, empty: any) → 403
      ``domain_not_allowed``.
    - the account is found by email; unknown emails get a passwordless member account when
      ``oidc_create_users``, else 403 ``account_required``; disabled accounts → 403
      ``account_disabled``.
    - then a session is made exactly as ``POST /auth/login`` does (an old session cookie is
      revoked first), the login cookie is cleared, and the answer is 302 to ``next`` or "/".

All blocking I/O (httpx, the database) runs in these sync route functions, which FastAPI
runs in its threadpool. The JOSE work uses ``joserfc`` (authlib's successor to the
deprecated ``authlib.jose``, installed with authlib); PKCE helpers come from authlib.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import (  # type: ignore[import-untyped]
    create_s256_code_challenge,
)
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from pixelforge.api.auth import cookie_name
from pixelforge.api.container import Container
from pixelforge.api.deps import ContainerDep
from pixelforge.config import Settings
from pixelforge.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    OidcProviderError,
    PermissionDeniedError,
)
from pixelforge.store.models import User

router = APIRouter(tags=["account"])

STATE_COOKIE = "pixelforge_oidc"
SECURE_STATE_COOKIE = "__Secure-pixelforge_oidc"
STATE_PATH = "/auth/oidc"
STATE_SECONDS = 600
METADATA_SECONDS = 3600.0
HTTP_TIMEOUT = 10.0
ALGORITHMS = ("RS256", "ES256")
LEEWAY = 60
SCOPE = "openid email profile"
_SIGNING_CONTEXT = b"pixelforge-oidc-state-v1."

NextParam = Annotated[
    str | None,
    Query(alias="next", description="Where to go after signing in (a path on this site)"),
]


@dataclass
class _Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    auth_methods: tuple[str, ...]
    fetched: float


@dataclass
class _OidcState:
    """Per-app: the cookie-signing secret and the provider's cached metadata and keys."""

    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lock: threading.Lock = field(default_factory=threading.Lock)
    metadata: _Metadata | None = None
    keys: KeySet | None = None


_STATE_LOCK = threading.Lock()


def _state(app: FastAPI) -> _OidcState:
    with _STATE_LOCK:
        found = getattr(app.state, "oidc", None)
        if not isinstance(found, _OidcState):
            found = _OidcState()
            app.state.oidc = found
        return found


# -- configuration and provider metadata ---------------------------------------------------
def _config(settings: Settings) -> tuple[str, str]:
    if not settings.oidc_issuer or not settings.oidc_client_id:
        raise PermissionDeniedError(
            "single sign-on is not configured; set PIXELFORGE_OIDC_ISSUER and "
            "PIXELFORGE_OIDC_CLIENT_ID", code="feature_disabled",
        )  # fmt: skip
    return settings.oidc_issuer, settings.oidc_client_id


def _check_url(url: object, name: str) -> str:
    """Provider URLs must be https (plain http only on loopback, for development)."""
    if not isinstance(url, str):
        raise OidcProviderError(f"the provider's {name} is missing from its metadata")
    parts = urlsplit(url)
    host = parts.hostname or ""
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise OidcProviderError(f"the provider's {name} {url!r} is not an https URL")
    return url


def _get_json(url: str) -> dict[str, Any]:
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
            response = client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcProviderError(f"could not read {url}: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise OidcProviderError(f"{url} did not answer a JSON object")
    return data


def _metadata(state: _OidcState, issuer: str, *, refresh: bool = False) -> _Metadata:
    with state.lock:
        cached = state.metadata
    if cached and not refresh and time.monotonic() - cached.fetched < METADATA_SECONDS:
        return cached
    _check_url(issuer, "issuer")
    doc = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    found_issuer = doc.get("issuer")
    if not isinstance(found_issuer, str) or found_issuer.rstrip("/") != issuer.rstrip("/"):
        raise OidcProviderError(
            f"the provider's metadata names issuer {found_issuer!r}, not {issuer!r}"
        )
    methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    metadata = _Metadata(
        issuer=found_issuer,
        authorization_endpoint=_check_url(doc.get("authorization_endpoint"),
                                          "authorization_endpoint"),
        token_endpoint=_check_url(doc.get("token_endpoint"), "token_endpoint"),
        jwks_uri=_check_url(doc.get("jwks_uri"), "jwks_uri"),
        auth_methods=tuple(m for m in methods if isinstance(m, str)),
        fetched=time.monotonic(),
    )  # fmt: skip
    with state.lock:
        state.metadata = metadata
        if cached is None or cached.jwks_uri != metadata.jwks_uri:
            state.keys = None
    return metadata


def _keys(state: _OidcState, metadata: _Metadata, *, refresh: bool = False) -> KeySet:
    with state.lock:
        cached = state.keys
    if cached is not None and not refresh:
        return cached
    doc = _get_json(metadata.jwks_uri)
    try:
        keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcProviderError(f"the provider's jwks_uri holds no usable keys ({exc})") from exc
    with state.lock:
        state.keys = keys
    return keys


# -- the signed login cookie -------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret, _SIGNING_CONTEXT + body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def _unsign(secret: bytes, value: str | None) -> dict[str, Any] | None:
    """The payload, if the signature is ours and it has not expired; else None."""
    if not value or len(value) > 4096 or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    expected = hmac.new(secret, _SIGNING_CONTEXT + body.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int | float):
        return None
    if payload["exp"] < time.time():
        return None
    return payload


def _state_cookie(request: Request) -> str:
    return SECURE_STATE_COOKIE if request.url.scheme == "https" else STATE_COOKIE


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a same-site relative path ("/x", never "//x" or "/\\x"), else None."""
    if not value or len(value) > 2048 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def _redirect_uri(request: Request, settings: Settings) -> str:
    if settings.oidc_redirect_url:
        return settings.oidc_redirect_url
    if settings.public_url:
        return settings.public_url.rstrip("/") + "/auth/oidc/callback"
    return str(request.url_for("oidc_callback"))


# -- routes ---------------------------------------------------------------------------------
@router.get("/auth/oidc/login", summary="Sign in with SSO (redirects to the identity provider)",
            response_class=RedirectResponse, status_code=302)  # fmt: skip
def oidc_login(request: Request, c: ContainerDep, next_: NextParam = None) -> RedirectResponse:
    issuer, client_id = _config(c.settings)
    state = _state(request.app)
    metadata = _metadata(state, issuer)
    flow_state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
    params = {
        "response_type": "code", "scope": SCOPE, "client_id": client_id,
        "redirect_uri": _redirect_uri(request, c.settings), "state": flow_state,
        "nonce": nonce, "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }  # fmt: skip
    endpoint = metadata.authorization_endpoint
    location = f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
    response = RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})
    expires = int(time.time()) + STATE_SECONDS
    flow = {"s": flow_state, "n": nonce, "v": verifier, "x": safe_next(next_), "exp": expires}
    cookie = _sign(state.secret, flow)
    response.set_cookie(
        _state_cookie(request), cookie, max_age=STATE_SECONDS, path=STATE_PATH, httponly=True,
        samesite="lax", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.get("/auth/oidc/callback", name="oidc_callback", response_class=RedirectResponse,
            status_code=302, summary="Where the identity provider sends you back")  # fmt: skip
def oidc_callback(
    request: Request, c: ContainerDep, code: str | None = None, state: str | None = None,
    error: str | None = None,
) -> RedirectResponse:  # fmt: skip
    issuer, client_id = _config(c.settings)
    oidc = _state(request.app)
    stored = _unsign(oidc.secret, request.cookies.get(_state_cookie(request)))
    expected = stored.get("s") if stored else None
    if (
        stored is None or not state or not isinstance(expected, str)
        or not hmac.compare_digest(state.encode(), expected.encode())
    ):  # fmt: skip
        raise InvalidRequestError(
            "state: missing or does not match this browser's sign-in; start again at "
            "/auth/oidc/login", param="state", code="oidc_state_mismatch",
        )  # fmt: skip
    if error is not None:
        raise InvalidRequestError(f"error: the identity provider answered {error[:80]!r}",
                                  param="error", code="oidc_provider_error")  # fmt: skip
    if not code:
        raise InvalidRequestError("code: missing", param="code",
                                  code="missing_required_parameter")  # fmt: skip
    metadata = _metadata(oidc, issuer)
    id_token = _exchange(metadata, c.settings, client_id, code, str(stored.get("v", "")),
                         _redirect_uri(request, c.settings))  # fmt: skip
    claims = _validate(oidc, metadata, client_id, id_token, str(stored.get("n", "")))
    email = _email(claims)
    _check_domain(email, c.settings.oidc_allowed_domains)
    user = _user(c, email)

    old = request.cookies.get(cookie_name(request))
    if old:
        c.accounts.revoke_session(old)  # the id rotates on sign-in
    raw, _csrf = c.accounts.create_session(user)
    target = safe_next(stored.get("x") if isinstance(stored.get("x"), str) else None) or "/"
    response = RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
    secure = request.url.scheme == "https"
    response.set_cookie(
        cookie_name(request), raw, max_age=int(c.settings.session_days * 86400), path="/",
        httponly=True, samesite="lax", secure=secure,
    )  # fmt: skip
    response.delete_cookie(_state_cookie(request), path=STATE_PATH, httponly=True,
                           samesite="lax", secure=secure)  # fmt: skip
    return response


# -- callback steps -------------------------------------------------------------------------
def _exchange(
    metadata: _Metadata, settings: Settings, client_id: str, code: str, verifier: str,
    redirect_uri: str,
) -> str:  # fmt: skip
    """Trade the code (with the PKCE verifier) for tokens; the ID token."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}  # fmt: skip
    headers = {"Accept": "application/json"}
    secret = settings.oidc_client_secret
    if secret and (
        "client_secret_basic" in metadata.auth_methods
        or "client_secret_post" not in metadata.auth_methods
    ):
        # RFC 6749 section 2.3.1: form-encode both parts before base64.
        pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form["client_id"] = client_id
        if secret:
            form["client_secret"] = secret
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
            response = client.post(metadata.token_endpoint, data=form, headers=headers)
    except httpx.HTTPError as exc:
        raise OidcProviderError(
            f"could not reach the token endpoint: {type(exc).__name__}"
        ) from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        reason = body.get("error") if isinstance(body, dict) else None
        raise AuthenticationError(
            f"the identity provider refused the sign-in code (HTTP {response.status_code}"
            f"{', ' + str(reason)[:80] if reason else ''}); start again at /auth/oidc/login",
            code="oidc_token_error",
        )  # fmt: skip
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise AuthenticationError("the identity provider sent no id_token",
                                  code="oidc_invalid_token")  # fmt: skip
    return id_token


def _invalid(reason: str) -> AuthenticationError:
    return AuthenticationError(f"the ID token is not valid: {reason}", code="oidc_invalid_token")


def _validate(
    state: _OidcState, metadata: _Metadata, client_id: str, id_token: str, nonce: str
) -> dict[str, Any]:
    keys = _keys(state, metadata)
    try:
        try:
            token = jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        except InvalidKeyIdError:  # the provider may have rotated its keys
            token = jwt.decode(id_token, _keys(state, metadata, refresh=True),
                               algorithms=list(ALGORITHMS))  # fmt: skip
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": metadata.issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(token.claims)
    except JoseError as exc:
        raise _invalid(f"{type(exc).__name__}: {exc.description or exc.error}") from exc
    except (ValueError, TypeError) as exc:
        raise _invalid(type(exc).__name__) from exc
    claims: dict[str, Any] = dict(token.claims)
    if not nonce or not hmac.compare_digest(str(claims.get("nonce")), nonce):
        raise _invalid("nonce does not match")
    audience = claims.get("aud")
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise _invalid("azp is not this client")
    if isinstance(audience, list) and len(audience) > 1 and azp is None:
        raise _invalid("several audiences and no azp")
    return claims


def _email(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise PermissionDeniedError(
            "the identity provider shared no email address; allow the 'email' scope",
            code="email_required",
        )  # fmt: skip
    verified = claims.get("email_verified")
    if verified is not None and verified is not True and verified != "true":
        raise PermissionDeniedError(f"email {email!r} is not verified by the identity provider",
                                    code="email_not_verified")  # fmt: skip
    return email.strip().lower()


def allowed_domains(setting: str) -> frozenset[str]:
    return frozenset(d.strip().lower().lstrip("@") for d in setting.split(",") if d.strip())


def _check_domain(email: str, setting: str) -> None:
    domains = allowed_domains(setting)
    domain = email.rsplit("@", 1)[1]
    if domains and domain not in domains:
        raise PermissionDeniedError(
            f"email domain {domain!r} may not sign in with SSO; allowed: "
            f"{', '.join(sorted(domains))}", code="domain_not_allowed",
        )  # fmt: skip


def _user(c: Container, email: str) -> User:
    try:
        user = c.accounts.user_by_email(email)
    except NotFoundError:
        if not c.accounts.any_users():
            # The first account must be an admin made on purpose, not whoever signs in first.
            raise PermissionDeniedError(
                "no accounts exist yet; create an admin first (pixelforge users create "
                "EMAIL --admin)", code="account_required",
            ) from None  # fmt: skip
        if not c.settings.oidc_create_users:
            raise PermissionDeniedError(
                f"no account for {email!r}; ask an admin to create one first",
                code="account_required",
            ) from None
        try:
            user = c.accounts.create_user(email, None, "member")
        except InvalidRequestError as exc:
            if exc.code != "email_taken":
                raise
            user = c.accounts.user_by_email(email)  # created meanwhile by a parallel sign-in
    if user.disabled:
        raise PermissionDeniedError(f"the account {email!r} is disabled",
                                    code="account_disabled")  # fmt: skip
    return user
