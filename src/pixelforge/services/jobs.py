"""Jobs as a use case: submit (checked, idempotent), watch, wait, cancel."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from pixelforge.domain import GenerationRequest
from pixelforge.engines.base import check_request
from pixelforge.engines.registry import ModelRegistry
from pixelforge.errors import (
    IdempotencyConflictError,
    IdempotencyReusedError,
    JobStateError,
    NotFoundError,
    WaitTimeoutError,
)
from pixelforge.services.codec import encode_request
from pixelforge.store.blobs import BlobStore
from pixelforge.store.jobs import QUEUED, TERMINAL, JobQueue
from pixelforge.store.models import IdempotencyRecord, Job


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


def fingerprint(payload: Any) -> str:
    """SHA-256 of a canonical JSON rendering of what the request means."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class JobService:
    def __init__(
        self, queue: JobQueue, registry: ModelRegistry, blobs: BlobStore, *,
        max_attempts: int, retention_seconds: float, wake: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self.queue, self.registry, self.blobs = queue, registry, blobs
        self.max_attempts = max_attempts
        self.retention = retention_seconds
        self.wake = wake
        self._lock = threading.Lock()
        self._waiters: dict[str, threading.Event] = {}

    def check(self, request: GenerationRequest) -> None:
        _, info = self.registry.resolve(request.model)
        check_request(info, request)

    def submit(
        self, request: GenerationRequest, idem: Idempotency | None = None, priority: int = 0,
        *, wait_for_result: bool = False,
    ) -> Submitted:  # fmt: skip
        """Validate, then create the job (and the idempotency record) in one transaction.

        A repeated ``Idempotency-Key`` replays: with a different body -> 422; for endpoints
        that answer with the finished result (``wait_for_result``), while the first request is
        still in flight -> 409 (retry later); otherwise the original job and stored response.
        """
        self.check(request)
        payload = encode_request(request, self.blobs)
        with self.queue.db.write() as s:
            if idem is not None:
                s.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.created_at < self.queue.clock() - self.retention
                    )
                )
                record = s.scalar(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.scope == idem.scope, IdempotencyRecord.key == idem.key
                    )
                )
                if record is not None:
                    return self._replay(s.get(Job, record.job_id), record, idem, wait_for_result)
            job = self.queue.add(
                s, request.model, payload, max_attempts=self.max_attempts, priority=priority
            )
            if idem is not None:
                s.add(IdempotencyRecord(
                    scope=idem.scope, key=idem.key, fingerprint=idem.fingerprint,
                    job_id=job.id, created_at=self.queue.clock(),
                ))  # fmt: skip
        self.wake()
        return Submitted(job, replayed=False)

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

    def get(self, job_id: str) -> Job:
        job = self.queue.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id!r} not found", param="job_id", code="job_not_found")
        return job

    def cancel(self, job_id: str) -> Job:
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
        """The job as the native API shows it."""
        out: dict[str, Any] = {
            "id": job.id, "object": "image.job", "status": job.status, "model": job.model,
            "created": int(job.created_at), "progress": round(job.progress, 4),
            "message": job.message, "attempts": job.attempts,
            "assets": (job.result or {}).get("assets", []), "error": job.error,
        }  # fmt: skip
        if job.status == QUEUED:
            out["queue_position"] = self.queue.queue_position(job)
        return out
