"""A server that stops while a job runs puts the job back in the queue, attempt not spent."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from server_support import StartServer
from testing_engines import BlockingEngine, ZeroWorkEngine


def test_stopping_server_requeues_running_job_without_spending_attempt(
    make_server: StartServer, tmp_path: Path
) -> None:
    home = tmp_path / "shutdown-home"
    engine = BlockingEngine()
    first = make_server(engines=[engine], home=home, workers=1)
    with httpx.Client(base_url=first.base_url, timeout=30) as client:
        job_id = client.post("/api/jobs", json={"prompt": "x", "model": "blocking",
                                                "resolution": "512"}).json()["id"]  # fmt: skip
    assert engine.started.wait(10)
    first.stop()
    job = first.container.queue.get(job_id)
    assert job is not None
    assert (job.status, job.attempts) == ("queued", 0)


def test_restarted_server_finishes_job_released_at_shutdown(
    make_server: StartServer, tmp_path: Path
) -> None:
    home = tmp_path / "shutdown-home-2"
    blocking = BlockingEngine()
    first = make_server(engines=[blocking], home=home, workers=1)
    with httpx.Client(base_url=first.base_url, timeout=30) as client:
        job_id = client.post("/api/jobs", json={"prompt": "x", "model": "blocking",
                                                "resolution": "512"}).json()["id"]  # fmt: skip
    assert blocking.started.wait(10)
    first.stop()
    second = make_server(engines=[ZeroWorkEngine("blocking")], home=home, workers=1)
    deadline = time.monotonic() + 30
    status = ""
    with httpx.Client(base_url=second.base_url, timeout=30) as client:
        while time.monotonic() < deadline and status != "succeeded":
            body = client.get(f"/api/jobs/{job_id}").json()
            status = body["status"]
            time.sleep(0.05)
    assert (status, body["attempts"]) == ("succeeded", 1)
