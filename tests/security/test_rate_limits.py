"""Per-user and per-key request limits on changes: 429 with OpenAI-style retry headers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from server_support import LiveServer, start_server
from testing_engines import ZeroWorkEngine

JOB = {"model": "zero", "prompt": "a paper crane", "size": "256x256"}
LIMIT = 5


@dataclass
class Limited:
    live: LiveServer
    http: httpx.Client
    count: int = 0

    def new_key(self) -> str:
        """A key of a fresh user (so every test starts with full buckets)."""
        self.count += 1
        accounts = self.live.container.accounts
        user = accounts.create_user(f"rl{self.count}@example.com", None, "member")
        self.live.container.credits.grant(user.id, 10_000_000)
        return accounts.create_key(user.id, "k")[1]

    def post(self, key: str) -> httpx.Response:
        return self.http.post("/api/jobs", json=JOB, headers={"Authorization": f"Bearer {key}"})


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    live = start_server(
        tmp_path_factory.mktemp("ratelimit"), [ZeroWorkEngine()], auth="required",
        rate_limit_per_minute=LIMIT,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=live.base_url, timeout=20) as http:
            yield Limited(live, http)
    finally:
        live.stop()


@pytest.fixture
def sixth(limited: Limited) -> httpx.Response:
    key = limited.new_key()
    for _ in range(LIMIT):
        limited.post(key)
    return limited.post(key)


def test_sixth_post_answers_429_rate_limit_exceeded_when_over_limit(sixth: httpx.Response) -> None:
    assert (sixth.status_code, sixth.json()["error"]["code"]) == (429, "rate_limit_exceeded")


def test_sixth_post_sends_integer_retry_after_when_over_limit(sixth: httpx.Response) -> None:
    assert int(sixth.headers["retry-after"]) >= 1


def test_sixth_post_sends_retry_after_ms_when_over_limit(sixth: httpx.Response) -> None:
    assert int(sixth.headers["retry-after-ms"]) > 0


def test_sixth_post_sends_limit_and_zero_remaining_when_over_limit(sixth: httpx.Response) -> None:
    headers = sixth.headers
    assert (
        headers.get("x-ratelimit-limit-requests"),
        headers.get("x-ratelimit-remaining-requests"),
    ) == (str(LIMIT), "0")


def test_sixth_post_uses_openai_rate_limit_type_when_over_limit(sixth: httpx.Response) -> None:
    assert sixth.json()["error"]["type"] == "rate_limit_error"


def test_accepted_posts_count_remaining_down_when_under_limit(limited: Limited) -> None:
    key = limited.new_key()
    remaining = [limited.post(key).headers.get("x-ratelimit-remaining-requests") for _ in range(5)]
    assert remaining == ["4", "3", "2", "1", "0"]


def test_accepted_posts_are_202_when_under_limit(limited: Limited) -> None:
    key = limited.new_key()
    assert [limited.post(key).status_code for _ in range(LIMIT)] == [202] * LIMIT


def test_other_user_is_not_limited_when_one_user_is(limited: Limited) -> None:
    first, second = limited.new_key(), limited.new_key()
    for _ in range(LIMIT + 1):
        limited.post(first)
    assert limited.post(second).status_code == 202


def test_safe_requests_are_not_limited_when_changes_are(limited: Limited) -> None:
    key = limited.new_key()
    for _ in range(LIMIT + 1):
        limited.post(key)
    response = limited.http.get("/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200


def test_refused_post_creates_no_job_when_over_limit(limited: Limited) -> None:
    key = limited.new_key()
    for _ in range(LIMIT):
        limited.post(key)
    me = limited.http.get("/api/credits", headers={"Authorization": f"Bearer {key}"}).json()
    limited.post(key)
    after = limited.http.get("/api/credits", headers={"Authorization": f"Bearer {key}"}).json()
    assert after["balance"] == me["balance"]


def test_second_key_of_same_user_is_limited_when_user_is_over_limit(limited: Limited) -> None:
    first = limited.new_key()
    user_id = limited.live.container.accounts.key_principal(first).user_id  # type: ignore[union-attr]
    _, second = limited.live.container.accounts.create_key(user_id, "second")
    for _ in range(LIMIT):
        limited.post(first)
    assert limited.post(second).status_code == 429
