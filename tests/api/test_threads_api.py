"""Edit threads over HTTP: start from an asset or a prompt, turns on compose and the test
engines, branches (two turns on one node are siblings), switching models mid-thread, masks and
references, the 409 on an unfinished or failed node, restarts, ownership, credits and
idempotency."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.errors import EngineError
from pixelforge.store.models import Job, Thread, ThreadNode
from server_support import LiveServer, StartServer
from testing_engines import BlockingEngine, FailingEngine, ZeroWorkEngine

PROMPT = 'Minimal poster, headline "OPEN LATE", warm palette'
PASSWORD = "correct horse battery"


def engines() -> list[Any]:
    return [
        ComposeEngine(FontLibrary(), IconSet()), ZeroWorkEngine(), ZeroWorkEngine("zero-2"),
        FailingEngine("broken", EngineError("the test engine failed")),
    ]  # fmt: skip


@pytest.fixture
def live(make_server: StartServer) -> LiveServer:
    return make_server(engines=engines())


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


def wait_job(http: httpx.Client, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = http.get(f"/api/jobs/{job_id}").json()
        if view["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def wait_idle(http: httpx.Client, thread_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = http.get(f"/api/threads/{thread_id}").json()
        if view["status"] == "idle" or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def an_asset(http: httpx.Client, model: str = "compose", **fields: Any) -> dict[str, Any]:
    body = {"prompt": PROMPT, "model": model, "size": "256x256", "seed": 7, **fields}
    response = http.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    job = wait_job(http, response.json()["id"])
    assert job["status"] == "succeeded", job
    asset: dict[str, Any] = http.get(f"/api/assets/{job['assets'][0]}").json()
    return asset


def start(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/api/threads", json=body)
    assert response.status_code in (201, 202), response.text
    return wait_idle(http, response.json()["id"])


def turn(http: httpx.Client, thread_id: str, instruction: str, **body: Any) -> dict[str, Any]:
    """Post a turn, wait for it; the node as the thread shows it once finished."""
    response = http.post(f"/api/threads/{thread_id}/turns",
                         json={"instruction": instruction, **body})  # fmt: skip
    assert response.status_code == 202, response.text
    node_id = response.json()["id"]
    view = wait_idle(http, thread_id)
    return next(n for n in view["nodes"] if n["id"] == node_id)


def nodes_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in view["nodes"]}


def error_of(response: httpx.Response) -> tuple[int, str | None, str | None]:
    error = response.json()["error"]
    return response.status_code, error["param"], error["code"]


def png_b64(size: tuple[int, int], alpha: int = 0) -> str:
    buf = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 0, alpha)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


# -- starting ----------------------------------------------------------------------------


def test_start_from_asset_makes_a_finished_root_on_that_asset(http: httpx.Client) -> None:
    asset = an_asset(http)

    response = http.post("/api/threads", json={"asset_id": asset["id"]})

    view = response.json()
    assert response.status_code == 201
    assert response.headers["location"] == f"/api/threads/{view['id']}"
    (root,) = view["nodes"]
    assert (view["object"], view["status"], view["root_id"], view["head_id"]) == (
        "thread", "idle", root["id"], root["id"],
    )  # fmt: skip
    assert (root["parent_id"], root["status"], root["asset_id"], root["model"], root["job_id"]) == (
        None, "succeeded", asset["id"], "compose", None,
    )  # fmt: skip
    assert root["url"].endswith(f"/api/assets/{asset['id']}/file")
    assert view["title"] == PROMPT


def test_start_from_prompt_generates_the_root_as_a_job(http: httpx.Client) -> None:
    response = http.post("/api/threads", json={"prompt": PROMPT, "model": "zero",
                                               "size": "128x128", "seed": 3})  # fmt: skip
    assert response.status_code == 202

    view = wait_idle(http, response.json()["id"])
    (root,) = view["nodes"]
    assert (root["status"], root["model"], root["served_by"], root["instruction"]) == (
        "succeeded", "zero", "zero", PROMPT,
    )  # fmt: skip
    asset = http.get(f"/api/assets/{root['asset_id']}").json()
    assert (asset["job_id"], asset["seed"], asset["width"]) == (root["job_id"], 3, 128)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "asset_id"),
        ({"asset_id": "img_x", "prompt": "both"}, "asset_id"),
        ({"asset_id": "ASSET", "size": "256x256"}, "size"),
        ({"prompt": "x", "model": "nope"}, "model"),
        ({"prompt": "x", "model": "compose", "negative_prompt": "blurry"}, "negative_prompt"),
        ({"prompt": "x", "quality": "ultra"}, "quality"),
    ],
)
def test_start_rejects_bad_body_naming_the_field(
    http: httpx.Client, body: dict[str, Any], param: str
) -> None:
    if body.get("asset_id") == "ASSET":
        body = {**body, "asset_id": an_asset(http)["id"]}
    status, got, _ = error_of(http.post("/api/threads", json=body))
    assert (status, got) == (400, param)


def test_start_from_unknown_asset_answers_404(http: httpx.Client) -> None:
    response = http.post("/api/threads", json={"asset_id": "img_missing"})
    assert error_of(response) == (404, "asset_id", "asset_not_found")


# -- turns and the tree ------------------------------------------------------------------


def test_turn_edits_the_nodes_image_into_a_child_node(http: httpx.Client, live: LiveServer) -> None:
    asset = an_asset(http)
    thread = start(http, asset_id=asset["id"])

    node = turn(http, thread["id"], "make the background blue")

    assert (node["parent_id"], node["depth"], node["position"], node["status"]) == (
        thread["root_id"], 1, 1, "succeeded",
    )  # fmt: skip
    made = http.get(f"/api/assets/{node['asset_id']}").json()
    assert (made["parent_id"], made["prompt"], made["model"]) == (
        asset["id"], "make the background blue", "compose",
    )  # fmt: skip
    assert (made["width"], made["height"]) == (256, 256)  # shaped like the node's image
    with live.container.db.read() as s:
        job = s.get(Job, node["job_id"])
        assert job is not None
        request = job.request
    assert request["mode"] == "edit"
    edited = live.container.assets.blobs.get(request["references"][0]["blob"])
    assert edited == http.get(f"/api/assets/{asset['id']}/file").content


def test_two_turns_on_one_node_are_siblings_and_later_turns_deepen_the_branch(
    http: httpx.Client,
) -> None:
    thread = start(http, asset_id=an_asset(http)["id"])
    root = thread["root_id"]

    a = turn(http, thread["id"], "warmer colours", node_id=root)
    b = turn(http, thread["id"], "cooler colours", node_id=root)
    a2 = turn(http, thread["id"], "bigger headline", node_id=a["id"])
    latest = turn(http, thread["id"], "add a border")  # no node: the most recent, a2

    view = http.get(f"/api/threads/{thread['id']}").json()
    tree = nodes_by_id(view)
    assert tree[root]["children"] == [a["id"], b["id"]]
    assert tree[a["id"]]["children"] == [a2["id"]]
    assert tree[b["id"]]["children"] == []
    assert tree[a2["id"]]["children"] == [latest["id"]]
    assert [(n["position"], n["depth"]) for n in view["nodes"]] == [
        (0, 0), (1, 1), (2, 1), (3, 2), (4, 3),
    ]  # fmt: skip
    assert view["head_id"] == latest["id"]
    parents = {n["id"]: http.get(f"/api/assets/{n['asset_id']}").json()["parent_id"]
               for n in view["nodes"][1:]}  # fmt: skip
    assert parents == {a["id"]: tree[root]["asset_id"], b["id"]: tree[root]["asset_id"],
                       a2["id"]: a["asset_id"], latest["id"]: a2["asset_id"]}  # fmt: skip


def test_switching_model_mid_thread_edits_the_previous_models_image(
    http: httpx.Client, live: LiveServer
) -> None:
    thread = start(http, prompt=PROMPT, model="compose", size="256x256")

    on_zero = turn(http, thread["id"], "make it red", model="zero")
    back = turn(http, thread["id"], "add a title")  # defaults to the node's model: zero
    on_compose = turn(http, thread["id"], "poster again", model="compose")

    assert [(n["model"], n["served_by"]) for n in (on_zero, back, on_compose)] == [
        ("zero", "zero"), ("zero", "zero"), ("compose", "compose"),
    ]  # fmt: skip
    with live.container.db.read() as s:
        job = s.get(Job, on_compose["job_id"])
        assert job is not None
        sent = live.container.assets.blobs.get(job.request["references"][0]["blob"])
    assert sent == http.get(f"/api/assets/{back['asset_id']}/file").content


def test_turn_takes_a_mask_and_references(http: httpx.Client, live: LiveServer) -> None:
    thread = start(http, asset_id=an_asset(http, model="zero")["id"])
    ref = an_asset(http)

    node = turn(http, thread["id"], "replace the sky", mask=png_b64((256, 256)),
                references=[{"asset_id": ref["id"], "role": "style"}])  # fmt: skip

    assert node["status"] == "succeeded"
    with live.container.db.read() as s:
        job = s.get(Job, node["job_id"])
        assert job is not None
        request = job.request
    assert request["mask"]["width"] == 256
    assert [r["role"] for r in request["references"]] == ["subject", "style"]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"mask": png_b64((64, 64))}, "mask", "mask_dimension_mismatch"),
        ({"mask": png_b64((256, 256), alpha=255)}, "mask", "invalid_mask"),
        ({"mask": "%%%"}, "mask", "invalid_value"),
        ({"model": "nope"}, "model", "model_not_found"),
        ({"options": {"svg": True}}, "options", "invalid_value"),
        ({"node_id": "node_missing"}, "node_id", "invalid_value"),
        ({"references": [{"asset_id": "img_missing"}]}, "asset_id", "asset_not_found"),
        ({"instruction": ""}, "instruction", "invalid_value"),
    ],
)
def test_turn_rejects_bad_body_naming_the_field(
    http: httpx.Client, body: dict[str, Any], param: str, code: str
) -> None:
    thread = start(http, asset_id=an_asset(http, model="zero")["id"])

    response = http.post(f"/api/threads/{thread['id']}/turns",
                         json={"instruction": "x", **body})  # fmt: skip

    assert error_of(response)[1:] == (param, code)
    assert response.status_code in (400, 404)
    assert len(http.get(f"/api/threads/{thread['id']}").json()["nodes"]) == 1


def test_turn_refuses_a_mask_on_a_model_without_masks(http: httpx.Client) -> None:
    thread = start(http, asset_id=an_asset(http)["id"])
    response = http.post(f"/api/threads/{thread['id']}/turns",
                         json={"instruction": "x", "mask": png_b64((256, 256))})  # fmt: skip
    assert error_of(response) == (400, "mask", "unsupported_by_model")


def test_turn_on_a_node_of_another_thread_is_refused(http: httpx.Client) -> None:
    one = start(http, asset_id=an_asset(http)["id"])
    other = start(http, asset_id=an_asset(http)["id"])

    response = http.post(f"/api/threads/{one['id']}/turns",
                         json={"instruction": "x", "node_id": other["root_id"]})  # fmt: skip
    assert error_of(response)[:2] == (400, "node_id")


def test_turn_on_a_failed_node_answers_409(http: httpx.Client) -> None:
    thread = start(http, asset_id=an_asset(http)["id"])
    failed = turn(http, thread["id"], "x", model="broken")
    assert (failed["status"], failed["error"]["code"]) == ("failed", "engine_error")

    response = http.post(f"/api/threads/{thread['id']}/turns",
                         json={"instruction": "again", "node_id": failed["id"]})  # fmt: skip

    assert error_of(response) == (409, "node_id", "job_state_conflict")
    assert "no image to edit" in response.json()["error"]["message"]


def test_turn_on_an_unfinished_node_answers_409_and_works_once_it_finished(
    make_server: StartServer,
) -> None:
    blocking = BlockingEngine()
    live = make_server(engines=[ZeroWorkEngine(), blocking])
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        thread = http.post("/api/threads", json={"prompt": "x", "model": "blocking"}).json()
        try:
            response = http.post(f"/api/threads/{thread['id']}/turns",
                                 json={"instruction": "y", "model": "zero"})  # fmt: skip
        finally:
            blocking.release()
        wait_idle(http, thread["id"])
        node = turn(http, thread["id"], "y", model="zero")

    assert error_of(response) == (409, "node_id", "job_state_conflict")
    assert "still" in response.json()["error"]["message"]
    assert node["status"] == "succeeded"


def test_thread_survives_a_restart_with_its_branches(
    make_server: StartServer, tmp_path: Path
) -> None:
    home = tmp_path / "shared-home"
    before = make_server(engines=engines(), home=home)
    with httpx.Client(base_url=before.base_url, timeout=30) as http:
        thread = start(http, prompt=PROMPT, model="compose", size="256x256")
        a = turn(http, thread["id"], "warmer", model="zero")
        turn(http, thread["id"], "cooler", node_id=thread["root_id"])
        turn(http, thread["id"], "bigger", node_id=a["id"])
        tree = http.get(f"/api/threads/{thread['id']}").json()
    before.stop()

    after = make_server(engines=engines(), home=home)
    with httpx.Client(base_url=after.base_url, timeout=30) as http:
        again = http.get(f"/api/threads/{thread['id']}")
        branch = turn(http, thread["id"], "a new branch", node_id=a["id"])
        grown = http.get(f"/api/threads/{thread['id']}").json()

    def shape(view: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(n["id"], n["parent_id"], n["children"], n["status"], n["asset_id"], n["model"])
                for n in view["nodes"]]  # fmt: skip

    assert again.status_code == 200
    assert shape(again.json()) == shape(tree)
    assert [len(n["children"]) for n in tree["nodes"]] == [2, 1, 0, 0]
    assert (branch["status"], branch["parent_id"]) == ("succeeded", a["id"])
    assert branch["model"] == "zero"
    assert nodes_by_id(grown)[a["id"]]["children"][-1] == branch["id"]


def test_list_threads_newest_first_and_delete(http: httpx.Client, live: LiveServer) -> None:
    first = start(http, asset_id=an_asset(http)["id"], title="first")
    second = start(http, asset_id=an_asset(http)["id"], title="second")
    turn(http, second["id"], "x")

    listed = http.get("/api/threads").json()
    deleted = http.delete(f"/api/threads/{first['id']}")
    gone = http.get(f"/api/threads/{first['id']}")

    assert [(t["id"], t["title"], t["nodes"]) for t in listed["data"]] == [
        (second["id"], "second", 2), (first["id"], "first", 1),
    ]  # fmt: skip
    assert (listed["total"], listed["has_more"]) == (2, False)
    assert deleted.status_code == 204
    assert error_of(gone) == (404, "thread_id", "thread_not_found")
    with live.container.db.read() as s:
        assert s.scalar(select(func.count()).select_from(ThreadNode)) == 2
        assert s.scalar(select(func.count()).select_from(Thread)) == 1
    assert http.get(f"/api/assets/{first['nodes'][0]['asset_id']}").status_code == 200


def test_unknown_thread_answers_404(http: httpx.Client) -> None:
    assert error_of(http.get("/api/threads/thr_missing")) == (404, "thread_id", "thread_not_found")
    response = http.post("/api/threads/thr_missing/turns", json={"instruction": "x"})
    assert error_of(response) == (404, "thread_id", "thread_not_found")


def test_turn_replays_the_same_node_for_the_same_idempotency_key(http: httpx.Client) -> None:
    thread = start(http, asset_id=an_asset(http)["id"])
    headers = {"Idempotency-Key": "turn-1"}
    first = http.post(f"/api/threads/{thread['id']}/turns", json={"instruction": "x"},
                      headers=headers)  # fmt: skip
    wait_idle(http, thread["id"])

    again = http.post(f"/api/threads/{thread['id']}/turns", json={"instruction": "x"},
                      headers=headers)  # fmt: skip
    other = http.post(f"/api/threads/{thread['id']}/turns", json={"instruction": "y"},
                      headers=headers)  # fmt: skip

    assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])
    assert again.headers["idempotent-replayed"] == "true"
    assert error_of(other) == (422, "Idempotency-Key", "idempotency_key_reused")
    assert len(http.get(f"/api/threads/{thread['id']}").json()["nodes"]) == 2


def test_start_from_prompt_replays_the_same_thread_for_the_same_key(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "start-1"}
    body = {"prompt": PROMPT, "model": "zero", "size": "128x128"}
    first = http.post("/api/threads", json=body, headers=headers)
    again = http.post("/api/threads", json=body, headers=headers)

    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert http.get("/api/threads").json()["total"] == 1


# -- accounts: ownership and credits -----------------------------------------------------


Accounts = tuple[LiveServer, dict[str, str], dict[str, str]]


@pytest.fixture
def accounts(make_server: StartServer) -> Accounts:
    live = make_server(engines=engines(), auth="required", rate_limit_per_minute=0)
    keys, ids = {}, {}
    for name, role in (("a", "member"), ("b", "member"), ("admin", "admin")):
        user = live.container.accounts.create_user(f"{name}@example.com", PASSWORD, role)
        live.container.credits.grant(user.id, 10_000)  # 0.01 USD: ten local images
        keys[name] = live.container.accounts.create_key(user.id, "k")[1]
        ids[name] = user.id
    return live, keys, ids


def client(live: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=live.base_url, timeout=30,
                        headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def test_other_user_gets_404_like_a_missing_thread(accounts: Accounts) -> None:
    live, keys, _ = accounts
    with client(live, keys["a"]) as a, client(live, keys["b"]) as b:
        thread = start(a, asset_id=an_asset(a)["id"])
        theirs = b.get(f"/api/threads/{thread['id']}")
        missing = b.get("/api/threads/thr_missing")
        turn_theirs = b.post(f"/api/threads/{thread['id']}/turns", json={"instruction": "x"})
        delete_theirs = b.delete(f"/api/threads/{thread['id']}")
        listed = b.get("/api/threads").json()
        start_on_theirs = b.post("/api/threads", json={"asset_id": thread["nodes"][0]["asset_id"]})

    assert theirs.status_code == missing.status_code == turn_theirs.status_code == 404
    assert delete_theirs.status_code == 404
    assert theirs.json()["error"] == {**missing.json()["error"],
                                      "message": theirs.json()["error"]["message"]}  # fmt: skip
    assert listed["data"] == []
    assert error_of(start_on_theirs) == (404, "asset_id", "asset_not_found")


def test_admin_sees_another_users_thread_but_may_not_add_turns(accounts: Accounts) -> None:
    live, keys, _ = accounts
    with client(live, keys["a"]) as a, client(live, keys["admin"]) as admin:
        thread = start(a, asset_id=an_asset(a)["id"])
        seen = admin.get(f"/api/threads/{thread['id']}")
        response = admin.post(f"/api/threads/{thread['id']}/turns", json={"instruction": "x"})

    assert seen.status_code == 200
    assert error_of(response) == (403, None, "owner_required")


def test_turns_are_paid_like_jobs(accounts: Accounts) -> None:
    live, keys, ids = accounts
    with client(live, keys["a"]) as a:
        asset = an_asset(a)  # 0.001
        thread = start(a, asset_id=asset["id"])  # free: no job
        after_start = live.container.credits.balance(ids["a"])
        node = turn(a, thread["id"], "x")
        job = a.get(f"/api/jobs/{node['job_id']}").json()

    assert after_start == 10_000 - 1_000
    assert job["cost"] == "0.001"
    assert live.container.credits.balance(ids["a"]) == 10_000 - 2_000


def test_turn_without_credits_is_refused_and_adds_no_node(accounts: Accounts) -> None:
    live, keys, ids = accounts
    with client(live, keys["a"]) as a:
        thread = start(a, asset_id=an_asset(a)["id"])
        balance = live.container.credits.balance(ids["a"])
        live.container.credits.grant(ids["a"], -balance, "spent elsewhere", kind="adjust")
        response = a.post(f"/api/threads/{thread['id']}/turns", json={"instruction": "x"})
        view = a.get(f"/api/threads/{thread['id']}").json()

    assert error_of(response)[::2] == (402, "insufficient_credits")
    assert len(view["nodes"]) == 1


def test_threads_work_on_postgresql(
    make_server: StartServer, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_server").create_database("threads_api")
    live = make_server(engines=engines(), database_url=url)
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        thread = start(http, prompt=PROMPT, model="zero", size="128x128")
        root = thread["root_id"]
        posted = [http.post(f"/api/threads/{thread['id']}/turns",
                            json={"instruction": f"turn {i}", "node_id": root})
                  for i in range(3)]  # fmt: skip
        view = wait_idle(http, thread["id"])
        deleted = http.delete(f"/api/threads/{thread['id']}")

    assert [p.status_code for p in posted] == [202, 202, 202]
    assert nodes_by_id(view)[root]["children"] == [p.json()["id"] for p in posted]
    assert [n["position"] for n in view["nodes"]] == [0, 1, 2, 3]
    assert {n["status"] for n in view["nodes"]} == {"succeeded"}
    assert deleted.status_code == 204
