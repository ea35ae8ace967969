"""Local models through the server: listed, run as jobs with their options, checked at submit."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from server_support import StartServer

pytest.importorskip("torch")
pytest.importorskip("diffusers")


def wait(client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if view["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return view
        time.sleep(0.1)


def test_local_model_runs_as_a_job_and_through_the_openai_endpoint(
    make_server: StartServer, local_models_dir: Path,
) -> None:  # fmt: skip
    server = make_server(models_dir=local_models_dir)
    with httpx.Client(base_url=server.base_url, timeout=120) as client:
        ids = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert {"compose", "tiny-sd", "tiny-sd-file", "tiny-sdxl", "tiny-flux"} <= set(ids)

        body = {"prompt": "a red barn", "model": "tiny-sd", "size": "128x128", "seed": 4,
                "options": {"steps": 2, "scheduler": "euler",
                            "loras": [{"name": "tiny-lora", "weight": 0.5}]}}  # fmt: skip
        submitted = client.post("/api/jobs", json=body)
        assert submitted.status_code == 202, submitted.text
        view = wait(client, submitted.json()["id"])
        assert view["status"] == "succeeded", view
        asset = client.get(f"/api/assets/{view['assets'][0]}").json()
        assert asset["model"] == "tiny-sd"
        content = client.get(f"/api/assets/{asset['id']}/file")
        assert Image.open(io.BytesIO(content.content)).size == (128, 128)

        generated = client.post("/v1/images/generations", json={
            "prompt": "a red barn", "model": "tiny-sdxl", "size": "256x256", "n": 2})  # fmt: skip
        assert generated.status_code == 200, generated.text
        sizes = {Image.open(io.BytesIO(base64.b64decode(d["b64_json"]))).size
                 for d in generated.json()["data"]}  # fmt: skip
        assert sizes == {(256, 256)}


@pytest.mark.parametrize(
    ("options", "param", "fragment"),
    [
        ({"scheduler": "k_lms"}, "options.scheduler", "allowed: default, euler"),
        ({"loras": [{"name": "nope"}]}, "options.loras[0].name", "not an installed LoRA"),
        ({"steps": 0}, "options.steps", "greater than or equal to 1"),
        ({"fast_decode": True, "unknown": 1}, "options.unknown", "Extra inputs"),
    ],
)
def test_bad_local_options_are_refused_at_submit(
    make_server: StartServer, local_models_dir: Path, options: dict[str, Any], param: str,
    fragment: str,
) -> None:  # fmt: skip
    server = make_server(models_dir=local_models_dir, workers=0)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        response = client.post("/api/jobs", json={"prompt": "x", "model": "tiny-sd",
                                                  "options": options})  # fmt: skip
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == param
        assert fragment in error["message"]
