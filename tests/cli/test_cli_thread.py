"""`pixelforge thread start|turn|show|list`: edit threads on the local store, shared with the
server (a thread made by either shows up in the other, and either adds turns to it)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from server_support import StartServer

POSTER = 'Minimal poster, headline "OPEN LATE", warm palette'


def wait_idle(http: httpx.Client, thread_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        view: dict[str, Any] = http.get(f"/api/threads/{thread_id}").json()
        if view["status"] == "idle" or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def make_image(run_cli, folder: Path) -> Path:
    result = run_cli("generate", POSTER, "--size", "256x256", "--seed", "7",
                     "-o", str(folder / "src"))  # fmt: skip
    assert result.rc == 0, result.err
    (path,) = [Path(line) for line in result.out_lines]
    return path


def start(run_cli, *args: str) -> str:
    result = run_cli("thread", "start", *args)
    assert result.rc == 0, result.err
    (thread_id,) = result.out_lines
    return thread_id


def turn(run_cli, thread_id: str, instruction: str, *args: str) -> list[str]:
    """(position, node id, asset id) of the new node."""
    result = run_cli("thread", "turn", thread_id, instruction, *args)
    assert result.rc == 0, result.err
    return result.out_lines[0].split()


def show(run_cli, thread_id: str) -> dict[str, Any]:
    result = run_cli("thread", "show", thread_id, "--json")
    assert result.rc == 0, result.err
    view: dict[str, Any] = json.loads(result.out)
    return view


def test_thread_from_a_file_grows_a_tree_with_branches(run_cli, tmp_path):
    thread_id = start(run_cli, str(make_image(run_cli, tmp_path)))

    first = turn(run_cli, thread_id, "make it blue")
    second = turn(run_cli, thread_id, "make it green", "--node", "0")
    deeper = turn(run_cli, thread_id, "bigger headline", "--node", first[1])

    view = show(run_cli, thread_id)
    nodes = {n["id"]: n for n in view["nodes"]}
    root = nodes[view["root_id"]]
    assert [first[0], second[0], deeper[0]] == ["#1", "#2", "#3"]
    assert root["children"] == [first[1], second[1]]
    assert nodes[first[1]]["children"] == [deeper[1]]
    assert {n["status"] for n in view["nodes"]} == {"succeeded"}
    assert (root["model"], root["instruction"], view["title"]) == ("compose", POSTER, POSTER)
    assert nodes[deeper[1]]["asset_id"] == deeper[2]


def test_thread_show_prints_the_tree(run_cli, tmp_path):
    thread_id = start(run_cli, str(make_image(run_cli, tmp_path)))
    turn(run_cli, thread_id, "make it blue")
    turn(run_cli, thread_id, "make it green", "--node", "0")

    result = run_cli("thread", "show", thread_id)

    assert result.rc == 0
    lines = result.out_lines
    assert lines[0].startswith(thread_id)
    view = show(run_cli, thread_id)
    assets = [n["asset_id"] for n in view["nodes"]]
    assert lines[1].startswith(f"└── #0 succeeded compose {assets[0]} 'Minimal poster")
    # 80 columns: the end of a long line is cut, the number, status, model and image are not
    assert lines[2].strip().startswith(f"├── #1 succeeded compose {assets[1]} 'make it")
    assert lines[3].strip().startswith(f"└── #2 succeeded compose {assets[2]} 'make it")


def test_thread_turn_writes_the_image_with_out(run_cli, tmp_path):
    thread_id = start(run_cli, str(make_image(run_cli, tmp_path)))

    result = run_cli("thread", "turn", thread_id, "make it blue", "-o", str(tmp_path / "out"))

    assert result.rc == 0, result.err
    path = Path(result.out_lines[1])
    assert path.parent == tmp_path / "out"
    with Image.open(path) as im:
        assert im.size == (256, 256)


def test_thread_from_a_prompt_and_from_an_asset_id(run_cli, tmp_path):
    generated = start(run_cli, "--prompt", POSTER, "--size", "256x256", "--seed", "3")
    root = show(run_cli, generated)["nodes"][0]

    again = start(run_cli, root["asset_id"], "--title", "second go")

    assert (root["status"], root["job_id"] is not None) == ("succeeded", True)
    view = show(run_cli, again)
    assert (view["title"], view["nodes"][0]["asset_id"]) == ("second go", root["asset_id"])
    listed = run_cli("thread", "list")
    assert generated in listed.out
    assert again in listed.out


def test_cli_threads_show_up_in_the_server_and_take_turns_there(
    run_cli, tmp_path, make_server: StartServer
):
    thread_id = start(run_cli, str(make_image(run_cli, tmp_path)))
    turn(run_cli, thread_id, "make it blue")

    live = make_server(home=tmp_path / "home")
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        listed = http.get("/api/threads").json()
        posted = http.post(f"/api/threads/{thread_id}/turns", json={"instruction": "server"})
        assert posted.status_code == 202, posted.text
        view = wait_idle(http, thread_id)

    assert [(t["id"], t["nodes"]) for t in listed["data"]] == [(thread_id, 2)]
    node = view["nodes"][-1]
    assert (node["id"], node["status"], node["position"]) == (posted.json()["id"], "succeeded", 2)
    assert show(run_cli, thread_id)["nodes"][-1]["asset_id"] == node["asset_id"]


def test_server_threads_take_turns_from_the_cli(run_cli, tmp_path, make_server: StartServer):
    # No workers: the root's job and an unrelated job stay queued when the server stops.
    live = make_server(home=tmp_path / "home", workers=0)
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        created = http.post("/api/threads", json={"prompt": POSTER, "size": "256x256"}).json()
        other = http.post("/api/jobs", json={"prompt": "someone else's", "size": "256x256"})
    live.stop()

    position, node_id, asset_id = turn(run_cli, created["id"], "from the cli")

    view = show(run_cli, created["id"])
    assert position == "#1"
    assert view["nodes"][0]["status"] == "succeeded"  # the CLI ran the pending root first
    assert (view["nodes"][1]["id"], view["nodes"][1]["asset_id"]) == (node_id, asset_id)
    after = make_server(home=tmp_path / "home", workers=0)
    with httpx.Client(base_url=after.base_url, timeout=30) as http:
        assert http.get(f"/api/jobs/{other.json()['id']}").json()["status"] == "queued"


def test_thread_commands_refuse_bad_input_with_exit_2(run_cli, tmp_path):
    image = make_image(run_cli, tmp_path)
    thread_id = start(run_cli, str(image))

    cases = {
        ("thread", "turn", "thr_missing", "x"): "error: THREAD_ID: thread 'thr_missing' not found",
        ("thread", "turn", thread_id, "x", "--node", "9"):
            f"error: --node: thread {thread_id!r} has no node #9; it has #0 to #0",
        ("thread", "turn", thread_id, "x", "--node", "node_nope"):
            f"error: --node: 'node_nope' is not a node of thread {thread_id!r}; GET "
            f"/api/threads/{thread_id} lists its nodes",
        ("thread", "turn", thread_id, "x", "-m", "nope"): "error: --model: ",
        ("thread", "show", "thr_missing"): "error: THREAD_ID: thread 'thr_missing' not found",
        ("thread", "start", str(tmp_path / "nope.png")):
            f"error: IMAGE_OR_ASSET: {str(tmp_path / 'nope.png')!r} is neither a file nor an "
            "asset id of this store",
        ("thread", "start", str(image), "-m", "nope"): "error: --model: ",
        ("thread", "start"): "error: IMAGE_OR_ASSET: give an image file or asset id, or "
                             "--prompt TEXT (one of them)",
    }  # fmt: skip
    for args, expected in cases.items():
        result = run_cli(*args)
        assert (result.rc, result.err.startswith(expected)) == (2, True), (args, result.err)
    assert len(show(run_cli, thread_id)["nodes"]) == 1
    assert run_cli("thread", "list").out.count("thr_") == 1
