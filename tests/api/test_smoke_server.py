"""The server starts, answers health checks and serves the model list."""

from __future__ import annotations

import httpx

from server_support import LiveServer


def test_healthz_answers_ok_when_started(server: LiveServer) -> None:
    response = httpx.get(f"{server.base_url}/healthz")
    assert response.json() == {"status": "ok"}


def test_every_response_has_request_id_when_served(server: LiveServer) -> None:
    response = httpx.get(f"{server.base_url}/v1/models")
    assert response.headers["x-request-id"].startswith("req_")
