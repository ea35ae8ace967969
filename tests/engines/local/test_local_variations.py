"""Variations on a real (tiny, random-weight) diffusers pipeline: subtle and strong reach the
image-to-image pipeline as its strength, and the asset's own settings come along."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixelforge.store.models import Job
from server_support import LiveServer, StartServer

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def sd_models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_sd15_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("models-sd")
    (root / "tiny-sd").symlink_to(tiny_sd15_dir)
    return root


def finished(client: httpx.Client, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 120
    view: dict[str, Any] = response.json()
    while view["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        view = client.get(f"/api/jobs/{view['id']}").json()
    assert view["status"] == "succeeded", view
    return view


def options_of(live: LiveServer, job_id: str) -> dict[str, Any]:
    with live.container.db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return dict(job.request["options"])


def test_subtle_and_strong_reach_the_local_image_to_image_pipeline(
    make_server: StartServer, sd_models_dir: Path
) -> None:
    live = make_server(models_dir=sd_models_dir)
    with httpx.Client(base_url=live.base_url, timeout=120) as client:
        body = {"prompt": "a red barn", "model": "tiny-sd", "size": "64x64", "seed": 4,
                "options": {"steps": 2, "guidance": 1.5}}  # fmt: skip
        source = finished(client, client.post("/api/jobs", json=body))["assets"][0]
        runs = {}
        for level in ("subtle", "strong"):
            job = finished(client, client.post(f"/api/assets/{source}/variations",
                                               json={"n": 1, "strength": level}))  # fmt: skip
            runs[level] = (job, client.get(f"/api/assets/{job['assets'][0]}").json())

    for level, value in (("subtle", 0.3), ("strong", 0.7)):
        job, asset = runs[level]
        options = options_of(live, job["id"])
        assert (options["strength"], options["steps"], options["guidance"]) == (value, 2, 1.5)
        assert (asset["parent_id"], asset["prompt"], asset["width"]) == (source, "a red barn", 64)
    # Image-to-image runs int(steps * strength) steps, at least one: the pipeline is given
    # ceil(1 / strength) steps when that is more than asked, so the strength it got shows.
    steps = [runs[level][1]["params"]["steps"] for level in ("subtle", "strong")]
    assert steps == ["4", "2"]
