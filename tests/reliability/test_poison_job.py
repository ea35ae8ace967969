"""A job that kills its worker every time: after max_attempts it fails with worker_lost."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from crash_support import (
    LEASE,
    asset_count,
    build,
    job,
    kill_worker_while_running,
    submit_blocking_job,
    wait_for,
)

from pixelforge.store.jobs import FAILED, TERMINAL
from pixelforge.store.models import Job
from testing_engines import BlockingEngine, ZeroWorkEngine

MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class Outcome:
    job: Job
    later_job: Job
    assets: int


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    home: Path = tmp_path_factory.mktemp("poison-home")
    submitter = build(home, [BlockingEngine()], max_attempts=MAX_ATTEMPTS)
    try:
        job_id = submit_blocking_job(submitter)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            kill_worker_while_running(submitter, job_id, attempt, home / "worker.log")
        # A healthy worker that could finish the job at once, if it were ever handed out again.
        survivor = build(home, [ZeroWorkEngine("blocking")], workers=1)
        survivor.start()
        try:
            wait_for(lambda: job(submitter, job_id).status in TERMINAL, 30, "the job to end")
            ended = job(submitter, job_id)
            time.sleep(LEASE * 2)
            return Outcome(ended, job(submitter, job_id), asset_count(submitter, job_id))
        finally:
            survivor.stop()
    finally:
        submitter.stop()


def test_poison_job_ends_failed(poisoned: Outcome) -> None:
    assert poisoned.job.status == FAILED


def test_poison_job_reports_worker_lost(poisoned: Outcome) -> None:
    assert (poisoned.job.error or {}).get("code") == "worker_lost"


def test_poison_job_stops_after_max_attempts(poisoned: Outcome) -> None:
    assert poisoned.job.attempts == MAX_ATTEMPTS


def test_poison_job_is_not_claimed_again(poisoned: Outcome) -> None:
    later = poisoned.later_job
    assert (later.status, later.attempts) == (FAILED, MAX_ATTEMPTS)


def test_poison_job_records_no_assets(poisoned: Outcome) -> None:
    assert poisoned.assets == 0
