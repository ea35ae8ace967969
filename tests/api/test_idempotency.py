"""Idempotency-Key semantics (security.md 9.3) on the images and jobs APIs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from pixelforge.store.models import Job
from server_support import LiveServer, StartServer
from testing_engines import BlockingEngine

GENERATIONS = "/v1/images/generations"
BODY = {"prompt": "a quiet harbour", "size": "256x256", "seed": 7}


def job_count(live: LiveServer) -> int:
    with live.container.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_generation_replays_same_body_when_key_and_body_repeat(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "gen-1"}
    first = http.post(GENERATIONS, json=BODY, headers=headers)
    second = http.post(GENERATIONS, json=BODY, headers=headers)
    assert first.status_code == 200
    assert second.content == first.content


def test_generation_marks_replay_header_when_key_repeats(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "gen-2"}
    http.post(GENERATIONS, json=BODY, headers=headers)
    second = http.post(GENERATIONS, json=BODY, headers=headers)
    assert second.headers["Idempotent-Replayed"] == "true"


def test_generation_omits_replay_header_when_first_request(http: httpx.Client) -> None:
    first = http.post(GENERATIONS, json=BODY, headers={"Idempotency-Key": "gen-3"})
    assert "Idempotent-Replayed" not in first.headers


def test_generation_creates_one_job_when_key_repeats(
    server: LiveServer, http: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "gen-4"}
    http.post(GENERATIONS, json=BODY, headers=headers)
    http.post(GENERATIONS, json=BODY, headers=headers)
    assert job_count(server) == 1


def test_generation_creates_two_jobs_when_keys_differ(
    server: LiveServer, http: httpx.Client
) -> None:
    http.post(GENERATIONS, json=BODY, headers={"Idempotency-Key": "gen-5a"})
    http.post(GENERATIONS, json=BODY, headers={"Idempotency-Key": "gen-5b"})
    assert job_count(server) == 2


def test_generation_rejects_reused_key_with_422_when_body_differs(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "gen-6"}
    http.post(GENERATIONS, json=BODY, headers=headers)
    second = http.post(GENERATIONS, json={**BODY, "prompt": "a loud harbour"}, headers=headers)
    assert second.status_code == 422
    assert second.json()["error"]["type"] == "idempotency_error"


def test_generation_reused_key_code_is_key_reused_when_body_differs(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "gen-7"}
    http.post(GENERATIONS, json=BODY, headers=headers)
    second = http.post(GENERATIONS, json={**BODY, "seed": 8}, headers=headers)
    assert second.json()["error"]["code"] == "idempotency_key_reused"


def test_generation_does_not_store_key_when_validation_fails(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "gen-8"}
    http.post(GENERATIONS, json={**BODY, "size": "100x100"}, headers=headers)
    retried = http.post(GENERATIONS, json=BODY, headers=headers)
    assert retried.status_code == 200


def test_generation_rejects_key_when_longer_than_255(http: httpx.Client) -> None:
    response = http.post(GENERATIONS, json=BODY, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 400


def test_generation_answers_409_when_same_key_still_in_flight(make_server: StartServer) -> None:
    engine = BlockingEngine()
    live = make_server(engines=[engine])
    body = {**BODY, "model": "blocking"}
    headers = {"Idempotency-Key": "in-flight"}
    first: list[httpx.Response] = []

    def send_first() -> None:
        with httpx.Client(base_url=live.base_url, timeout=60) as client:
            first.append(client.post(GENERATIONS, json=body, headers=headers))

    thread = threading.Thread(target=send_first)
    thread.start()
    try:
        assert engine.started.wait(10)
        with httpx.Client(base_url=live.base_url, timeout=5) as client:
            second = client.post(GENERATIONS, json=body, headers=headers)
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "idempotency_key_in_use"
        assert second.headers["Retry-After"] == "1"
    finally:
        engine.release()
        thread.join(30)


def test_job_submission_returns_same_job_id_when_key_repeats(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "job-1"}
    first = http.post("/api/jobs", json=BODY, headers=headers)
    second = http.post("/api/jobs", json=BODY, headers=headers)
    assert second.json()["id"] == first.json()["id"]


def test_job_submission_answers_202_both_times_when_key_repeats(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "job-2"}
    first = http.post("/api/jobs", json=BODY, headers=headers)
    second = http.post("/api/jobs", json=BODY, headers=headers)
    assert (first.status_code, second.status_code) == (202, 202)


def test_job_submission_marks_replay_header_when_key_repeats(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "job-3"}
    first = http.post("/api/jobs", json=BODY, headers=headers)
    second = http.post("/api/jobs", json=BODY, headers=headers)
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"


def test_job_submission_rejects_reused_key_with_422_when_body_differs(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "job-4"}
    http.post("/api/jobs", json=BODY, headers=headers)
    second = http.post("/api/jobs", json={**BODY, "n": 2}, headers=headers)
    assert second.status_code == 422
    assert second.json()["error"]["code"] == "idempotency_key_reused"


def test_key_scope_is_per_route_when_same_key_on_two_routes(
    server: LiveServer, http: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "shared"}
    http.post("/api/jobs", json=BODY, headers=headers)
    other = http.post(GENERATIONS, json=BODY, headers=headers)
    assert other.status_code == 200
    assert job_count(server) == 2


def test_job_submission_replays_first_body_when_key_repeats(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "job-5"}
    first = http.post("/api/jobs", json=BODY, headers=headers)
    second = http.post("/api/jobs", json=BODY, headers=headers)
    assert second.json() == first.json()


def test_job_submission_creates_one_job_when_key_repeats(
    server: LiveServer, http: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "job-6"}
    http.post("/api/jobs", json=BODY, headers=headers)
    http.post("/api/jobs", json=BODY, headers=headers)
    assert job_count(server) == 1
