"""Usage -> cost end to end for gemini: image output tokens from ``usageMetadata`` are charged
at the model's token price, never more than the reservation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_gemini import FakeGemini, serve_fake

from pixelforge.engines.gemini_images import GeminiImagesEngine
from server_support import LiveServer, StartServer

API_KEY = "test-key-billing-0123456789"
GRANT = 1_000_000


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeGemini]:
    yield from serve_fake()


@pytest.fixture
def fake(fake_server: FakeGemini) -> FakeGemini:
    fake_server.reset()
    return fake_server


@pytest.fixture
def live(make_server: StartServer, fake: FakeGemini) -> LiveServer:
    engine = GeminiImagesEngine(API_KEY, base_url=fake.base_url, max_retries=0)
    return make_server(engines=[engine], auth="required")


@pytest.fixture
def payer(live: LiveServer) -> Iterator[tuple[httpx.Client, str]]:
    c = live.container
    user = c.accounts.create_user("payer@example.com", None)
    c.credits.grant(user.id, GRANT)
    _, raw = c.accounts.create_key(user.id, "k")
    headers = {"Authorization": f"Bearer {raw}"}
    with httpx.Client(base_url=live.base_url, headers=headers, timeout=30) as client:
        yield client, user.id


def run(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    job_id = client.post("/api/jobs", json=body).json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        view: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if view["status"] in ("succeeded", "failed", "canceled"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_job_is_charged_its_image_output_tokens(
    live: LiveServer, payer: tuple[httpx.Client, str]
) -> None:
    client, user_id = payer
    view = run(client, {"prompt": "a mug", "model": "gemini-2.5-flash-image", "n": 2})
    assert view["status"] == "succeeded"
    # 1290 image tokens per image at 30 USD / 1M; reserved 0.039 per image
    assert (view["cost"], view["reserved"]) == ("0.0774", "0.078")
    assert live.container.credits.balance(user_id) == GRANT - 2 * 38_700
    costs = {client.get(f"/api/assets/{a}").json()["cost"] for a in view["assets"]}
    assert costs == {"0.0387"}


def test_usage_cost_above_reservation_is_capped(
    live: LiveServer, payer: tuple[httpx.Client, str]
) -> None:
    client, user_id = payer
    view = run(client, {"prompt": "a mug", "model": "gemini-3-pro-image-preview"})
    # 1120 tokens at 120 USD / 1M = 0.1344 USD, above the 0.134 reserved for a 1K image
    assert view["cost"] == view["reserved"] == "0.134"
    assert live.container.credits.balance(user_id) == GRANT - 134_000


def test_blocked_job_is_refunded(
    live: LiveServer, payer: tuple[httpx.Client, str], fake: FakeGemini
) -> None:
    client, user_id = payer
    fake.script("safety")
    view = run(client, {"prompt": "something forbidden", "model": "gemini-2.5-flash-image"})
    assert view["status"] == "failed"
    assert live.container.credits.balance(user_id) == GRANT
