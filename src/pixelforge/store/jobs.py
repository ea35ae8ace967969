"""The durable job queue on the jobs table.

Claiming takes a lease; the worker renews it while it works. A lease that expires means the
worker died: the job is claimed again (attempts + 1) until ``max_attempts``, then failed with
``worker_lost``. Completion checks the lease owner in the same transaction that records the
assets, so a job can be completed at most once, by the worker that holds it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, Update, func, or_, select, update
from sqlalchemy.orm import Session

from pixelforge.store.db import Database
from pixelforge.store.models import Asset, Job

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "canceled",
)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELED})


def _rowcount(session: Session, stmt: Update) -> int:
    result = session.execute(stmt)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    model: str
    request: dict[str, Any]
    attempt: int
    owner: str


class LeaseLostError(Exception):
    """The worker no longer holds the job's lease (it expired, or the job was cancelled)."""


class JobQueue:
    def __init__(self, db: Database, lease_seconds: float, clock: Callable[[], float] = time.time):
        self.db = db
        self.lease = lease_seconds
        self.clock = clock

    # -- producers ---------------------------------------------------------------------
    def add(
        self,
        session: Session,
        model: str,
        request: dict[str, Any],
        *,
        max_attempts: int,
        priority: int = 0,
    ) -> Job:
        job = Job(
            id=new_id("job"),
            status=QUEUED,
            model=model,
            request=request,
            priority=priority,
            attempts=0,
            max_attempts=max_attempts,
            progress=0.0,
            message="",
            cancel_requested=False,
            created_at=self.clock(),
        )
        session.add(job)
        session.flush()
        return job

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job now, or ask a running one to stop. None if unknown."""
        with self.db.write() as s:
            job = s.get(Job, job_id)
            if job is None:
                return None
            if job.status == QUEUED:
                job.status, job.finished_at = CANCELED, self.clock()
                job.error = {"code": "job_cancelled", "message": "cancelled before it started"}
            elif job.status == RUNNING:
                job.cancel_requested = True
            return job

    # -- workers -----------------------------------------------------------------------
    def _next(self, s: Session, now: float, columns: tuple[Any, ...]) -> Any:
        """The best claimable row: queued, or running with an expired lease.

        Two indexed lookups (``ix_jobs_claim``, ``ix_jobs_lease``) instead of one OR, which
        would make SQLite sort every candidate.
        """
        order = (Job.priority.desc(), Job.created_at, Job.id)
        queries = [
            select(*columns).where(Job.status == QUEUED).order_by(*order).limit(1),
            select(*columns)
            .where(Job.status == RUNNING, Job.lease_expires_at < now)
            .order_by(*order)
            .limit(1),
        ]
        if not self.db.is_sqlite:
            queries = [q.with_for_update(skip_locked=True) for q in queries]
        rows = [row for q in queries if (row := s.execute(q).first()) is not None]
        if not rows:
            return None
        return min(rows, key=lambda r: (-r.priority, r.created_at, r.id))

    def claim(self, owner: str) -> Claimed | None:
        """Take the next job (queued, or running with an expired lease), or None."""
        now = self.clock()
        key = (Job.id, Job.priority, Job.created_at)
        # Look first without the write lock: an idle queue costs idle workers nothing.
        with self.db.read() as s:
            if self._next(s, now, key) is None:
                return None
        with self.db.write() as s:
            # Jobs whose lease expired and that used every attempt: failed, never lost.
            s.execute(
                update(Job)
                .where(
                    Job.status == RUNNING,
                    Job.lease_expires_at < now,
                    Job.attempts >= Job.max_attempts,
                )
                .values(
                    status=FAILED,
                    finished_at=now,
                    lease_owner=None,
                    error={"code": "worker_lost", "message": "the worker running this job stopped"},
                )
            )
            row = self._next(s, now, (*key, Job.model, Job.request, Job.attempts))
            if row is None:
                return None
            s.execute(
                update(Job)
                .where(Job.id == row.id)
                .values(
                    status=RUNNING,
                    lease_owner=owner,
                    lease_expires_at=now + self.lease,
                    attempts=Job.attempts + 1,
                    started_at=func.coalesce(Job.started_at, now),
                    progress=0.0,
                    message="started",
                )
            )
            return Claimed(row.id, row.model, dict(row.request), row.attempts + 1, owner)

    def heartbeat(self, claimed: Claimed, progress: float | None = None, message: str = "") -> bool:
        """Renew the lease (and record progress). Returns True if cancel was requested.

        Raises :class:`LeaseLostError` when the job is no longer ours.
        """
        values: dict[str, Any] = {"lease_expires_at": self.clock() + self.lease}
        if progress is not None:
            values["progress"] = max(0.0, min(1.0, progress))
            values["message"] = message[:400]
        with self.db.write() as s:
            rows = _rowcount(
                s,
                update(Job)
                .where(
                    Job.id == claimed.id, Job.status == RUNNING, Job.lease_owner == claimed.owner
                )
                .values(**values),
            )
            if rows != 1:
                raise LeaseLostError(claimed.id)
            return bool(s.scalar(select(Job.cancel_requested).where(Job.id == claimed.id)))

    def finish(
        self,
        claimed: Claimed,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        assets: Sequence[Asset] = (),
    ) -> bool:
        """Record the outcome if we still hold the lease; False (nothing written) otherwise."""
        now = self.clock()
        with self.db.write() as s:
            rows = _rowcount(
                s,
                update(Job)
                .where(
                    Job.id == claimed.id, Job.status == RUNNING, Job.lease_owner == claimed.owner
                )
                .values(
                    status=status,
                    result=result,
                    error=error,
                    finished_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                    progress=1.0 if status == SUCCEEDED else Job.progress,
                ),
            )
            if rows != 1:
                return False
            s.add_all(assets)
            return True

    def release(self, claimed: Claimed, message: str) -> None:
        """Give a job back to the queue (e.g. on shutdown) without counting the attempt."""
        with self.db.write() as s:
            s.execute(
                update(Job)
                .where(
                    Job.id == claimed.id, Job.status == RUNNING, Job.lease_owner == claimed.owner
                )
                .values(
                    status=QUEUED,
                    lease_owner=None,
                    lease_expires_at=None,
                    attempts=Job.attempts - 1,
                    message=message,
                )
            )

    # -- readers -----------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self.db.read() as s:
            return s.get(Job, job_id)

    def queue_position(self, job: Job) -> int:
        """How many queued jobs run before this one (0 = next)."""
        if job.status != QUEUED:
            return 0
        with self.db.read() as s:
            ahead = s.scalar(
                select(func.count())
                .select_from(Job)
                .where(
                    Job.status == QUEUED,
                    or_(
                        Job.priority > job.priority,
                        (Job.priority == job.priority) & (Job.created_at < job.created_at),
                    ),
                )
            )
            return int(ahead or 0)

    def depth(self) -> int:
        with self.db.read() as s:
            return int(
                s.scalar(select(func.count()).select_from(Job).where(Job.status == QUEUED)) or 0
            )
