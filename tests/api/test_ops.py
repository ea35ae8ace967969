"""Operations endpoints: liveness, readiness, metrics, docs."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from server_support import LiveServer, StartServer


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def test_healthz_answers_200_when_running(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_200_with_all_workers_when_running(http: httpx.Client) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "workers": "2/2"}


def test_readyz_counts_zero_workers_as_ready_when_workers_zero(make_server: StartServer) -> None:
    # workers=0 means "accept jobs, run none" (config.py): 0/0 alive is ready by design.
    live = make_server(workers=0)
    response = httpx.get(f"{live.base_url}/readyz")
    assert response.status_code == 200
    assert response.json()["workers"] == "0/0"


def test_metrics_exposes_request_counter_when_scraped(http: httpx.Client) -> None:
    http.get("/healthz")
    assert "pixelforge_http_requests_total" in http.get("/metrics").text


def test_metrics_counts_requests_by_route_when_scraped(http: httpx.Client) -> None:
    http.get("/healthz")
    text = http.get("/metrics").text
    assert 'pixelforge_http_requests_total{method="GET",route="/healthz",status="200"}' in text


def test_metrics_exposes_queue_depth_when_scraped(http: httpx.Client) -> None:
    assert "pixelforge_queue_depth " in http.get("/metrics").text


def test_metrics_queue_depth_counts_queued_jobs_when_no_workers(
    make_server: StartServer,
) -> None:
    live = make_server(workers=0)
    with httpx.Client(base_url=live.base_url, timeout=10) as client:
        client.post("/api/jobs", json={"prompt": "a", "size": "256x256"})
        client.post("/api/jobs", json={"prompt": "b", "size": "256x256"})
        text = client.get("/metrics").text
    assert "pixelforge_queue_depth 2.0" in text


def test_metrics_records_job_seconds_when_job_finished(http: httpx.Client) -> None:
    http.post("/v1/images/generations", json={"prompt": "a bell", "size": "256x256"})
    text = http.get("/metrics").text
    assert 'pixelforge_job_seconds_count{model="compose"} 1.0' in text


def test_metrics_uses_prometheus_content_type_when_scraped(http: httpx.Client) -> None:
    assert http.get("/metrics").headers["content-type"].startswith("text/plain")


def test_docs_serves_html_when_requested(http: httpx.Client) -> None:
    response = http.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_openapi_lists_generations_route_when_requested(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert "/v1/images/generations" in paths
    assert "/api/jobs" in paths
