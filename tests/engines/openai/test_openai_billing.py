"""Usage -> cost end to end: a signed-in user's job on a live server whose openai engine talks
to the fake is reserved at the worst case and captured at what the reported usage costs."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from contract import reference_image
from fake_openai import Behaviour, RunningFake, fake_openai, fake_openai_server
from sqlalchemy import select

from pixelforge.engines.openai_images import OpenAIImagesEngine
from pixelforge.store import ledger
from pixelforge.store.models import LedgerEntry
from server_support import LiveServer, StartServer

__all__ = ["fake_openai", "fake_openai_server"]  # fixtures, re-exported for pytest

API_KEY = "sk-test-billing-secret-0123456789"
GRANT = 5_000_000
HIGH_1024 = 167_000  # gpt-image-1, auto quality is reserved as high, 1024x1024
# fake usage: 50 text input tokens (5 USD / 1M), 200 image tokens per input image (10 USD / 1M),
# 4000 output image tokens per image (40 USD / 1M); micro-USD per token == USD per 1M tokens
ONE_IMAGE = 50 * 5 + 4000 * 40


@dataclass
class Site:
    live: LiveServer
    client: httpx.Client
    user_id: str

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/api/jobs", json={"model": "gpt-image-1", **body})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            view: dict[str, Any] = self.client.get(f"/api/jobs/{job_id}").json()
            if view["status"] in ("succeeded", "failed", "canceled"):
                return view
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish")

    def balance(self) -> int:
        return self.live.container.credits.balance(self.user_id)

    def capture(self, job_id: str) -> tuple[int, int]:
        with self.live.container.db.read() as s:
            row = s.execute(select(LedgerEntry.amount, LedgerEntry.delta).where(
                LedgerEntry.job_id == job_id, LedgerEntry.kind == ledger.CAPTURE)).one()  # fmt: skip
        return int(row.amount), int(row.delta)


@pytest.fixture
def site(make_server: StartServer, fake_openai: RunningFake) -> Iterator[Site]:
    engine = OpenAIImagesEngine(API_KEY, base_url=fake_openai.base_url, max_retries=0)
    live = make_server(engines=[engine], auth="required")
    c = live.container
    user = c.accounts.create_user("payer@example.com", None)
    c.credits.grant(user.id, GRANT)
    _, raw = c.accounts.create_key(user.id, "k")
    headers = {"Authorization": f"Bearer {raw}"}
    with httpx.Client(base_url=live.base_url, headers=headers, timeout=30) as client:
        yield Site(live, client, user.id)


def test_streamed_job_is_captured_at_usage_cost(site: Site) -> None:
    view = site.run({"prompt": "a lighthouse"})
    assert view["status"] == "succeeded"
    assert site.capture(view["id"]) == (ONE_IMAGE, HIGH_1024 - ONE_IMAGE)
    assert site.balance() == GRANT - ONE_IMAGE


def test_job_view_shows_charge_and_reservation(site: Site) -> None:
    view = site.run({"prompt": "a lighthouse"})
    assert (view["cost"], view["reserved"]) == ("0.16025", "0.167")


def test_asset_records_its_cost(site: Site) -> None:
    view = site.run({"prompt": "a lighthouse"})
    asset = site.client.get(f"/api/assets/{view['assets'][0]}").json()
    assert asset["cost"] == "0.16025"
    assert asset["params"]["usage_image_output_tokens"] == "4000"


def test_edit_charges_image_input_tokens(site: Site) -> None:
    png = base64.b64encode(reference_image().data).decode()
    view = site.run({"prompt": "add a hat", "mode": "edit", "references": [{"b64_json": png}]})
    charged = ONE_IMAGE + 200 * 10
    assert site.capture(view["id"])[0] == charged
    assert site.balance() == GRANT - charged


def test_unstreamed_n_images_share_one_calls_usage(site: Site) -> None:
    view = site.run({"prompt": "a lighthouse", "n": 2, "options": {"stream": False}})
    charged = 50 * 5 + 8000 * 40
    assert site.capture(view["id"]) == (charged, 2 * HIGH_1024 - charged)
    costs = [site.client.get(f"/api/assets/{a}").json()["cost"] for a in view["assets"]]
    assert costs == ["0.160125", "0.160125"]


def test_streamed_n_images_pay_each_calls_usage(site: Site) -> None:
    site.run({"prompt": "a lighthouse", "n": 3})
    assert site.balance() == GRANT - 3 * ONE_IMAGE


@pytest.mark.parametrize("stream", [True, False])
def test_job_without_usage_is_charged_its_reservation(
    site: Site, fake_openai: RunningFake, stream: bool
) -> None:
    fake_openai.fake.script(Behaviour(no_usage=True))
    view = site.run({"prompt": "a lighthouse", "options": {"stream": stream}})
    assert view["status"] == "succeeded"
    assert site.capture(view["id"]) == (HIGH_1024, 0)
    assert (site.balance(), view["cost"]) == (GRANT - HIGH_1024, "0.167")


def test_failed_stream_refunds_the_reservation(site: Site, fake_openai: RunningFake) -> None:
    body = {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}}
    fake_openai.fake.script(Behaviour(stream_error=body, partials_before_error=1))
    view = site.run({"prompt": "a lighthouse"})
    assert view["status"] == "failed"
    assert site.balance() == GRANT


def test_openai_compatible_endpoint_charges_usage_cost(site: Site) -> None:
    response = site.client.post("/v1/images/generations",
                                json={"prompt": "a lighthouse", "model": "gpt-image-1"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert site.balance() == GRANT - ONE_IMAGE
