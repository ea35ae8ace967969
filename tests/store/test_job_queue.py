"""The durable job queue: claims, leases, exactly-once completion, retries, cancel, release.

Every test runs on SQLite and PostgreSQL with a fake clock (the lease is 10 s).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pixelforge.store.db import Database
from pixelforge.store.jobs import (
    CANCELED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    JobQueue,
    LeaseLostError,
    new_id,
)
from pixelforge.store.models import Asset, Job

LEASE = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(db: Database, clock: Clock) -> JobQueue:
    return JobQueue(db, LEASE, clock=clock)


def add(queue: JobQueue, *, priority: int = 0, max_attempts: int = 3) -> str:
    with queue.db.write() as s:
        return queue.add(s, "m", {"p": 1}, max_attempts=max_attempts, priority=priority).id


def job(queue: JobQueue, job_id: str) -> Job:
    found = queue.get(job_id)
    assert found is not None
    return found


def asset(job_id: str) -> Asset:
    return Asset(
        id=new_id("img"), job_id=job_id, position=0, blob_key="k", format="png", width=1,
        height=1, bytes=1, model="m", seed=1, prompt="p", params={}, parent_id=None,
        timings={}, cost="0", created_at=0.0, deleted=False,
    )  # fmt: skip


def asset_count(queue: JobQueue, job_id: str) -> int:
    with queue.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Asset).where(Asset.job_id == job_id)))


def test_claim_returns_queued_job_as_first_attempt(queue: JobQueue) -> None:
    job_id = add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    assert (claimed.id, claimed.attempt, claimed.owner) == (job_id, 1, "w1")


def test_claim_marks_job_running_under_lease(queue: JobQueue, clock: Clock) -> None:
    job_id = add(queue)
    queue.claim("w1")
    found = job(queue, job_id)
    assert (found.status, found.lease_owner, found.lease_expires_at) == (
        RUNNING, "w1", clock.now + LEASE,
    )  # fmt: skip


def test_claim_returns_none_when_only_job_is_taken(queue: JobQueue) -> None:
    add(queue)
    queue.claim("w1")
    assert queue.claim("w2") is None


def test_claim_orders_by_priority_then_creation(queue: JobQueue, clock: Clock) -> None:
    low = add(queue, priority=0)
    clock.advance(1)
    high_old = add(queue, priority=5)
    clock.advance(1)
    high_new = add(queue, priority=5)
    order = []
    for _ in range(3):
        claimed = queue.claim("w")
        assert claimed is not None
        order.append(claimed.id)
    assert order == [high_old, high_new, low]


def test_heartbeat_extends_lease(queue: JobQueue, clock: Clock) -> None:
    job_id = add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    clock.advance(LEASE / 2)
    queue.heartbeat(claimed)
    assert job(queue, job_id).lease_expires_at == clock.now + LEASE


def test_heartbeat_records_progress(queue: JobQueue) -> None:
    job_id = add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    queue.heartbeat(claimed, 0.5, "half way")
    found = job(queue, job_id)
    assert (found.progress, found.message) == (0.5, "half way")


def test_finish_by_lease_owner_records_outcome(queue: JobQueue) -> None:
    job_id = add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    assert queue.finish(claimed, SUCCEEDED, result={"ok": True})
    assert job(queue, job_id).status == SUCCEEDED


def test_finish_writes_assets_once(queue: JobQueue) -> None:
    job_id = add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    queue.finish(claimed, SUCCEEDED, assets=[asset(job_id)])
    queue.finish(claimed, SUCCEEDED, assets=[asset(job_id)])
    assert asset_count(queue, job_id) == 1


def test_finish_twice_returns_false(queue: JobQueue) -> None:
    add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    queue.finish(claimed, SUCCEEDED)
    assert queue.finish(claimed, FAILED) is False


def test_claim_after_lease_expiry_counts_second_attempt(queue: JobQueue, clock: Clock) -> None:
    job_id = add(queue)
    queue.claim("w1")
    clock.advance(LEASE + 1)
    again = queue.claim("w2")
    assert again is not None
    assert (again.id, again.attempt, again.owner) == (job_id, 2, "w2")


def test_heartbeat_after_reclaim_raises_lease_lost(queue: JobQueue, clock: Clock) -> None:
    add(queue)
    old = queue.claim("w1")
    assert old is not None
    clock.advance(LEASE + 1)
    queue.claim("w2")
    with pytest.raises(LeaseLostError):
        queue.heartbeat(old)


def test_finish_after_reclaim_returns_false(queue: JobQueue, clock: Clock) -> None:
    job_id = add(queue)
    old = queue.claim("w1")
    assert old is not None
    clock.advance(LEASE + 1)
    queue.claim("w2")
    assert queue.finish(old, SUCCEEDED, assets=[asset(job_id)]) is False


def test_finish_after_reclaim_writes_no_assets(queue: JobQueue, clock: Clock) -> None:
    job_id = add(queue)
    old = queue.claim("w1")
    assert old is not None
    clock.advance(LEASE + 1)
    queue.claim("w2")
    queue.finish(old, SUCCEEDED, assets=[asset(job_id)])
    assert asset_count(queue, job_id) == 0


def test_finish_after_reclaim_leaves_new_owner_running(queue: JobQueue, clock: Clock) -> None:
    job_id = add(queue)
    old = queue.claim("w1")
    assert old is not None
    clock.advance(LEASE + 1)
    queue.claim("w2")
    queue.finish(old, FAILED, error={"code": "x"})
    found = job(queue, job_id)
    assert (found.status, found.lease_owner) == (RUNNING, "w2")


def expire_every_attempt(queue: JobQueue, clock: Clock, max_attempts: int) -> str:
    job_id = add(queue, max_attempts=max_attempts)
    for i in range(max_attempts):
        assert queue.claim(f"w{i}") is not None
        clock.advance(LEASE + 1)
    return job_id


def test_claim_fails_job_with_worker_lost_after_max_attempts(queue: JobQueue, clock: Clock) -> None:
    job_id = expire_every_attempt(queue, clock, max_attempts=2)
    queue.claim("w-last")
    found = job(queue, job_id)
    assert (found.status, (found.error or {}).get("code")) == (FAILED, "worker_lost")


def test_claim_never_returns_job_lost_max_attempts_times(queue: JobQueue, clock: Clock) -> None:
    expire_every_attempt(queue, clock, max_attempts=2)
    claims = []
    for _ in range(3):
        claims.append(queue.claim("w-late"))
        clock.advance(LEASE + 1)
    assert claims == [None, None, None]


def test_cancel_queued_job_marks_it_canceled(queue: JobQueue) -> None:
    job_id = add(queue)
    queue.cancel(job_id)
    assert job(queue, job_id).status == CANCELED


def test_cancel_queued_job_keeps_it_from_claims(queue: JobQueue) -> None:
    queue.cancel(add(queue))
    assert queue.claim("w") is None


def test_cancel_running_job_requests_cancel(queue: JobQueue) -> None:
    job_id = add(queue)
    queue.claim("w1")
    queue.cancel(job_id)
    found = job(queue, job_id)
    assert (found.status, found.cancel_requested) == (RUNNING, True)


def test_heartbeat_reports_cancel_request(queue: JobQueue) -> None:
    job_id = add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    queue.cancel(job_id)
    assert queue.heartbeat(claimed) is True


def test_heartbeat_reports_no_cancel_by_default(queue: JobQueue) -> None:
    add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    assert queue.heartbeat(claimed) is False


def test_cancel_unknown_job_returns_none(queue: JobQueue) -> None:
    assert queue.cancel("job_missing") is None


def test_release_puts_job_back_in_queue(queue: JobQueue) -> None:
    job_id = add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    queue.release(claimed, "shutting down")
    found = job(queue, job_id)
    assert (found.status, found.lease_owner) == (QUEUED, None)


def test_release_does_not_count_the_attempt(queue: JobQueue) -> None:
    add(queue)
    claimed = queue.claim("w1")
    assert claimed is not None
    queue.release(claimed, "shutting down")
    again = queue.claim("w2")
    assert again is not None
    assert again.attempt == 1


def test_release_by_former_owner_leaves_job_running(queue: JobQueue, clock: Clock) -> None:
    job_id = add(queue)
    old = queue.claim("w1")
    assert old is not None
    clock.advance(LEASE + 1)
    queue.claim("w2")
    queue.release(old, "late")
    found = job(queue, job_id)
    assert (found.status, found.lease_owner, found.attempts) == (RUNNING, "w2", 2)
