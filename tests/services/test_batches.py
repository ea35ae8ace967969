"""BatchService on SQLite and PostgreSQL: finalization happens once under concurrency and
after a server stopped mid-way; the 24 h window expires a batch (queued jobs refunded)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest
from pixelforge.services.accounts import Principal
from pixelforge.services.batches import WINDOW_SECONDS, BatchLine, BatchService
from pixelforge.store.jobs import QUEUED
from pixelforge.store.models import Batch, Job, StoredFile
from testing_engines import ZeroWorkEngine

GRANT, BATCH_PRICE = 1_000_000, 5_000  # local 0.01 USD per image, half in a batch
_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_server").create_database(f"batch_{next(_names)}")
    c = Container.build(
        Settings(home=tmp_path, workers=0, local_price_per_image="0.01", database_url=url),
        [ZeroWorkEngine()], Metrics(lambda: 0),
    )  # fmt: skip
    yield c
    c.stop()


@pytest.fixture
def payer(container: Container) -> Principal:
    user = container.accounts.create_user("payer@example.com", None)
    container.credits.grant(user.id, GRANT)
    return Principal(user.id, user.email, "member", "key")


def create(container: Container, principal: Principal, n: int) -> Batch:
    items = [{"custom_id": f"r{i}", "method": "POST", "url": "/v1/images/generations",
              "body": {"prompt": f"p{i}"}} for i in range(n)]  # fmt: skip
    data = "".join(json.dumps(i) + "\n" for i in items).encode()
    stored = container.files.create(data, "in.jsonl", "batch", principal)
    lines = [BatchLine(i + 1, f"r{i}", GenerationRequest(prompt=f"p{i}", model="zero"), "b64_json")
             for i in range(n)]  # fmt: skip
    batch, _ = container.batches.create(stored, "/v1/images/generations", None, lines, [],
                                        principal=principal)  # fmt: skip
    return batch


def run_jobs(container: Container, limit: int | None = None) -> int:
    """Run queued jobs in this thread (the container has no workers); how many ran."""
    ran = 0
    while limit is None or ran < limit:
        claimed = container.queue.claim("test-worker")
        if claimed is None:
            break
        container.pool.runner.run(claimed)
        ran += 1
    return ran


def outputs(container: Container) -> int:
    with container.db.read() as s:
        query = select(func.count()).select_from(StoredFile).where(
            StoredFile.purpose == "batch_output")  # fmt: skip
        return int(s.scalar(query) or 0)


def test_finalize_ready_writes_each_batch_once_when_called_concurrently(
    container: Container, payer: Principal
) -> None:
    batch = create(container, payer, 6)
    run_jobs(container)
    barrier = threading.Barrier(6)
    written: list[list[str]] = []

    def finalize() -> None:
        barrier.wait()
        written.append(container.batches.finalize_ready())

    threads = [threading.Thread(target=finalize) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    done = container.batches.get(batch.id, payer)
    assert sorted(written) == [[]] * 5 + [[batch.id]]
    assert (done.status, outputs(container)) == ("completed", 2)  # output JSONL and zip
    assert container.credits.balance(payer.user_id or "") == GRANT - 6 * BATCH_PRICE


def test_finalize_ready_waits_while_a_job_has_not_ended(
    container: Container, payer: Principal
) -> None:
    batch = create(container, payer, 3)
    run_jobs(container, limit=2)

    assert container.batches.finalize_ready() == []
    assert container.batches.get(batch.id, payer).status == "in_progress"


def test_claim_left_by_a_stopped_server_is_taken_over(
    container: Container, payer: Principal
) -> None:
    batch = create(container, payer, 2)
    run_jobs(container)
    # A server claimed the batch and stopped before writing its files.
    assert container.batches._claim(batch.id, container.batches.clock(), 0)

    waiting = container.batches.finalize_ready()  # the claim is fresh: left alone
    taken = container.batches.finalize_ready(reclaim_after=0)  # a starting server takes it

    assert (waiting, taken) == ([], [batch.id])
    assert container.batches.get(batch.id, payer).status == "completed"
    assert outputs(container) == 2


def test_expired_batch_cancels_and_refunds_queued_jobs_and_keeps_results(
    container: Container, payer: Principal
) -> None:
    batch = create(container, payer, 4)
    run_jobs(container, limit=1)
    later = BatchService(
        container.db, container.jobs, container.files, max_requests=10,
        clock=lambda: batch.created_at + WINDOW_SECONDS + 1,
    )  # fmt: skip

    assert later.finalize_ready() == [batch.id]

    done = later.get(batch.id, payer)
    _, errors = container.files.content(done.error_file_id or "", payer)
    codes = [json.loads(row)["error"]["code"] for row in errors.decode().splitlines()]
    assert (done.status, done.expired_at is not None) == ("expired", True)
    assert later.counts([batch.id])[batch.id] == {"completed": 1, "failed": 3}
    assert codes == ["batch_expired"] * 3
    with container.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status == QUEUED)) == 0
    assert container.credits.balance(payer.user_id or "") == GRANT - BATCH_PRICE
