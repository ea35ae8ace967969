"""Jobs accepted by a server with no workers survive its restart and all run afterwards."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from server_support import StartServer

JOBS = 20


def test_restarted_server_completes_jobs_queued_before_restart(
    make_server: StartServer, tmp_path: Path
) -> None:
    home = tmp_path / "restart-home"
    first = make_server(home=home, workers=0)
    with httpx.Client(base_url=first.base_url, timeout=30) as client:
        ids = [
            client.post("/api/jobs", json={"prompt": f"poster {i}", "resolution": "512"})
            .raise_for_status()
            .json()["id"]
            for i in range(JOBS)
        ]
    first.stop()
    second = make_server(home=home, workers=2)
    statuses: dict[str, str] = {}
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=second.base_url, timeout=30) as client:
        while time.monotonic() < deadline:
            statuses = {i: client.get(f"/api/jobs/{i}").json()["status"] for i in ids}
            if all(s in {"succeeded", "failed", "canceled"} for s in statuses.values()):
                break
            time.sleep(0.1)
    assert statuses == dict.fromkeys(ids, "succeeded")


def test_job_falls_back_and_records_it_when_primary_fails(make_server: StartServer) -> None:
    from pixelforge.errors import UpstreamError
    from testing_engines import FailingEngine, ZeroWorkEngine

    live = make_server(
        engines=[FailingEngine("primary", UpstreamError("down")), ZeroWorkEngine("backup")],
        fallbacks={"primary": ["backup"]},
    )
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        job = client.post("/api/jobs", json={"prompt": "x", "model": "primary",
                                             "resolution": "512"}).json()  # fmt: skip
        deadline = time.monotonic() + 30
        while job["status"] not in {"succeeded", "failed"} and time.monotonic() < deadline:
            time.sleep(0.05)
            job = client.get(f"/api/jobs/{job['id']}").json()
        asset = client.get(f"/api/assets/{job['assets'][0]}").json()
    assert job["status"] == "succeeded"
    assert (asset["model"], asset["params"]["fallback_from"]) == ("backup", "primary")
