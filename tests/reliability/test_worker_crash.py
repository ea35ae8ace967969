"""A worker process killed mid-job: the lease expires, another worker finishes the job once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from crash_support import (
    LEASE,
    asset_count,
    asset_ids,
    build,
    job,
    kill_worker_while_running,
    submit_blocking_job,
    wait_for,
)

from pixelforge.store.jobs import SUCCEEDED, TERMINAL
from pixelforge.store.models import Job
from testing_engines import BlockingEngine, ZeroWorkEngine


@dataclass(frozen=True)
class Recovery:
    job: Job
    asset_ids: list[str]
    later_job: Job
    later_asset_count: int


@pytest.fixture(scope="module")
def recovery(tmp_path_factory: pytest.TempPathFactory) -> Recovery:
    home: Path = tmp_path_factory.mktemp("crash-home")
    submitter = build(home, [BlockingEngine()])
    try:
        job_id = submit_blocking_job(submitter)
        kill_worker_while_running(submitter, job_id, 1, home / "worker.log")
        rescuer = build(home, [ZeroWorkEngine("blocking")], workers=1)
        rescuer.start()
        try:
            wait_for(lambda: job(submitter, job_id).status in TERMINAL, 30, "the job to end")
            finished, ids = job(submitter, job_id), asset_ids(submitter, job_id)
            time.sleep(LEASE * 2)  # a second completion would show up by now
            return Recovery(finished, ids, job(submitter, job_id), asset_count(submitter, job_id))
        finally:
            rescuer.stop()
    finally:
        submitter.stop()


def test_killed_worker_job_succeeds_on_another_worker(recovery: Recovery) -> None:
    assert recovery.job.status == SUCCEEDED


def test_killed_worker_job_counts_two_attempts(recovery: Recovery) -> None:
    assert recovery.job.attempts == 2


def test_killed_worker_job_records_one_set_of_assets(recovery: Recovery) -> None:
    assert len(recovery.asset_ids) == 1


def test_killed_worker_job_result_lists_its_stored_assets(recovery: Recovery) -> None:
    assert sorted((recovery.job.result or {})["assets"]) == recovery.asset_ids


def test_killed_worker_job_gains_no_assets_after_another_lease(recovery: Recovery) -> None:
    assert recovery.later_asset_count == len(recovery.asset_ids)


def test_killed_worker_job_is_not_completed_twice(recovery: Recovery) -> None:
    later = recovery.later_job
    assert (later.status, later.attempts, later.finished_at) == (
        SUCCEEDED, 2, recovery.job.finished_at,
    )  # fmt: skip
