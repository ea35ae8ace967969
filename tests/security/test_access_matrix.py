"""Who may touch what: every resource route x {anonymous, owner, other user, admin}.

Users A and B are members, plus one admin; each calls with an API key (Bearer). A owns the
objects. Another member gets a 404 that cannot be told apart from a missing id (no BOLA
oracle); admins see everything.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from server_support import LiveServer, start_server
from testing_engines import BlockingEngine, ZeroWorkEngine

JOB = {"model": "zero", "prompt": "a paper crane", "size": "256x256"}
PASSWORD = "correct horse battery"
CREDITS = 10_000_000


@dataclass
class World:
    live: LiveServer
    http: httpx.Client
    engine: BlockingEngine
    keys: dict[str, str]  # principal name -> raw API key
    user_ids: dict[str, str]
    job_id: str  # A's finished job
    asset_id: str  # its asset
    b_asset_id: str  # one of B's assets

    def headers(self, principal: str) -> dict[str, str]:
        if principal == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.keys[principal]}"}

    def submit(self, principal: str, model: str = "zero") -> str:
        response = self.http.post(
            "/api/jobs", json={**JOB, "model": model}, headers=self.headers(principal)
        )
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        return job_id

    def finished(self, principal: str) -> tuple[str, str]:
        """A new succeeded job of ``principal``: (job id, its first asset id)."""
        job_id = self.submit(principal)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            view = self.http.get(f"/api/jobs/{job_id}", headers=self.headers(principal)).json()
            if view["status"] == "succeeded":
                return job_id, view["assets"][0]
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} did not finish: {view}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    engine = BlockingEngine()
    home: Path = tmp_path_factory.mktemp("matrix")
    live = start_server(
        home, [ZeroWorkEngine(), engine], auth="required", rate_limit_per_minute=0, workers=4
    )
    accounts, credits = live.container.accounts, live.container.credits
    keys, user_ids = {}, {}
    for name, role in (("A", "member"), ("B", "member"), ("admin", "admin")):
        user = accounts.create_user(f"{name.lower()}@example.com", PASSWORD, role)
        credits.grant(user.id, CREDITS)
        keys[name] = accounts.create_key(user.id, "k")[1]
        user_ids[name] = user.id
    try:
        with httpx.Client(base_url=live.base_url, timeout=20) as http:
            world = World(live, http, engine, keys, user_ids, "", "", "")
            world.job_id, world.asset_id = world.finished("A")
            world.b_asset_id = world.finished("B")[1]
            yield world
    finally:
        engine.release()
        live.stop()


# -- the matrix ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # with one {id}
    target: Callable[[World], str]  # makes (or picks) an object of A's
    ok: int
    missing_prefix: str

    def url(self, object_id: str) -> str:
        return self.path.format(id=object_id)


def _a_key(world: World) -> str:
    return world.live.container.accounts.create_key(world.user_ids["A"], "victim")[0].id


def _a_compare(world: World) -> str:
    entries = [{"model": "zero", "label": "one"}, {"model": "zero", "label": "two"}]
    body = {"prompt": JOB["prompt"], "size": JOB["size"], "entries": entries}
    response = world.http.post("/api/compare", json=body, headers=world.headers("A"))
    assert response.status_code == 202, response.text
    compare_id: str = response.json()["id"]
    return compare_id


def _a_thread(world: World) -> str:
    body = {"asset_id": world.asset_id}
    response = world.http.post("/api/threads", json=body, headers=world.headers("A"))
    assert response.status_code == 201, response.text
    thread_id: str = response.json()["id"]
    return thread_id


def _a_reference_set(world: World) -> str:
    logo = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
    body = {"name": f"kit {uuid.uuid4().hex}", "kind": "brand_kit", "logo": {"b64_json": logo}}
    response = world.http.post("/api/references", json=body, headers=world.headers("A"))
    assert response.status_code == 201, response.text
    set_id: str = response.json()["id"]
    return set_id


def _a_file(world: World) -> str:
    line = {"custom_id": "c", "method": "POST", "url": "/v1/images/generations", "body": JOB}
    files = {"file": ("r.jsonl", json.dumps(line).encode() + b"\n")}
    response = world.http.post("/v1/files", files=files, data={"purpose": "batch"},
                               headers=world.headers("A"))  # fmt: skip
    assert response.status_code == 200, response.text
    file_id: str = response.json()["id"]
    return file_id


def _a_batch(world: World) -> str:
    """A finished one-request batch of A's."""
    body = {"input_file_id": _a_file(world), "endpoint": "/v1/images/generations",
            "completion_window": "24h"}  # fmt: skip
    response = world.http.post("/v1/batches", json=body, headers=world.headers("A"))
    assert response.status_code == 200, response.text
    batch_id: str = response.json()["id"]
    deadline = time.monotonic() + 20
    while response.json()["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.05)
        response = world.http.get(f"/v1/batches/{batch_id}", headers=world.headers("A"))
    return batch_id


ROUTES = [
    Route("get_job", "GET", "/api/jobs/{id}", lambda w: w.job_id, 200, "job"),
    Route("job_events", "GET", "/api/jobs/{id}/events", lambda w: w.job_id, 200, "job"),
    Route(
        "cancel_job",
        "POST",
        "/api/jobs/{id}/cancel",
        lambda w: w.submit("A", "blocking"),
        200,
        "job",
    ),
    Route("get_asset", "GET", "/api/assets/{id}", lambda w: w.asset_id, 200, "asset"),
    Route("get_asset_file", "GET", "/api/assets/{id}/file", lambda w: w.asset_id, 200, "asset"),
    Route("delete_asset", "DELETE", "/api/assets/{id}", lambda w: w.finished("A")[1], 204, "asset"),
    Route("delete_key", "DELETE", "/api/keys/{id}", _a_key, 200, "key"),
    Route("get_compare", "GET", "/api/compare/{id}", _a_compare, 200, "cmp"),
    Route("get_reference_set", "GET", "/api/references/{id}", _a_reference_set, 200, "ref"),
    Route("get_reference_logo", "GET", "/api/references/{id}/logo", _a_reference_set, 200, "ref"),
    Route("delete_reference_set", "DELETE", "/api/references/{id}", _a_reference_set, 204, "ref"),
    Route("get_thread", "GET", "/api/threads/{id}", _a_thread, 200, "thr"),
    Route("delete_thread", "DELETE", "/api/threads/{id}", _a_thread, 204, "thr"),
    Route("get_file", "GET", "/v1/files/{id}", _a_file, 200, "file"),
    Route("get_file_content", "GET", "/v1/files/{id}/content", _a_file, 200, "file"),
    Route("delete_file", "DELETE", "/v1/files/{id}", _a_file, 200, "file"),
    Route("get_batch", "GET", "/v1/batches/{id}", _a_batch, 200, "batch"),
    # The owner's answer is 409 (the batch has ended); another member's is still the 404.
    Route("cancel_batch", "POST", "/v1/batches/{id}/cancel", _a_batch, 409, "batch"),
]
EXPECTED = {"anonymous": 401, "A": None, "B": 404, "admin": None}  # None: the route's own 2xx


def call(world: World, route: Route, object_id: str, principal: str) -> httpx.Response:
    """The response, read in full except for event streams (status and headers only)."""
    request = world.http.build_request(
        route.method, route.url(object_id), headers=world.headers(principal)
    )
    response = world.http.send(request, stream=True)
    try:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
    finally:
        response.close()
    return response


@pytest.fixture
def cleanup(world: World) -> Iterator[list[str]]:
    """Job ids to cancel after the test, so blocking jobs never hold the workers."""
    jobs: list[str] = []
    yield jobs
    for job_id in jobs:
        world.live.container.jobs.cancel(job_id)


@pytest.mark.parametrize("principal", list(EXPECTED))
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_resource_route_answers_expected_status_when_called_by_principal(
    world: World, cleanup: list[str], route: Route, principal: str
) -> None:
    object_id = route.target(world)
    if route.name == "cancel_job" and principal in ("anonymous", "B"):
        cleanup.append(object_id)
    response = call(world, route, object_id, principal)
    assert response.status_code == (EXPECTED[principal] or route.ok), response.text


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_resource_route_sends_bearer_challenge_when_anonymous(
    world: World, cleanup: list[str], route: Route
) -> None:
    object_id = route.target(world)
    if route.name == "cancel_job":
        cleanup.append(object_id)
    response = call(world, route, object_id, "anonymous")
    error = response.json()["error"]
    assert (response.headers.get("www-authenticate"), set(error), error["type"]) == (
        "Bearer",
        {"message", "type", "param", "code"},
        "authentication_error",
    )


def _shape(response: httpx.Response) -> tuple[int, Any, Any, Any]:
    error = response.json()["error"]
    return response.status_code, error["type"], error["code"], error["param"]


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_resource_route_hides_object_like_missing_id_when_other_member(
    world: World, cleanup: list[str], route: Route
) -> None:
    object_id = route.target(world)
    if route.name == "cancel_job":
        cleanup.append(object_id)
    missing = f"{route.missing_prefix}_{uuid.uuid4().hex}"
    assert _shape(call(world, route, object_id, "B")) == _shape(call(world, route, missing, "B"))


# -- lists -----------------------------------------------------------------------------------


def _ids(world: World, path: str, principal: str) -> set[str]:
    response = world.http.get(path, headers=world.headers(principal), params={"limit": 200})
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["data"]}


def test_asset_list_excludes_other_users_assets_when_member(world: World) -> None:
    assert world.asset_id not in _ids(world, "/api/assets", "B")


def test_asset_list_includes_own_assets_when_member(world: World) -> None:
    assert world.b_asset_id in _ids(world, "/api/assets", "B")


def test_asset_list_includes_every_users_assets_when_admin(world: World) -> None:
    assert {world.asset_id, world.b_asset_id} <= _ids(world, "/api/assets", "admin")


def _key_ids(world: World, principal: str) -> set[str]:
    accounts = world.live.container.accounts
    return {key.id for key in accounts.list_keys(world.user_ids[principal])}


def test_key_list_excludes_other_users_keys_when_member(world: World) -> None:
    assert not _key_ids(world, "A") & _ids(world, "/api/keys", "B")


def test_key_list_includes_every_users_keys_when_admin(world: World) -> None:
    assert _key_ids(world, "A") | _key_ids(world, "B") <= _ids(world, "/api/keys", "admin")


# -- admin routes ----------------------------------------------------------------------------

ADMIN_PATHS = ["/api/admin/users", "/api/admin/usage", "/metrics"]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_route_refuses_with_admin_required_when_member(world: World, path: str) -> None:
    response = world.http.get(path, headers=world.headers("A"))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "admin_required")


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_route_answers_200_when_admin(world: World, path: str) -> None:
    assert world.http.get(path, headers=world.headers("admin")).status_code == 200


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_route_answers_401_when_anonymous(world: World, path: str) -> None:
    assert world.http.get(path).status_code == 401


def test_protected_route_answers_401_when_host_header_smuggles_a_path(world: World) -> None:
    response = world.http.get("/api/admin/users", headers={"Host": "x/healthz?"})
    assert response.status_code in (400, 401)
