"""Edit threads on Gemini end to end: a live server whose gemini engine talks to the fake,
which refuses a Gemini 3 continuation whose model turns lack the thought signatures it issued.

The same Gemini model continuing a thread keeps the conversation (each branch its own), a
switch of model is a plain edit of the node's image, the state survives a restart, and a
variation of a continued asset starts no conversation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_gemini import FakeGemini, Recorded, serve_fake, wire_bytes

from pixelforge.engines.gemini_images import GeminiImagesEngine
from server_support import LiveServer, StartServer

API_KEY = "test-key-edit-threads-0123456789"
PRO = "gemini-3-pro-image-preview"
FLASH_31 = "gemini-3.1-flash-image-preview"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeGemini]:
    yield from serve_fake()


@pytest.fixture
def fake(fake_server: FakeGemini) -> FakeGemini:
    fake_server.reset()
    return fake_server


def start_server(
    make_server: StartServer, fake: FakeGemini, home: Path | None = None
) -> LiveServer:
    engine = GeminiImagesEngine(API_KEY, base_url=fake.base_url, max_retries=0)
    return make_server(engines=[engine], home=home)


@pytest.fixture
def http(make_server: StartServer, fake: FakeGemini) -> Iterator[httpx.Client]:
    live = start_server(make_server, fake)
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


def wait_idle(http: httpx.Client, thread_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        view: dict[str, Any] = http.get(f"/api/threads/{thread_id}").json()
        if view["status"] == "idle" or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def start(http: httpx.Client, prompt: str = "a red fox in snow") -> dict[str, Any]:
    response = http.post("/api/threads", json={"prompt": prompt, "model": PRO})
    assert response.status_code == 202, response.text
    view = wait_idle(http, response.json()["id"])
    assert view["nodes"][0]["status"] == "succeeded", view
    return view


def turn(http: httpx.Client, thread_id: str, instruction: str, **body: Any) -> dict[str, Any]:
    response = http.post(f"/api/threads/{thread_id}/turns",
                         json={"instruction": instruction, **body})  # fmt: skip
    assert response.status_code == 202, response.text
    view = wait_idle(http, thread_id)
    node: dict[str, Any] = next(n for n in view["nodes"] if n["id"] == response.json()["id"])
    assert node["status"] == "succeeded", node
    return node


def user_texts(sent: Recorded) -> list[str]:
    """Every text the request's user turns carry, oldest first."""
    contents = sent.body["contents"]
    return [p["text"] for c in contents if c["role"] == "user" for p in c["parts"] if "text" in p]


def test_same_gemini_model_continues_the_conversation_with_its_signatures(
    http: httpx.Client, fake: FakeGemini
) -> None:
    thread = start(http)
    first = turn(http, thread["id"], "make it night")
    turn(http, thread["id"], "add the moon")

    sent = fake.requests[2]
    assert sent.roles == ["user", "model", "user", "model", "user"]
    for index, issued in ((1, fake.issued[0]), (3, fake.issued[1])):
        text_part, image_part = sent.turn(index)
        assert wire_bytes(text_part["thoughtSignature"]) == issued.text_signature
        assert wire_bytes(image_part["thoughtSignature"]) == issued.image_signature
    _, last_image = sent.turn(3)
    own = http.get(f"/api/assets/{first['asset_id']}/file").content
    assert wire_bytes(last_image["inlineData"]["data"]) == own
    assert user_texts(sent) == ["a red fox in snow", "make it night", "add the moon"]


def test_each_branch_sends_only_its_own_ancestors(http: httpx.Client, fake: FakeGemini) -> None:
    thread = start(http)
    root = thread["root_id"]
    turn(http, thread["id"], "make it night", node_id=root)
    day = turn(http, thread["id"], "make it noon", node_id=root)
    turn(http, thread["id"], "add a hat", node_id=day["id"])

    assert user_texts(fake.requests[2]) == ["a red fox in snow", "make it noon"]
    assert user_texts(fake.requests[3]) == ["a red fox in snow", "make it noon", "add a hat"]
    assert fake.requests[3].roles == ["user", "model", "user", "model", "user"]


def test_switching_model_is_a_plain_edit_and_switching_back_starts_afresh(
    http: httpx.Client, fake: FakeGemini
) -> None:
    thread = start(http)
    flash = turn(http, thread["id"], "make it night", model=FLASH_31)
    back = turn(http, thread["id"], "add the moon", model=PRO)

    on_flash, on_pro = fake.requests[1], fake.requests[2]
    assert (on_flash.model, on_flash.roles, on_flash.inline_parts) == (FLASH_31, ["user"], 1)
    assert on_flash.texts == ["Image to edit:", "make it night"]
    image = wire_bytes(on_flash.turn(0)[1]["inlineData"]["data"])
    assert image == http.get(f"/api/assets/{thread['nodes'][0]['asset_id']}/file").content
    assert (on_pro.model, on_pro.roles) == (PRO, ["user"])
    edited = wire_bytes(on_pro.turn(0)[1]["inlineData"]["data"])
    assert edited == http.get(f"/api/assets/{flash['asset_id']}/file").content
    assert (flash["model"], back["model"]) == (FLASH_31, PRO)


def test_conversation_goes_on_after_a_restart(
    make_server: StartServer, fake: FakeGemini, tmp_path: Path
) -> None:
    home = tmp_path / "shared-home"
    before = start_server(make_server, fake, home)
    with httpx.Client(base_url=before.base_url, timeout=30) as http:
        thread = start(http)
        turn(http, thread["id"], "make it night")
    before.stop()
    after = start_server(make_server, fake, home)
    with httpx.Client(base_url=after.base_url, timeout=30) as http:
        turn(http, thread["id"], "add the moon")

    sent = fake.requests[2]
    assert sent.roles == ["user", "model", "user", "model", "user"]
    _, image_part = sent.turn(3)
    assert wire_bytes(image_part["thoughtSignature"]) == fake.issued[1].image_signature


def test_variation_of_a_continued_asset_starts_no_conversation(
    http: httpx.Client, fake: FakeGemini
) -> None:
    thread = start(http)
    node = turn(http, thread["id"], "make it night")

    response = http.post(f"/api/assets/{node['asset_id']}/variations", json={"n": 1})
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 30
    job = response.json()
    while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = http.get(f"/api/jobs/{job['id']}").json()

    assert job["status"] == "succeeded", job
    sent = fake.requests[2]
    assert (sent.model, sent.roles) == (PRO, ["user"])
    assert sent.texts == ["Image to edit:", "make it night"]
    made = http.get(f"/api/assets/{job['assets'][0]}").json()
    assert (made["parent_id"], made["params"]["turn"]["continues"]) == (node["asset_id"], False)
