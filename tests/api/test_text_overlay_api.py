"""Exact text over HTTP: ``text_overlay`` on any request (native jobs on compose and a test
engine, compare, the OpenAI-compatible endpoint), the text edit action on an asset (a new
asset with the source as parent and as its C2PA parent ingredient), errors naming the field,
ownership, credits and idempotency."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.text_overlay import TextOverlayEngine
from pixelforge.postprocess import provenance
from pixelforge.postprocess.encode import embedded_metadata
from pixelforge.store.models import Job
from server_support import LiveServer, StartServer
from testing_engines import ZeroWorkEngine

PROMPT = 'Minimal poster, headline "OPEN LATE", warm palette'
OVERLAY = {"headline": "Exact 42%", "cta": "Buy now", "position": "bottom"}
PASSWORD = "correct horse battery"


def engines() -> list[Any]:
    return [ComposeEngine(FontLibrary(), IconSet()), ZeroWorkEngine(), TextOverlayEngine()]


@pytest.fixture
def live(make_server: StartServer) -> LiveServer:
    return make_server(engines=engines())


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        yield client


def wait_job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        view: dict[str, Any] = http.get(f"/api/jobs/{job_id}").json()
        if view["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def finished(http: httpx.Client, response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 202, response.text
    job = wait_job(http, response.json()["id"])
    assert job["status"] == "succeeded", job
    return [http.get(f"/api/assets/{a}").json() for a in job["assets"]]


def an_asset(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"prompt": PROMPT, "model": "compose", "size": "320x256", "seed": 7, **fields}
    (asset,) = finished(http, http.post("/api/jobs", json=body))
    return asset


def file_of(http: httpx.Client, asset: dict[str, Any]) -> bytes:
    return http.get(f"/api/assets/{asset['id']}/file").content


def rgb(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def error_of(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json()["error"]["param"]


# -- text_overlay on any request ---------------------------------------------------------


@pytest.mark.parametrize("model", ["compose", "zero"])
def test_jobs_draw_the_overlay_on_every_image_and_record_it(http: httpx.Client, model: str) -> None:
    made = finished(http, http.post("/api/jobs", json={
        "prompt": PROMPT, "model": model, "size": "320x256", "seed": 7, "n": 2,
        "text_overlay": OVERLAY,
    }))  # fmt: skip

    plain = an_asset(http, model=model)
    for asset in made:
        recorded = json.loads(asset["params"]["text_overlay"])
        assert (recorded["headline"], recorded["cta"], recorded["placed"]) == (
            "Exact 42%", "Buy now", "bottom",
        )  # fmt: skip
        meta = embedded_metadata(file_of(http, asset))
        assert meta is not None
        assert json.loads(meta["text_overlay"]) == recorded
    if model == "zero":  # a solid image: the text is all that differs (beyond the faint
        # watermark), in the bottom half
        diff = np.abs(rgb(file_of(http, made[0])).astype(int) - rgb(file_of(http, plain)))
        changed = diff.max(axis=2) > 40
        assert changed[128:].sum() > 300
        assert changed[:100].sum() == 0


def test_jobs_reject_a_bad_overlay_naming_the_field(http: httpx.Client) -> None:
    cases = [
        ({"headline": " "}, "text_overlay.headline"),
        ({"headline": "a", "fonts": {"title": "serif"}}, "text_overlay.fonts.title"),
        ({"labels": ["a", "\t"]}, "text_overlay.labels[1]"),
        ({"headline": "a", "position": "middle"}, "text_overlay.position"),
        ({"headline": "a", "size": 3}, "text_overlay.size"),
        ({}, "text_overlay"),
    ]
    for overlay, param in cases:
        response = http.post("/api/jobs", json={"prompt": "x", "text_overlay": overlay})
        assert error_of(response) == (400, param), (overlay, response.text)


def test_an_uploaded_image_gets_text_at_its_own_size(http: httpx.Client) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1000, 750), (20, 60, 90)).save(buf, "PNG")
    body = {"prompt": "caption", "model": "text-overlay", "mode": "edit",
            "references": [{"b64_json": base64.b64encode(buf.getvalue()).decode()}],
            "text_overlay": {"headline": "שלום עולם", "labels": ["2024"]}}  # fmt: skip

    (asset,) = finished(http, http.post("/api/jobs", json=body))

    assert (asset["width"], asset["height"], asset["params"]["size"]) == (1000, 750, "1000x750")
    assert json.loads(asset["params"]["text_overlay"])["headline"] == "שלום עולם"


def test_compare_draws_the_shared_overlay_on_every_entry(http: httpx.Client) -> None:
    body = {"prompt": PROMPT, "size": "256x256", "text_overlay": {"headline": "Same text"},
            "entries": [{"model": "compose"}, {"model": "zero"}]}  # fmt: skip
    response = http.post("/api/compare", json=body)
    assert response.status_code == 202, response.text
    for entry in response.json()["entries"]:
        (asset,) = [http.get(f"/api/assets/{a}").json()
                    for a in wait_job(http, entry["job_id"])["assets"]]  # fmt: skip
        assert json.loads(asset["params"]["text_overlay"])["headline"] == "Same text"


def test_openai_generations_take_text_overlay_as_an_extension(http: httpx.Client) -> None:
    response = http.post("/v1/images/generations", json={
        "prompt": PROMPT, "size": "256x256", "text_overlay": {"headline": "Via SDK"},
    })  # fmt: skip
    assert response.status_code == 200, response.text
    data = base64.b64decode(response.json()["data"][0]["b64_json"])
    meta = embedded_metadata(data)
    assert meta is not None
    assert json.loads(meta["text_overlay"])["headline"] == "Via SDK"
    bad = http.post("/v1/images/generations", json={"prompt": "x", "text_overlay": {"cta": ""}})
    assert error_of(bad) == (400, "text_overlay.cta")


# -- the edit action ---------------------------------------------------------------------


def test_text_action_makes_a_child_asset_with_the_source_as_parent_ingredient(
    http: httpx.Client,
) -> None:
    source = an_asset(http, output_format="webp")
    response = http.post(f"/api/assets/{source['id']}/text",
                         json={"headline": "Exact 42%", "cta": "Buy now"})  # fmt: skip
    assert response.headers["location"] == f"/api/jobs/{response.json()['id']}"

    (made,) = finished(http, response)

    assert (made["parent_id"], made["model"], made["format"]) == (source["id"], "text-overlay",
                                                                  "webp")  # fmt: skip
    assert (made["width"], made["height"]) == (source["width"], source["height"])
    assert made["prompt"] == 'text overlay: headline "Exact 42%" and 1 more'
    before, after = rgb(file_of(http, source)), rgb(file_of(http, made))
    assert np.abs(before.astype(int) - after.astype(int)).max() > 100  # the text is there
    credentials = provenance.read(file_of(http, made))
    assert credentials.valid
    (parent,) = credentials.ingredients
    assert parent["relationship"] == "parentOf"
    assert parent["title"] == f"{source['id']}.webp"
    assert parent["has_manifest"] is True  # the source's own manifest is kept inside


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "headline"),
        ({"headline": ""}, "headline"),
        ({"labels": ["ok", " "]}, "labels[1]"),
        ({"headline": "a", "color": "blue"}, "color"),
        ({"headline": "a", "fonts": {"cta": "comic"}}, "fonts.cta"),
        ({"headline": "a", "scrim": "sometimes"}, "scrim"),
        ({"headline": "a", "extra": 1}, "extra"),
    ],
)
def test_text_action_rejects_bad_body_naming_the_field(
    http: httpx.Client, body: dict[str, Any], param: str
) -> None:
    response = http.post(f"/api/assets/{an_asset(http)['id']}/text", json=body)
    assert error_of(response) == (400, param)


def test_text_action_on_unknown_asset_answers_404(http: httpx.Client) -> None:
    response = http.post("/api/assets/img_missing/text", json={"headline": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "asset_not_found"


def test_text_action_replays_the_same_job_for_the_same_idempotency_key(
    http: httpx.Client,
) -> None:
    source = an_asset(http)
    url, headers = f"/api/assets/{source['id']}/text", {"Idempotency-Key": "text-1"}
    first = http.post(url, json={"headline": "One"}, headers=headers)
    again = http.post(url, json={"headline": "One"}, headers=headers)
    other = http.post(url, json={"headline": "Two"}, headers=headers)

    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422


def test_text_action_on_another_users_asset_answers_404_and_costs_like_jobs(
    make_server: StartServer,
) -> None:
    live = make_server(engines=engines(), auth="required", rate_limit_per_minute=0)
    keys, ids = {}, {}
    for name in ("a", "b"):
        user = live.container.accounts.create_user(f"{name}@example.com", PASSWORD, "member")
        live.container.credits.grant(user.id, 10_000)
        keys[name] = live.container.accounts.create_key(user.id, "k")[1]
        ids[name] = user.id

    def client(name: str) -> httpx.Client:
        return httpx.Client(base_url=live.base_url, timeout=60,
                            headers={"Authorization": f"Bearer {keys[name]}"})  # fmt: skip

    with client("a") as a, client("b") as b:
        source = an_asset(a, model="zero")
        theirs = b.post(f"/api/assets/{source['id']}/text", json={"headline": "Mine now"})
        (made,) = finished(a, a.post(f"/api/assets/{source['id']}/text",
                                     json={"headline": "Mine"}))  # fmt: skip

    assert theirs.status_code == 404
    assert made["parent_id"] == source["id"]
    assert live.container.credits.balance(ids["a"]) == 10_000 - 2 * 1_000
    assert live.container.credits.balance(ids["b"]) == 10_000


def a_white_upload(http: httpx.Client) -> dict[str, Any]:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (255, 255, 255)).save(buf, "PNG")
    body = {"prompt": "white", "model": "text-overlay", "mode": "edit",
            "references": [{"b64_json": base64.b64encode(buf.getvalue()).decode()}],
            "text_overlay": {"labels": ["source"], "position": "top"}}  # fmt: skip
    (asset,) = finished(http, http.post("/api/jobs", json=body))
    return asset


def test_text_action_applies_a_brand_kits_palette_and_fonts(
    http: httpx.Client, live: LiveServer
) -> None:
    kit = http.post("/api/references", json={
        "name": "Acme", "kind": "brand_kit", "palette": ["#0B5394", "#f1c232"],
        "fonts": {"headline": "serif"},
    }).json()  # fmt: skip
    source = a_white_upload(http)

    (made,) = finished(http, http.post(f"/api/assets/{source['id']}/text", json={
        "headline": "Branded", "position": "bottom", "brand_kit": kit["id"],
    }))  # fmt: skip

    assert json.loads(made["params"]["text_overlay"])["text_color"] == "#0b5394"
    with live.container.db.read() as s:
        job = s.get(Job, made["job_id"])
        assert job is not None
        brand = job.request["brand"]
    assert (brand["palette"], brand["headline_font"]) == (["#0b5394", "#f1c232"], "serif")


def test_text_action_refuses_a_set_that_is_not_a_brand_kit(http: httpx.Client) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (0, 200, 0)).save(buf, "PNG")
    mascot = http.post("/api/references", json={
        "name": "Mascot", "kind": "character",
        "images": [{"b64_json": base64.b64encode(buf.getvalue()).decode()}],
    }).json()  # fmt: skip
    url = f"/api/assets/{an_asset(http)['id']}/text"

    wrong = http.post(url, json={"headline": "x", "brand_kit": mascot["id"]})
    missing = http.post(url, json={"headline": "x", "brand_kit": "ref_missing"})

    assert error_of(wrong) == (400, "brand_kit")
    assert "not a brand kit" in wrong.json()["error"]["message"]
    assert error_of(missing) == (404, "brand_kit")
