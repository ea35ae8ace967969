"""Credits: balances, grants and adjustments, quotas, and usage reports (admin)."""

from __future__ import annotations

import csv
import hashlib
import io
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pixelforge.errors import IdempotencyReusedError, InvalidRequestError, NotFoundError
from pixelforge.services.pricing import MAX_MICRO, from_micro
from pixelforge.store import ledger
from pixelforge.store.db import Database
from pixelforge.store.models import IdempotencyRecord, LedgerEntry, User


class Credits:
    def __init__(self, db: Database) -> None:
        self.db = db

    def balance(self, user_id: str) -> int:
        with self.db.read() as s:
            return ledger.balance(s.connection(), user_id)

    def grant(self, user_id: str, amount: int, note: str = "", kind: str = ledger.GRANT) -> int:
        """Add (grant, > 0) or correct (adjust, any sign) a balance; returns the new balance."""
        with self.db.write() as s:
            return self._grant(s, user_id, amount, note, kind)

    def _grant(self, s: Session, user_id: str, amount: int, note: str, kind: str) -> int:
        if kind not in (ledger.GRANT, ledger.ADJUST):
            raise InvalidRequestError(f"kind: {kind!r} is not allowed; allowed: grant, adjust",
                                      param="kind")  # fmt: skip
        if kind == ledger.GRANT and amount <= 0:
            raise InvalidRequestError(f"amount: a grant must be positive (got {amount})",
                                      param="amount")  # fmt: skip
        if abs(amount) > MAX_MICRO:
            raise InvalidRequestError(
                f"amount: at most {from_micro(MAX_MICRO)} USD at a time", param="amount"
            )
        if s.get(User, user_id) is None:
            raise NotFoundError(f"user {user_id!r} not found", param="user_id",
                                code="user_not_found")  # fmt: skip
        conn = s.connection()
        if kind == ledger.ADJUST and ledger.balance(conn, user_id) + amount < 0:
            raise InvalidRequestError("amount: the balance cannot go below zero",
                                      param="amount")  # fmt: skip
        ledger.entry(conn, user_id=user_id, job_id=None, api_key_id=None, kind=kind,
                     amount=abs(amount), delta=amount, model=None, settles=None,
                     note=note[:400], created_at=time.time())  # fmt: skip
        return ledger.balance(conn, user_id)

    def grant_once(
        self, scope: str, key: str, user_id: str, amount: int, note: str, kind: str
    ) -> int:
        """``grant`` under an idempotency key, in one transaction with its record: a retried
        request never moves credits twice; the same key with other values -> 422."""
        fingerprint = hashlib.sha256(f"{user_id}|{amount}|{kind}".encode()).hexdigest()
        with self.db.write() as s:
            record = s.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            )
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise IdempotencyReusedError(
                        "Idempotency-Key: this key was used with a different request",
                        param="Idempotency-Key",
                    )
                return ledger.balance(s.connection(), user_id)
            s.add(IdempotencyRecord(scope=scope, key=key, fingerprint=fingerprint,
                                    created_at=time.time()))  # fmt: skip
            s.flush()
            return self._grant(s, user_id, amount, note, kind)

    def set_quotas(self, user_id: str, daily: int | None, monthly: int | None) -> User:
        for name, value in (("daily", daily), ("monthly", monthly)):
            if value is not None and not 0 <= value <= MAX_MICRO:
                raise InvalidRequestError(
                    f"{name}: must be 0 to {from_micro(MAX_MICRO)} USD, or null", param=name
                )
        with self.db.write() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFoundError(f"user {user_id!r} not found", param="user_id",
                                    code="user_not_found")  # fmt: skip
            user.daily_quota, user.monthly_quota = daily, monthly
            return user

    def history(self, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.read() as s:
            rows = s.scalars(
                select(LedgerEntry).where(LedgerEntry.user_id == user_id)
                .order_by(LedgerEntry.id.desc()).limit(limit)
            )  # fmt: skip
            return [
                {
                    "kind": r.kind,
                    "amount": str(from_micro(r.amount)),
                    "delta": str(from_micro(r.delta)),
                    "job_id": r.job_id,
                    "model": r.model,
                    "note": r.note,
                    "created": int(r.created_at),
                }
                for r in rows
            ]

    def usage(self, since: float | None = None, until: float | None = None) -> list[dict[str, Any]]:
        """Charged credits per user, model and UTC day (captures only)."""
        query = (
            select(User.email, LedgerEntry.model, LedgerEntry.created_at, LedgerEntry.amount)
            .join(User, User.id == LedgerEntry.user_id)
            .where(LedgerEntry.kind == ledger.CAPTURE)
        )
        if since is not None:
            query = query.where(LedgerEntry.created_at >= since)
        if until is not None:
            query = query.where(LedgerEntry.created_at < until)
        totals: dict[tuple[str, str, str], list[int]] = {}
        with self.db.read() as s:
            for email, model, created, amount in s.execute(query):
                day = datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d")
                cell = totals.setdefault((email, model or "", day), [0, 0])
                cell[0] += 1
                cell[1] += amount
        return [
            {"user": u, "model": m, "day": d, "jobs": n, "charged": str(from_micro(c))}
            for (u, m, d), (n, c) in sorted(totals.items(), key=lambda kv: (kv[0][2], kv[0][0]))
        ]

    @staticmethod
    def usage_csv(rows: list[dict[str, Any]]) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["day", "user", "model", "jobs", "charged"])
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
