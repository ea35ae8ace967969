"""A job whose workers keep dying is failed and refunded after ``max_attempts`` (row 33),
whatever the timing of the reaper's throttle relative to the next claim."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest
from pixelforge.services.accounts import Principal
from pixelforge.store.jobs import FAILED
from testing_engines import ZeroWorkEngine

LEASE = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def container(tmp_path: Path, clock: Clock) -> Iterator[Container]:
    c = Container.build(
        Settings(home=tmp_path, workers=0, local_price_per_image="0.01", lease_seconds=LEASE,
                 max_attempts=2, user_concurrency=0),
        [ZeroWorkEngine()], Metrics(lambda: 0),
    )  # fmt: skip
    c.queue.clock = clock
    yield c
    c.stop()


@pytest.fixture
def payer(container: Container) -> Principal:
    user = container.accounts.create_user("payer@example.com", None)
    container.credits.grant(user.id, 1_000_000)
    return Principal(user.id, user.email, "member", "key")


def submit(container: Container, payer: Principal) -> str:
    request = GenerationRequest(prompt="x", model="zero")
    return container.jobs.submit(request, principal=payer).job.id


def exhaust_between_reaper_runs(container: Container, payer: Principal, clock: Clock) -> str:
    """Two workers die on one job; its last lease expires just after a reaper pass."""
    doomed = submit(container, payer)
    start = clock.now
    assert container.queue.claim("w1") is not None  # attempt 1; that worker dies
    clock.now = start + LEASE + 1
    assert container.queue.claim("w2") is not None  # attempt 2 (the last); it dies too
    other = submit(container, payer)
    clock.now = start + 2 * LEASE + 0.5
    taken = container.queue.claim("w3")  # takes the other job; the reaper ran just now
    assert taken is not None
    assert taken.id == other
    clock.now = start + 2 * LEASE + 1.2  # the doomed lease expired 0.2 s ago
    return doomed


def test_claim_expired_job_out_of_attempts_is_not_reclaimed(
    container: Container, payer: Principal, clock: Clock
) -> None:
    exhaust_between_reaper_runs(container, payer, clock)
    again = container.queue.claim("w4")
    assert again is None, f"claimed {again.id} for attempt {again.attempt}"


def test_claim_expired_job_out_of_attempts_is_failed_and_refunded_by_next_reap(
    container: Container, payer: Principal, clock: Clock
) -> None:
    doomed = exhaust_between_reaper_runs(container, payer, clock)
    container.queue.claim("w4")
    clock.now += 1.0
    container.queue.claim("w5")
    job = container.queue.get(doomed)
    assert job is not None
    assert (job.status, (job.error or {}).get("code")) == (FAILED, "worker_lost")
    assert container.credits.balance(payer.user_id or "") == 1_000_000 - 10_000


def test_claim_expired_job_with_attempts_left_is_reclaimed(
    container: Container, payer: Principal, clock: Clock
) -> None:
    job_id = submit(container, payer)
    assert container.queue.claim("w1") is not None
    clock.now += LEASE + 1
    again = container.queue.claim("w2")
    assert again is not None
    assert (again.id, again.attempt) == (job_id, 2)
