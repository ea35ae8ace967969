"""Baseline security headers on every response, errors included; no wildcard CORS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from server_support import LiveServer, start_server
from testing_engines import ZeroWorkEngine

MAX_BODY = 4096


@dataclass
class Site:
    live: LiveServer
    http: httpx.Client
    key: str

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    live = start_server(
        tmp_path_factory.mktemp("headers"), [ZeroWorkEngine()], auth="required",
        max_request_bytes=MAX_BODY,
    )  # fmt: skip
    user = live.container.accounts.create_user("h@example.com", None, "member")
    _, key = live.container.accounts.create_key(user.id, "k")
    try:
        with httpx.Client(base_url=live.base_url, timeout=20) as http:
            yield Site(live, http, key)
    finally:
        live.stop()


def _chunks() -> Iterator[bytes]:
    for _ in range(4):
        yield b"x" * MAX_BODY


RESPONSES: dict[str, tuple[int, Callable[[Site], httpx.Response]]] = {
    "200_health": (200, lambda s: s.http.get("/healthz")),
    "200_me": (200, lambda s: s.http.get("/auth/me", headers=s.bearer())),
    "401_anonymous": (401, lambda s: s.http.get("/auth/me")),
    "403_admin": (403, lambda s: s.http.get("/api/admin/users", headers=s.bearer())),
    "404_missing_job": (404, lambda s: s.http.get("/api/jobs/job_x", headers=s.bearer())),
    "404_unknown_route": (404, lambda s: s.http.get("/no/such/route")),
    "405_method": (405, lambda s: s.http.put("/healthz")),
    "413_content_length": (
        413,
        lambda s: s.http.post("/api/jobs", content=b"x" * (MAX_BODY + 1), headers=s.bearer()),
    ),
    "413_chunked": (
        413,
        lambda s: s.http.post("/api/jobs", content=_chunks(), headers=s.bearer()),
    ),
}


@pytest.fixture(params=list(RESPONSES))
def response(request: pytest.FixtureRequest, site: Site) -> httpx.Response:
    status, send = RESPONSES[request.param]
    answer = send(site)
    assert answer.status_code == status, answer.text
    return answer


@pytest.mark.parametrize(
    "directive", ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]
)
def test_response_has_csp_directive_when_sent(response: httpx.Response, directive: str) -> None:
    policy = response.headers.get("content-security-policy", "")
    assert directive in [part.strip() for part in policy.split(";")]


def test_response_has_nosniff_when_sent(response: httpx.Response) -> None:
    assert response.headers.get("x-content-type-options") == "nosniff"


def test_response_has_referrer_policy_when_sent(response: httpx.Response) -> None:
    assert response.headers.get("referrer-policy") == "no-referrer"


def test_response_has_no_wildcard_cors_when_sent(response: httpx.Response) -> None:
    assert response.headers.get("access-control-allow-origin") != "*"


def test_preflight_answers_without_cors_allow_origin_when_origin_foreign(site: Site) -> None:
    response = site.http.options(
        "/api/jobs",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert "access-control-allow-origin" not in response.headers


def test_response_has_no_hsts_when_served_over_http(site: Site) -> None:
    assert "strict-transport-security" not in site.http.get("/healthz").headers
