"""Sign-in, sessions, API keys (revoked, expired, budgets), credits and Authorization fuzz."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from server_support import LiveServer, start_server
from testing_engines import ZeroWorkEngine

JOB = {"model": "zero", "prompt": "a paper crane", "size": "256x256"}
PASSWORD = "correct horse battery"
COOKIE = "pixelforge_session"
ENVELOPE = {"message", "type", "param", "code"}


@dataclass
class Site:
    live: LiveServer
    http: httpx.Client
    count: int = 0
    csrf: dict[str, str] = field(default_factory=dict)  # session cookie -> its CSRF token

    def user(self, credits: int = 10_000_000, role: str = "member") -> tuple[str, str]:
        """A new user: (email, user id), with ``credits`` micro-USD."""
        self.count += 1
        email = f"user{self.count}@example.com"
        user = self.live.container.accounts.create_user(email, PASSWORD, role)
        if credits:
            self.live.container.credits.grant(user.id, credits)
        return email, user.id

    def key(self, user_id: str, **kwargs: Any) -> tuple[str, str]:
        record, raw = self.live.container.accounts.create_key(user_id, "k", **kwargs)
        return record.id, raw

    def login(
        self, email: str, password: str = PASSWORD, cookie: str | None = None
    ) -> httpx.Response:
        headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        response = self.http.post(
            "/auth/login", json={"email": email, "password": password}, headers=headers
        )
        self.http.cookies.clear()  # every request below names its cookie itself
        if response.status_code == 200:
            self.csrf[session_cookie(response)] = response.json()["csrf_token"]
        return response

    def same_site(self, raw: str) -> dict[str, str]:
        """Cookie, our Origin and the session's CSRF token: what the studio sends."""
        return {**with_cookie(raw), "Origin": self.live.base_url, "X-CSRF-Token": self.csrf[raw]}


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def session_cookie(response: httpx.Response) -> str:
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    return jar[COOKIE].value


def with_cookie(raw: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={raw}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    live = start_server(
        tmp_path_factory.mktemp("auth"), [ZeroWorkEngine()], auth="required",
        rate_limit_per_minute=0,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=live.base_url, timeout=20) as http:
            yield Site(live, http)
    finally:
        live.stop()


# -- sign-in and sessions --------------------------------------------------------------------


def test_login_sets_httponly_lax_cookie_when_password_is_right(site: Site) -> None:
    email, _ = site.user()
    raw = site.login(email).headers["set-cookie"]
    attributes = {part.strip().lower() for part in raw.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes


def test_login_cookie_is_not_secure_when_served_over_http(site: Site) -> None:
    email, _ = site.user()
    raw = site.login(email).headers["set-cookie"]
    assert "secure" not in {part.strip().lower() for part in raw.split(";")[1:]}


def test_login_cookie_is_named_pixelforge_session_when_served_over_http(site: Site) -> None:
    email, _ = site.user()
    assert site.login(email).headers["set-cookie"].startswith(f"{COOKIE}=")


def test_login_returns_csrf_token_when_password_is_right(site: Site) -> None:
    email, _ = site.user()
    assert len(site.login(email).json()["csrf_token"]) >= 32


def test_session_cookie_authenticates_when_fresh(site: Site) -> None:
    email, _ = site.user()
    raw = session_cookie(site.login(email))
    assert site.http.get("/auth/me", headers=with_cookie(raw)).json()["email"] == email


def test_login_rotates_session_id_when_signing_in_again(site: Site) -> None:
    email, _ = site.user()
    first = session_cookie(site.login(email))
    second = session_cookie(site.login(email, cookie=first))
    assert first != second


def test_old_session_answers_401_when_user_signed_in_again(site: Site) -> None:
    email, _ = site.user()
    first = session_cookie(site.login(email))
    site.login(email, cookie=first)
    assert site.http.get("/auth/me", headers=with_cookie(first)).status_code == 401


def test_logout_answers_204_when_signed_in(site: Site) -> None:
    email, _ = site.user()
    raw = session_cookie(site.login(email))
    assert site.http.post("/auth/logout", headers=site.same_site(raw)).status_code == 204


def test_replayed_cookie_answers_401_when_logged_out(site: Site) -> None:
    email, _ = site.user()
    raw = session_cookie(site.login(email))
    site.http.post("/auth/logout", headers=site.same_site(raw))
    assert site.http.get("/auth/me", headers=with_cookie(raw)).status_code == 401


def test_login_answers_same_401_when_password_wrong_or_email_unknown(site: Site) -> None:
    email, _ = site.user()
    wrong = site.login(email, "not the password")
    unknown = site.login("nobody@example.com", "not the password")
    assert (wrong.status_code, wrong.json()) == (401, unknown.json())


# -- API keys --------------------------------------------------------------------------------


def test_key_answers_401_at_once_when_revoked(site: Site) -> None:
    _, user_id = site.user()
    key_id, raw = site.key(user_id)
    assert site.http.get("/auth/me", headers=bearer(raw)).status_code == 200
    assert site.http.delete(f"/api/keys/{key_id}", headers=bearer(raw)).status_code == 200
    assert site.http.get("/auth/me", headers=bearer(raw)).status_code == 401


def test_key_answers_401_when_expired(site: Site) -> None:
    _, user_id = site.user()
    _, raw = site.key(user_id, expires_at=time.time() - 1)
    assert site.http.get("/auth/me", headers=bearer(raw)).status_code == 401


def test_key_answers_200_when_not_yet_expired(site: Site) -> None:
    _, user_id = site.user()
    _, raw = site.key(user_id, expires_at=time.time() + 3600)
    assert site.http.get("/auth/me", headers=bearer(raw)).status_code == 200


def test_created_key_expires_when_expires_in_days_is_tiny(site: Site) -> None:
    _, user_id = site.user()
    _, raw = site.key(user_id)
    created = site.http.post("/api/keys", json={"expires_in_days": 1e-5}, headers=bearer(raw))
    time.sleep(1.0)
    assert site.http.get("/auth/me", headers=bearer(created.json()["key"])).status_code == 401


def _budget_key(site: Site) -> str:
    _, user_id = site.user()
    _, raw = site.key(user_id)
    created = site.http.post("/api/keys", json={"budget": "0.001"}, headers=bearer(raw))
    assert created.status_code == 201, created.text
    return str(created.json()["key"])


def test_job_is_accepted_when_within_key_budget(site: Site) -> None:
    key = _budget_key(site)
    assert site.http.post("/api/jobs", json=JOB, headers=bearer(key)).status_code == 202


def test_job_answers_402_key_budget_exceeded_when_over_key_budget(site: Site) -> None:
    key = _budget_key(site)
    site.http.post("/api/jobs", json=JOB, headers=bearer(key))
    response = site.http.post("/api/jobs", json=JOB, headers=bearer(key))
    assert (response.status_code, response.json()["error"]["code"]) == (
        402,
        "key_budget_exceeded",
    )


def test_key_budget_refusal_says_do_not_retry_when_over_budget(site: Site) -> None:
    key = _budget_key(site)
    site.http.post("/api/jobs", json=JOB, headers=bearer(key))
    response = site.http.post("/api/jobs", json=JOB, headers=bearer(key))
    assert response.headers.get("x-should-retry") == "false"


def test_job_answers_402_insufficient_credits_when_balance_is_empty(site: Site) -> None:
    _, user_id = site.user(credits=0)
    _, raw = site.key(user_id)
    response = site.http.post("/api/jobs", json=JOB, headers=bearer(raw))
    assert (response.status_code, response.json()["error"]["code"]) == (
        402,
        "insufficient_credits",
    )


# -- Authorization fuzz ----------------------------------------------------------------------

HOSTILE = {
    "sql": "Bearer ' OR '1'='1",
    "sql_comment": "Bearer pf-x'; DROP TABLE api_keys; --",
    "long": "Bearer " + "A" * 10_240,
    "long_no_scheme": "x" * 10_240,
    "unicode": "Bearer ключ-🔑-鍵",
    "basic": "Basic xyz",
    "empty": "",
    "scheme_only": "Bearer",
    "lowercase_unknown_key": "bearer pf-00000000_unknown",
    "percent": "Bearer %00%27",
    "prefix_like": "Bearer pf-",
}


def _authorized_get(site: Site, value: bytes) -> httpx.Response:
    return site.http.get("/auth/me", headers=[(b"authorization", value)])


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_authorization_answers_401_envelope_when_sent(site: Site, value: str) -> None:
    response = _authorized_get(site, value.encode())
    assert (response.status_code, set(response.json()["error"])) == (401, ENVELOPE)


def _raw_request(site: Site, header_line: bytes) -> bytes:
    """Send bytes httpx refuses to send (NUL in a header); return the status line."""
    url = urlsplit(site.live.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"GET /auth/me HTTP/1.1\r\nHost: " + url.netloc.encode() + b"\r\n"
            + header_line + b"\r\nConnection: close\r\n\r\n"
        )  # fmt: skip
        return sock.recv(4096).split(b"\r\n", 1)[0]


def test_nul_in_authorization_is_refused_without_500_when_sent(site: Site) -> None:
    status = _raw_request(site, b"Authorization: Bearer pf-\x00' OR 1=1").split()[1]
    assert status in (b"400", b"401")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(max_size=300))
def test_fuzzed_bearer_token_answers_401_envelope_when_sent(site: Site, token: str) -> None:
    try:
        response = _authorized_get(site, b"Bearer " + token.encode())
    except (httpx.LocalProtocolError, h11.LocalProtocolError):
        reject()  # NUL, CR, LF and friends: httpx will not send them (tested raw above)
    assert (response.status_code, set(response.json()["error"])) == (401, ENVELOPE)
