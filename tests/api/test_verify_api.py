"""Provenance end to end: every output is watermarked and C2PA-signed by the output chain;
``POST /api/verify`` reads both back and maps the watermark to its asset (for those allowed
to see it), survives a stripped manifest, and catches tampering."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.postprocess import provenance
from server_support import LiveServer, StartServer
from testing_engines import ZeroWorkEngine

PASSWORD = "correct horse battery"
PROMPT = 'Minimal poster, headline "OPEN LATE", warm palette'


def engines() -> list[Any]:
    return [ComposeEngine(FontLibrary(), IconSet()), ZeroWorkEngine()]


def generate(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"prompt": PROMPT, "size": "512x512", "seed": 3, **fields}
    job = http.post("/api/jobs", json=body).json()
    deadline = time.monotonic() + 60
    while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = http.get(f"/api/jobs/{job['id']}").json()
    assert job["status"] == "succeeded", job
    asset: dict[str, Any] = http.get(f"/api/assets/{job['assets'][0]}").json()
    return asset


def file_of(http: httpx.Client, asset: dict[str, Any]) -> bytes:
    response = http.get(f"/api/assets/{asset['id']}/file")
    assert response.status_code == 200
    return response.content


def verify(http: httpx.Client, data: bytes, name: str = "x.png") -> dict[str, Any]:
    response = http.post("/api/verify", files={"image": (name, data)})
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def reencode(data: bytes, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, fmt, **options)
    return out.getvalue()


@pytest.fixture
def live(make_server: StartServer) -> LiveServer:
    return make_server(engines=engines())


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        yield client


def test_every_output_is_signed_and_watermarked(live: LiveServer, http: httpx.Client) -> None:
    asset = generate(http)
    data = file_of(http, asset)
    report = verify(http, data)
    assert report["verdict"] == "verified"
    c2pa = report["c2pa"]
    assert c2pa["valid"] is True
    assert c2pa["model"] == "compose"
    assert c2pa["ai_generated"] is True
    assert c2pa["development"] is True  # no certificate configured: the marked dev identity
    mark = report["watermark"]
    assert mark["found"] is True
    (found,) = mark["assets"]
    assert found["id"] == asset["id"]
    assert found["model"] == "compose"
    stored = live.container.assets.get(asset["id"])
    assert stored.watermark_id == mark["id"]
    assert c2pa["generation"]["watermark_id"] == mark["id"]


def test_a_stripped_manifest_still_maps_through_the_watermark(http: httpx.Client) -> None:
    asset = generate(http)
    jpeg = reencode(file_of(http, asset), "JPEG", quality=75)
    report = verify(http, jpeg, "x.jpg")
    assert report["c2pa"]["present"] is False
    assert report["verdict"] == "watermarked"
    assert [a["id"] for a in report["watermark"]["assets"]] == [asset["id"]]


def test_tampered_pixels_are_reported(http: httpx.Client) -> None:
    data = bytearray(file_of(http, generate(http)))
    at = data.index(b"IDAT") + 40
    data[at : at + 8] = bytes(8)
    report = verify(http, bytes(data))
    assert report["verdict"] == "tampered"
    assert report["c2pa"]["valid"] is False


def test_an_edit_records_its_input_as_an_ingredient(http: httpx.Client) -> None:
    source = generate(http)
    edited = generate(http, mode="edit", model="zero", prompt="make it blue",
                      references=[{"asset_id": source["id"]}])  # fmt: skip
    c2pa = verify(http, file_of(http, edited))["c2pa"]
    assert c2pa["actions"] == ["c2pa.opened", "c2pa.edited"]
    (parent,) = c2pa["ingredients"]
    assert parent["relationship"] == "parentOf"
    assert parent["has_manifest"] is True  # the source's own credentials are kept inside


def test_unmarked_images_are_unknown(http: httpx.Client) -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (90, 140, 200)).save(out, "PNG")
    report = verify(http, out.getvalue())
    assert report["verdict"] == "unknown"
    assert report["watermark"]["found"] is False


def test_bad_uploads_are_refused_naming_the_field(http: httpx.Client) -> None:
    response = http.post("/api/verify", files={"image": ("x.png", b"not an image")})
    assert response.status_code == 415
    assert response.json()["error"]["param"] == "image"
    missing = http.post("/api/verify")
    assert missing.status_code == 400


def test_settings_turn_each_step_off(make_server: StartServer) -> None:
    live = make_server(engines=engines(), provenance=False, watermark=False)
    with httpx.Client(base_url=live.base_url, timeout=60) as http:
        asset = generate(http)
        data = file_of(http, asset)
        assert provenance.read(data).present is False
        report = verify(http, data)
        assert report["verdict"] == "unknown"
        assert live.container.assets.get(asset["id"]).watermark_id is None


def test_other_users_learn_only_that_this_server_made_it(make_server: StartServer) -> None:
    live = make_server(engines=engines(), auth="required", rate_limit_per_minute=0)
    keys = {}
    for name in ("a", "b"):
        user = live.container.accounts.create_user(f"{name}@example.com", PASSWORD, "member")
        live.container.credits.grant(user.id, 10_000)
        keys[name] = live.container.accounts.create_key(user.id, "k")[1]

    def client(key: str) -> httpx.Client:
        return httpx.Client(base_url=live.base_url, timeout=60,
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip

    with client(keys["a"]) as a, client(keys["b"]) as b:
        data = file_of(a, generate(a))
        mine = verify(a, data)["watermark"]["assets"]
        theirs = verify(b, data)["watermark"]["assets"]
    assert mine[0]["visible"] is True
    assert "id" in mine[0]
    assert theirs == [{"visible": False, "deleted": False}]
