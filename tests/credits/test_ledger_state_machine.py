"""The credits ledger across the job lifecycle, as a Hypothesis state machine (security.md rows
32 and 33): client retries, claims, success (charging the reservation or an actual cost below
or above it), failure, crashed workers (lease expiry, re-claim, reaper), duplicate and stale
deliveries, cancellation and grants.

Invariants after every step: the balance is the sum of the ledger's deltas and equals the
model's; it never goes negative; each job has at most one settlement, terminal jobs exactly
one (capture iff succeeded), live jobs none; a capture charges at most the reservation and
gives back exactly the rest; outstanding reservations equal the prices of the live jobs.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from pixelforge.api.container import Container
from pixelforge.api.metrics import Metrics
from pixelforge.config import Settings
from pixelforge.domain import GenerationRequest
from pixelforge.domain.request import Quality
from pixelforge.domain.sizes import Tier
from pixelforge.errors import (
    IdempotencyReusedError,
    InsufficientCreditsError,
    JobStateError,
)
from pixelforge.services.accounts import Principal
from pixelforge.services.jobs import Idempotency, fingerprint
from pixelforge.store import ledger
from pixelforge.store.jobs import CANCELED, FAILED, QUEUED, RUNNING, SUCCEEDED, TERMINAL, Claimed
from pixelforge.store.models import Job, LedgerEntry
from testing_engines import ZeroWorkEngine

LEASE = 10.0
MAX_ATTEMPTS = 2
MODELS = ("zero", "gpt-image-1")
QUALITIES = ("low", "medium", "high", "auto")
# Where the PostgreSQL run gets its databases; None: SQLite in a temp dir.
_DATABASES: dict[str, Any] = {"factory": None}
_names = itertools.count()
BODIES = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS), "n": st.integers(1, 3),
     "quality": st.sampled_from(QUALITIES)}
)  # fmt: skip


@dataclass
class ModelJob:
    id: str
    user: int
    price: int
    status: str = QUEUED
    attempts: int = 0
    owner: str | None = None
    lease_until: float = 0.0
    cancel_requested: bool = False


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.home = Path(tempfile.mkdtemp(prefix="pf-ledger-"))
        factory = _DATABASES["factory"]
        url = factory() if factory is not None else None
        self.c = Container.build(
            Settings(
                home=self.home, workers=0, local_price_per_image="0.01", lease_seconds=LEASE,
                max_attempts=MAX_ATTEMPTS, user_concurrency=0, database_url=url,
            ),
            [ZeroWorkEngine(), ZeroWorkEngine("gpt-image-1")],
            Metrics(lambda: 0),
        )  # fmt: skip
        self.now = time.time()
        # Every reading moves the clock a microsecond: jobs never share a created_at, so the
        # claim order (and so every later draw) is the same when Hypothesis replays a case
        # (ties would fall back to random job ids and make the data generation flaky).
        ticks = itertools.count()
        self.c.queue.clock = lambda: self.now + next(ticks) * 1e-6
        self.users: list[Principal] = []
        for i in range(2):
            user = self.c.accounts.create_user(f"user{i}@example.com", None)
            self.users.append(Principal(user.id, user.email, "member", "key"))
        self.balances = [0, 0]
        self.jobs: dict[str, ModelJob] = {}
        self.claims: list[Claimed] = []
        self.keys: dict[str, tuple[int, dict[str, Any], str]] = {}
        self.owners = itertools.count()

    def teardown(self) -> None:
        self.c.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------------------
    def _request(self, body: dict[str, Any]) -> GenerationRequest:
        return GenerationRequest(
            prompt="a red square", model=body["model"], n=body["n"],
            quality=Quality(body["quality"]), tier=Tier.T512,
        )  # fmt: skip

    def _idem(self, user: int, key: str, body: dict[str, Any]) -> Idempotency:
        return Idempotency(f"{self.users[user].scope} POST /api/jobs", key, fingerprint(body))

    def _submit(self, user: int, body: dict[str, Any], key: str | None) -> None:
        request = self._request(body)
        price = self.c.prices.price(request)
        idem = self._idem(user, key, body) if key is not None else None
        if self.balances[user] < price:
            with pytest.raises(InsufficientCreditsError):
                self.c.jobs.submit(request, idem, principal=self.users[user])
            return
        submitted = self.c.jobs.submit(request, idem, principal=self.users[user])
        assert not submitted.replayed
        assert submitted.job.price == price
        self.balances[user] -= price
        self.jobs[submitted.job.id] = ModelJob(submitted.job.id, user, price)
        if key is not None:
            self.keys[key] = (user, body, submitted.job.id)

    def _finish_expected(self, claimed: Claimed) -> bool:
        job = self.jobs[claimed.id]
        return job.status == RUNNING and job.owner == claimed.owner

    def _settle_model(self, job: ModelJob, status: str) -> None:
        job.status, job.owner = status, None
        if status != SUCCEEDED:
            self.balances[job.user] += job.price

    def _finish(self, claimed: Claimed, status: str) -> None:
        expected = self._finish_expected(claimed)
        assert self.c.queue.finish(claimed, status) is expected
        if expected:
            self._settle_model(self.jobs[claimed.id], status)

    # -- rules -----------------------------------------------------------------------------
    @rule(user=st.integers(0, 1), body=BODIES, with_key=st.booleans())
    def submit(self, user: int, body: dict[str, Any], with_key: bool) -> None:
        self._submit(user, body, f"key-{next(_names)}" if with_key else None)

    @precondition(lambda self: self.keys)
    @rule(pick=st.integers(0, 10**6))
    def retry_same_key_same_body(self, pick: int) -> None:
        key = list(self.keys)[pick % len(self.keys)]
        user, body, job_id = self.keys[key]
        submitted = self.c.jobs.submit(
            self._request(body), self._idem(user, key, body), principal=self.users[user]
        )
        assert submitted.replayed
        assert submitted.job.id == job_id

    @precondition(lambda self: self.keys)
    @rule(pick=st.integers(0, 10**6))
    def retry_same_key_other_body(self, pick: int) -> None:
        key = list(self.keys)[pick % len(self.keys)]
        user, body, _ = self.keys[key]
        other = {**body, "n": body["n"] % 3 + 1}
        with pytest.raises(IdempotencyReusedError):
            self.c.jobs.submit(
                self._request(other), self._idem(user, key, other), principal=self.users[user]
            )

    @rule()
    def claim(self) -> None:
        self._claim()

    def _claim(self) -> None:
        # The reaper runs first: expired leases with every attempt used are failed + refunded.
        for job in self.jobs.values():
            expired = job.status == RUNNING and job.lease_until < self.now
            if expired and job.attempts >= MAX_ATTEMPTS:
                self._settle_model(job, FAILED)
        candidates = {
            j.id for j in self.jobs.values()
            if j.status == QUEUED or (j.status == RUNNING and j.lease_until < self.now)
        }  # fmt: skip
        owner = f"worker-{next(self.owners)}"
        claimed = self.c.queue.claim(owner)
        if not candidates:
            assert claimed is None
            return
        assert claimed is not None
        assert claimed.id in candidates
        job = self.jobs[claimed.id]
        job.status, job.owner, job.lease_until = RUNNING, owner, self.now + LEASE
        job.attempts += 1
        assert claimed.attempt == job.attempts
        self.claims.append(claimed)

    @precondition(lambda self: self.claims)
    @rule(pick=st.integers(0, 10**6))
    def succeed_with_runner(self, pick: int) -> None:
        claimed = self.claims[pick % len(self.claims)]
        expected = self._finish_expected(claimed)
        outcome = self.c.pool.runner.run(claimed)
        assert outcome == (SUCCEEDED if expected else "lost")
        if expected:
            self._settle_model(self.jobs[claimed.id], SUCCEEDED)

    @precondition(lambda self: self.claims)
    @rule(pick=st.integers(0, 10**6))
    def succeed(self, pick: int) -> None:
        self._finish(self.claims[pick % len(self.claims)], SUCCEEDED)

    @precondition(lambda self: self.claims)
    @rule(pick=st.integers(0, 10**6), charge=st.integers(0, 400_000))
    def succeed_with_charge(self, pick: int, charge: int) -> None:
        """Success at an actual cost (from usage), below or above the reservation."""
        claimed = self.claims[pick % len(self.claims)]
        expected = self._finish_expected(claimed)
        assert self.c.queue.finish(claimed, SUCCEEDED, charge=charge) is expected
        if expected:
            job = self.jobs[claimed.id]
            self._settle_model(job, SUCCEEDED)
            self.balances[job.user] += job.price - min(charge, job.price)

    @precondition(lambda self: self.claims)
    @rule(pick=st.integers(0, 10**6))
    def fail(self, pick: int) -> None:
        self._finish(self.claims[pick % len(self.claims)], FAILED)

    @precondition(lambda self: self.claims)
    @rule(pick=st.integers(0, 10**6), status=st.sampled_from((SUCCEEDED, FAILED)))
    def deliver_twice(self, pick: int, status: str) -> None:
        claimed = self.claims[pick % len(self.claims)]
        self._finish(claimed, status)
        assert self.c.queue.finish(claimed, status) is False

    @rule(reclaim=st.booleans())
    def crash_workers(self, reclaim: bool) -> None:
        """Every worker holding a lease vanishes: time passes beyond the lease; a worker
        polling next re-claims a job, or (its attempts used up) the reaper fails it."""
        self.now += LEASE + 1
        if reclaim:
            self._claim()

    @precondition(lambda self: self.jobs)
    @rule(pick=st.integers(0, 10**6))
    def cancel(self, pick: int) -> None:
        job = self.jobs[list(self.jobs)[pick % len(self.jobs)]]
        principal = self.users[job.user]
        if job.status in TERMINAL and not job.cancel_requested and job.status != CANCELED:
            with pytest.raises(JobStateError):
                self.c.jobs.cancel(job.id, principal)
            return
        self.c.jobs.cancel(job.id, principal)
        if job.status == QUEUED:
            self._settle_model(job, CANCELED)
        elif job.status == RUNNING:
            job.cancel_requested = True

    @initialize(
        first=st.integers(0, 2_000_000), second=st.integers(0, 2_000_000),
        bodies=st.lists(st.tuples(st.integers(0, 1), BODIES), max_size=4),
    )  # fmt: skip
    def opening(self, first: int, second: int, bodies: list[tuple[int, Any]]) -> None:
        for user, amount in enumerate((first, second)):
            if amount:
                self.grant(user, amount)
        for user, body in bodies:
            self._submit(user, body, None)

    @rule(user=st.integers(0, 1), amount=st.integers(1, 400_000))
    def grant(self, user: int, amount: int) -> None:
        new = self.c.credits.grant(self.users[user].user_id or "", amount)
        self.balances[user] += amount
        assert new == self.balances[user]

    # -- invariants ------------------------------------------------------------------------
    def _entries(self) -> list[Any]:
        with self.c.db.read() as s:
            return list(s.execute(select(LedgerEntry.__table__)).all())

    @invariant()
    def balance_is_sum_of_deltas_and_matches_model(self) -> None:
        with self.c.db.read() as s:
            for i, user in enumerate(self.users):
                total = s.scalar(
                    select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
                        LedgerEntry.user_id == user.user_id
                    )
                )
                assert int(total or 0) == self.balances[i]
                assert ledger.balance(s.connection(), user.user_id or "") == self.balances[i]
                assert self.balances[i] >= 0

    @invariant()
    def job_statuses_match_model(self) -> None:
        with self.c.db.read() as s:
            actual = {j.id: j.status for j in s.scalars(select(Job))}
        assert actual == {j.id: j.status for j in self.jobs.values()}

    @invariant()
    def each_job_settled_once_iff_terminal(self) -> None:
        entries = self._entries()
        with self.c.db.read() as s:
            jobs = list(s.scalars(select(Job)))
        for job in jobs:
            mine = [e for e in entries if e.job_id == job.id]
            reserves = [e for e in mine if e.kind == ledger.RESERVE]
            settles = [e for e in mine if e.kind in (ledger.CAPTURE, ledger.REFUND)]
            assert len(reserves) == 1
            assert reserves[0].amount == job.price == self.jobs[job.id].price
            assert len(settles) <= 1
            if job.status in TERMINAL:
                assert len(settles) == 1
                kind = ledger.CAPTURE if job.status == SUCCEEDED else ledger.REFUND
                assert settles[0].kind == kind
            else:
                assert settles == []

    @invariant()
    def captures_charge_at_most_the_reservation(self) -> None:
        entries = self._entries()
        held = {e.job_id: e.amount for e in entries if e.kind == ledger.RESERVE}
        for e in entries:
            if e.kind == ledger.CAPTURE:
                assert 0 <= e.amount <= held[e.job_id]
                assert e.amount + e.delta == held[e.job_id]

    @invariant()
    def outstanding_reservations_equal_live_job_prices(self) -> None:
        entries = self._entries()
        settled = {e.settles for e in entries if e.settles is not None}
        outstanding = sum(
            e.amount for e in entries if e.kind == ledger.RESERVE and e.job_id not in settled
        )
        live = sum(j.price for j in self.jobs.values() if j.status not in TERMINAL)
        assert outstanding == live


def _run(examples: int, steps: int) -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=examples, stateful_step_count=steps, deadline=None,
            suppress_health_check=[HealthCheck.too_slow], database=None,
        ),
    )  # fmt: skip


def test_ledger_invariants_hold_across_job_lifecycle_sqlite() -> None:
    _DATABASES["factory"] = None
    _run(examples=50, steps=30)


def test_ledger_invariants_hold_across_job_lifecycle_postgres(postgres_server: Any) -> None:
    _DATABASES["factory"] = lambda: postgres_server.create_database(f"ledger_sm_{next(_names)}")
    try:
        _run(examples=8, steps=25)
    finally:
        _DATABASES["factory"] = None
