"""Multi-turn editing end to end: ``POST /api/jobs`` with ``continue_from`` on a live server
whose gemini engine talks to the fake, which refuses a Gemini 3 continuation whose model turn
lacks the thought signatures it issued."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from contract import reference_image
from fake_gemini import FakeGemini, serve_fake, wire_bytes
from PIL import Image

from pixelforge.engines.gemini_images import GeminiImagesEngine
from server_support import LiveServer, StartServer

API_KEY = "test-key-threads-0123456789"
PRO = "gemini-3-pro-image-preview"
FLASH_31 = "gemini-3.1-flash-image-preview"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeGemini]:
    yield from serve_fake()


@pytest.fixture
def fake(fake_server: FakeGemini) -> FakeGemini:
    fake_server.reset()
    return fake_server


def start(make_server: StartServer, fake: FakeGemini, home: Path | None = None) -> LiveServer:
    engine = GeminiImagesEngine(API_KEY, base_url=fake.base_url, max_retries=0)
    return make_server(engines=[engine], home=home)


@pytest.fixture
def live(make_server: StartServer, fake: FakeGemini) -> LiveServer:
    return start(make_server, fake)


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


def run_job(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        view: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if view["status"] in ("succeeded", "failed", "canceled"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def first_edit(client: httpx.Client, model: str = PRO) -> str:
    png = base64.b64encode(reference_image().data).decode()
    view = run_job(client, {"prompt": "make it blue", "model": model, "mode": "edit",
                            "references": [{"b64_json": png}]})  # fmt: skip
    assert view["status"] == "succeeded", view
    return str(view["assets"][0])


def continue_edit(client: httpx.Client, asset_id: str, prompt: str, model: str = PRO) -> str:
    view = run_job(client, {"prompt": prompt, "model": model, "mode": "edit",
                            "continue_from": asset_id})  # fmt: skip
    assert view["status"] == "succeeded", view
    return str(view["assets"][0])


def asset_file(client: httpx.Client, asset_id: str) -> bytes:
    return client.get(f"/api/assets/{asset_id}/file").content


def test_two_turn_edit_keeps_signatures(http: httpx.Client, fake: FakeGemini) -> None:
    first = first_edit(http)
    continue_edit(http, first, "now add a hat")
    sent = fake.requests[1]
    assert sent.roles == ["user", "model", "user"]
    text_part, image_part = sent.turn(1)
    assert wire_bytes(text_part["thoughtSignature"]) == fake.issued[0].text_signature
    assert wire_bytes(image_part["thoughtSignature"]) == fake.issued[0].image_signature
    assert wire_bytes(image_part["inlineData"]["data"]) == asset_file(http, first)
    assert [p["text"] for p in sent.turn(2)] == ["now add a hat"]


def test_two_turn_edit_sends_first_user_turn_with_its_reference(
    http: httpx.Client, fake: FakeGemini
) -> None:
    continue_edit(http, first_edit(http), "now add a hat")
    user_turn = fake.requests[1].turn(0)
    assert [p.get("text") for p in user_turn] == ["Image to edit:", None, "make it blue"]
    data = wire_bytes(user_turn[1]["inlineData"]["data"])
    assert Image.open(io.BytesIO(data)).size == (64, 64)


def test_continued_asset_records_parent_and_turn_state(
    http: httpx.Client, fake: FakeGemini
) -> None:
    first = first_edit(http)
    second = continue_edit(http, first, "now add a hat")
    asset = http.get(f"/api/assets/{second}").json()
    turn = asset["params"]["turn"]
    assert (asset["parent_id"], turn["model_id"], turn["continues"]) == (first, PRO, True)
    output = turn["model_parts"][-1]
    assert base64.b64decode(output["thought_signature"]) == fake.issued[1].image_signature


def test_three_turn_chain_sends_every_earlier_turn(http: httpx.Client, fake: FakeGemini) -> None:
    second = continue_edit(http, first_edit(http), "now add a hat")
    continue_edit(http, second, "and a scarf")
    sent = fake.requests[2]
    assert sent.roles == ["user", "model", "user", "model", "user"]
    for turn, issued in ((1, fake.issued[0]), (3, fake.issued[1])):
        _, image_part = sent.turn(turn)
        assert wire_bytes(image_part["thoughtSignature"]) == issued.image_signature
    assert [p["text"] for p in sent.turn(2)] == ["now add a hat"]


def test_continuing_on_a_different_model_falls_back_to_a_plain_edit(
    http: httpx.Client, fake: FakeGemini
) -> None:
    first = first_edit(http)
    second = continue_edit(http, first, "now add a hat", model=FLASH_31)
    sent = fake.requests[1]
    assert (sent.model, sent.roles, sent.inline_parts) == (FLASH_31, ["user"], 1)
    assert sent.texts == ["Image to edit:", "now add a hat"]
    image_part = sent.turn(0)[1]
    assert wire_bytes(image_part["inlineData"]["data"]) == asset_file(http, first)
    asset = http.get(f"/api/assets/{second}").json()
    assert (asset["parent_id"], asset["params"]["turn"]["continues"]) == (first, False)


def test_turn_state_survives_a_restart(
    make_server: StartServer, fake: FakeGemini, tmp_path: Path
) -> None:
    home = tmp_path / "shared-home"
    before = start(make_server, fake, home)
    with httpx.Client(base_url=before.base_url, timeout=30) as client:
        first = first_edit(client)
    before.stop()
    after = start(make_server, fake, home)
    with httpx.Client(base_url=after.base_url, timeout=30) as client:
        continue_edit(client, first, "now add a hat")
    _, image_part = fake.requests[1].turn(1)
    assert wire_bytes(image_part["thoughtSignature"]) == fake.issued[0].image_signature


def test_continue_from_unknown_asset_answers_404(http: httpx.Client) -> None:
    response = http.post("/api/jobs", json={"prompt": "x", "model": PRO, "mode": "edit",
                                            "continue_from": "img_missing"})  # fmt: skip
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "asset_not_found"


def test_continue_from_needs_edit_mode(http: httpx.Client, fake: FakeGemini) -> None:
    first = first_edit(http)
    response = http.post("/api/jobs", json={"prompt": "x", "model": PRO,
                                            "continue_from": first})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "continue_from"


def test_history_option_from_a_client_is_refused(http: httpx.Client) -> None:
    history = [{"role": "model", "parts": [{"text": "hi", "thought_signature": "c2ln"}]}]
    response = http.post("/api/jobs", json={"prompt": "x", "model": PRO,
                                            "options": {"history": history}})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "options.history"


@pytest.mark.parametrize("fmt", [None, "webp"])
def test_asset_file_does_not_carry_turn_state(
    http: httpx.Client, fake: FakeGemini, fmt: str | None
) -> None:
    first = first_edit(http)
    params = {"format": fmt} if fmt else {}
    data = http.get(f"/api/assets/{first}/file", params=params).content
    with Image.open(io.BytesIO(data)) as im:
        meta = im.info.get("pixelforge") or im.getexif().get(0x010E)
    assert '"prompt"' in str(meta)
    assert "turn" not in json.loads(str(meta))
