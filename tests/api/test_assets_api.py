"""Native assets API: list (paging, filters), read, download in another format, delete."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from server_support import StartServer
from testing_engines import BlockingEngine, ZeroWorkEngine


def make_asset(client: httpx.Client, prompt: str, model: str = "zero") -> str:
    body = {"prompt": prompt, "model": model, "size": "256x256"}
    job_id = client.post("/api/jobs", json=body).json()["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        view: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if view["status"] == "succeeded":
            return str(view["assets"][0])
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not succeed: {view}")


@pytest.fixture
def http(make_server: StartServer) -> Iterator[httpx.Client]:
    released = BlockingEngine("other")
    released.release()
    live = make_server(engines=[ZeroWorkEngine(), released])
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def three(http: httpx.Client) -> list[str]:
    """Three assets, oldest first: a red barn (zero), a blue lake (zero), a red kite (other)."""
    return [
        make_asset(http, "a red barn"),
        make_asset(http, "a blue lake"),
        make_asset(http, "a red kite", model="other"),
    ]


def ids(page: dict[str, Any]) -> list[str]:
    return [a["id"] for a in page["data"]]


def test_list_returns_all_assets_newest_first(http: httpx.Client, three: list[str]) -> None:
    page = http.get("/api/assets").json()
    assert ids(page) == list(reversed(three))


def test_list_reports_total_when_listed(http: httpx.Client, three: list[str]) -> None:
    assert http.get("/api/assets").json()["total"] == 3


def test_list_reports_has_more_when_limit_below_total(http: httpx.Client, three: list[str]) -> None:
    page = http.get("/api/assets", params={"limit": 1}).json()
    assert len(page["data"]) == 1
    assert page["has_more"] is True


def test_list_reports_no_more_when_last_page(http: httpx.Client, three: list[str]) -> None:
    page = http.get("/api/assets", params={"limit": 1, "offset": 2}).json()
    assert ids(page) == [three[0]]
    assert page["has_more"] is False


def test_list_pages_cover_every_asset_once_when_limit_one(
    http: httpx.Client, three: list[str]
) -> None:
    seen = [
        asset_id
        for offset in range(3)
        for asset_id in ids(http.get("/api/assets", params={"limit": 1, "offset": offset}).json())
    ]
    assert seen == list(reversed(three))


def test_list_filters_by_model_when_model_given(http: httpx.Client, three: list[str]) -> None:
    page = http.get("/api/assets", params={"model": "other"}).json()
    assert ids(page) == [three[2]]


def test_list_filters_by_prompt_text_when_q_given(http: httpx.Client, three: list[str]) -> None:
    page = http.get("/api/assets", params={"q": "red"}).json()
    assert ids(page) == [three[2], three[0]]


def test_list_prompt_filter_ignores_case_when_q_given(http: httpx.Client, three: list[str]) -> None:
    page = http.get("/api/assets", params={"q": "BLUE"}).json()
    assert ids(page) == [three[1]]


def test_list_rejects_limit_when_zero(http: httpx.Client) -> None:
    response = http.get("/api/assets", params={"limit": 0})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "limit"


def test_get_returns_asset_record_when_exists(http: httpx.Client) -> None:
    asset_id = make_asset(http, "a green door")
    asset = http.get(f"/api/assets/{asset_id}").json()
    assert (asset["id"], asset["prompt"], asset["width"]) == (asset_id, "a green door", 256)


def test_get_unknown_asset_answers_404(http: httpx.Client) -> None:
    response = http.get("/api/assets/asset_missing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "asset_not_found"


def test_file_returns_png_when_no_format(http: httpx.Client) -> None:
    response = http.get(f"/api/assets/{make_asset(http, 'a door')}/file")
    assert response.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(response.content)).format == "PNG"


def test_file_converts_to_jpeg_when_format_jpeg(http: httpx.Client) -> None:
    asset_id = make_asset(http, "a door")
    response = http.get(f"/api/assets/{asset_id}/file", params={"format": "jpeg"})
    assert response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).format == "JPEG"


def test_file_rejects_format_when_gif(http: httpx.Client) -> None:
    asset_id = make_asset(http, "a door")
    response = http.get(f"/api/assets/{asset_id}/file", params={"format": "gif"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "format"


def test_delete_answers_204_when_asset_exists(http: httpx.Client) -> None:
    response = http.delete(f"/api/assets/{make_asset(http, 'a door')}")
    assert response.status_code == 204
    assert response.content == b""


def test_get_answers_404_when_asset_deleted(http: httpx.Client) -> None:
    asset_id = make_asset(http, "a door")
    http.delete(f"/api/assets/{asset_id}")
    assert http.get(f"/api/assets/{asset_id}").status_code == 404


def test_file_answers_404_when_asset_deleted(http: httpx.Client) -> None:
    asset_id = make_asset(http, "a door")
    http.delete(f"/api/assets/{asset_id}")
    assert http.get(f"/api/assets/{asset_id}/file").status_code == 404


def test_list_omits_asset_when_deleted(http: httpx.Client, three: list[str]) -> None:
    http.delete(f"/api/assets/{three[1]}")
    page = http.get("/api/assets").json()
    assert ids(page) == [three[2], three[0]]
    assert page["total"] == 2


def test_delete_answers_404_when_deleted_twice(http: httpx.Client) -> None:
    asset_id = make_asset(http, "a door")
    http.delete(f"/api/assets/{asset_id}")
    assert http.delete(f"/api/assets/{asset_id}").status_code == 404
