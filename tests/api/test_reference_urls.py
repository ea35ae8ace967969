"""Reference images by URL: off by default; when on, internal addresses are refused."""

from __future__ import annotations

import httpx

from server_support import StartServer

JOB = {"prompt": "x", "resolution": "512", "mode": "edit"}


def test_reference_url_refused_when_feature_off(make_server: StartServer) -> None:
    live = make_server()
    body = {**JOB, "references": [{"url": "https://example.com/a.png"}]}
    response = httpx.post(f"{live.base_url}/api/jobs", json=body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "feature_disabled"


def test_reference_url_to_loopback_refused_when_feature_on(make_server: StartServer) -> None:
    live = make_server(allow_reference_urls=True)
    body = {**JOB, "references": [{"url": f"{live.base_url}/healthz"}]}
    response = httpx.post(f"{live.base_url}/api/jobs", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert response.json()["error"]["param"] == "references[0].url"


def test_reference_with_two_sources_refused(make_server: StartServer) -> None:
    live = make_server()
    body = {**JOB, "references": [{"url": "https://example.com/a.png", "asset_id": "img_x"}]}
    response = httpx.post(f"{live.base_url}/api/jobs", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "references[0]"
