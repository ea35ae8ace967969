"""Concurrent workers never share a job and never see "database is locked".

SQLite serialises claims with ``BEGIN IMMEDIATE``; PostgreSQL uses ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pixelforge.store.db import Database
from pixelforge.store.jobs import SUCCEEDED, JobQueue

JOBS = 200
THREADS = 8


def add_jobs(queue: JobQueue, count: int) -> list[str]:
    with queue.db.write() as s:
        return [queue.add(s, "m", {"i": i}, max_attempts=3).id for i in range(count)]


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Start ``count`` threads at once on ``work(index)``; returns what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def body(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def claim_all(queue: JobQueue) -> tuple[list[str], list[BaseException]]:
    claimed: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        while (job := queue.claim(f"w{index}")) is not None:
            with lock:
                claimed.append(job.id)

    return claimed, run_threads(THREADS, work)


def test_concurrent_claims_hand_out_every_job_exactly_once(db: Database) -> None:
    queue = JobQueue(db, lease_seconds=300)
    ids = add_jobs(queue, JOBS)
    claimed, _ = claim_all(queue)
    assert sorted(claimed) == sorted(ids)


def test_concurrent_claims_raise_no_errors(db: Database) -> None:
    queue = JobQueue(db, lease_seconds=300)
    add_jobs(queue, JOBS)
    _, errors = claim_all(queue)
    assert errors == []


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'stress.db'}")
    database.migrate()
    yield database
    database.dispose()


def test_sqlite_claim_heartbeat_finish_cycles_never_hit_locked_database(
    sqlite_db: Database,
) -> None:
    threads, cycles = 16, 100
    queue = JobQueue(sqlite_db, lease_seconds=300)
    add_jobs(queue, threads * cycles)

    def work(index: int) -> None:
        for _ in range(cycles):
            job = queue.claim(f"w{index}")
            assert job is not None
            queue.heartbeat(job, 0.5, "half")
            assert queue.finish(job, SUCCEEDED)

    assert run_threads(threads, work) == []
