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

from sqlalchemy import JSON, Connection, Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from pixelforge.store import ledger
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


def _row(asset: Asset) -> dict[str, Any]:
    return {c.name: getattr(asset, c.key) for c in _A.columns}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    model: str
    request: dict[str, Any]
    attempt: int
    owner: str
    user_id: str | None = None


class LeaseLostError(Exception):
    """The worker no longer holds the job's lease (it expired, or the job was cancelled)."""


_T: Table = Job.__table__  # type: ignore[assignment]
_A: Table = Asset.__table__  # type: ignore[assignment]
# Fair order: within a priority, each user's oldest queued job first (fair_rank is the job's
# place in its user's own queue when it was submitted), so one user's 500-job batch
# interleaves with everyone else's work instead of starving it.
_ORDER = (_T.c.priority.desc(), _T.c.fair_rank, _T.c.created_at, _T.c.id)
_PEER = _T.alias("peer")
_OURS = (
    _T.c.id == bindparam("b_id"),
    _T.c.status == RUNNING,
    _T.c.lease_owner == bindparam("b_owner"),
)


class _Statements:
    """The hot-path statements, built once: each call is then a compiled-cache hit."""

    def __init__(self, skip_locked: bool) -> None:
        cols = (
            _T.c.id, _T.c.priority, _T.c.fair_rank, _T.c.created_at, _T.c.model, _T.c.request,
            _T.c.attempts, _T.c.user_id,
        )  # fmt: skip
        running = (
            select(func.count())
            .select_from(_PEER)
            .where(_PEER.c.user_id == _T.c.user_id, _PEER.c.status == RUNNING)
            .scalar_subquery()
        )
        queued = (
            select(*cols)
            .where(
                _T.c.status == QUEUED,
                or_(_T.c.user_id.is_(None), running < bindparam("b_cap")),
            )
            .order_by(*_ORDER)
            .limit(1)
        )
        expired = (
            select(*cols)
            .where(
                _T.c.status == RUNNING,
                _T.c.lease_expires_at < bindparam("b_now"),
                # A job that used every attempt is the reaper's, never claimed again.
                _T.c.attempts < _T.c.max_attempts,
            )
            .order_by(*_ORDER)
            .limit(1)
        )
        if skip_locked:
            queued = queued.with_for_update(skip_locked=True)
            expired = expired.with_for_update(skip_locked=True)
        self.next_queued, self.next_expired = queued, expired
        self.reapable = select(_T.c.id).where(
            _T.c.status == RUNNING,
            _T.c.lease_expires_at < bindparam("b_now"),
            _T.c.attempts >= _T.c.max_attempts,
        )
        self.reap = (
            update(_T)
            .where(_T.c.id == bindparam("b_id"), _T.c.status == RUNNING)
            .values(
                status=FAILED,
                finished_at=bindparam("b_now"),
                lease_owner=None,
                error={"code": "worker_lost", "message": "the worker running this job stopped"},
            )
        )
        self.take = (
            update(_T)
            .where(_T.c.id == bindparam("b_id"))
            .values(
                status=RUNNING,
                lease_owner=bindparam("b_owner"),
                lease_expires_at=bindparam("b_until"),
                attempts=_T.c.attempts + 1,
                started_at=func.coalesce(_T.c.started_at, bindparam("b_now")),
                progress=0.0,
                message="started",
            )
        )
        self.renew = (
            update(_T)
            .where(*_OURS)
            .values(lease_expires_at=bindparam("b_until"))
            .returning(_T.c.cancel_requested)
        )
        self.renew_progress = (
            update(_T)
            .where(*_OURS)
            .values(
                lease_expires_at=bindparam("b_until"),
                progress=bindparam("b_progress"),
                message=bindparam("b_message"),
            )
            .returning(_T.c.cancel_requested)
        )
        self.finish = (
            update(_T)
            .where(*_OURS)
            .values(
                status=bindparam("b_status"),
                result=bindparam("b_result", type_=JSON),
                error=bindparam("b_error", type_=JSON),
                finished_at=bindparam("b_now"),
                lease_owner=None,
                lease_expires_at=None,
                progress=bindparam("b_progress"),
            )
        )
        self.release = (
            update(_T)
            .where(*_OURS)
            .values(
                status=QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                attempts=_T.c.attempts - 1,
                message=bindparam("b_message"),
            )
        )


def _best(rows: list[Any]) -> Any:
    present = [r for r in rows if r is not None]
    key = lambda r: (-r.priority, r.fair_rank, r.created_at, r.id)  # noqa: E731
    return min(present, key=key) if present else None


class JobQueue:
    def __init__(
        self, db: Database, lease_seconds: float, clock: Callable[[], float] = time.time,
        user_concurrency: int = 0,
    ) -> None:  # fmt: skip
        self.db = db
        self.lease = lease_seconds
        self.clock = clock
        self.cap = user_concurrency if user_concurrency > 0 else 2**31 - 1
        self._sql = _Statements(skip_locked=not db.is_sqlite)
        self._next_reap = 0.0

    # -- producers ---------------------------------------------------------------------
    def add(
        self,
        session: Session,
        model: str,
        request: dict[str, Any],
        *,
        max_attempts: int,
        priority: int = 0,
        user_id: str | None = None,
        api_key_id: str | None = None,
        price: int = 0,
        job_id: str | None = None,
        fair_rank: int | None = None,
    ) -> Job:
        """Queue a job in the caller's transaction. ``fair_rank`` (default: the owner's
        :meth:`next_fair_rank`) lets a caller adding many jobs count the queue once."""
        job = Job(
            id=job_id or new_id("job"),
            user_id=user_id,
            api_key_id=api_key_id,
            price=price,
            fair_rank=self.next_fair_rank(session, user_id) if fair_rank is None else fair_rank,
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

    @staticmethod
    def next_fair_rank(session: Session, user_id: str | None) -> int:
        """The place a new job of ``user_id`` takes in that user's own queue."""
        owner = Job.user_id.is_(None) if user_id is None else Job.user_id == user_id
        ahead = session.scalar(
            select(func.count()).select_from(Job).where(Job.status == QUEUED, owner)
        )
        return int(ahead or 0) + 1

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued job now, or ask a running one to stop. None if unknown."""
        with self.db.write() as s:
            job = s.get(Job, job_id)
            if job is not None:
                self._cancel(s, job)
            return job

    def cancel_all(self, job_ids: Sequence[str]) -> int:
        """:meth:`cancel` for many jobs in one transaction; how many were queued or running."""
        with self.db.write() as s:
            found = s.scalars(
                select(Job).where(Job.id.in_(job_ids), Job.status.in_((QUEUED, RUNNING)))
            )
            return sum(self._cancel(s, job) for job in list(found))

    def _cancel(self, s: Session, job: Job) -> bool:
        if job.status == QUEUED:
            job.status, job.finished_at = CANCELED, self.clock()
            job.error = {"code": "job_cancelled", "message": "cancelled before it started"}
            s.flush()
            ledger.settle(s.connection(), job.id, False, self.clock(), "cancelled")
            return True
        if job.status == RUNNING:
            job.cancel_requested = True
            return True
        return False

    # -- workers -----------------------------------------------------------------------
    def _next(self, conn: Connection, now: float) -> Any:
        """The best claimable row: queued, or running with an expired lease.

        Two indexed lookups (``ix_jobs_claim``, ``ix_jobs_lease``) instead of one OR, which
        would make SQLite sort every candidate.
        """
        return _best([
            conn.execute(self._sql.next_queued, {"b_cap": self.cap}).first(),
            conn.execute(self._sql.next_expired, {"b_now": now}).first(),
        ])  # fmt: skip

    def claim(self, owner: str, *, look_first: bool = True) -> Claimed | None:
        """Take the next job (queued, or running with an expired lease), or None.

        ``look_first`` checks without the write lock first, so idle workers polling an empty
        queue cost nothing; workers that were just woken for new work skip the look.
        """
        now = self.clock()
        if look_first:
            with self.db.read() as s:
                conn = s.connection()
                idle = self._next(conn, now) is None
                if idle and conn.execute(self._sql.reapable, {"b_now": now}).first() is None:
                    return None
        with self.db.write() as s:
            conn = s.connection()
            if now >= self._next_reap:
                # Jobs whose lease expired and that used every attempt: failed, never lost.
                # Leases are long, so checking a few times per lease is enough.
                for job_id in conn.execute(self._sql.reapable, {"b_now": now}).scalars().all():
                    if conn.execute(self._sql.reap, {"b_id": job_id, "b_now": now}).rowcount:
                        ledger.settle(conn, job_id, False, now, "worker_lost")
                self._next_reap = now + min(self.lease / 4, 1.0)
            row = self._next(conn, now)
            if row is None:
                return None
            conn.execute(
                self._sql.take,
                {"b_id": row.id, "b_owner": owner, "b_until": now + self.lease, "b_now": now},
            )
            return Claimed(
                row.id, row.model, dict(row.request), row.attempts + 1, owner, row.user_id
            )

    def claim_job(self, job_id: str, owner: str) -> Claimed | None:
        """Take one given job if it can be claimed (queued, or running with an expired lease
        and attempts left), else None: a process running its own job (the CLI) without
        running anyone else's. Fairness and the per-user cap do not apply."""
        now = self.clock()
        claimable = or_(
            _T.c.status == QUEUED,
            and_(_T.c.status == RUNNING, _T.c.lease_expires_at < now,
                 _T.c.attempts < _T.c.max_attempts),
        )  # fmt: skip
        query = select(_T.c.id, _T.c.model, _T.c.request, _T.c.attempts, _T.c.user_id).where(
            _T.c.id == job_id, claimable
        )
        if not self.db.is_sqlite:
            query = query.with_for_update()
        with self.db.write() as s:
            conn = s.connection()
            row = conn.execute(query).first()
            if row is None:
                return None
            conn.execute(
                self._sql.take,
                {"b_id": row.id, "b_owner": owner, "b_until": now + self.lease, "b_now": now},
            )
            return Claimed(
                row.id, row.model, dict(row.request), row.attempts + 1, owner, row.user_id
            )

    def heartbeat(self, claimed: Claimed, progress: float | None = None, message: str = "") -> bool:
        """Renew the lease (and record progress). Returns True if cancel was requested.

        Raises :class:`LeaseLostError` when the job is no longer ours.
        """
        params: dict[str, Any] = {
            "b_id": claimed.id, "b_owner": claimed.owner, "b_until": self.clock() + self.lease,
        }  # fmt: skip
        stmt = self._sql.renew
        if progress is not None:
            stmt = self._sql.renew_progress
            params |= {"b_progress": max(0.0, min(1.0, progress)), "b_message": message[:400]}
        with self.db.write() as s:
            row = s.connection().execute(stmt, params).first()
            if row is None:
                raise LeaseLostError(claimed.id)
            return bool(row.cancel_requested)

    def finish(
        self,
        claimed: Claimed,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        assets: Sequence[Asset] = (),
        charge: int | None = None,
    ) -> bool:
        """Record the outcome if we still hold the lease; False (nothing written) otherwise.

        Success captures ``charge`` (default: the whole reservation; never more than it),
        anything else refunds the reservation, in the same transaction.
        """
        with self.db.write() as s:
            conn = s.connection()
            done = conn.execute(
                self._sql.finish,
                {
                    "b_id": claimed.id, "b_owner": claimed.owner, "b_status": status,
                    "b_result": result, "b_error": error, "b_now": self.clock(),
                    "b_progress": 1.0 if status == SUCCEEDED else 0.0,
                },
            )  # fmt: skip
            if done.rowcount != 1:
                return False
            if assets:
                conn.execute(insert(_A), [_row(a) for a in assets])
            # Success captures the charge; failure and cancellation refund the reservation.
            ok = status == SUCCEEDED
            ledger.settle(conn, claimed.id, ok, self.clock(), status, charge if ok else None)
            return True

    def release(self, claimed: Claimed, message: str) -> None:
        """Give a job back to the queue (e.g. on shutdown) without counting the attempt."""
        with self.db.write() as s:
            s.connection().execute(
                self._sql.release,
                {"b_id": claimed.id, "b_owner": claimed.owner, "b_message": message[:400]},
            )

    # -- readers -----------------------------------------------------------------------
    def reservation(self, job_id: str) -> int | None:
        """The credits held for a job (written with the job, never changed), or None."""
        with self.db.read() as s:
            return ledger.reserved(s.connection(), job_id)

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
