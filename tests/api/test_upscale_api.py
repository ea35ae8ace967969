"""Upscaling over HTTP: a job making a new asset (parent: the source) at exactly 2x, 4x or a
tier, classical or an RRDBNet model from the models folder (``auto`` picks one), compose
assets re-rendered crisp from their stored request, errors naming the field, ownership,
credits and idempotency."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from image_metrics import edge_widths
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.upscale import UpscaleEngine
from pixelforge.store.models import Job
from server_support import LiveServer, StartServer
from testing_engines import ZeroWorkEngine

PROMPT = 'Minimal poster, headline "OPEN LATE", warm palette'
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def upscalers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from upscale_models import save_model

    folder = tmp_path_factory.mktemp("models")
    save_model(folder / "tiny-x4.safetensors", 4, seed=4)
    save_model(folder / "tiny-x2.safetensors", 2, seed=2)
    return folder


@pytest.fixture
def live(make_server: StartServer, upscalers: Path) -> LiveServer:
    engines = [ComposeEngine(FontLibrary(), IconSet()), ZeroWorkEngine(),
               UpscaleEngine(upscalers, device="cpu", tile=64)]  # fmt: skip
    return make_server(engines=engines)


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


def an_asset(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"prompt": PROMPT, "model": "compose", "size": "256x256", "seed": 7, **fields}
    response = http.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    job = wait_job(http, response.json()["id"])
    assert job["status"] == "succeeded", job
    asset: dict[str, Any] = http.get(f"/api/assets/{job['assets'][0]}").json()
    return asset


def upscale(http: httpx.Client, asset_id: str, **body: Any) -> dict[str, Any]:
    response = http.post(f"/api/assets/{asset_id}/upscale", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/jobs/{response.json()['id']}"
    job = wait_job(http, response.json()["id"])
    assert job["status"] == "succeeded", job
    (asset_id,) = job["assets"]
    made: dict[str, Any] = http.get(f"/api/assets/{asset_id}").json()
    return made


def image_of(http: httpx.Client, asset: dict[str, Any]) -> Image.Image:
    response = http.get(f"/api/assets/{asset['id']}/file")
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as im:
        im.load()
        return im


def stored_request(live: LiveServer, job_id: str) -> dict[str, Any]:
    with live.container.db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return dict(job.request)


def error_of(response: httpx.Response) -> tuple[int, str | None, str | None]:
    error = response.json()["error"]
    return response.status_code, error["param"], error["code"]


# -- pixels: classical and super-resolution -------------------------------------------------


def test_upscale_makes_a_new_asset_exactly_twice_the_size_with_the_source_as_parent(
    http: httpx.Client,
) -> None:
    source = an_asset(http, model="zero", size="320x192", output_format="webp")

    made = upscale(http, source["id"], factor=2, model="classical")

    assert (made["width"], made["height"]) == (640, 384)
    assert (made["parent_id"], made["model"], made["prompt"]) == (
        source["id"], "upscale/classical", PROMPT,
    )  # fmt: skip
    assert made["format"] == "webp"
    assert image_of(http, made).size == (640, 384)


def test_upscale_to_a_tier_keeps_the_aspect_ratio_exactly(http: httpx.Client) -> None:
    source = an_asset(http, model="zero", size="320x192")

    made = upscale(http, source["id"], tier="4K", model="classical")

    assert (made["width"], made["height"]) == (4096, 2458)


def test_a_super_resolution_model_runs_and_auto_picks_it_by_factor(http: httpx.Client) -> None:
    source = an_asset(http, model="zero", size="128x64")

    named = upscale(http, source["id"], factor=2, model="tiny-x4")
    auto2 = upscale(http, source["id"], factor=2)
    auto4 = upscale(http, source["id"], factor=4)

    assert (named["model"], named["width"], named["height"]) == ("upscale/tiny-x4", 256, 128)
    assert (auto2["model"], auto2["width"]) == ("upscale/tiny-x2", 256)
    assert (auto4["model"], auto4["width"], auto4["height"]) == ("upscale/tiny-x4", 512, 256)


def test_the_upscaled_file_says_what_made_it(http: httpx.Client) -> None:
    source = an_asset(http, model="zero", size="128x64")

    made = upscale(http, source["id"], factor=4, model="classical")

    params = made["params"]
    assert (params["upscaler"], params["upscaled from"], params["size"]) == (
        "classical", "128x64", "512x256",
    )  # fmt: skip
    assert "aspect_ratio" not in params


# -- compose: rendered again, not upscaled --------------------------------------------------


def test_a_compose_asset_is_rendered_again_at_4x_with_crisp_edges(
    http: httpx.Client, live: LiveServer
) -> None:
    source = an_asset(http)

    made = upscale(http, source["id"], factor=4)
    pixels = upscale(http, source["id"], factor=4, rerender=False, model="classical")

    assert (made["model"], made["seed"], made["parent_id"]) == ("compose", 7, source["id"])
    assert (made["width"], made["height"]) == (1024, 1024)
    before, after = stored_request(live, source["job_id"]), stored_request(live, made["job_id"])
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"size", "continue_from"}
    assert after["size"] == "1024x1024"
    crisp = edge_widths(image_of(http, made))
    resized = edge_widths(image_of(http, source).resize((1024, 1024), Image.Resampling.LANCZOS))
    upscaled = edge_widths(image_of(http, pixels))
    assert len(crisp) > 200
    assert np.percentile(crisp, 90) <= 2  # an edge stays 1-2 px wide at 4x...
    assert np.median(resized) >= 4  # ...where a resize spreads it over 4 or more
    assert np.median(upscaled) >= 2.5
    assert pixels["model"] == "upscale/classical"


def test_a_compose_asset_goes_to_a_tier_in_its_own_aspect_ratio(
    http: httpx.Client, live: LiveServer
) -> None:
    source = an_asset(http, size=None, aspect_ratio="4:5", resolution="512")

    made = upscale(http, source["id"], tier="2K")

    assert (source["width"], source["height"]) == (416, 512)
    assert (made["model"], made["width"], made["height"]) == ("compose", 1632, 2048)
    after = stored_request(live, made["job_id"])
    assert (after["aspect_ratio"], after["tier"], after["size"]) == ("4:5", "2K", None)


def test_a_compose_factor_past_what_compose_renders_is_refused_naming_factor(
    http: httpx.Client,
) -> None:
    source = an_asset(http, size="2048x1024")

    response = http.post(f"/api/assets/{source['id']}/upscale", json={"factor": 4})

    assert error_of(response) == (400, "factor", "invalid_value")
    assert "8192x4096" in response.json()["error"]["message"]
    assert "allowed: 2" in response.json()["error"]["message"]


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [({"factor": 3}, "factor"), ({"tier": "8K"}, "tier"), ({"tier": "1K"}, "tier"),
     ({"factor": 2, "tier": "2K"}, "tier"), ({"model": "nope"}, "model"),
     ({"model": ""}, "model"), ({"rerender": "maybe"}, "rerender"), ({"extra": 1}, "extra")],
)  # fmt: skip
def test_bad_bodies_are_refused_naming_the_field(
    http: httpx.Client, body: dict[str, Any], param: str
) -> None:
    source = an_asset(http, model="zero", size="128x128")

    response = http.post(f"/api/assets/{source['id']}/upscale", json=body)

    assert error_of(response)[:2] == (400, param)


def test_a_tier_not_larger_than_the_asset_is_refused(http: httpx.Client) -> None:
    source = an_asset(http, model="zero", size="2048x1024")

    response = http.post(f"/api/assets/{source['id']}/upscale", json={"tier": "2K"})

    assert error_of(response)[:2] == (400, "tier")
    assert "not larger than the image (2048x1024)" in response.json()["error"]["message"]


def test_upscale_of_an_unknown_asset_answers_404(http: httpx.Client) -> None:
    response = http.post("/api/assets/img_missing/upscale", json={})
    assert error_of(response) == (404, "asset_id", "asset_not_found")


def test_upscale_replays_the_same_job_for_the_same_idempotency_key(http: httpx.Client) -> None:
    source = an_asset(http, model="zero", size="128x128")
    headers = {"Idempotency-Key": "up-1"}
    url = f"/api/assets/{source['id']}/upscale"

    first = http.post(url, json={"factor": 2}, headers=headers)
    again = http.post(url, json={"factor": 2}, headers=headers)
    other = http.post(url, json={"factor": 4}, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert error_of(other) == (422, "Idempotency-Key", "idempotency_key_reused")


def test_a_server_without_the_upscale_engine_says_so(make_server: StartServer) -> None:
    live = make_server(engines=[ZeroWorkEngine()])
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        source = an_asset(client, model="zero", size="128x128")
        response = client.post(f"/api/assets/{source['id']}/upscale", json={})

    assert error_of(response)[:2] == (400, "model")
    assert "does not serve upscaling" in response.json()["error"]["message"]


# -- accounts ------------------------------------------------------------------------------


def test_upscale_of_another_users_asset_answers_404_and_costs_like_jobs(
    make_server: StartServer,
) -> None:
    live = make_server(engines=[ZeroWorkEngine(), UpscaleEngine(super_resolution=False)],
                       auth="required", rate_limit_per_minute=0)  # fmt: skip
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
        source = an_asset(a, model="zero", size="128x128")
        theirs = b.post(f"/api/assets/{source['id']}/upscale", json={})
        missing = b.post("/api/assets/img_missing/upscale", json={})
        made = upscale(a, source["id"])

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "asset_not_found"
    assert (made["model"], made["width"]) == ("upscale/classical", 256)  # auto: no models
    assert live.container.credits.balance(ids["a"]) == 10_000 - 2_000
    assert live.container.credits.balance(ids["b"]) == 10_000
