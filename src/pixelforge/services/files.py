"""Files (OpenAI ``/v1/files``): batch inputs people upload and the outputs batches write.

Bytes live in the blob store, records in the ``files`` table. A file belongs to its owner like
a job or an asset: anyone else gets the 404 a missing id gets (admins see every file).
Deleting hides the record; the blob stays (the store is content-addressed, so the same bytes
may back other files).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from pixelforge.errors import FileTooLargeError, InvalidRequestError, NotFoundError
from pixelforge.services.accounts import LOCAL, Principal
from pixelforge.store.blobs import BlobStore
from pixelforge.store.db import Database
from pixelforge.store.models import StoredFile

#: What people may upload; batches write ``batch_output`` files themselves.
UPLOAD_PURPOSES = ("batch",)
OUTPUT_PURPOSE = "batch_output"
MAX_LIST = 10_000


def new_file_id() -> str:
    return f"file-{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class FilePage:
    items: list[StoredFile]
    has_more: bool


class FileService:
    def __init__(
        self, db: Database, blobs: BlobStore, max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.db, self.blobs, self.max_bytes, self.clock = db, blobs, max_bytes, clock

    def create(
        self, data: bytes, filename: str, purpose: str, principal: Principal = LOCAL
    ) -> StoredFile:
        """Store an upload; 400 for a purpose other than ``batch`` or an empty file, 413 when
        it is over the limit."""
        if purpose not in UPLOAD_PURPOSES:
            raise InvalidRequestError(
                f"purpose: {purpose!r} is not accepted here; allowed: {', '.join(UPLOAD_PURPOSES)}",
                param="purpose",
            )  # fmt: skip
        if len(data) > self.max_bytes:
            raise FileTooLargeError(
                f"file: {filename!r} is over the limit of {self.max_bytes} bytes "
                "(PIXELFORGE_BATCH_MAX_FILE_BYTES); split it into smaller batches", param="file",
            )  # fmt: skip
        if not data:
            raise InvalidRequestError(f"file: {filename!r} is empty; upload a JSONL file with "
                                      "one request per line", param="file")  # fmt: skip
        self.blobs.put(data, "bin")  # before the transaction: it may be large
        with self.db.write() as s:
            return self.record(s, data, filename[:255] or "upload.jsonl", purpose,
                               principal.user_id)  # fmt: skip

    def record(
        self, s: Session, data: bytes, filename: str, purpose: str, user_id: str | None,
        file_id: str | None = None,
    ) -> StoredFile:  # fmt: skip
        """Store ``data`` and add its record in the caller's transaction (put the blob
        first, outside the transaction, when it is large: this put is then only a lookup)."""
        key = self.blobs.put(data, "bin")
        stored = StoredFile(
            id=file_id or new_file_id(), user_id=user_id, purpose=purpose, filename=filename,
            bytes=len(data), blob_key=key, created_at=self.clock(), deleted=False,
        )  # fmt: skip
        s.add(stored)
        s.flush()
        return stored

    def get(self, file_id: str, principal: Principal = LOCAL) -> StoredFile:
        """The file, if it exists and the caller may see it; 404 alike otherwise."""
        with self.db.read() as s:
            stored = s.get(StoredFile, file_id)
        if (
            stored is None
            or stored.deleted
            or not (principal.is_admin or stored.user_id == principal.user_id)
        ):
            raise NotFoundError(f"file {file_id!r} not found", param="file_id",
                                code="file_not_found")  # fmt: skip
        return stored

    def content(self, file_id: str, principal: Principal = LOCAL) -> tuple[StoredFile, bytes]:
        stored = self.get(file_id, principal)
        return stored, self.blobs.get(stored.blob_key)

    def page(
        self, principal: Principal = LOCAL, *, purpose: str | None = None,
        after: str | None = None, limit: int = MAX_LIST, order: Literal["asc", "desc"] = "desc",
    ) -> FilePage:  # fmt: skip
        """The caller's files by creation time; ``after`` is the id the previous page ended
        with (400 if it is not one of the caller's files)."""
        query = select(StoredFile).where(StoredFile.deleted.is_(False))
        if not principal.is_admin:
            query = query.where(StoredFile.user_id == principal.user_id)
        if purpose is not None:
            query = query.where(StoredFile.purpose == purpose)
        newest_first = order == "desc"
        if after is not None:
            cursor = self._cursor(after, principal)
            same = StoredFile.created_at == cursor.created_at
            query = query.where(
                or_(
                    StoredFile.created_at < cursor.created_at, and_(same, StoredFile.id < cursor.id)
                )
                if newest_first
                else or_(
                    StoredFile.created_at > cursor.created_at, and_(same, StoredFile.id > cursor.id)
                )
            )
        ordering = (
            (StoredFile.created_at.desc(), StoredFile.id.desc())
            if newest_first
            else (StoredFile.created_at, StoredFile.id)
        )
        with self.db.read() as s:
            rows = list(s.scalars(query.order_by(*ordering).limit(limit + 1)))
        return FilePage(rows[:limit], len(rows) > limit)

    def _cursor(self, after: str, principal: Principal) -> StoredFile:
        try:
            return self.get(after, principal)
        except NotFoundError:
            raise InvalidRequestError(f"after: {after!r} is not one of your files; pass the id "
                                      "the previous page ended with", param="after") from None  # fmt: skip

    def delete(self, file_id: str, principal: Principal = LOCAL) -> None:
        self.get(file_id, principal)
        with self.db.write() as s:
            stored = s.get(StoredFile, file_id)
            if stored is None or stored.deleted:
                raise NotFoundError(f"file {file_id!r} not found", param="file_id",
                                    code="file_not_found")  # fmt: skip
            stored.deleted = True

    @staticmethod
    def view(stored: StoredFile) -> dict[str, Any]:
        """The OpenAI ``File`` object."""
        return {
            "id": stored.id, "object": "file", "bytes": stored.bytes,
            "created_at": int(stored.created_at), "filename": stored.filename,
            "purpose": stored.purpose, "status": "processed", "expires_at": None,
            "status_details": None,
        }  # fmt: skip
