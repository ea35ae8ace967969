"""The Batch API over HTTP with the official ``openai`` SDK: files, batches of image
generations and edits on ``compose`` and the test engines, line errors, cancel, ownership,
low priority, the batch price, and a 500-request batch that survives a server restart."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types import Batch
from PIL import Image
from sqlalchemy import func, select

from image_checks import assert_same_image_but_watermark
from pixelforge.domain.request import GenerationRequest
from pixelforge.engines.base import CancelToken, GenerationResult, ProgressSink
from pixelforge.engines.compose.engine import ComposeEngine
from pixelforge.engines.compose.icons import IconSet
from pixelforge.engines.compose.text import FontLibrary
from pixelforge.errors import EngineError
from pixelforge.store import ledger
from pixelforge.store.models import Asset, BatchRequest, Job, LedgerEntry
from server_support import LiveServer, StartServer
from testing_engines import BlockingEngine, FailingEngine, ZeroWorkEngine

GEN, EDIT = "/v1/images/generations", "/v1/images/edits"
FINAL = {"completed", "failed", "cancelled", "expired"}
PASSWORD = "correct horse battery"
PRICE = "0.01"  # local price per image; the batch price is half
BATCH_PRICE = 5_000  # micro-USD


# -- helpers -----------------------------------------------------------------------------


def line(custom_id: str, url: str = GEN, **body: Any) -> dict[str, Any]:
    fields = {"prompt": f'Poster "{custom_id}"', "size": "256x256", **body}
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": fields}


def jsonl(items: Sequence[dict[str, Any] | str]) -> bytes:
    rows = [item if isinstance(item, str) else json.dumps(item) for item in items]
    return ("\n".join(rows) + "\n").encode()


def submit(client: OpenAI, items: Sequence[dict[str, Any] | str], endpoint: str = GEN) -> Batch:
    uploaded = client.files.create(file=("requests.jsonl", jsonl(items)), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
    )


def wait_final(client: OpenAI, batch_id: str, timeout: float = 60) -> Batch:
    deadline = time.monotonic() + timeout
    batch = client.batches.retrieve(batch_id)
    while batch.status not in FINAL and time.monotonic() < deadline:
        time.sleep(0.05)
        batch = client.batches.retrieve(batch_id)
    return batch


def read_jsonl(client: OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(row) for row in client.files.content(file_id).text.splitlines()]


def images_zip(client: OpenAI, batch: Batch) -> zipfile.ZipFile:
    file_id = (batch.model_extra or {})["images_file_id"]
    return zipfile.ZipFile(io.BytesIO(client.files.content(file_id).content))


def png(width: int = 256, height: int = 256, alpha: bool = False) -> bytes:
    buf = io.BytesIO()
    if alpha:
        image = Image.new("RGBA", (width, height), (10, 120, 200, 255))
        image.putpixel((0, 0), (0, 0, 0, 0))
    else:
        image = Image.new("RGB", (width, height), (10, 120, 200))
    image.save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def decoded(item: dict[str, Any]) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
    image.load()
    return image


def sdk(live: LiveServer, key: str = "unused") -> OpenAI:
    return OpenAI(base_url=f"{live.base_url}/v1", api_key=key, max_retries=0)


def engines() -> list[Any]:
    return [
        ComposeEngine(FontLibrary(), IconSet()), ZeroWorkEngine(),
        FailingEngine("broken", EngineError("the test engine failed")),
    ]  # fmt: skip


def member(live: LiveServer, email: str, grant: int) -> tuple[str, str]:
    """A signed-in user with ``grant`` micro-USD: (user id, API key)."""
    c = live.container
    user = c.accounts.create_user(email, PASSWORD)
    c.credits.grant(user.id, grant)
    return user.id, c.accounts.create_key(user.id, "k")[1]


@pytest.fixture
def live(make_server: StartServer) -> LiveServer:
    return make_server(engines=engines(), batch_poll_seconds=0.05)


@pytest.fixture
def client(live: LiveServer) -> Iterator[OpenAI]:
    with sdk(live) as c:
        yield c


# -- end to end --------------------------------------------------------------------------


def test_batch_on_compose_completes_with_one_output_line_per_request_in_order(
    client: OpenAI,
) -> None:
    batch = wait_final(client, submit(client, [line(f"p{i}") for i in range(3)]).id)

    rows = read_jsonl(client, batch.output_file_id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert batch.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}
    assert [r["custom_id"] for r in rows] == ["p0", "p1", "p2"]
    assert all(r["response"]["status_code"] == 200 and r["error"] is None for r in rows)
    assert [decoded(r["response"]["body"]["data"][0]).size for r in rows] == [(256, 256)] * 3
    assert batch.error_file_id is None
    assert batch.completed_at is not None
    assert batch.finalizing_at is not None


def test_batch_output_body_is_the_synchronous_endpoints_response(client: OpenAI) -> None:
    body = {"model": "compose", "prompt": "a wide valley", "size": "256x256", "seed": 3}
    batch = wait_final(client, submit(client, [{"custom_id": "v", "method": "POST",
                                                "url": GEN, "body": body}]).id)  # fmt: skip
    direct = client.images.generate(model="compose", prompt="a wide valley", size="256x256",
                                    extra_body={"seed": 3}).model_dump(exclude_none=True)  # fmt: skip

    (row,) = read_jsonl(client, batch.output_file_id)
    got = row["response"]["body"]
    (item,) = got["data"]
    assert item["revised_prompt"] is None
    assert_same_image_but_watermark(base64.b64decode(item["b64_json"]),
                                    base64.b64decode(direct["data"][0]["b64_json"]))  # fmt: skip
    assert {k: v for k, v in got.items() if k not in ("created", "data")} == {
        k: v for k, v in direct.items() if k not in ("created", "data")
    }


def test_batch_zip_holds_every_image_named_by_custom_id_with_a_manifest(client: OpenAI) -> None:
    batch = wait_final(client, submit(client, [line("a/1"), line("b", n=2)]).id)
    rows = read_jsonl(client, batch.output_file_id)
    archive = images_zip(client, batch)

    assert sorted(archive.namelist()) == [
        "images/a_1-1.png", "images/b-1.png", "images/b-2.png", "manifest.json",
    ]  # fmt: skip
    manifest = json.loads(archive.read("manifest.json"))["requests"]
    assert [(m["custom_id"], m["files"]) for m in manifest] == [
        ("a/1", ["images/a_1-1.png"]), ("b", ["images/b-1.png", "images/b-2.png"]),
    ]  # fmt: skip
    second = rows[1]["response"]["body"]["data"][1]["b64_json"]
    assert archive.read("images/b-2.png") == base64.b64decode(second)


def test_batch_line_asking_for_url_gets_a_downloadable_asset_url(client: OpenAI) -> None:
    batch = wait_final(client, submit(client, [line("u", response_format="url")]).id)

    (row,) = read_jsonl(client, batch.output_file_id)
    url = row["response"]["body"]["data"][0]["url"]
    download = httpx.get(url)
    assert "b64_json" not in row["response"]["body"]["data"][0]
    assert (download.status_code, download.headers["content-type"]) == (200, "image/png")


def test_edits_batch_takes_images_as_data_urls_base64_and_asset_ids(
    client: OpenAI, live: LiveServer
) -> None:
    client.images.generate(model="compose", prompt="a source", size="256x256")
    asset_id = httpx.get(f"{live.base_url}/api/assets").json()["data"][0]["id"]
    items = [
        line("data-url", EDIT, image=data_url(png())),
        line("base64", EDIT, image=[base64.b64encode(png()).decode()]),
        line("asset", EDIT, image=asset_id),
        line("two-and-mask", EDIT, model="zero", image=[data_url(png()), data_url(png(128, 128))],
             mask=data_url(png(alpha=True))),
    ]  # fmt: skip

    batch = wait_final(client, submit(client, items, EDIT).id)

    rows = read_jsonl(client, batch.output_file_id)
    assert (batch.status, batch.endpoint) == ("completed", EDIT)
    assert [r["custom_id"] for r in rows] == ["data-url", "base64", "asset", "two-and-mask"]
    assert all(decoded(r["response"]["body"]["data"][0]).size == (256, 256) for r in rows)


def test_failed_requests_go_to_the_error_file_with_the_endpoints_error(client: OpenAI) -> None:
    batch = wait_final(client, submit(client, [line("ok"), line("bad", model="broken")]).id)

    (error,) = read_jsonl(client, batch.error_file_id)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    assert [r["custom_id"] for r in read_jsonl(client, batch.output_file_id)] == ["ok"]
    assert error["custom_id"] == "bad"
    assert error["response"]["status_code"] == 500
    assert error["response"]["body"]["error"]["code"] == "engine_error"


# -- validation --------------------------------------------------------------------------


def test_invalid_file_makes_a_failed_batch_naming_each_line_and_field(
    client: OpenAI, live: LiveServer
) -> None:
    items = [
        line("good"),
        "{not json",
        {"method": "POST", "url": GEN, "body": {"prompt": "x"}},
        line("good"),
        line("edit", EDIT),
        line("size", size="13x13"),
        line("model", model="nope"),
        {**line("method"), "method": "GET"},
    ]

    batch = submit(client, items)

    assert batch.status == "failed"
    assert batch.failed_at is not None
    assert batch.errors is not None
    assert [(e.line, e.param) for e in batch.errors.data or []] == [
        (2, None), (3, "custom_id"), (4, "custom_id"), (5, "url"), (6, "body.size"),
        (7, "body.model"), (8, "method"),
    ]  # fmt: skip
    assert [e.code for e in batch.errors.data or []][:5] == [
        "invalid_json_line", "missing_required_parameter", "duplicate_custom_id",
        "mismatched_url", "invalid_value",
    ]  # fmt: skip
    with live.container.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_line_error_is_the_synchronous_endpoints_error(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as direct:
        client.images.generate(model="compose", prompt="x", size="13x13")

    batch = submit(client, [line("x", prompt="x", size="13x13")])

    assert batch.errors is not None
    assert batch.errors.data
    assert isinstance(direct.value.body, dict)
    error = direct.value.body  # the SDK keeps the body's "error" object
    assert (batch.errors.data[0].message, batch.errors.data[0].code) == (
        error["message"], error["code"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "body.image"),
        ({"image": "not base64!"}, "body.image[0]"),
        ({"image": "https://example.com/a.png"}, "body.image[0]"),
        ({"image": data_url(b"GIF89a....")}, "body.image[0]"),
        ({"image": data_url(png()), "mask": data_url(png(64, 64, alpha=True)), "model": "zero"},
         "body.mask"),
        ({"image": data_url(png()), "input_fidelity": "max"}, "body.input_fidelity"),
        ({"image": data_url(png()), "stream": True}, "body.stream"),
        ({"image": [data_url(png())] * 2}, "body.references"),
    ],
)  # fmt: skip
def test_edit_lines_with_bad_images_fail_the_batch_naming_the_field(
    client: OpenAI, fields: dict[str, Any], param: str
) -> None:
    batch = submit(client, [line("e", EDIT, **fields)], EDIT)

    assert batch.status == "failed"
    assert batch.errors is not None
    assert [(e.line, e.param) for e in batch.errors.data or []] == [(1, param)]


def test_create_batch_refuses_bad_endpoint_window_metadata_and_input_purpose(
    client: OpenAI,
) -> None:
    done = wait_final(client, submit(client, [line("a")]).id)
    uploaded = client.files.create(file=("r.jsonl", jsonl([line("a")])), purpose="batch")
    cases = [
        ({"endpoint": "/v1/chat/completions"}, "endpoint"),
        ({"completion_window": "48h"}, "completion_window"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
        ({"input_file_id": done.output_file_id}, "input_file_id"),
    ]
    for override, param in cases:
        fields = {"input_file_id": uploaded.id, "endpoint": GEN, "completion_window": "24h",
                  **override}  # fmt: skip
        with pytest.raises(openai.BadRequestError) as refused:
            client.batches.create(**fields)
        assert refused.value.body["param"] == param  # type: ignore[index]


def test_create_batch_answers_404_for_unknown_input_file(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-missing", endpoint=GEN, completion_window="24h")


def test_create_batch_replays_the_same_batch_for_the_same_idempotency_key(
    client: OpenAI, live: LiveServer
) -> None:
    uploaded = client.files.create(file=("r.jsonl", jsonl([line("a"), line("b")])),
                                   purpose="batch")  # fmt: skip
    fields: dict[str, Any] = {"input_file_id": uploaded.id, "endpoint": GEN,
                              "completion_window": "24h"}  # fmt: skip
    first = client.batches.create(**fields, extra_headers={"Idempotency-Key": "nightly-1"})
    again = client.batches.create(**fields, extra_headers={"Idempotency-Key": "nightly-1"})

    assert again.id == first.id
    with live.container.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 2


def test_create_batch_keeps_metadata(client: OpenAI) -> None:
    uploaded = client.files.create(file=("r.jsonl", jsonl([line("a")])), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=GEN,
                                  completion_window="24h", metadata={"run": "nightly"})  # fmt: skip

    assert client.batches.retrieve(batch.id).metadata == {"run": "nightly"}


# -- files -------------------------------------------------------------------------------


def test_file_upload_refuses_other_purposes_and_empty_files(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as purpose:
        client.files.create(file=("r.jsonl", b"{}\n"), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as empty:
        client.files.create(file=("r.jsonl", b""), purpose="batch")

    assert purpose.value.body["param"] == "purpose"  # type: ignore[index]
    assert empty.value.body["param"] == "file"  # type: ignore[index]


def test_file_upload_over_the_limit_answers_413(make_server: StartServer) -> None:
    live = make_server(engines=engines(), batch_max_file_bytes=1000)
    with sdk(live) as client, pytest.raises(openai.APIStatusError) as refused:
        client.files.create(file=("r.jsonl", b"x" * 1001), purpose="batch")

    assert refused.value.status_code == 413
    assert refused.value.body["code"] == "file_too_large"  # type: ignore[index]


def test_file_content_is_the_uploaded_bytes(client: OpenAI) -> None:
    data = jsonl([line("a")])
    uploaded = client.files.create(file=("mine.jsonl", data), purpose="batch")

    assert client.files.content(uploaded.id).content == data
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == ("mine.jsonl", len(data),
                                                                     "batch")  # fmt: skip


def test_deleted_file_is_gone_from_reads_and_lists(client: OpenAI) -> None:
    uploaded = client.files.create(file=("r.jsonl", jsonl([line("a")])), purpose="batch")

    deleted = client.files.delete(uploaded.id)

    assert deleted.deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)
    assert uploaded.id not in [f.id for f in client.files.list()]


def test_file_list_pages_with_after_and_limit(client: OpenAI) -> None:
    ids = [client.files.create(file=(f"{i}.jsonl", b"{}\n"), purpose="batch").id
           for i in range(3)]  # fmt: skip

    first = client.files.list(limit=2)
    rest = client.files.list(limit=2, after=first.data[-1].id)

    assert [f.id for f in first.data] == ids[::-1][:2]
    assert first.has_more
    assert [f.id for f in rest.data] == ids[:1]
    assert not rest.has_more
    assert [f.id for f in client.files.list(order="asc")] == ids


def test_batch_list_pages_newest_first_with_after_and_limit(client: OpenAI) -> None:
    ids = [submit(client, ["{bad"]).id for _ in range(3)]

    first = client.batches.list(limit=2)
    rest = client.batches.list(limit=2, after=first.data[-1].id)

    assert [b.id for b in first.data] == ids[::-1][:2]
    assert first.has_more
    assert [b.id for b in rest.data] == ids[:1]
    assert not rest.has_more
    assert [b.id for b in client.batches.list(limit=1)] == ids[::-1]  # the SDK pages on


# -- accounts ----------------------------------------------------------------------------


def test_other_user_gets_404_for_files_and_batches(make_server: StartServer) -> None:
    live = make_server(engines=engines(), auth="required", rate_limit_per_minute=0)
    _, key_a = member(live, "a@example.com", 1_000_000)
    _, key_b = member(live, "b@example.com", 1_000_000)
    with sdk(live, key_a) as a, sdk(live, key_b) as b:
        batch = wait_final(a, submit(a, [line("x")]).id)
        assert batch.output_file_id is not None
        calls = [
            lambda: b.files.retrieve(batch.input_file_id),
            lambda: b.files.content(batch.output_file_id or ""),
            lambda: b.files.delete(batch.input_file_id),
            lambda: b.batches.retrieve(batch.id),
            lambda: b.batches.cancel(batch.id),
            lambda: b.batches.create(input_file_id=batch.input_file_id, endpoint=GEN,
                                     completion_window="24h"),
        ]  # fmt: skip
        for call in calls:
            with pytest.raises(openai.NotFoundError):
                call()
        assert (list(b.files.list()), list(b.batches.list())) == ([], [])
        assert [x.id for x in a.batches.list()] == [batch.id]


def test_batch_jobs_are_reserved_at_the_batch_price(make_server: StartServer) -> None:
    live = make_server(engines=engines(), auth="required", rate_limit_per_minute=0,
                       local_price_per_image=PRICE, batch_poll_seconds=0.05)  # fmt: skip
    user_id, key = member(live, "p@example.com", 1_000_000)
    with sdk(live, key) as client:
        batch = wait_final(client, submit(client, [line("a"), line("b", n=2)]).id)

    assert batch.status == "completed"
    assert live.container.credits.balance(user_id) == 1_000_000 - 3 * BATCH_PRICE


def test_batch_the_balance_cannot_cover_answers_402_and_makes_nothing(
    make_server: StartServer,
) -> None:
    live = make_server(engines=engines(), auth="required", rate_limit_per_minute=0,
                       local_price_per_image=PRICE)  # fmt: skip
    user_id, key = member(live, "poor@example.com", 3 * BATCH_PRICE)
    with sdk(live, key) as client, pytest.raises(openai.APIStatusError) as refused:
        submit(client, [line(f"r{i}") for i in range(4)])

    assert refused.value.status_code == 402
    assert "batch of 4 requests costs $0.02" in refused.value.message
    with live.container.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
    assert live.container.credits.balance(user_id) == 3 * BATCH_PRICE


# -- cancel and priority -----------------------------------------------------------------


def test_cancel_keeps_finished_results_and_refunds_the_rest(make_server: StartServer) -> None:
    gate = BlockingEngine()
    live = make_server(engines=[ZeroWorkEngine(), gate], workers=1, auth="required",
                       rate_limit_per_minute=0, local_price_per_image=PRICE,
                       batch_poll_seconds=0.05)  # fmt: skip
    user_id, key = member(live, "c@example.com", 1_000_000)
    items = [line("z0", model="zero"), line("z1", model="zero")] + [
        line(f"b{i}", model="blocking") for i in range(3)
    ]
    with sdk(live, key) as client:
        created = submit(client, items)
        assert gate.started.wait(30)
        cancelling = client.batches.cancel(created.id)
        batch = wait_final(client, created.id)
        outputs = read_jsonl(client, batch.output_file_id)
        errors = read_jsonl(client, batch.error_file_id)

    assert cancelling.status == "cancelling"
    assert cancelling.cancelling_at is not None
    assert (batch.status, batch.cancelled_at is not None) == ("cancelled", True)
    assert [r["custom_id"] for r in outputs] == ["z0", "z1"]
    assert [(r["custom_id"], r["error"]["code"]) for r in errors] == [
        ("b0", "batch_cancelled"), ("b1", "batch_cancelled"), ("b2", "batch_cancelled"),
    ]  # fmt: skip
    assert live.container.credits.balance(user_id) == 1_000_000 - 2 * BATCH_PRICE


def test_cancel_of_an_ended_batch_answers_409_naming_its_status(client: OpenAI) -> None:
    done = wait_final(client, submit(client, [line("a")]).id)
    failed = submit(client, ["{bad"])

    for batch in (done, failed):
        with pytest.raises(openai.ConflictError) as refused:
            client.batches.cancel(batch.id)
        assert f"is {batch.status}" in refused.value.message


def test_interactive_job_runs_before_the_rest_of_a_queued_batch(make_server: StartServer) -> None:
    gate = BlockingEngine()
    live = make_server(engines=[ZeroWorkEngine(), gate], workers=1, batch_poll_seconds=0.05)
    with sdk(live) as client, httpx.Client(base_url=live.base_url, timeout=30) as http:
        created = submit(client, [line(f"b{i}", model="blocking") for i in range(3)])
        assert gate.started.wait(30)
        job_id = http.post("/api/jobs", json={"prompt": "now", "model": "zero",
                                              "resolution": "512"}).json()["id"]  # fmt: skip
        gate.release()
        batch = wait_final(client, created.id)

    with live.container.db.read() as s:
        interactive = s.get(Job, job_id)
        started = dict(s.execute(select(BatchRequest.custom_id, Job.started_at)
                                 .join(Job, Job.id == BatchRequest.job_id)).all())  # fmt: skip
    assert batch.status == "completed"
    assert interactive is not None
    assert interactive.started_at is not None
    assert started["b0"] < interactive.started_at < min(started["b1"], started["b2"])


# -- 500 requests, a restart ---------------------------------------------------------------


class GateEngine(ZeroWorkEngine):
    """``zero`` that finishes ``open_runs`` requests, then holds every later one until the
    server stops (its cancel token), like a server stopped in the middle of a batch."""

    def __init__(self, open_runs: int) -> None:
        super().__init__("zero")
        self.tickets, self.completed = open_runs, 0
        self._lock = threading.Lock()

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        with self._lock:
            passing = self.tickets > 0
            self.tickets -= passing
        while not passing:
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        result = super().run(request, progress, cancel)
        with self._lock:
            self.completed += 1
        return result


class CountingEngine(ZeroWorkEngine):
    def __init__(self) -> None:
        super().__init__("zero")
        self.completed = 0
        self._lock = threading.Lock()

    def run(
        self, request: GenerationRequest, progress: ProgressSink, cancel: CancelToken
    ) -> GenerationResult:
        result = super().run(request, progress, cancel)
        with self._lock:
            self.completed += 1
        return result


def progress(client: OpenAI, batch_id: str, until: int, timeout: float = 60) -> Batch:
    """The batch once ``until`` of its requests have completed (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    batch = client.batches.retrieve(batch_id)
    while time.monotonic() < deadline:
        counts = batch.request_counts
        if counts is not None and counts.completed >= until:
            break
        time.sleep(0.05)
        batch = client.batches.retrieve(batch_id)
    return batch


def test_500_request_batch_survives_a_restart_with_500_results_charged_once(
    make_server: StartServer, tmp_path: Path
) -> None:
    home, n, grant = tmp_path / "restart", 500, 10_000_000
    settings = {"auth": "required", "rate_limit_per_minute": 0, "workers": 4,
                "user_concurrency": 0, "local_price_per_image": PRICE,
                "batch_poll_seconds": 0.05}  # fmt: skip
    gate = GateEngine(open_runs=120)
    first = make_server(engines=[gate], home=home, **settings)
    user_id, key = member(first, "bulk@example.com", grant)
    with sdk(first, key) as client:
        created = submit(client, [line(f"req-{i:03d}", model="zero") for i in range(n)])
        midway = progress(client, created.id, until=120)
    first.stop()

    counter = CountingEngine()
    second = make_server(engines=[counter], home=home, **settings)
    with sdk(second, key) as client:
        batch = wait_final(client, created.id, timeout=120)
        rows = read_jsonl(client, batch.output_file_id)

    assert midway.status == "in_progress"
    assert midway.request_counts is not None
    assert midway.request_counts.completed == 120
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert batch.request_counts.model_dump() == {"total": n, "completed": n, "failed": 0}
    assert len(rows) == n
    assert len({r["custom_id"] for r in rows}) == n
    assert [r["custom_id"] for r in rows] == [f"req-{i:03d}" for i in range(n)]
    assert gate.completed + counter.completed == n
    with second.container.db.read() as s:
        per_job = s.execute(select(Asset.job_id, func.count()).group_by(Asset.job_id)).all()
        captures = s.execute(select(LedgerEntry.amount).where(
            LedgerEntry.kind == ledger.CAPTURE)).scalars().all()  # fmt: skip
    assert len(per_job) == n
    assert {count for _, count in per_job} == {1}
    assert captures == [BATCH_PRICE] * n
    assert second.container.credits.balance(user_id) == grant - n * BATCH_PRICE
