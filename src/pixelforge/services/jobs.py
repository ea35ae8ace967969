"""Jobs as a use case: submit (checked, idempotent), watch, wait, cancel."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pixelforge.domain import GenerationRequest
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import (
    IdempotencyConflictError,
    IdempotencyReusedError,
    InsufficientCreditsError,
    JobStateError,
    NotFoundError,
    WaitTimeoutError,
)
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.assets import WORKSPACE_KEY, check_workspace
from pixelforge.services.codec import encode_request
from pixelforge.services.pricing import BATCH_KEY, PriceTable, from_micro
from pixelforge.store import ledger
from pixelforge.store.blobs import BlobStore
from pixelforge.store.jobs import QUEUED, TERMINAL, JobQueue, new_id
from pixelforge.store.models import ApiKey, Asset, IdempotencyRecord, Job, User


@dataclass(frozen=True, slots=True)
class Idempotency:
    scope: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Submitted:
    job: Job
    replayed: bool
    stored_status: int | None = None
    stored_body: str | None = None


def _month_start(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC)
    return day.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def fingerprint(payload: Any) -> str:
    """SHA-256 of a canonical JSON rendering of what the request means."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class JobService:
    def __init__(
        self, queue: JobQueue, registry: ModelRegistry, blobs: BlobStore, *,
        max_attempts: int, retention_seconds: float, wake: Callable[[], None] = lambda: None,
        prices: PriceTable | None = None,
    ) -> None:  # fmt: skip
        self.queue, self.registry, self.blobs = queue, registry, blobs
        self.prices = prices or PriceTable.load()
        self.max_attempts = max_attempts
        self.retention = retention_seconds
        self.wake = wake
        self._lock = threading.Lock()
        self._waiters: dict[str, threading.Event] = {}

    def check(self, request: GenerationRequest) -> None:
        engine, _ = self.registry.resolve(request.model)
        engine.check(request)

    def submit(
        self, request: GenerationRequest, idem: Idempotency | None = None, priority: int = 0,
        *, wait_for_result: bool = False, principal: Principal = LOCAL, batch: bool = False,
        continue_from: str | None = None, attach: Callable[[Session, Job], None] | None = None,
        workspace: str | None = None,
    ) -> Submitted:  # fmt: skip
        """Validate, then create the job (and the idempotency record) in one transaction.

        A repeated ``Idempotency-Key`` replays: with a different body -> 422; for endpoints
        that answer with the finished result (``wait_for_result``), while the first request is
        still in flight -> 409 (retry later); otherwise the original job and stored response.
        Signed-in callers pay: the price is reserved in the same transaction (402 if the
        balance, a quota or the key's budget cannot cover it). ``continue_from`` names the
        asset the request continues (see ``services.threads``): its assets get it as parent.
        ``workspace`` (``draft`` or ``explore``) tags the job's assets; None: the continued
        asset's workspace, if any (variations, upscales, text edits and turns inherit it).
        ``attach(session, job)`` runs in the same transaction once the job exists (to store
        what refers to it, e.g. an edit thread's node); a replay does not call it.
        ``batch`` reserves the batch price (``batch_discount``) and marks the job so that a
        charge from reported usage gets the same discount.
        """
        self.check(request)
        check_workspace(workspace)
        payload = encode_request(request, self.blobs)
        if continue_from is not None:
            payload["continue_from"] = continue_from
        if workspace is not None:
            payload[WORKSPACE_KEY] = workspace
        if batch:
            payload[BATCH_KEY] = True
        price = self.prices.price(request, batch) if principal.user_id is not None else 0
        with self.queue.db.write() as s:
            record = self._recorded(s, idem)
            if idem is not None and record is not None:
                return self._replay(s.get(Job, record.job_id), record, idem, wait_for_result)
            job_id = new_id("job")
            if workspace is None and continue_from is not None:
                source = s.get(Asset, continue_from)
                if source is not None and source.workspace is not None:
                    payload[WORKSPACE_KEY] = source.workspace
            if principal.user_id is not None:
                self._reserve(s, principal, job_id, price, request.model)
            job = self.queue.add(
                s, request.model, payload, max_attempts=self.max_attempts, priority=priority,
                user_id=principal.user_id, api_key_id=principal.api_key_id, price=price,
                job_id=job_id,
            )  # fmt: skip
            if attach is not None:
                attach(s, job)
            if idem is not None:
                s.add(IdempotencyRecord(
                    scope=idem.scope, key=idem.key, fingerprint=idem.fingerprint,
                    job_id=job.id, created_at=self.queue.clock(),
                ))  # fmt: skip
        self.wake()
        return Submitted(job, replayed=False)

    def submit_group(
        self, requests: Sequence[GenerationRequest], record: Callable[[Session, list[Job]], None],
        idem: Idempotency | None = None, *, principal: Principal = LOCAL, priority: int = 0,
        batch: bool = False, workspace: str | None = None,
    ) -> Submitted | list[Job]:  # fmt: skip
        """Submit every request as its own job, all in one transaction, or none of them.

        Each job is checked, reserved (402 if the caller cannot pay for all of them) and
        queued like :meth:`submit`'s; ``record(session, jobs)`` runs in the same transaction
        (to store what groups them). A repeated ``Idempotency-Key`` returns the original
        group's first job as a replay (422 when the body differs); no jobs are made.
        ``batch`` prices every job at the batch discount; ``workspace`` tags every job's
        assets (see :meth:`submit`).
        """
        for request in requests:
            self.check(request)
        check_workspace(workspace)
        payloads = [encode_request(request, self.blobs) for request in requests]
        if workspace is not None:
            for payload in payloads:
                payload[WORKSPACE_KEY] = workspace
        if batch:
            for payload in payloads:
                payload[BATCH_KEY] = True
        paying = principal.user_id is not None
        with self.queue.db.write() as s:
            stored = self._recorded(s, idem)
            if idem is not None and stored is not None:
                return self._replay(s.get(Job, stored.job_id), stored, idem, False)
            ids = [new_id("job") for _ in requests]
            prices = [self.prices.price(r, batch) if paying else 0 for r in requests]
            if paying:
                models = [r.model for r in requests]
                self._reserve_all(s, principal, list(zip(ids, prices, models, strict=True)))
            # One count for the group: its jobs take the next places in the owner's queue.
            rank = self.queue.next_fair_rank(s, principal.user_id)
            jobs = [
                self.queue.add(
                    s, request.model, payload, max_attempts=self.max_attempts, priority=priority,
                    user_id=principal.user_id, api_key_id=principal.api_key_id, price=price,
                    job_id=job_id, fair_rank=rank + i,
                )
                for i, (request, payload, job_id, price) in
                enumerate(zip(requests, payloads, ids, prices, strict=True))
            ]  # fmt: skip
            record(s, jobs)
            if idem is not None:
                s.add(IdempotencyRecord(
                    scope=idem.scope, key=idem.key, fingerprint=idem.fingerprint,
                    job_id=jobs[0].id, created_at=self.queue.clock(),
                ))  # fmt: skip
        self.wake()
        return jobs

    def replay(self, idem: Idempotency) -> Submitted | None:
        """What a repeated ``Idempotency-Key`` answers (422 when the body differs), or None
        when the key is new: for endpoints that must not look at the present state before
        replaying (it may have moved on since the first request)."""
        with self.queue.db.write() as s:
            record = self._recorded(s, idem)
            if record is None:
                return None
            return self._replay(s.get(Job, record.job_id), record, idem, False)

    def _recorded(self, s: Session, idem: Idempotency | None) -> IdempotencyRecord | None:
        """The live record of ``idem``'s key (expired records are deleted first)."""
        if idem is None:
            return None
        s.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.created_at < self.queue.clock() - self.retention
            )
        )
        return s.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == idem.scope, IdempotencyRecord.key == idem.key
            )
        )

    def _reserve(
        self, s: Session, principal: Principal, job_id: str, price: int, model: str
    ) -> None:
        """Hold ``price`` for the job, or refuse with 402. Runs inside the submit transaction."""
        self._reserve_all(s, principal, [(job_id, price, model)])

    def _reserve_all(
        self, s: Session, principal: Principal, holds: Sequence[tuple[str, int, str]]
    ) -> None:
        """Hold each ``(job id, price, model)``, or refuse them all with 402 when the balance,
        a quota or the key's budget cannot cover their sum (checked once: a group of many
        jobs costs one balance query, not one per job)."""
        assert principal.user_id is not None
        price = sum(amount for _, amount, _ in holds)
        what = "this request costs" if len(holds) == 1 else f"these {len(holds)} requests cost"
        user_q = select(User).where(User.id == principal.user_id)
        if not self.queue.db.is_sqlite:
            user_q = user_q.with_for_update()  # serialize reservations per user
        user = s.scalar(user_q)
        if user is None:
            raise InsufficientCreditsError("this account no longer exists")
        conn = s.connection()
        have = ledger.balance(conn, user.id)
        if have < price:
            raise InsufficientCreditsError(
                f"not enough credits: {what} ${from_micro(price)}, the balance is "
                f"${from_micro(have)}; ask an admin for credits"
            )
        now = self.queue.clock()
        for quota, since, period in (
            (user.daily_quota, now - now % 86400, "daily"),
            (user.monthly_quota, _month_start(now), "monthly"),
        ):
            if quota is not None and ledger.spent_since(conn, user.id, since) + price > quota:
                raise InsufficientCreditsError(
                    f"the {period} quota of ${from_micro(quota)} would be exceeded by "
                    f"{'this request' if len(holds) == 1 else f'these {len(holds)} requests'} "
                    f"(${from_micro(price)})", code="quota_exceeded",
                )  # fmt: skip
        if principal.api_key_id is not None:
            key = s.get(ApiKey, principal.api_key_id)
            over = (
                key is not None
                and key.budget is not None
                and ledger.key_spent(conn, key.id) + price > key.budget
            )
            if over and key is not None and key.budget is not None:
                raise InsufficientCreditsError(
                    f"this API key's budget of ${from_micro(key.budget)} would be exceeded",
                    code="key_budget_exceeded",
                )
        for job_id, amount, model in holds:
            ledger.entry(
                conn, user_id=user.id, job_id=job_id, api_key_id=principal.api_key_id,
                kind=ledger.RESERVE, amount=amount, delta=-amount, model=model, settles=None,
                note="", created_at=now,
            )  # fmt: skip

    def visible(self, job: Job, principal: Principal) -> bool:
        return principal.is_admin or job.user_id == principal.user_id

    def _replay(
        self, job: Job | None, record: IdempotencyRecord, idem: Idempotency, wait_for_result: bool
    ) -> Submitted:
        if record.fingerprint != idem.fingerprint:
            raise IdempotencyReusedError(
                "Idempotency-Key: this key was used with a different request body; "
                "use a new key for a new request",
                param="Idempotency-Key",
            )
        if job is None:
            raise IdempotencyConflictError("Idempotency-Key: the original request is gone")
        if wait_for_result and record.response_body is None and job.status not in TERMINAL:
            raise IdempotencyConflictError(
                "Idempotency-Key: a request with this key is still in progress; retry shortly",
                param="Idempotency-Key",
            )
        return Submitted(job, True, record.response_status, record.response_body)

    def store_response(self, idem: Idempotency, status: int, body: str) -> None:
        with self.queue.db.write() as s:
            record = s.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == idem.scope, IdempotencyRecord.key == idem.key
                )
            )
            if record is not None:
                record.response_status, record.response_body = status, body

    def get(self, job_id: str, principal: Principal = LOCAL) -> Job:
        """The job, if it exists and the caller may see it; 404 alike otherwise."""
        job = self.queue.get(job_id)
        if job is None or not self.visible(job, principal):
            raise NotFoundError(f"job {job_id!r} not found", param="job_id", code="job_not_found")
        return job

    def cancel(self, job_id: str, principal: Principal = LOCAL) -> Job:
        self.get(job_id, principal)
        job = self.queue.cancel(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id!r} not found", param="job_id", code="job_not_found")
        if job.status in TERMINAL and not job.cancel_requested and job.status != "canceled":
            raise JobStateError(f"job {job_id!r} already {job.status}; only queued or running "
                                "jobs can be cancelled")  # fmt: skip
        return job

    def notify_finished(self, job_id: str) -> None:
        """Called by local workers when a job ends: wakes the requests waiting for it."""
        with self._lock:
            event = self._waiters.get(job_id)
        if event is not None:
            event.set()

    def wait(self, job_id: str, timeout: float, poll: float = 0.5) -> Job:
        """Block until the job ends: woken by local workers, polling for remote ones."""
        deadline = time.monotonic() + timeout
        with self._lock:
            event = self._waiters.setdefault(job_id, threading.Event())
        try:
            while True:
                # Register before reading, so a finish between the read and the wait is seen.
                event.clear()
                job = self.get(job_id)
                if job.status in TERMINAL:
                    return job
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeoutError(
                        f"job {job_id!r} is still {job.status} after {timeout:g} s; it keeps "
                        f"running: poll GET /api/jobs/{job_id}",
                    )
                event.wait(min(poll, left))
        finally:
            with self._lock:
                self._waiters.pop(job_id, None)

    def view(self, job: Job) -> dict[str, Any]:
        """The job as the native API shows it: ``cost`` is the charge once the job succeeded
        (at most ``reserved``, the amount held when it was accepted), else the reservation."""
        charged = (job.result or {}).get("cost")
        out: dict[str, Any] = {
            "id": job.id, "object": "image.job", "status": job.status, "model": job.model,
            "created": int(job.created_at), "progress": round(job.progress, 4),
            "message": job.message, "attempts": job.attempts,
            "assets": (job.result or {}).get("assets", []), "error": job.error,
            "cost": str(from_micro(charged if isinstance(charged, int) else job.price)),
            "reserved": str(from_micro(job.price)),
        }  # fmt: skip
        if job.status == QUEUED:
            out["queue_position"] = self.queue.queue_position(job)
        return out
