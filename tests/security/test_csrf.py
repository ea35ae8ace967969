"""Cookie-authenticated changes need our own Origin and the session's CSRF token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie

import httpx
import pytest

from server_support import LiveServer, start_server
from testing_engines import ZeroWorkEngine

JOB = {"model": "zero", "prompt": "a paper crane", "size": "256x256"}
PASSWORD = "correct horse battery"
COOKIE = "pixelforge_session"


@dataclass
class Browser:
    live: LiveServer
    http: httpx.Client
    user_id: str
    cookie: str
    csrf: str
    api_key: str

    @property
    def origin(self) -> str:
        return self.live.base_url

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.cookie}", **extra}

    def balance(self) -> int:
        return self.live.container.credits.balance(self.user_id)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    live = start_server(
        tmp_path_factory.mktemp("csrf"), [ZeroWorkEngine()], auth="required",
        rate_limit_per_minute=0,
    )  # fmt: skip
    user = live.container.accounts.create_user("csrf@example.com", PASSWORD, "member")
    live.container.credits.grant(user.id, 10_000_000)
    _, api_key = live.container.accounts.create_key(user.id, "k")
    try:
        with httpx.Client(base_url=live.base_url, timeout=20) as http:
            login = http.post(
                "/auth/login", json={"email": "csrf@example.com", "password": PASSWORD}
            )
            http.cookies.clear()  # each request names its cookie itself
            jar: SimpleCookie = SimpleCookie()
            jar.load(login.headers["set-cookie"])
            yield Browser(
                live, http, user.id, jar[COOKIE].value, login.json()["csrf_token"], api_key
            )
    finally:
        live.stop()


def _error_code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_cookie_post_answers_403_csrf_failed_when_origin_missing(browser: Browser) -> None:
    response = browser.http.post(
        "/api/jobs", json=JOB, headers=browser.headers(**{"X-CSRF-Token": browser.csrf})
    )
    assert _error_code(response) == (403, "csrf_failed")


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
        "http://localhost",
        "https://127.0.0.1",
        "",
    ],
)
def test_cookie_post_answers_403_csrf_failed_when_origin_foreign(
    browser: Browser, origin: str
) -> None:
    headers = browser.headers(Origin=origin, **{"X-CSRF-Token": browser.csrf})
    response = browser.http.post("/api/jobs", json=JOB, headers=headers)
    assert _error_code(response) == (403, "csrf_failed")


def test_cookie_post_answers_403_when_origin_right_but_csrf_token_missing(
    browser: Browser,
) -> None:
    response = browser.http.post(
        "/api/jobs", json=JOB, headers=browser.headers(Origin=browser.origin)
    )
    assert _error_code(response) == (403, "csrf_failed")


def test_cookie_post_answers_403_when_csrf_token_wrong(browser: Browser) -> None:
    headers = browser.headers(Origin=browser.origin, **{"X-CSRF-Token": "x" * 43})
    response = browser.http.post("/api/jobs", json=JOB, headers=headers)
    assert _error_code(response) == (403, "csrf_failed")


def test_cookie_post_answers_202_when_origin_and_csrf_token_right(browser: Browser) -> None:
    headers = browser.headers(Origin=browser.origin, **{"X-CSRF-Token": browser.csrf})
    assert browser.http.post("/api/jobs", json=JOB, headers=headers).status_code == 202


def test_refused_cookie_post_changes_no_balance_when_csrf_fails(browser: Browser) -> None:
    before = browser.balance()
    browser.http.post("/api/jobs", json=JOB, headers=browser.headers(Origin="https://evil.example"))
    assert browser.balance() == before


SIMPLE_BODIES = {
    "text_plain": ("text/plain", json.dumps(JOB)),
    "form": ("application/x-www-form-urlencoded", "prompt=a+paper+crane&model=zero"),
    "multipart": (
        "multipart/form-data; boundary=b",
        '--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--b--\r\n',
    ),
}


@pytest.mark.parametrize("kind", list(SIMPLE_BODIES))
def test_simple_cross_site_post_answers_403_when_sent_with_cookie(
    browser: Browser, kind: str
) -> None:
    content_type, body = SIMPLE_BODIES[kind]
    headers = browser.headers(**{"Content-Type": content_type, "Origin": "https://evil.example"})
    response = browser.http.post("/api/jobs", content=body, headers=headers)
    assert _error_code(response) == (403, "csrf_failed")


@pytest.mark.parametrize("kind", list(SIMPLE_BODIES))
def test_non_json_post_is_refused_without_charge_when_origin_and_token_right(
    browser: Browser, kind: str
) -> None:
    content_type, body = SIMPLE_BODIES[kind]
    headers = browser.headers(
        **{"Content-Type": content_type, "Origin": browser.origin, "X-CSRF-Token": browser.csrf}
    )
    before = browser.balance()
    response = browser.http.post("/api/jobs", content=body, headers=headers)
    assert (response.status_code // 100, browser.balance()) == (4, before)


def test_cookie_get_answers_200_when_origin_missing(browser: Browser) -> None:
    job = browser.http.post(
        "/api/jobs", json=JOB, headers={"Authorization": f"Bearer {browser.api_key}"}
    )
    response = browser.http.get(f"/api/jobs/{job.json()['id']}", headers=browser.headers())
    assert response.status_code == 200


def test_api_key_post_answers_202_when_origin_and_token_missing(browser: Browser) -> None:
    headers = {"Authorization": f"Bearer {browser.api_key}"}
    assert browser.http.post("/api/jobs", json=JOB, headers=headers).status_code == 202


def test_api_key_post_answers_202_when_origin_foreign(browser: Browser) -> None:
    headers = {"Authorization": f"Bearer {browser.api_key}", "Origin": "https://evil.example"}
    assert browser.http.post("/api/jobs", json=JOB, headers=headers).status_code == 202


def test_cookie_logout_answers_403_when_origin_foreign(browser: Browser) -> None:
    response = browser.http.post(
        "/auth/logout", headers=browser.headers(Origin="https://evil.example")
    )
    assert _error_code(response) == (403, "csrf_failed")


def test_cross_site_get_answers_without_cors_allow_origin_when_origin_foreign(
    browser: Browser,
) -> None:
    response = browser.http.get("/auth/me", headers=browser.headers(Origin="https://evil.example"))
    assert "access-control-allow-origin" not in response.headers


def test_state_change_answers_405_when_sent_as_get(browser: Browser) -> None:
    job = browser.http.post(
        "/api/jobs", json=JOB, headers={"Authorization": f"Bearer {browser.api_key}"}
    )
    response = browser.http.get(f"/api/jobs/{job.json()['id']}/cancel", headers=browser.headers())
    assert response.status_code == 405
