"""Native jobs API: submit (202), read, watch (SSE), cancel."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server_support import LiveServer, StartServer
from testing_engines import BlockingEngine

BODY = {"prompt": "a paper crane", "size": "256x256"}


def wait_for_status(
    client: httpx.Client, job_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if view["status"] in statuses or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def read_events(
    client: httpx.Client, job_id: str, on_event: Any = None
) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs until the stream ends."""
    events: list[tuple[str, dict[str, Any]]] = []
    name = "message"
    with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
                if on_event is not None:
                    on_event(name)
    return events


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_submit_answers_202_when_body_valid(http: httpx.Client) -> None:
    assert http.post("/api/jobs", json=BODY).status_code == 202


def test_submit_sets_location_header_to_job_when_accepted(http: httpx.Client) -> None:
    response = http.post("/api/jobs", json=BODY)
    assert response.headers["location"] == f"/api/jobs/{response.json()['id']}"


def test_submit_returns_job_object_when_accepted(http: httpx.Client) -> None:
    body = http.post("/api/jobs", json=BODY).json()
    assert body["object"] == "image.job"
    assert body["id"].startswith("job_")
    assert body["status"] in {"queued", "running", "succeeded"}


def test_submit_rejects_unknown_model_with_400(http: httpx.Client) -> None:
    response = http.post("/api/jobs", json={**BODY, "model": "no-such-model"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


def test_job_succeeds_with_assets_when_polled(http: httpx.Client) -> None:
    job_id = http.post("/api/jobs", json={**BODY, "n": 2}).json()["id"]
    view = wait_for_status(http, job_id, {"succeeded", "failed", "canceled"})
    assert view["status"] == "succeeded"
    assert len(view["assets"]) == 2


def test_job_assets_are_readable_when_succeeded(http: httpx.Client) -> None:
    job_id = http.post("/api/jobs", json=BODY).json()["id"]
    view = wait_for_status(http, job_id, {"succeeded"})
    asset = http.get(f"/api/assets/{view['assets'][0]}").json()
    assert asset["job_id"] == job_id


def test_events_end_with_done_when_job_succeeds(http: httpx.Client) -> None:
    job_id = http.post("/api/jobs", json=BODY).json()["id"]
    events = read_events(http, job_id)
    assert events[-1][0] == "done"
    assert events[-1][1]["status"] == "succeeded"


def test_events_include_progress_when_job_running(make_server: StartServer) -> None:
    engine = BlockingEngine()
    live = make_server(engines=[engine])

    def release_on_progress(name: str) -> None:
        if name == "progress":
            engine.release()

    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        job_id = client.post("/api/jobs", json={**BODY, "model": "blocking"}).json()["id"]
        try:
            names = [name for name, _ in read_events(client, job_id, release_on_progress)]
        finally:
            engine.release()
    assert "progress" in names
    assert names[-1] == "done"


def test_events_report_queue_position_when_no_workers(make_server: StartServer) -> None:
    live = make_server(workers=0)
    with httpx.Client(base_url=live.base_url, timeout=10) as client:
        job_id = client.post("/api/jobs", json=BODY).json()["id"]
        with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("event: "))
            data = json.loads(next(lines).removeprefix("data: "))
    assert first == "event: queued"
    assert data["queue_position"] == 0


def test_events_for_unknown_job_answer_404(http: httpx.Client) -> None:
    response = http.get("/api/jobs/job_missing/events")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


def test_cancel_cancels_queued_job_when_no_workers(make_server: StartServer) -> None:
    live = make_server(workers=0)
    with httpx.Client(base_url=live.base_url, timeout=10) as client:
        job_id = client.post("/api/jobs", json=BODY).json()["id"]
        cancelled = client.post(f"/api/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "canceled"


def test_cancel_is_idempotent_when_job_already_canceled(make_server: StartServer) -> None:
    live = make_server(workers=0)
    with httpx.Client(base_url=live.base_url, timeout=10) as client:
        job_id = client.post("/api/jobs", json=BODY).json()["id"]
        client.post(f"/api/jobs/{job_id}/cancel")
        again = client.post(f"/api/jobs/{job_id}/cancel")
    assert again.status_code == 200
    assert again.json()["status"] == "canceled"


def test_cancel_stops_running_job_without_release(make_server: StartServer) -> None:
    engine = BlockingEngine()
    # A short lease makes the lease keeper notice the cancel request within ~0.2 s.
    live = make_server(engines=[engine], lease_seconds=0.6)
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        job_id = client.post("/api/jobs", json={**BODY, "model": "blocking"}).json()["id"]
        try:
            assert engine.started.wait(10)
            client.post(f"/api/jobs/{job_id}/cancel")
            view = wait_for_status(client, job_id, {"succeeded", "failed", "canceled"})
            released = engine.release_event.is_set()
        finally:
            engine.release()
    assert view["status"] == "canceled"
    assert not released


def test_cancel_of_running_job_is_accepted_with_200(make_server: StartServer) -> None:
    engine = BlockingEngine()
    live = make_server(engines=[engine], lease_seconds=0.6)
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        job_id = client.post("/api/jobs", json={**BODY, "model": "blocking"}).json()["id"]
        try:
            assert engine.started.wait(10)
            response = client.post(f"/api/jobs/{job_id}/cancel")
        finally:
            engine.release()
    assert response.status_code == 200


def test_cancel_of_finished_job_answers_409_state_conflict(http: httpx.Client) -> None:
    job_id = http.post("/api/jobs", json=BODY).json()["id"]
    wait_for_status(http, job_id, {"succeeded"})
    response = http.post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_state_conflict"


def test_cancel_of_finished_job_leaves_it_succeeded(http: httpx.Client) -> None:
    job_id = http.post("/api/jobs", json=BODY).json()["id"]
    wait_for_status(http, job_id, {"succeeded"})
    http.post(f"/api/jobs/{job_id}/cancel")
    assert http.get(f"/api/jobs/{job_id}").json()["status"] == "succeeded"


def test_get_unknown_job_answers_404_job_not_found(http: httpx.Client) -> None:
    response = http.get("/api/jobs/job_does_not_exist")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": response.json()["error"]["message"],
        "type": "not_found_error",
        "param": "job_id",
        "code": "job_not_found",
    }


def test_cancel_unknown_job_answers_404_job_not_found(http: httpx.Client) -> None:
    response = http.post("/api/jobs/job_does_not_exist/cancel")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"
