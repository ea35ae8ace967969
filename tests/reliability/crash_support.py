"""Helpers for crash tests: containers on a shared SQLite home, and a worker process to kill."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import func, select

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest, Tier
from pixelforge.engines.base import Engine
from pixelforge.store.jobs import RUNNING
from pixelforge.store.models import Asset, Job

WORKER_SCRIPT = Path(__file__).with_name("crash_worker.py")
LEASE = 1.0  # crash_worker.py uses the same lease


def build(
    home: Path, engines: Sequence[Engine], *, workers: int = 0, max_attempts: int = 3
) -> Container:
    settings = Settings(
        home=home, workers=workers, lease_seconds=LEASE, poll_seconds=0.05,
        max_attempts=max_attempts,
    )  # fmt: skip
    return Container.build(settings, engines, Metrics(lambda: 0))


def submit_blocking_job(container: Container) -> str:
    request = GenerationRequest(prompt="x", model="blocking", tier=Tier.T512)
    return container.jobs.submit(request).job.id


def job(container: Container, job_id: str) -> Job:
    found = container.queue.get(job_id)
    assert found is not None
    return found


def asset_ids(container: Container, job_id: str) -> list[str]:
    with container.db.read() as s:
        return sorted(s.scalars(select(Asset.id).where(Asset.job_id == job_id)))


def asset_count(container: Container, job_id: str) -> int:
    with container.db.read() as s:
        query = select(func.count()).select_from(Asset).where(Asset.job_id == job_id)
        return int(s.scalar(query) or 0)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def kill_worker_while_running(container: Container, job_id: str, attempt: int, log: Path) -> None:
    """Start crash_worker.py on the container's home, wait until it runs the job (as
    ``attempt``), then SIGKILL it."""
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), str(container.settings.home)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:

        def running() -> bool:
            found = job(container, job_id)
            if proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{log.read_text()}")
            return found.status == RUNNING and found.attempts == attempt

        wait_for(running, 30, f"the worker process to run attempt {attempt}")
    finally:
        proc.kill()
        proc.wait(10)
