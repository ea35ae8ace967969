"""Variations over HTTP: the asset's own request again with new seeds (compose and the test
engines), subtle and strong image-to-image on a model that takes a strength, another model,
errors naming the field, ownership, credits and idempotency."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from pixelforge.domain import GenerationRequest
from pixelforge.engines.base import (
    CancelToken,
    GenerationResult,
    ModelInfo,
    ProgressSink,
)
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.engines.local.options import LocalOptions
from pixelforge.store.models import Job
from server_support import LiveServer, StartServer
from testing_engines import ZeroWorkEngine, capabilities

PROMPT = 'Minimal poster, headline "OPEN LATE", warm palette'
PASSWORD = "correct horse battery"


class StrengthEngine(ZeroWorkEngine):
    """Takes local-model options (so a strength) and remembers every request it ran."""

    name = "img2img"

    def __init__(self, model_id: str = "img2img") -> None:
        super().__init__(model_id)
        self.seen: list[GenerationRequest] = []

    def models(self) -> Sequence[ModelInfo]:
        caps = dataclasses.replace(capabilities(), options_type=LocalOptions, max_references=1)
        return [ModelInfo(self.model_id, self.name, "image-to-image with a strength", caps)]

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        self.seen.append(request)
        return super().run(request, progress, cancel)


@pytest.fixture
def img2img() -> StrengthEngine:
    return StrengthEngine()


@pytest.fixture
def live(make_server: StartServer, img2img: StrengthEngine) -> LiveServer:
    return make_server(engines=[ComposeEngine(FontLibrary(), IconSet()), ZeroWorkEngine(),
                                img2img])  # fmt: skip


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


def wait_job(http: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        view: dict[str, Any] = http.get(f"/api/jobs/{job_id}").json()
        if view["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return view
        time.sleep(0.05)


def an_asset(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"prompt": PROMPT, "model": "compose", "size": "256x256", "seed": 7, **fields}
    response = http.post("/api/jobs", json=body)
    assert response.status_code == 202, response.text
    job = wait_job(http, response.json()["id"])
    assert job["status"] == "succeeded", job
    asset: dict[str, Any] = http.get(f"/api/assets/{job['assets'][0]}").json()
    return asset


def vary(http: httpx.Client, asset_id: str, **body: Any) -> list[dict[str, Any]]:
    response = http.post(f"/api/assets/{asset_id}/variations", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/jobs/{response.json()['id']}"
    job = wait_job(http, response.json()["id"])
    assert job["status"] == "succeeded", job
    return [http.get(f"/api/assets/{a}").json() for a in job["assets"]]


def stored_request(live: LiveServer, job_id: str) -> dict[str, Any]:
    with live.container.db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return dict(job.request)


def error_of(response: httpx.Response) -> tuple[int, str | None, str | None]:
    error = response.json()["error"]
    return response.status_code, error["param"], error["code"]


# -- same settings, new seeds ------------------------------------------------------------


def test_variations_rerun_the_request_with_new_distinct_seeds(
    http: httpx.Client, live: LiveServer
) -> None:
    source = an_asset(http, aspect_ratio="4:5", size=None, resolution="512", quality="high",
                      options={"reframe": "pad"})  # fmt: skip

    made = vary(http, source["id"])

    assert len(made) == 4
    seeds = [a["seed"] for a in made]
    assert len(set(seeds)) == 4
    assert source["seed"] not in seeds
    for asset in made:
        assert (asset["prompt"], asset["model"], asset["parent_id"]) == (
            PROMPT, "compose", source["id"],
        )  # fmt: skip
        assert (asset["width"], asset["height"]) == (source["width"], source["height"])
    before, after = stored_request(live, source["job_id"]), stored_request(live, made[0]["job_id"])
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"n", "seed", "continue_from"}
    assert (after["n"], after["continue_from"]) == (4, source["id"])


def test_variations_keep_the_sources_inputs(http: httpx.Client, live: LiveServer) -> None:
    ref = an_asset(http)
    source = an_asset(http, model="zero", mode="edit", negative_prompt="blurry",
                      references=[{"asset_id": ref["id"], "role": "style"}])  # fmt: skip

    (made,) = vary(http, source["id"], n=1)

    after = stored_request(live, made["job_id"])
    assert (after["mode"], after["negative_prompt"]) == ("edit", "blurry")
    assert [r["role"] for r in after["references"]] == ["style"]
    sent = live.container.assets.blobs.get(after["references"][0]["blob"])
    assert sent == http.get(f"/api/assets/{ref['id']}/file").content


def test_variations_start_at_the_given_seed(http: httpx.Client) -> None:
    made = vary(http, an_asset(http)["id"], n=3, seed=100)
    assert [a["seed"] for a in made] == [100, 101, 102]


def test_variations_refuse_a_seed_run_that_repeats_the_sources_seed(http: httpx.Client) -> None:
    source = an_asset(http)  # seed 7
    response = http.post(f"/api/assets/{source['id']}/variations", json={"n": 4, "seed": 5})
    assert error_of(response) == (400, "seed", "invalid_value")
    assert "repeat the source image's seed 7" in response.json()["error"]["message"]


def test_variations_on_another_model_keep_prompt_and_shape(
    http: httpx.Client, live: LiveServer
) -> None:
    source = an_asset(http, options={"svg": True})

    made = vary(http, source["id"], n=2, model="zero")

    assert {(a["model"], a["prompt"], a["width"], a["height"]) for a in made} == {
        ("zero", PROMPT, 256, 256)
    }
    assert stored_request(live, made[0]["job_id"])["options"] is None  # compose's: not zero's


# -- strength ----------------------------------------------------------------------------


@pytest.mark.parametrize(("strength", "value"), [("subtle", 0.3), ("strong", 0.7)])
def test_strength_runs_image_to_image_of_the_asset_at_its_level(
    http: httpx.Client, img2img: StrengthEngine, strength: str, value: float
) -> None:
    source = an_asset(http, model="img2img", options={"steps": 3, "guidance": 2.5})
    img2img.seen.clear()

    made = vary(http, source["id"], n=2, strength=strength)

    (request,) = img2img.seen
    assert (request.mode.value, request.prompt, request.n) == ("variation", PROMPT, 2)
    assert isinstance(request.options, LocalOptions)
    assert (request.options.strength, request.options.steps, request.options.guidance) == (
        value, 3, 2.5,
    )  # fmt: skip
    image = request.references[0].image
    assert image.data == http.get(f"/api/assets/{source['id']}/file").content
    assert {a["parent_id"] for a in made} == {source["id"]}
    assert source["seed"] not in {a["seed"] for a in made}


def test_strength_of_a_compose_asset_runs_on_the_model_named(
    http: httpx.Client, img2img: StrengthEngine
) -> None:
    source = an_asset(http)
    made = vary(http, source["id"], n=1, strength="strong", model="img2img")

    (request,) = img2img.seen
    assert isinstance(request.options, LocalOptions)
    assert (request.options.strength, request.size and str(request.size)) == (0.7, "256x256")
    assert (made[0]["model"], made[0]["prompt"]) == ("img2img", PROMPT)


def test_strength_on_a_model_without_one_is_refused_naming_strength(http: httpx.Client) -> None:
    source = an_asset(http)
    response = http.post(f"/api/assets/{source['id']}/variations", json={"strength": "subtle"})

    assert error_of(response) == (400, "strength", "invalid_value")
    message = response.json()["error"]["message"]
    assert "'compose' has no image-to-image strength" in message
    assert "allowed: null (same settings, new seeds); subtle or strong on" in message
    assert message.endswith("with image-to-image strength: img2img")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"strength": "medium"}, "strength"),
        ({"n": 0}, "n"),
        ({"n": 11}, "n"),
        ({"model": "nope"}, "model"),
        ({"seed": -1}, "seed"),
        ({"extra": 1}, "extra"),
    ],
)
def test_variations_reject_bad_body_naming_the_field(
    http: httpx.Client, body: dict[str, Any], param: str
) -> None:
    response = http.post(f"/api/assets/{an_asset(http)['id']}/variations", json=body)
    assert error_of(response)[:2] == (400, param)


def test_variations_of_unknown_asset_answer_404(http: httpx.Client) -> None:
    response = http.post("/api/assets/img_missing/variations", json={})
    assert error_of(response) == (404, "asset_id", "asset_not_found")


def test_variations_replay_the_same_job_for_the_same_idempotency_key(http: httpx.Client) -> None:
    source = an_asset(http)
    headers = {"Idempotency-Key": "vary-1"}
    first = http.post(f"/api/assets/{source['id']}/variations", json={"n": 2}, headers=headers)
    again = http.post(f"/api/assets/{source['id']}/variations", json={"n": 2}, headers=headers)
    other = http.post(f"/api/assets/{source['id']}/variations", json={"n": 3}, headers=headers)

    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert error_of(other) == (422, "Idempotency-Key", "idempotency_key_reused")


# -- accounts ----------------------------------------------------------------------------


def test_variations_of_another_users_asset_answer_404_and_cost_like_jobs(
    make_server: StartServer,
) -> None:
    live = make_server(engines=[ZeroWorkEngine()], auth="required", rate_limit_per_minute=0)
    keys, ids = {}, {}
    for name in ("a", "b"):
        user = live.container.accounts.create_user(f"{name}@example.com", PASSWORD, "member")
        live.container.credits.grant(user.id, 10_000)
        keys[name] = live.container.accounts.create_key(user.id, "k")[1]
        ids[name] = user.id

    def client(name: str) -> httpx.Client:
        return httpx.Client(base_url=live.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {keys[name]}"})  # fmt: skip

    with client("a") as a, client("b") as b:
        source = an_asset(a, model="zero")
        theirs = b.post(f"/api/assets/{source['id']}/variations", json={})
        missing = b.post("/api/assets/img_missing/variations", json={})
        made = vary(a, source["id"], n=3)

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "asset_not_found"
    assert len(made) == 3
    assert live.container.credits.balance(ids["a"]) == 10_000 - 4_000
    assert live.container.credits.balance(ids["b"]) == 10_000
