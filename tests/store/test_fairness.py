"""Fair claim order across users and the per-user concurrency cap, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

from pixelforge.store.db import Database
from pixelforge.store.jobs import JobQueue


def submit(queue: JobQueue, user: str | None, count: int) -> list[str]:
    ids = []
    with queue.db.write() as s:
        for _ in range(count):
            ids.append(queue.add(s, "m", {}, max_attempts=3, user_id=user).id)
    return ids


def queue_on(db: Database, cap: int = 0) -> JobQueue:
    ticks = itertools.count()
    return JobQueue(db, 30.0, clock=lambda: 1000.0 + next(ticks) * 0.001, user_concurrency=cap)


def test_claim_serves_single_request_early_when_other_user_has_big_batch(db: Database) -> None:
    queue = queue_on(db)
    submit(queue, "batch-user", 500)
    (single,) = submit(queue, "one-off-user", 1)
    claimed = [queue.claim("w") for _ in range(2)]
    assert single in [c.id for c in claimed if c is not None]


def test_claim_alternates_between_users_when_both_have_queues(db: Database) -> None:
    queue = queue_on(db)
    submit(queue, "a", 5)
    submit(queue, "b", 5)
    owners = []
    for _ in range(6):
        claimed = queue.claim("w")
        assert claimed is not None
        owners.append(claimed.user_id)
    assert owners.count("a") == 3
    assert owners.count("b") == 3


def test_claim_skips_user_at_concurrency_cap(db: Database) -> None:
    queue = queue_on(db, cap=1)
    submit(queue, "busy", 3)
    (other,) = submit(queue, "other", 1)
    first = queue.claim("w")
    second = queue.claim("w")
    assert first is not None
    assert second is not None
    assert first.user_id == "busy"
    assert second.id == other
    assert queue.claim("w") is None  # "busy" is at its cap until its job ends


def test_claim_resumes_capped_user_when_running_job_finishes(db: Database) -> None:
    queue = queue_on(db, cap=1)
    submit(queue, "busy", 2)
    first = queue.claim("w")
    assert first is not None
    assert queue.claim("w") is None
    assert queue.finish(first, "succeeded")
    nxt = queue.claim("w")
    assert nxt is not None
    assert nxt.user_id == "busy"
