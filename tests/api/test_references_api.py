"""The reference library over HTTP: saved sets (characters, products, styles, brand kits) with
their images served back; bad values and limits named by field; ownership; and sets used in
POST /api/jobs and POST /api/compare, on compose and on a test engine that records what reached
it (through the durable queue), across a restart and after the set is deleted."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.store.models import ReferenceImage, ReferenceSet
from server_support import LiveServer, StartServer
from testing_engines import BlockingEngine, RecordingEngine

PASSWORD = "correct horse battery"
MAGENTA, GREEN, BLUE = (255, 0, 255), (0, 200, 0), (20, 40, 220)
POSTER = 'Minimal poster, headline "OPEN LATE"'


def png(color: tuple[int, int, int], size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image_in(color: tuple[int, int, int] = GREEN, **extra: Any) -> dict[str, Any]:
    return {"b64_json": b64(png(color)), **extra}


def brand_kit(name: str = "Acme", **extra: Any) -> dict[str, Any]:
    return {
        "name": name, "kind": "brand_kit", "palette": ["#0B5394", "#f1c232"],
        "fonts": {"headline": "serif", "body": "sans"}, "tone": ["warm", "playful"],
        "logo": {"b64_json": b64(png(MAGENTA, (300, 100)))}, **extra,
    }  # fmt: skip


class Engines:
    def __init__(self) -> None:
        self.recording = RecordingEngine()
        self.narrow = RecordingEngine("recording-2", max_references=2)
        self.blocking = BlockingEngine()

    def all(self) -> list[Any]:
        return [ComposeEngine(FontLibrary(), IconSet()), self.recording, self.narrow,
                self.blocking]  # fmt: skip


@pytest.fixture
def engines() -> Iterator[Engines]:
    made = Engines()
    yield made
    made.blocking.release()


@pytest.fixture
def live(make_server: StartServer, engines: Engines) -> LiveServer:
    return make_server(engines=engines.all())


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


def create(http: httpx.Client, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = http.post("/api/references", json=body, headers=headers)
    assert response.status_code == 201, response.text
    view: dict[str, Any] = response.json()
    return view


def character(http: httpx.Client, name: str = "Mascot", n: int = 3) -> dict[str, Any]:
    colors = [GREEN, BLUE, (200, 120, 0), (10, 10, 10)]
    images = [image_in(colors[i % 4], label=f"pose {i + 1}") for i in range(n)]
    return create(http, {"name": name, "kind": "character", "images": images})


def wait_job(http: httpx.Client, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = http.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def run_job(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/api/jobs", json={"prompt": POSTER, "size": "256x256", **body})
    assert response.status_code == 202, response.text
    job = wait_job(http, response.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def error_of(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json()["error"]["param"]


def pixels_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def count_near(image: np.ndarray, color: tuple[int, int, int], tolerance: int = 6) -> int:
    return int((np.abs(image.astype(int) - np.array(color)).max(axis=-1) <= tolerance).sum())


# -- create, read, change, delete --------------------------------------------------------


def test_create_answers_201_with_location_and_the_set(http: httpx.Client) -> None:
    body = {"name": "Mascot", "kind": "character", "description": "Our fox",
            "images": [image_in(label="front"), image_in(BLUE, role="style")]}  # fmt: skip
    response = http.post("/api/references", json=body)

    view = response.json()
    assert response.status_code == 201
    assert response.headers["location"] == f"/api/references/{view['id']}"
    assert (view["object"], view["name"], view["kind"], view["description"]) == (
        "reference_set", "Mascot", "character", "Our fox",
    )  # fmt: skip
    assert view["default_role"] == "character"
    assert [(i["position"], i["role"], i["label"]) for i in view["images"]] == [
        (0, "character", "front"), (1, "style", None),
    ]  # fmt: skip
    assert [(i["width"], i["height"], i["format"]) for i in view["images"]] == [(64, 48, "png")] * 2
    assert http.get(f"/api/references/{view['id']}").json() == view


def test_image_file_serves_the_ingested_png(http: httpx.Client) -> None:
    jpeg = png(BLUE, (80, 60), "JPEG")
    view = create(http, {"name": "Style", "kind": "style",
                         "images": [{"b64_json": b64(jpeg)}]})  # fmt: skip
    image = view["images"][0]

    response = http.get(image["url"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content != jpeg  # re-encoded on ingest, like every upload
    decoded = Image.open(io.BytesIO(response.content))
    assert (decoded.format, decoded.size) == ("PNG", (80, 60))
    assert count_near(pixels_of(response.content), BLUE, 12) == 80 * 60
    assert image["bytes"] == len(response.content)


def test_brand_kit_keeps_palette_fonts_tone_and_serves_its_logo(http: httpx.Client) -> None:
    view = create(http, brand_kit())

    assert view["palette"] == ["#0b5394", "#f1c232"]
    assert view["fonts"] == {"headline": "serif", "body": "sans"}
    assert view["tone"] == ["warm", "playful"]
    assert (view["logo"]["width"], view["logo"]["height"]) == (300, 100)
    logo = http.get(view["logo"]["url"])
    assert (logo.status_code, logo.headers["content-type"]) == (200, "image/png")
    assert Image.open(io.BytesIO(logo.content)).size == (300, 100)


def test_image_may_come_from_an_asset_of_yours(http: httpx.Client) -> None:
    job = run_job(http, model="compose")
    asset_id = job["assets"][0]

    view = create(http, {"name": "From asset", "kind": "product",
                         "images": [{"asset_id": asset_id, "role": "product"}]})  # fmt: skip

    stored = http.get(view["images"][0]["url"]).content
    original = http.get(f"/api/assets/{asset_id}/file").content
    assert np.array_equal(pixels_of(stored), pixels_of(original))
    assert b"Pixelforge" not in stored  # the asset's metadata is stripped on ingest


def test_list_answers_your_sets_newest_first_filtered_by_kind(http: httpx.Client) -> None:
    first = character(http, "One", 1)
    kit = create(http, brand_kit())
    second = character(http, "Two", 1)

    everything = http.get("/api/references").json()
    characters = http.get("/api/references", params={"kind": "character"}).json()
    paged = http.get("/api/references", params={"limit": 1, "offset": 1}).json()

    assert [s["id"] for s in everything["data"]] == [second["id"], kit["id"], first["id"]]
    assert [s["id"] for s in characters["data"]] == [second["id"], first["id"]]
    assert (paged["total"], paged["has_more"], [s["id"] for s in paged["data"]]) == (
        3, True, [kit["id"]],
    )  # fmt: skip
    assert error_of(http.get("/api/references", params={"kind": "hero"})) == (400, "kind")


def test_patch_changes_name_and_brand_fields_and_removes_the_logo(http: httpx.Client) -> None:
    kit = create(http, brand_kit())

    changed = http.patch(f"/api/references/{kit['id']}", json={
        "name": "Acme 2026", "palette": ["#112233"], "tone": ["calm"], "logo": None,
    })  # fmt: skip

    view = changed.json()
    assert changed.status_code == 200
    assert (view["name"], view["palette"], view["tone"], view["logo"]) == (
        "Acme 2026", ["#112233"], ["calm"], None,
    )  # fmt: skip
    assert view["fonts"] == kit["fonts"]  # not given: unchanged
    assert http.get(f"/api/references/{kit['id']}/logo").status_code == 404


def test_patch_sets_a_new_logo(http: httpx.Client) -> None:
    kit = create(http, brand_kit())
    http.patch(f"/api/references/{kit['id']}", json={"logo": {"b64_json": b64(png(BLUE))}})

    logo = http.get(f"/api/references/{kit['id']}/logo")
    assert count_near(pixels_of(logo.content), BLUE, 12) == 64 * 48


@pytest.mark.parametrize(("patch", "param"), [
    ({"palette": ["#zzzzzz"]}, "palette[0]"), ({"fonts": {"headline": "comic"}}, "fonts.headline"),
    ({"name": ""}, "name"), ({"name": None}, "name"), ({"kind": "style"}, "kind"),
])  # fmt: skip
def test_patch_refuses_bad_values_naming_the_field(
    http: httpx.Client, patch: dict[str, Any], param: str
) -> None:
    kit = create(http, brand_kit())
    response = http.patch(f"/api/references/{kit['id']}", json=patch)

    assert error_of(response) == (400, param)
    assert http.get(f"/api/references/{kit['id']}").json() == kit


def test_patch_refuses_brand_fields_on_other_kinds(http: httpx.Client) -> None:
    mascot = character(http, n=1)
    response = http.patch(f"/api/references/{mascot['id']}", json={"tone": ["warm"]})
    assert error_of(response) == (400, "tone")


def test_delete_answers_204_then_the_set_is_gone(http: httpx.Client) -> None:
    mascot = character(http)

    assert http.delete(f"/api/references/{mascot['id']}").status_code == 204
    assert http.get(f"/api/references/{mascot['id']}").status_code == 404
    assert http.get(mascot["images"][0]["url"]).status_code == 404
    assert http.get("/api/references").json()["total"] == 0


def test_add_images_appends_after_the_last_and_remove_image_drops_one(
    http: httpx.Client,
) -> None:
    mascot = character(http, n=2)
    added = http.post(f"/api/references/{mascot['id']}/images",
                      json={"images": [image_in(BLUE, role="composition", label="pose 3")]})  # fmt: skip
    first = mascot["images"][0]
    removed = http.delete(f"/api/references/{mascot['id']}/images/{first['id']}")
    view = http.get(f"/api/references/{mascot['id']}").json()

    assert added.status_code == 201
    assert [(i["position"], i["role"]) for i in added.json()["images"]] == [
        (0, "character"), (1, "character"), (2, "composition"),
    ]  # fmt: skip
    assert removed.status_code == 204
    assert [i["label"] for i in view["images"]] == ["pose 2", "pose 3"]
    assert http.get(first["url"]).status_code == 404


def test_image_of_another_set_answers_404(http: httpx.Client) -> None:
    one, two = character(http, "One", 1), character(http, "Two", 1)
    image_id = two["images"][0]["id"]

    assert http.get(f"/api/references/{one['id']}/images/{image_id}/file").status_code == 404
    assert http.delete(f"/api/references/{one['id']}/images/{image_id}").status_code == 404


# -- bad values and limits ---------------------------------------------------------------

BAD_CREATE = [
    ({"kind": "hero"}, 400, "kind"),
    ({"name": "   "}, 400, "name"),
    ({"name": "x" * 121}, 400, "name"),
    ({"name": "tab\there"}, 400, "name"),
    ({"kind": "style", "palette": ["#112233"]}, 400, "palette"),
    ({"kind": "product", "logo": {"b64_json": b64(png(MAGENTA))}}, 400, "logo"),
    ({"kind": "brand_kit", "palette": ["#12"]}, 400, "palette[0]"),
    ({"kind": "brand_kit", "palette": ["#000000", "blue"]}, 400, "palette[1]"),
    ({"kind": "brand_kit", "palette": [f"#00000{i}" for i in range(7)]}, 400, "palette"),
    ({"kind": "brand_kit", "fonts": {"title": "serif"}}, 400, "fonts.title"),
    ({"kind": "brand_kit", "fonts": {"body": "papyrus"}}, 400, "fonts.body"),
    ({"kind": "brand_kit", "tone": ["warm", "<b>"]}, 400, "tone[1]"),
    ({"kind": "brand_kit", "tone": [f"w{i}" for i in range(9)]}, 400, "tone"),
    ({"kind": "brand_kit", "logo": {"b64_json": b64(b"%PDF-1.4 not an image")}}, 415, "logo"),
    ({"images": [image_in(), {"b64_json": "@@@"}]}, 400, "images[1].b64_json"),
    ({"images": [{"b64_json": b64(b"GIF89a....")}]}, 415, "images[0]"),
    ({"images": [image_in(role="hero")]}, 400, "images[0].role"),
    ({"images": [image_in(label="x" * 121)]}, 400, "images[0].label"),
    ({"images": [{}]}, 400, "images[0]"),
    ({"images": [{"asset_id": "img_missing"}]}, 404, "images[0].asset_id"),
    ({"images": [image_in()] * 17}, 400, "images"),
    ({"images": [image_in(url="http://example.com/x.png")]}, 400, "images.0.url"),
]


@pytest.mark.parametrize(("fields", "status", "param"), BAD_CREATE,
                         ids=[p for _, _, p in BAD_CREATE])  # fmt: skip
def test_create_refuses_bad_values_naming_the_field_and_stores_nothing(
    http: httpx.Client, live: LiveServer, fields: dict[str, Any], status: int, param: str
) -> None:
    body = {"name": "Set", "kind": "character", **fields}
    response = http.post("/api/references", json=body)

    assert error_of(response) == (status, param)
    with live.container.db.read() as s:
        sets = s.scalar(select(func.count()).select_from(ReferenceSet))
        images = s.scalar(select(func.count()).select_from(ReferenceImage))
    assert (sets, images) == (0, 0)


def test_create_refuses_a_name_you_already_use(http: httpx.Client) -> None:
    first = character(http, "Mascot", 1)
    response = http.post("/api/references", json={"name": "Mascot", "kind": "style"})

    assert error_of(response) == (400, "name")
    assert response.json()["error"]["code"] == "reference_set_name_taken"
    assert first["id"] in response.json()["error"]["message"]


def test_add_images_refuses_past_16_naming_the_count(http: httpx.Client) -> None:
    mascot = character(http, n=15)
    response = http.post(f"/api/references/{mascot['id']}/images",
                         json={"images": [image_in(), image_in()]})  # fmt: skip

    assert error_of(response) == (400, "images")
    assert "has 15 images" in response.json()["error"]["message"]
    assert "at most 16" in response.json()["error"]["message"]
    assert len(http.get(f"/api/references/{mascot['id']}").json()["images"]) == 15


def test_create_replays_the_same_set_for_the_same_idempotency_key(http: httpx.Client) -> None:
    first = http.post("/api/references", json=brand_kit(), headers={"Idempotency-Key": "k1"})
    again = http.post("/api/references", json=brand_kit(), headers={"Idempotency-Key": "k1"})
    other = http.post("/api/references", json=brand_kit("Other"),
                      headers={"Idempotency-Key": "k1"})  # fmt: skip

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert http.get("/api/references").json()["total"] == 1


# -- using sets in jobs ------------------------------------------------------------------


def test_job_passes_set_images_after_its_own_references_to_the_engine(
    http: httpx.Client, engines: Engines
) -> None:
    mascot = character(http, n=2)
    own = {"b64_json": b64(png(MAGENTA)), "role": "background"}

    run_job(http, model="recording", references=[own], reference_sets=[{"id": mascot["id"]}])

    (request,) = engines.recording.requests
    assert [r.role.value for r in request.references] == ["background", "character", "character"]
    stored = [http.get(i["url"]).content for i in mascot["images"]]
    assert [r.image.data for r in request.references[1:]] == stored
    assert [r.image.name for r in request.references[1:]] == ["pose 1", "pose 2"]
    assert request.brand is None


def test_job_role_overrides_the_sets_roles_and_take_uses_its_first_images(
    http: httpx.Client, engines: Engines
) -> None:
    mascot = character(http, n=3)

    run_job(http, model="recording", reference_sets=[{"id": mascot["id"], "role": "style",
                                                      "take": 2}])  # fmt: skip

    (request,) = engines.recording.requests
    assert [r.role.value for r in request.references] == ["style", "style"]
    assert request.references[1].image.name == "pose 2"


def test_job_brand_kit_reaches_the_engine_through_the_queue(
    http: httpx.Client, engines: Engines
) -> None:
    kit = create(http, brand_kit())

    run_job(http, model="recording", reference_sets=[{"id": kit["id"]}])

    (request,) = engines.recording.requests
    brand = request.brand
    assert brand is not None
    assert (brand.palette, brand.headline_font, brand.body_font, brand.tone) == (
        ("#0b5394", "#f1c232"), "serif", "sans", ("warm", "playful"),
    )  # fmt: skip
    assert brand.logo is not None
    assert brand.logo.data == http.get(kit["logo"]["url"]).content
    assert request.references == ()  # the logo is the engine's to place, not a reference


def test_job_with_more_set_images_than_the_model_takes_names_the_set_and_the_limit(
    http: httpx.Client, engines: Engines
) -> None:
    one, three = character(http, "One", 1), character(http, "Three", 3)
    body = {"prompt": POSTER, "model": "recording-2",
            "reference_sets": [{"id": one["id"]}, {"id": three["id"]}]}  # fmt: skip

    refused = http.post("/api/jobs", json=body)
    error = refused.json()["error"]

    assert error_of(refused) == (400, "reference_sets[1]")
    assert error["code"] == "unsupported_by_model"
    assert "at most 2" in error["message"]
    assert "take: 1" in error["message"]
    assert engines.narrow.requests == []
    body["reference_sets"][1]["take"] = 1
    assert http.post("/api/jobs", json=body).status_code == 202


@pytest.mark.parametrize(("uses", "param"), [
    ([{"id": "ref_missing"}], "reference_sets[0].id"),
    ([{"id": "MASCOT", "role": "hero"}], "reference_sets[0].role"),
    ([{"id": "MASCOT", "take": 0}], "reference_sets.0.take"),
    ([{"id": "KIT"}, {"id": "KIT2"}], "reference_sets[1]"),
    ([{"id": "EMPTY"}], "reference_sets[0]"),
])  # fmt: skip
def test_job_refuses_bad_set_uses_naming_the_field(
    http: httpx.Client, uses: list[dict[str, Any]], param: str
) -> None:
    ids = {"MASCOT": character(http, n=1)["id"], "KIT": create(http, brand_kit())["id"],
           "KIT2": create(http, brand_kit("Other"))["id"],
           "EMPTY": create(http, {"name": "Empty", "kind": "product"})["id"]}  # fmt: skip
    for use in uses:
        use["id"] = ids.get(use["id"], use["id"])

    response = http.post("/api/jobs", json={"prompt": POSTER, "reference_sets": uses})

    assert error_of(response)[1] == param
    assert response.status_code in (400, 404)


def test_brand_kit_on_compose_draws_palette_and_logo(http: httpx.Client) -> None:
    kit = create(http, brand_kit())

    job = run_job(http, model="compose", size="512x640", reference_sets=[{"id": kit["id"]}],
                  prompt='Minimal poster, headline "OPEN LATE", button "Order now"')  # fmt: skip

    asset = http.get(f"/api/assets/{job['assets'][0]}").json()
    image = pixels_of(http.get(asset["url"]).content)
    assert count_near(image, (0x0B, 0x53, 0x94)) > 500
    assert count_near(image, (0xF1, 0xC2, 0x32)) > 500
    assert count_near(image, MAGENTA) > 1000  # the logo
    assert asset["params"]["brand"] == "palette,fonts,tone,logo"


def test_character_set_on_compose_takes_one_image(http: httpx.Client) -> None:
    mascot = character(http, n=2)

    refused = http.post("/api/jobs", json={"prompt": POSTER, "reference_sets": [
        {"id": mascot["id"]}]})  # fmt: skip
    job = run_job(http, model="compose", reference_sets=[{"id": mascot["id"], "take": 1}])

    assert error_of(refused) == (400, "reference_sets[0]")
    assert "at most 1" in refused.json()["error"]["message"]
    image = pixels_of(http.get(f"/api/assets/{job['assets'][0]}/file").content)
    assert count_near(image, GREEN, 10) > 2000  # the set's first image is the hero


def test_compare_shares_the_sets_with_every_entry(http: httpx.Client, engines: Engines) -> None:
    kit = create(http, brand_kit())
    body = {"prompt": POSTER, "size": "256x256", "reference_sets": [{"id": kit["id"]}],
            "entries": [{"model": "compose"}, {"model": "recording"}]}  # fmt: skip

    response = http.post("/api/compare", json=body)
    assert response.status_code == 202, response.text
    for entry in response.json()["entries"]:
        assert wait_job(http, entry["job_id"])["status"] == "succeeded"

    (request,) = engines.recording.requests
    assert request.brand is not None
    assert request.brand.palette == ("#0b5394", "#f1c232")


def test_compare_names_the_entry_whose_model_cannot_take_the_sets_images(
    http: httpx.Client,
) -> None:
    mascot = character(http, n=2)
    body = {"prompt": POSTER, "reference_sets": [{"id": mascot["id"]}],
            "entries": [{"model": "recording"}, {"model": "compose"}]}  # fmt: skip

    response = http.post("/api/compare", json=body)

    assert error_of(response) == (400, "reference_sets[0]")
    assert response.json()["error"]["message"].startswith("entries[1] (model 'compose'): ")


# -- persistence -------------------------------------------------------------------------


def test_sets_and_queued_brand_jobs_survive_a_restart(
    make_server: StartServer, tmp_path: Path
) -> None:
    home = tmp_path / "shared-home"
    before = make_server(engines=Engines().all(), home=home, workers=0)  # accepts, runs nothing
    with httpx.Client(base_url=before.base_url, timeout=30) as http:
        kit = create(http, brand_kit())
        mascot = character(http, n=2)
        queued = http.post("/api/jobs", json={"prompt": POSTER, "model": "recording",
                                              "reference_sets": [{"id": mascot["id"]},
                                                                 {"id": kit["id"]}]})  # fmt: skip
        assert queued.status_code == 202
    before.stop()

    after_engines = Engines()
    after = make_server(engines=after_engines.all(), home=home)
    try:
        with httpx.Client(base_url=after.base_url, timeout=30) as http:
            job = wait_job(http, queued.json()["id"])
            again = http.get(f"/api/references/{kit['id']}").json()
            logo = http.get(f"/api/references/{kit['id']}/logo").content
            images = [http.get(f"/api/references/{mascot['id']}/images/{i['id']}/file").content
                      for i in mascot["images"]]  # fmt: skip
    finally:
        after_engines.blocking.release()

    assert job["status"] == "succeeded"
    fields = ("id", "name", "kind", "palette", "fonts", "tone", "created", "updated")
    assert {f: again[f] for f in fields} == {f: kit[f] for f in fields}
    assert Image.open(io.BytesIO(logo)).size == (300, 100)
    (request,) = after_engines.recording.requests
    assert [r.image.data for r in request.references] == images
    assert request.brand is not None
    assert request.brand.logo is not None
    assert request.brand.logo.data == logo


def test_deleting_a_set_in_use_breaks_neither_running_nor_finished_jobs(
    http: httpx.Client, engines: Engines
) -> None:
    kit = create(http, brand_kit())
    done = run_job(http, model="compose", reference_sets=[{"id": kit["id"]}])
    running = http.post("/api/jobs", json={"prompt": POSTER, "model": "blocking", "size":
                                           "256x256", "reference_sets": [{"id": kit["id"]}]})  # fmt: skip
    assert engines.blocking.started.wait(10)

    assert http.delete(f"/api/references/{kit['id']}").status_code == 204
    engines.blocking.release()
    finished = wait_job(http, running.json()["id"])

    assert finished["status"] == "succeeded"
    for job in (done, finished):
        assert http.get(f"/api/assets/{job['assets'][0]}/file").status_code == 200
    refused = http.post("/api/jobs", json={"prompt": POSTER, "reference_sets": [{"id": kit["id"]}]})
    assert error_of(refused) == (404, "reference_sets[0].id")


def test_reference_library_works_on_postgresql(
    make_server: StartServer, request: pytest.FixtureRequest, engines: Engines
) -> None:
    url = request.getfixturevalue("postgres_server").create_database("references_api")
    live = make_server(engines=engines.all(), database_url=url)
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        kit = create(http, brand_kit())
        mascot = character(http, n=2)
        duplicate = http.post("/api/references", json=brand_kit())
        run_job(http, model="recording", reference_sets=[{"id": mascot["id"]}, {"id": kit["id"]}])
        listed = http.get("/api/references").json()

    assert error_of(duplicate) == (400, "name")
    assert listed["total"] == 2
    (sent,) = engines.recording.requests
    assert (len(sent.references), sent.brand is not None) == (2, True)


# -- ownership ---------------------------------------------------------------------------

Accounts = tuple[LiveServer, dict[str, str]]


@pytest.fixture
def accounts(make_server: StartServer, engines: Engines) -> Accounts:
    live = make_server(engines=engines.all(), auth="required", rate_limit_per_minute=0)
    keys = {}
    for name, role in (("a", "member"), ("b", "member"), ("admin", "admin")):
        user = live.container.accounts.create_user(f"{name}@example.com", PASSWORD, role)
        live.container.credits.grant(user.id, 10_000)
        keys[name] = live.container.accounts.create_key(user.id, "k")[1]
    return live, keys


def client(live: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=live.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def test_another_users_set_answers_404_like_a_missing_one_everywhere(accounts: Accounts) -> None:
    live, keys = accounts
    with client(live, keys["a"]) as a, client(live, keys["b"]) as b:
        kit = create(a, brand_kit(images=[image_in()]))
        image_id = kit["images"][0]["id"]
        calls = [
            ("GET", "/api/references/{id}", None),
            ("PATCH", "/api/references/{id}", {"name": "mine now"}),
            ("DELETE", "/api/references/{id}", None),
            ("POST", "/api/references/{id}/images", {"images": [image_in()]}),
            ("DELETE", "/api/references/{id}/images/" + image_id, None),
            ("GET", "/api/references/{id}/images/" + image_id + "/file", None),
            ("GET", "/api/references/{id}/logo", None),
        ]
        for method, path, body in calls:
            theirs = b.request(method, path.format(id=kit["id"]), json=body)
            missing = b.request(method, path.format(id="ref_missing"), json=body)
            assert theirs.status_code == missing.status_code == 404, (method, path)
            assert theirs.json()["error"]["code"] == missing.json()["error"]["code"]
        used = b.post("/api/jobs", json={"prompt": POSTER, "reference_sets": [{"id": kit["id"]}]})
        listed = b.get("/api/references").json()
        same_name = b.post("/api/references", json=brand_kit())
        still = a.get(f"/api/references/{kit['id']}").json()

    assert error_of(used) == (404, "reference_sets[0].id")
    assert listed["total"] == 0
    assert same_name.status_code == 201  # names are unique per owner
    assert still == kit


def test_admin_may_read_another_users_set(accounts: Accounts) -> None:
    live, keys = accounts
    with client(live, keys["a"]) as a, client(live, keys["admin"]) as admin:
        kit = create(a, brand_kit())
        seen = admin.get(f"/api/references/{kit['id']}")
        listed = admin.get("/api/references").json()

    assert (seen.status_code, seen.json()["id"]) == (200, kit["id"])
    assert listed["total"] == 0  # the list is the caller's own
