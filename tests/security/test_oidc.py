"""Sign in with SSO (OIDC code flow + PKCE) against a fake identity provider on loopback.

The fake provider serves discovery, JWKS and a token endpoint that checks the code, the
client credentials, the redirect URI and the PKCE verifier against the challenge the test
read from the authorize URL. The test plays the browser: it follows Pixelforge's redirect by
hand, has the provider issue a code, and calls the callback with the login cookie.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from pixelforge.api.routes.oidc import allowed_domains, safe_next
from pixelforge.store.models import User
from server_support import LiveServer, StartServer, free_port, serving, start_server

CLIENT_ID, CLIENT_SECRET = "pf", "s3"
REDIRECT = "https://pixelforge.test/auth/oidc/callback"
SESSION = "pixelforge_session"
STATE = "pixelforge_oidc"


# -- the fake identity provider ----------------------------------------------------------------
@dataclass
class Grant:
    challenge: str
    redirect_uri: str
    claims: dict[str, Any]
    key: Any
    header: dict[str, Any]


@dataclass
class Provider:
    base_url: str = ""
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1", "use": "sig"})
    )
    ec_key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", {"kid": "e1"}))
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(
        self, authorize: str, *, key: Any = None, header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:  # fmt: skip
        """A code for the authorize URL Pixelforge built; ``claims`` override the ID token's."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.base_url, "aud": CLIENT_ID, "sub": "subject-1", "iat": now,
            "exp": now + 300, "nonce": query["nonce"], "email": "ada@example.com",
            "email_verified": True,
        }  # fmt: skip
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.grants[code] = Grant(query["code_challenge"], query["redirect_uri"], body,
                                      key or self.key, header or {"alg": "RS256", "kid": "k1"})  # fmt: skip
        return code

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {
                "issuer": self.base_url,
                "authorization_endpoint": f"{self.base_url}/authorize",
                "token_endpoint": f"{self.base_url}/token",
                "jwks_uri": f"{self.base_url}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }

        @app.get("/authorize")
        def authorize() -> dict[str, str]:
            return {"note": "the test plays the user and the provider's consent screen"}

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False), self.ec_key.as_dict(private=False)]}

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = {k: str(v) for k, v in (await request.form()).items()}
            auth = request.headers.get("authorization", "")
            with self.lock:
                self.token_requests.append({**form, "authorization": auth})
                grant = self.grants.pop(form.get("code", ""), None)
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if auth != f"Basic {basic}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            if form.get("grant_type") != "authorization_code" or grant is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode("ascii")).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != grant.challenge or form.get("redirect_uri") != grant.redirect_uri:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            id_token = jwt.encode(grant.header, grant.claims, grant.key,
                                  algorithms=[grant.header["alg"]])  # fmt: skip
            return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                 "expires_in": 300, "id_token": id_token})  # fmt: skip

        return app


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    fake = Provider()
    port = free_port()
    # The provider needs its own URL (issuer, endpoints) before it starts serving.
    fake.base_url = f"http://127.0.0.1:{port}"
    with serving(fake.app(), "fake-idp", port):
        yield fake


def oidc_settings(provider: Provider, **overrides: Any) -> dict[str, Any]:
    return {
        "auth": "required", "oidc_issuer": provider.base_url, "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET, "oidc_redirect_url": REDIRECT,
        "oidc_create_users": True, **overrides,
    }  # fmt: skip


@pytest.fixture(scope="module")
def site(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("oidc"), **oidc_settings(provider))
    # SSO never creates the first account: an admin made on purpose comes first.
    live.container.accounts.create_user("root@example.com", "an-admin-password-1", "admin")
    yield live
    live.stop()


# -- the browser's side -------------------------------------------------------------------------
@dataclass
class Login:
    location: str
    state: str
    cookie: str  # the signed login cookie's value


def cookies(response: httpx.Response) -> dict[str, tuple[str, Any]]:
    """name -> (value, morsel) for every Set-Cookie."""
    found: dict[str, tuple[str, Any]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            found[name] = (morsel.value, morsel)
    return found


def start_login(http: httpx.Client, query: str = "") -> Login:
    response = http.get(f"/auth/oidc/login{query}")
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    params = parse_qs(urlsplit(location).query)
    return Login(location, params["state"][0], cookies(response)[STATE][0])


def callback(
    http: httpx.Client, login: Login, code: str, *, state: str | None = None,
    cookie: str | None = None, extra: str = "",
) -> httpx.Response:  # fmt: skip
    query = urlencode({"code": code, "state": login.state if state is None else state})
    jar = f"{STATE}={login.cookie if cookie is None else cookie}"
    return http.get(f"/auth/oidc/callback?{query}{extra}", headers={"Cookie": jar})


def me(http: httpx.Client, session: str) -> httpx.Response:
    return http.get("/auth/me", headers={"Cookie": f"{SESSION}={session}"})


def sign_in(
    http: httpx.Client, provider: Provider, query: str = "", **claims: Any
) -> httpx.Response:
    login = start_login(http, query)
    return callback(http, login, provider.issue(login.location, **claims))


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def browser(live: LiveServer) -> httpx.Client:
    """A client that keeps no cookies: every request names the cookies it sends."""
    client = httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=30)
    client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return client


@pytest.fixture
def http(site: LiveServer) -> Iterator[httpx.Client]:
    with browser(site) as client:
        yield client


# -- the happy path -----------------------------------------------------------------------------
def test_login_redirects_to_provider_with_pkce_state_and_nonce_when_configured(
    http: httpx.Client, provider: Provider
) -> None:
    response = http.get("/auth/oidc/login")
    assert response.status_code == 302
    url = urlsplit(response.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.base_url}/authorize"
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert params["response_type"] == "code"
    assert params["scope"] == "openid email profile"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == REDIRECT
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32
    assert len(params["nonce"]) >= 32
    assert params["state"] != params["nonce"]
    value, morsel = cookies(response)[STATE]
    assert morsel["httponly"]
    assert morsel["samesite"].lower() == "lax"
    assert morsel["max-age"] == "600"
    assert morsel["path"] == "/auth/oidc"
    # The cookie is signed, and carries no secret in a form the provider could replay.
    assert "." in value
    assert params["code_challenge"] not in value


def test_callback_signs_in_new_member_when_flow_completes(
    http: httpx.Client, provider: Provider
) -> None:
    login = start_login(http)
    code = provider.issue(login.location, email="Grace@Example.COM")
    response = callback(http, login, code)
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/"
    set_cookies = cookies(response)
    session, morsel = set_cookies[SESSION]
    assert morsel["httponly"]
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert set_cookies[STATE][0] == ""  # the one-time login cookie is cleared
    who = me(http, session)
    assert who.status_code == 200
    assert (who.json()["email"], who.json()["role"], who.json()["via"]) == (
        "grace@example.com", "member", "session"
    )  # fmt: skip
    sent = provider.token_requests[-1]
    assert sent["grant_type"] == "authorization_code"
    assert sent["redirect_uri"] == REDIRECT
    assert sent["authorization"].startswith("Basic ")
    assert "client_secret" not in sent


def test_callback_signs_in_existing_user_and_rotates_old_session_when_cookie_sent(
    http: httpx.Client, provider: Provider, site: LiveServer
) -> None:
    site.container.accounts.create_user("lin@example.com", "correct horse battery", "admin")
    first = sign_in(http, provider, email="lin@example.com")
    old = cookies(first)[SESSION][0]
    assert me(http, old).json()["role"] == "admin"
    login = start_login(http)
    code = provider.issue(login.location, email="lin@example.com")
    response = http.get(
        f"/auth/oidc/callback?{urlencode({'code': code, 'state': login.state})}",
        headers={"Cookie": f"{STATE}={login.cookie}; {SESSION}={old}"},
    )
    assert response.status_code == 302
    new = cookies(response)[SESSION][0]
    assert new != old
    assert me(http, old).status_code == 401
    assert me(http, new).json()["email"] == "lin@example.com"


def test_callback_accepts_es256_token_when_provider_signs_with_ec_key(
    http: httpx.Client, provider: Provider
) -> None:
    response = sign_in(http, provider, key=provider.ec_key, header={"alg": "ES256", "kid": "e1"},
                       email="ec@example.com")  # fmt: skip
    assert response.status_code == 302, response.text
    assert me(http, cookies(response)[SESSION][0]).json()["email"] == "ec@example.com"


@pytest.mark.parametrize(
    ("next_", "target"),
    [
        ("/studio?tab=jobs", "/studio?tab=jobs"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_callback_redirects_only_to_same_site_path_when_next_given(
    http: httpx.Client, provider: Provider, next_: str, target: str
) -> None:
    response = sign_in(http, provider, f"?{urlencode({'next': next_})}")
    assert response.status_code == 302
    assert response.headers["location"] == target


@pytest.mark.parametrize(
    "value",
    ["", "x", "//a", "/\\a", "/a\nb", "/a b", "http://a/", "\\\\a", "/\x7f"],
)
def test_safe_next_refuses_value_when_not_a_same_site_path(value: str) -> None:
    assert safe_next(value) is None


def test_allowed_domains_parse_when_setting_has_spaces_and_at_signs() -> None:
    assert allowed_domains(" Example.com, @corp.example ,,") == {"example.com", "corp.example"}
    assert allowed_domains("") == frozenset()


# -- state and code ------------------------------------------------------------------------------
def _flip(value: str) -> str:
    body, mac = value.split(".")
    return f"{body}.{mac[:-2]}{'A' if mac[-2] != 'A' else 'B'}{mac[-1]}"


@pytest.mark.parametrize("case", ["wrong_state", "no_cookie", "tampered_cookie", "no_state"])
def test_callback_refuses_with_400_when_state_does_not_match(
    http: httpx.Client, provider: Provider, case: str
) -> None:
    login = start_login(http)
    code = provider.issue(login.location)
    if case == "wrong_state":
        response = callback(http, login, code, state=secrets.token_urlsafe(32))
    elif case == "no_cookie":
        response = http.get(
            f"/auth/oidc/callback?{urlencode({'code': code, 'state': login.state})}"
        )
    elif case == "tampered_cookie":
        response = callback(http, login, code, cookie=_flip(login.cookie))
    else:
        response = http.get(f"/auth/oidc/callback?{urlencode({'code': code})}",
                            headers={"Cookie": f"{STATE}={login.cookie}"})  # fmt: skip
    assert response.status_code == 400
    assert error_code(response) == "oidc_state_mismatch"
    assert SESSION not in cookies(response)


def test_callback_refuses_login_cookie_when_signed_by_another_server(
    http: httpx.Client, provider: Provider, make_server: StartServer
) -> None:
    other = make_server(**oidc_settings(provider))
    with browser(other) as there:
        foreign = start_login(there)
    response = callback(http, foreign, provider.issue(foreign.location))
    assert response.status_code == 400
    assert error_code(response) == "oidc_state_mismatch"


def test_callback_refuses_with_401_when_code_replayed_or_challenge_differs(
    http: httpx.Client, provider: Provider
) -> None:
    login = start_login(http)
    code = provider.issue(login.location)
    assert callback(http, login, code).status_code == 302
    replay = callback(http, login, code)
    assert replay.status_code == 401
    assert error_code(replay) == "oidc_token_error"
    login = start_login(http)
    code = provider.issue(login.location)
    provider.grants[code].challenge = "A" * 43  # the verifier we send will not match
    response = callback(http, login, code)
    assert response.status_code == 401
    assert error_code(response) == "oidc_token_error"


def test_callback_answers_400_when_provider_reports_error(
    http: httpx.Client, provider: Provider
) -> None:
    login = start_login(http)
    response = http.get(
        f"/auth/oidc/callback?{urlencode({'state': login.state, 'error': 'access_denied'})}",
        headers={"Cookie": f"{STATE}={login.cookie}"},
    )
    assert response.status_code == 400
    assert error_code(response) == "oidc_provider_error"


# -- the ID token ---------------------------------------------------------------------------------
def _bad_token(provider: Provider, case: str) -> dict[str, Any]:
    now = int(time.time())
    other = RSAKey.generate_key(2048, {"kid": "k1"}) if "kid" in case or "sig" in case else None
    # joserfc refuses a PEM public key as an HMAC secret; the public modulus stands in for it.
    public = OctKey.import_key(str(provider.key.as_dict(private=False)["n"]))
    cases: dict[str, dict[str, Any]] = {
        "wrong_nonce": {"nonce": "not-the-nonce"},
        "no_nonce": {"nonce": None},
        "wrong_audience": {"aud": "someone-else"},
        "wrong_issuer": {"iss": "https://evil.example"},
        "expired": {"exp": now - 600, "iat": now - 1200},
        "issued_in_future": {"iat": now + 3600, "exp": now + 7200},
        "no_sub": {"sub": None},
        "foreign_azp": {"aud": [CLIENT_ID, "x"], "azp": "x"},
        "bad_signature": {"key": other},
        "unknown_kid": {"key": other, "header": {"alg": "RS256", "kid": "nope"}},
        "hs256_with_public_key": {
            "key": public,
            "header": {"alg": "HS256", "kid": "k1"},
        },
    }
    return cases[case]


@pytest.mark.parametrize(
    "case",
    ["wrong_nonce", "no_nonce", "wrong_audience", "wrong_issuer", "expired", "issued_in_future",
     "no_sub", "foreign_azp", "bad_signature", "unknown_kid", "hs256_with_public_key"],
)  # fmt: skip
def test_callback_refuses_with_401_when_id_token_is_invalid(
    http: httpx.Client, provider: Provider, case: str
) -> None:
    response = sign_in(http, provider, email=f"{case}@example.com", **_bad_token(provider, case))
    assert response.status_code == 401, response.text
    assert error_code(response) == "oidc_invalid_token"
    assert SESSION not in cookies(response)


def test_callback_refuses_with_403_when_email_not_verified(
    http: httpx.Client, provider: Provider
) -> None:
    response = sign_in(http, provider, email="unverified@example.com", email_verified=False)
    assert response.status_code == 403
    assert error_code(response) == "email_not_verified"
    missing = sign_in(http, provider, email=None)
    assert missing.status_code == 403
    assert error_code(missing) == "email_required"


def test_callback_refuses_with_403_when_account_disabled(
    http: httpx.Client, provider: Provider, site: LiveServer
) -> None:
    user = site.container.accounts.create_user("off@example.com", None, "member")
    with site.container.accounts.db.write() as s:
        record = s.get(User, user.id)
        assert record is not None
        record.disabled = True
    response = sign_in(http, provider, email="off@example.com")
    assert response.status_code == 403
    assert error_code(response) == "account_disabled"


# -- policy: domains, account creation, disabled feature --------------------------------------
def test_callback_refuses_to_create_first_account(
    provider: Provider, make_server: StartServer
) -> None:
    live = make_server(**oidc_settings(provider))
    with browser(live) as http:
        response = sign_in(http, provider, email="first@example.com")
    assert response.status_code == 403
    assert error_code(response) == "account_required"
    assert not live.container.accounts.any_users()


def test_callback_enforces_allowed_domains_when_configured(
    provider: Provider, make_server: StartServer
) -> None:
    live = make_server(**oidc_settings(provider, oidc_allowed_domains="example.com, corp.example"))
    live.container.accounts.create_user("root@example.com", "an-admin-password-1", "admin")
    with browser(live) as http:
        outside = sign_in(http, provider, email="mallory@evil.example")
        assert outside.status_code == 403
        assert error_code(outside) == "domain_not_allowed"
        sub = sign_in(http, provider, email="eve@sub.example.com")
        assert sub.status_code == 403
        assert error_code(sub) == "domain_not_allowed"
        inside = sign_in(http, provider, email="bo@corp.example")
        assert inside.status_code == 302


def test_callback_requires_existing_account_when_user_creation_off(
    provider: Provider, make_server: StartServer
) -> None:
    live = make_server(**oidc_settings(provider, oidc_create_users=False))
    live.container.accounts.create_user("known@example.com", None, "member")
    with browser(live) as http:
        unknown = sign_in(http, provider, email="stranger@example.com")
        assert unknown.status_code == 403
        assert error_code(unknown) == "account_required"
        known = sign_in(http, provider, email="known@example.com")
        assert known.status_code == 302
        assert me(http, cookies(known)[SESSION][0]).json()["email"] == "known@example.com"
    with pytest.raises(Exception, match="not found"):
        live.container.accounts.user_by_email("stranger@example.com")


def test_routes_answer_403_feature_disabled_when_oidc_not_configured(
    make_server: StartServer,
) -> None:
    live = make_server(auth="required")
    with browser(live) as http:
        for path in ("/auth/oidc/login", "/auth/oidc/callback?code=x&state=y"):
            response = http.get(path)
            assert response.status_code == 403
            assert error_code(response) == "feature_disabled"
