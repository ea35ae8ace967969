"""GET /auth/me gives a browser session its CSRF token back (a reloaded studio page recovers
it), never to API keys or the local principal, is not cached, and grants no cross-origin read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie

import httpx
import pytest

from server_support import LiveServer, StartServer, start_server
from testing_engines import ZeroWorkEngine

PASSWORD = "correct horse battery"
COOKIE = "pixelforge_session"


@dataclass
class Site:
    live: LiveServer
    http: httpx.Client
    user_id: str

    def login(self) -> tuple[str, str]:
        """A new session: (cookie value, the CSRF token the login answered)."""
        response = self.http.post("/auth/login",
                                  json={"email": "me@example.com", "password": PASSWORD})  # fmt: skip
        assert response.status_code == 200, response.text
        self.http.cookies.clear()  # each request names its cookie itself
        jar: SimpleCookie = SimpleCookie()
        jar.load(response.headers["set-cookie"])
        return jar[COOKIE].value, str(response.json()["csrf_token"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    live = start_server(tmp_path_factory.mktemp("me"), [ZeroWorkEngine()], auth="required",
                        rate_limit_per_minute=0)  # fmt: skip
    try:
        user = live.container.accounts.create_user("me@example.com", PASSWORD, "member")
        with httpx.Client(base_url=live.base_url, timeout=20) as http:
            yield Site(live, http, user.id)
    finally:
        live.stop()


def cookie(raw: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={raw}"}


def test_me_returns_the_sessions_csrf_token(site: Site) -> None:
    raw, csrf = site.login()

    me = site.http.get("/auth/me", headers=cookie(raw)).json()

    assert (me["via"], me["csrf_token"]) == ("session", csrf)


def test_me_returns_each_sessions_own_token(site: Site) -> None:
    first, first_csrf = site.login()
    second, second_csrf = site.login()

    assert first_csrf != second_csrf
    assert site.http.get("/auth/me", headers=cookie(first)).json()["csrf_token"] == first_csrf
    assert site.http.get("/auth/me", headers=cookie(second)).json()["csrf_token"] == second_csrf


def test_recovered_token_lets_a_reloaded_page_make_changes(site: Site) -> None:
    raw, _ = site.login()
    token = site.http.get("/auth/me", headers=cookie(raw)).json()["csrf_token"]

    response = site.http.post("/api/keys", json={"name": "studio"}, headers={
        **cookie(raw), "Origin": site.live.base_url, "X-CSRF-Token": token,
    })  # fmt: skip

    assert response.status_code == 201, response.text


def test_me_gives_no_csrf_token_to_an_api_key(site: Site) -> None:
    _, key = site.live.container.accounts.create_key(site.user_id, "k")

    me = site.http.get("/auth/me", headers={"Authorization": f"Bearer {key}"}).json()

    assert (me["via"], me["csrf_token"]) == ("key", None)


def test_me_is_never_cached(site: Site) -> None:
    raw, _ = site.login()
    assert site.http.get("/auth/me", headers=cookie(raw)).headers["cache-control"] == "no-store"


def test_me_grants_no_cross_origin_read(site: Site) -> None:
    raw, _ = site.login()

    response = site.http.get("/auth/me", headers={**cookie(raw), "Origin": "https://evil.test"})

    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


def test_me_gives_no_csrf_token_without_accounts(make_server: StartServer) -> None:
    live = make_server(engines=[ZeroWorkEngine()], auth="off")

    me = httpx.get(f"{live.base_url}/auth/me", timeout=20).json()

    assert (me["via"], me["csrf_token"]) == ("local", None)
