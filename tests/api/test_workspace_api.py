"""Studio workspaces over HTTP: a job's ``workspace`` tags its assets; ``GET /api/assets``
filters by it; what is made from an asset (variations, upscales, text edits, continued edits,
thread turns) inherits the source's workspace unless the request names one; a thread started
from a prompt files its root (and so its turns) under its own; compares tag every entry; other
values are a 400 naming ``workspace``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.text_overlay import TextOverlayEngine
from pixelforge.engines.upscale import UpscaleEngine
from server_support import StartServer
from testing_engines import ZeroWorkEngine

PROMPT = 'Minimal poster, headline "OPEN LATE", warm palette'


@pytest.fixture
def http(make_server: StartServer) -> Iterator[httpx.Client]:
    engines = [ComposeEngine(FontLibrary(), IconSet()), TextOverlayEngine(),
               UpscaleEngine(super_resolution=False), ZeroWorkEngine()]  # fmt: skip
    live = make_server(engines=engines)
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


def finished(http: httpx.Client, response: httpx.Response) -> list[dict[str, Any]]:
    """The assets of the job ``response`` accepted, once it succeeded."""
    assert response.status_code == 202, response.text
    return job_assets(http, response.json()["id"])


def job_assets(http: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    """The job's assets, once it succeeded."""
    deadline = time.monotonic() + 30
    while True:
        view: dict[str, Any] = http.get(f"/api/jobs/{job_id}").json()
        if view["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert view["status"] == "succeeded", view
    return [http.get(f"/api/assets/{a}").json() for a in view["assets"]]


def made(http: httpx.Client, **fields: Any) -> list[dict[str, Any]]:
    body = {"prompt": PROMPT, "model": "compose", "size": "256x256", "seed": 7, **fields}
    return finished(http, http.post("/api/jobs", json=body))


def workspaces(assets: list[dict[str, Any]]) -> list[str | None]:
    return [a["workspace"] for a in assets]


def listed(http: httpx.Client, **params: Any) -> list[str]:
    response = http.get("/api/assets", params=params)
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["data"]]


def error_of(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json()["error"]["param"]


# -- tagging and listing ----------------------------------------------------------------------


def test_job_in_explore_tags_every_asset_explore(http: httpx.Client) -> None:
    assert workspaces(made(http, workspace="explore", n=2)) == ["explore", "explore"]


def test_job_without_workspace_leaves_assets_untagged(http: httpx.Client) -> None:
    assert workspaces(made(http)) == [None]


def test_list_filters_by_workspace(http: httpx.Client) -> None:
    draft = made(http, workspace="draft")[0]["id"]
    explore = made(http, workspace="explore")[0]["id"]
    untagged = made(http)[0]["id"]

    assert listed(http, workspace="draft") == [draft]
    assert listed(http, workspace="explore") == [explore]
    assert listed(http) == [untagged, explore, draft]


def test_list_filter_reports_the_filtered_total(http: httpx.Client) -> None:
    made(http, workspace="draft", n=2)
    made(http, workspace="explore")

    assert http.get("/api/assets", params={"workspace": "draft"}).json()["total"] == 2


def test_list_rejects_an_unknown_workspace_naming_it(http: httpx.Client) -> None:
    assert error_of(http.get("/api/assets", params={"workspace": "drafts"})) == (400, "workspace")


def test_job_rejects_an_unknown_workspace_naming_it(http: httpx.Client) -> None:
    body = {"prompt": PROMPT, "workspace": "gallery"}
    assert error_of(http.post("/api/jobs", json=body)) == (400, "workspace")


# -- inheritance -----------------------------------------------------------------------------


def test_variation_of_an_explore_asset_is_explore(http: httpx.Client) -> None:
    source = made(http, workspace="explore")[0]

    response = http.post(f"/api/assets/{source['id']}/variations", json={"n": 2})

    varied = finished(http, response)
    assert workspaces(varied) == ["explore", "explore"]
    assert {a["parent_id"] for a in varied} == {source["id"]}


def test_variation_of_an_untagged_asset_stays_untagged(http: httpx.Client) -> None:
    source = made(http)[0]

    response = http.post(f"/api/assets/{source['id']}/variations", json={"n": 1})

    assert workspaces(finished(http, response)) == [None]


def test_upscale_of_a_draft_asset_is_draft(http: httpx.Client) -> None:
    source = made(http, workspace="draft", model="zero")[0]

    response = http.post(f"/api/assets/{source['id']}/upscale", json={"model": "classical"})

    assert workspaces(finished(http, response)) == ["draft"]


def test_text_edit_of_an_explore_asset_is_explore(http: httpx.Client) -> None:
    source = made(http, workspace="explore")[0]

    response = http.post(f"/api/assets/{source['id']}/text", json={"headline": "SALE"})

    assert workspaces(finished(http, response)) == ["explore"]


def test_continued_edit_inherits_the_workspace_unless_one_is_given(http: httpx.Client) -> None:
    source = made(http, workspace="explore")[0]
    edit = {"prompt": "make it blue", "mode": "edit", "continue_from": source["id"]}

    assert workspaces(made(http, **edit)) == ["explore"]
    assert workspaces(made(http, **edit, workspace="draft")) == ["draft"]


def test_thread_turn_on_an_explore_asset_is_explore(http: httpx.Client) -> None:
    source = made(http, workspace="explore")[0]
    thread = http.post("/api/threads", json={"asset_id": source["id"]}).json()

    response = http.post(f"/api/threads/{thread['id']}/turns", json={"instruction": "bluer"})
    assert response.status_code == 202, response.text

    assert workspaces(job_assets(http, response.json()["job_id"])) == ["explore"]


# -- compare ---------------------------------------------------------------------------------


def test_compare_in_explore_tags_every_entry_explore(http: httpx.Client) -> None:
    body = {"prompt": PROMPT, "size": "256x256", "workspace": "explore",
            "entries": [{"model": "compose"}, {"model": "zero"}]}  # fmt: skip
    response = http.post("/api/compare", json=body)
    assert response.status_code == 202, response.text

    jobs = [e["job_id"] for e in response.json()["entries"]]
    assets = [a for job in jobs for a in job_assets(http, job)]
    assert workspaces(assets) == ["explore", "explore"]
    assert len(listed(http, workspace="explore")) == 2


def test_thread_from_a_prompt_files_its_root_and_turns_under_its_workspace(
    http: httpx.Client,
) -> None:
    body = {"prompt": PROMPT, "model": "compose", "size": "256x256", "workspace": "draft"}
    response = http.post("/api/threads", json=body)
    assert response.status_code == 202, response.text
    (root,) = response.json()["nodes"]
    assert workspaces(job_assets(http, root["job_id"])) == ["draft"]

    turn = http.post(f"/api/threads/{response.json()['id']}/turns", json={"instruction": "bluer"})
    assert turn.status_code == 202, turn.text
    assert workspaces(job_assets(http, turn.json()["job_id"])) == ["draft"]


def test_thread_from_a_prompt_without_workspace_stays_untagged(http: httpx.Client) -> None:
    response = http.post("/api/threads", json={"prompt": PROMPT, "size": "256x256"})
    assert response.status_code == 202, response.text
    (root,) = response.json()["nodes"]
    assert workspaces(job_assets(http, root["job_id"])) == [None]


def test_thread_workspace_errors_name_the_field(http: httpx.Client) -> None:
    source = made(http, workspace="explore")[0]
    from_asset = {"asset_id": source["id"], "workspace": "draft"}  # the asset's own applies
    assert error_of(http.post("/api/threads", json=from_asset)) == (400, "workspace")
    bad = {"prompt": PROMPT, "workspace": "gallery"}
    assert error_of(http.post("/api/threads", json=bad)) == (400, "workspace")
