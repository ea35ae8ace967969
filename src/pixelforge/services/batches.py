"""Batches (OpenAI Batch API for the images endpoints): many requests from one JSONL file,
run at low priority at the batch price, written to output files when they have all ended.

Lifecycle (``status``): a file whose lines do not all check out makes a ``failed`` batch
(``errors.data[]`` names each bad line and field) and no jobs. Otherwise every line becomes an
ordinary job, all in one transaction with the batch (credits reserved at the batch discount:
402 when the whole batch cannot be paid), and the batch is ``in_progress``. Jobs run below
interactive work (:data:`BATCH_PRIORITY`) and survive restarts like any job. When every job
has ended, :meth:`BatchService.finalize_ready` writes the files (``finalizing`` ->
``completed``). A cancel (``cancelling`` -> ``cancelled``) or the end of the 24 h window
(``expired``) cancels and refunds the jobs not started yet; what had finished is kept.

Finalization happens once: a batch is claimed with a conditional update, and the files are
recorded in the same transaction that sets ``closed_at``, only while it is still unset. A
claim left by a server that stopped mid-way is taken over after :data:`RECLAIM_SECONDS` (at
once by a starting server). The files' bytes depend only on the rows, so a repeated build
writes the same blobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from pixelforge.domain import GenerationRequest
from pixelforge.errors import (
    InsufficientCreditsError,
    InvalidRequestError,
    JobStateError,
    NotFoundError,
)
from pixelforge.services import batch_output
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.services.batch_lines import (
    MAX_ERRORS,
    LineError,
    RawLine,
    read_lines,
    response_fields,
)
from pixelforge.services.files import OUTPUT_PURPOSE, FileService, new_file_id
from pixelforge.services.jobs import Idempotency, JobService, Submitted
from pixelforge.services.pricing import from_micro
from pixelforge.store import ledger
from pixelforge.store.db import Database
from pixelforge.store.jobs import QUEUED, RUNNING, SUCCEEDED, TERMINAL, new_id
from pixelforge.store.models import Asset, Batch, BatchRequest, Job, StoredFile

log = logging.getLogger("pixelforge.batches")

#: Below interactive jobs (priority 0): the queue runs higher priorities first.
BATCH_PRIORITY = -10
WINDOW_SECONDS = 24 * 3600
RECLAIM_SECONDS = 120.0
IN_PROGRESS, FINALIZING, COMPLETED, FAILED = "in_progress", "finalizing", "completed", "failed"
CANCELLING, CANCELLED, EXPIRED = "cancelling", "cancelled", "expired"
#: Statuses of a batch whose files are not written yet.
OPEN = (IN_PROGRESS, FINALIZING, CANCELLING, EXPIRED)
_TIMES = ("created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at",
          "failed_at", "expired_at", "cancelling_at", "cancelled_at")  # fmt: skip


@dataclass(frozen=True, slots=True)
class BatchLine:
    """A checked input line: its request and how its images are returned."""

    line: int
    custom_id: str
    request: GenerationRequest
    response_format: str


@dataclass(frozen=True, slots=True)
class BatchPage:
    items: list[Batch]
    has_more: bool


class BatchService:
    def __init__(
        self, db: Database, jobs: JobService, files: FileService, *, max_requests: int,
        poll_seconds: float = 1.0, clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.db, self.jobs, self.files, self.clock = db, jobs, files, clock
        self.max_requests, self.poll = max_requests, poll_seconds
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    # -- create --------------------------------------------------------------------------
    def read_input(
        self, input_file_id: str, endpoint: str, principal: Principal = LOCAL
    ) -> tuple[StoredFile, list[RawLine], list[LineError]]:
        """The caller's input file (404 if not theirs) split into lines, or the line errors."""
        stored, data = self.files.content(input_file_id, principal)
        if stored.purpose != "batch":
            raise InvalidRequestError(
                f"input_file_id: {input_file_id!r} has purpose {stored.purpose!r}; a batch "
                "reads a file uploaded with purpose 'batch'", param="input_file_id",
            )  # fmt: skip
        lines, errors = read_lines(data, endpoint, self.max_requests)
        return stored, lines, errors

    def create(
        self, input_file: StoredFile, endpoint: str, metadata: dict[str, str] | None,
        lines: Sequence[BatchLine], errors: Sequence[LineError], *,
        principal: Principal = LOCAL, base_url: str = "", idem: Idempotency | None = None,
    ) -> tuple[Batch, bool]:  # fmt: skip
        """A failed batch when there are line errors; else one job per line; (batch, replayed)."""
        now = self.clock()
        batch = Batch(
            id=new_id("batch"), user_id=principal.user_id, api_key_id=principal.api_key_id,
            endpoint=endpoint, input_file_id=input_file.id, completion_window="24h",
            meta=metadata, base_url=base_url, created_at=now, total=0,
        )  # fmt: skip
        if errors:
            shown = [e.view() for e in errors[:MAX_ERRORS]]
            batch.status, batch.failed_at = FAILED, now
            batch.errors = {"object": "list", "data": shown}
            with self.db.write() as s:
                s.add(batch)
            return batch, False
        self._check_funds(lines, principal)
        batch.status, batch.total = IN_PROGRESS, len(lines)
        batch.in_progress_at, batch.expires_at = now, now + WINDOW_SECONDS

        def record(s: Session, jobs: list[Job]) -> None:
            s.add(batch)
            s.flush()
            s.add_all(
                BatchRequest(batch_id=batch.id, line=item.line, custom_id=item.custom_id,
                             job_id=job.id,
                             response=response_fields(item.request, item.response_format))
                for item, job in zip(lines, jobs, strict=True)
            )  # fmt: skip

        submitted = self.jobs.submit_group(
            [item.request for item in lines], record, idem, principal=principal,
            priority=BATCH_PRIORITY, batch=True,
        )  # fmt: skip
        if isinstance(submitted, Submitted):
            return self._of_job(submitted.job.id), True
        return batch, False

    def _check_funds(self, lines: Sequence[BatchLine], principal: Principal) -> None:
        """402 naming the whole batch's price when the balance cannot cover it (the per-job
        reservations that follow are the guard; this is the clear message)."""
        if principal.user_id is None:
            return
        total = sum(self.jobs.prices.price(item.request, batch=True) for item in lines)
        with self.db.read() as s:
            have = ledger.balance(s.connection(), principal.user_id)
        if have < total:
            raise InsufficientCreditsError(
                f"not enough credits: this batch of {len(lines)} requests costs "
                f"${from_micro(total)} at the batch price, the balance is ${from_micro(have)}; "
                "ask an admin for credits or split the batch"
            )

    def _of_job(self, job_id: str) -> Batch:
        with self.db.read() as s:
            batch = s.scalar(select(Batch).join(BatchRequest, BatchRequest.batch_id == Batch.id)
                             .where(BatchRequest.job_id == job_id))  # fmt: skip
        if batch is None:
            raise NotFoundError("the batch this Idempotency-Key made is gone",
                                param="Idempotency-Key", code="batch_not_found")  # fmt: skip
        return batch

    # -- read ----------------------------------------------------------------------------
    def get(self, batch_id: str, principal: Principal = LOCAL) -> Batch:
        """The batch, if it exists and the caller may see it; 404 alike otherwise."""
        with self.db.read() as s:
            batch = s.get(Batch, batch_id)
        if batch is None or not (principal.is_admin or batch.user_id == principal.user_id):
            raise NotFoundError(f"batch {batch_id!r} not found", param="batch_id",
                                code="batch_not_found")  # fmt: skip
        return batch

    def page(
        self, principal: Principal = LOCAL, after: str | None = None, limit: int = 20
    ) -> BatchPage:
        """The caller's batches, newest first; ``after`` is the id the previous page ended with."""
        query = select(Batch)
        if not principal.is_admin:
            query = query.where(Batch.user_id == principal.user_id)
        if after is not None:
            try:
                cursor = self.get(after, principal)
            except NotFoundError:
                raise InvalidRequestError(f"after: {after!r} is not one of your batches; pass "
                                          "the id the previous page ended with",
                                          param="after") from None  # fmt: skip
            query = query.where(or_(
                Batch.created_at < cursor.created_at,
                and_(Batch.created_at == cursor.created_at, Batch.id < cursor.id),
            ))  # fmt: skip
        with self.db.read() as s:
            rows = list(s.scalars(
                query.order_by(Batch.created_at.desc(), Batch.id.desc()).limit(limit + 1)))  # fmt: skip
        return BatchPage(rows[:limit], len(rows) > limit)

    def counts(self, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """``request_counts`` per batch: jobs that succeeded, and that failed or were cancelled."""
        out = {b: {"completed": 0, "failed": 0} for b in batch_ids}
        if not batch_ids:
            return out
        query = (
            select(BatchRequest.batch_id, Job.status, func.count())
            .join(Job, Job.id == BatchRequest.job_id)
            .where(BatchRequest.batch_id.in_(batch_ids), Job.status.in_(TERMINAL))
            .group_by(BatchRequest.batch_id, Job.status)
        )
        with self.db.read() as s:
            for batch_id, status, n in s.execute(query):
                out[batch_id]["completed" if status == SUCCEEDED else "failed"] += int(n)
        return out

    @staticmethod
    def view(batch: Batch, counts: dict[str, int] | None = None) -> dict[str, Any]:
        """The OpenAI ``Batch`` object, plus ``images_file_id`` (the zip of the images)."""
        done = counts or {"completed": 0, "failed": 0}
        out: dict[str, Any] = {
            "id": batch.id, "object": "batch", "endpoint": batch.endpoint,
            "errors": batch.errors, "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window, "status": batch.status,
            "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
            "images_file_id": batch.images_file_id,
            "request_counts": {"total": batch.total, **done},
            "metadata": batch.meta, "model": None, "usage": None,
        }  # fmt: skip
        for name in _TIMES:
            value = getattr(batch, name)
            out[name] = int(value) if value is not None else None
        return out

    # -- cancel and expiry ---------------------------------------------------------------
    def cancel(self, batch_id: str, principal: Principal = LOCAL) -> Batch:
        """Stop a batch: jobs not started are cancelled and refunded, running ones asked to
        stop; the batch is ``cancelled`` (with the finished results) once they have ended."""
        batch = self.get(batch_id, principal)
        now = self.clock()
        with self.db.write() as s:
            moved = s.connection().execute(
                update(Batch).where(Batch.id == batch.id, Batch.status == IN_PROGRESS)
                .values(status=CANCELLING, cancelling_at=now)
            ).rowcount  # fmt: skip
        if not moved:
            batch = self.get(batch_id, principal)
            if batch.status not in (CANCELLING, CANCELLED):
                raise JobStateError(f"batch {batch_id!r} is {batch.status}; only an "
                                    "in_progress batch can be cancelled")  # fmt: skip
            return batch
        self._stop_jobs(batch.id)
        self._wake.set()
        return self.get(batch_id, principal)

    def _stop_jobs(self, batch_id: str) -> None:
        with self.db.read() as s:
            ids = list(s.scalars(
                select(Job.id).join(BatchRequest, BatchRequest.job_id == Job.id).where(
                    BatchRequest.batch_id == batch_id, Job.status.in_((QUEUED, RUNNING)),
                    Job.cancel_requested.is_(False))))  # fmt: skip
        for start in range(0, len(ids), 500):
            self.jobs.queue.cancel_all(ids[start : start + 500])

    def _sweep(self, now: float) -> None:
        """Expire batches past their window; stop jobs of stopping batches (again after a
        restart, in case the server stopped half-way through)."""
        with self.db.read() as s:
            due = list(s.scalars(select(Batch.id).where(
                Batch.status == IN_PROGRESS, Batch.expires_at < now)))  # fmt: skip
        if due:
            with self.db.write() as s:
                s.execute(
                    update(Batch).where(Batch.id.in_(due), Batch.status == IN_PROGRESS)
                    .values(status=EXPIRED, expired_at=now)
                )  # fmt: skip
        with self.db.read() as s:
            stopping = list(s.scalars(select(Batch.id).where(
                Batch.closed_at.is_(None), Batch.status.in_((CANCELLING, EXPIRED)))))  # fmt: skip
        for batch_id in stopping:
            self._stop_jobs(batch_id)

    # -- finalize ------------------------------------------------------------------------
    def finalize_ready(self, reclaim_after: float = RECLAIM_SECONDS) -> list[str]:
        """Write the files of every open batch whose jobs have all ended; the ids written.

        Safe to call from several threads or servers at once: each batch is written once.
        """
        now = self.clock()
        self._sweep(now)
        unfinished = exists().where(
            BatchRequest.batch_id == Batch.id, Job.id == BatchRequest.job_id,
            Job.status.not_in(TERMINAL),
        )  # fmt: skip
        with self.db.read() as s:
            ready = list(s.scalars(select(Batch.id).where(
                Batch.closed_at.is_(None), Batch.status.in_(OPEN), ~unfinished)))  # fmt: skip
        return [b for b in ready if self._claim(b, now, reclaim_after) and self._finalize(b)]

    def _claim(self, batch_id: str, now: float, reclaim_after: float) -> bool:
        with self.db.write() as s:
            return bool(s.connection().execute(
                update(Batch).where(
                    Batch.id == batch_id, Batch.closed_at.is_(None), Batch.status.in_(OPEN),
                    or_(Batch.finalizing_at.is_(None),
                        Batch.finalizing_at <= now - reclaim_after),
                ).values(
                    finalizing_at=now,
                    status=case((Batch.status == IN_PROGRESS, FINALIZING), else_=Batch.status),
                )
            ).rowcount)  # fmt: skip

    def _rows(self, batch_id: str) -> list[batch_output.Row]:
        with self.db.read() as s:
            rows = [
                batch_output.Row(r.line, r.custom_id, r.job_id, r.response, j.status, j.error,
                                 j.created_at)
                for r, j in s.execute(
                    select(BatchRequest, Job).join(Job, Job.id == BatchRequest.job_id)
                    .where(BatchRequest.batch_id == batch_id).order_by(BatchRequest.line))
            ]  # fmt: skip
            by_job = {row.job_id: row for row in rows}
            assets = s.scalars(
                select(Asset).join(BatchRequest, BatchRequest.job_id == Asset.job_id)
                .where(BatchRequest.batch_id == batch_id, Asset.deleted.is_(False))
                .order_by(Asset.job_id, Asset.position))  # fmt: skip
            for asset in assets:
                by_job[str(asset.job_id)].assets.append(asset)
        return rows

    def _finalize(self, batch_id: str) -> bool:
        with self.db.read() as s:
            batch = s.get(Batch, batch_id)
        assert batch is not None
        ending = EXPIRED if batch.status == EXPIRED else (
            CANCELLED if batch.status == CANCELLING else COMPLETED)  # fmt: skip
        built = batch_output.build(self._rows(batch_id), self.files.blobs.get, batch.base_url,
                                   ending, batch.created_at)  # fmt: skip
        files = (("output", built.output, f"{batch_id}_output.jsonl"),
                 ("errors", built.errors, f"{batch_id}_error.jsonl"),
                 ("images", built.images, f"{batch_id}_images.zip"))  # fmt: skip
        for _, data, _ in files:
            if data is not None:
                self.files.blobs.put(data, "bin")  # outside the transaction: it may be large
        now = self.clock()
        ids = {name: new_file_id() if data is not None else None for name, data, _ in files}
        done = {COMPLETED: {"completed_at": now}, CANCELLED: {"cancelled_at": now}}.get(ending, {})
        with self.db.write() as s:
            closed = s.connection().execute(
                update(Batch).where(Batch.id == batch_id, Batch.closed_at.is_(None)).values(
                    status=ending, closed_at=now, output_file_id=ids["output"],
                    error_file_id=ids["errors"], images_file_id=ids["images"], **done)
            ).rowcount  # fmt: skip
            if not closed:
                return False
            for name, data, filename in files:
                if data is not None:
                    self.files.record(s, data, filename, OUTPUT_PURPOSE, batch.user_id, ids[name])
        log.info("batch %s %s: %d succeeded, %d failed", batch_id, ending, built.succeeded,
                 built.failed)  # fmt: skip
        return True

    # -- background ----------------------------------------------------------------------
    def start(self) -> None:
        """Finalize in a background thread: now (taking over claims a stopped server left),
        then whenever woken (a job ended) or every ``poll_seconds``."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="pixelforge-batches",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        reclaim = 0.0
        while not self._stop.is_set():
            try:
                self.finalize_ready(reclaim)
            except Exception:
                log.exception("batch finalization failed; retrying")
            reclaim = RECLAIM_SECONDS
            self._wake.wait(self.poll)
            self._wake.clear()
            self._stop.wait(min(self.poll, 0.2))  # many jobs ending at once: one pass
