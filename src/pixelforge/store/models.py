"""Tables: users, sessions, API keys, the credits ledger, jobs, assets, idempotency records;
compares, their entries and arena votes.

Timestamps are UTC epoch seconds (floats); money is integer micro-USD.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    role: Mapped[str] = mapped_column(String(16), default="member")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    daily_quota: Mapped[int | None] = mapped_column(BigInteger, default=None)
    monthly_quota: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[float] = mapped_column(Float)


class SessionRecord(Base):
    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(24))
    last4: Mapped[str] = mapped_column(String(4))
    budget: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[float] = mapped_column(Float)
    last_used_at: Mapped[float | None] = mapped_column(Float, default=None)
    expires_at: Mapped[float | None] = mapped_column(Float, default=None)
    revoked_at: Mapped[float | None] = mapped_column(Float, default=None)


#: A settlement (capture or refund) never lowers the balance (migration 0003).
SETTLEMENT_GIVES_BACK = "kind NOT IN ('capture', 'refund') OR delta >= 0"


class LedgerEntry(Base):
    """Append-only. ``delta`` is the signed change to the balance, in micro-USD.

    ``settles`` holds the job id on capture and refund rows only; its unique index makes
    "exactly one capture or refund per job" a database rule. A settlement's ``delta`` is never
    negative (a check): it can only give back, so a capture never takes more than was reserved.
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    delta: Mapped[int] = mapped_column(BigInteger)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    settles: Mapped[str | None] = mapped_column(String(40), default=None, unique=True)
    note: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[float] = mapped_column(Float, index=True)

    __table_args__ = (
        UniqueConstraint("job_id", "kind", name="uq_ledger_job_kind"),
        CheckConstraint(SETTLEMENT_GIVES_BACK, name="ck_ledger_settlement_gives_back"),
    )


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(40), default=None)
    price: Mapped[int] = mapped_column(BigInteger, default=0)
    fair_rank: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    request: Mapped[dict[str, Any]]
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, default=None)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(400), default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, default=None)
    finished_at: Mapped[float | None] = mapped_column(Float, default=None)

    __table_args__ = (
        Index("ix_jobs_claim", "status", "priority", "created_at"),
        Index("ix_jobs_fair", "status", "priority", "fair_rank", "created_at"),
        Index("ix_jobs_lease", "status", "lease_expires_at"),
    )


class Asset(Base):
    __tablename__ = "assets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    blob_key: Mapped[str] = mapped_column(String(120))
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200), index=True)
    seed: Mapped[int | None] = mapped_column(Integer, default=None)
    prompt: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]]
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id"), default=None)
    timings: Mapped[dict[str, Any]]
    cost: Mapped[str] = mapped_column(String(32), default="0")
    created_at: Mapped[float] = mapped_column(Float, index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[float] = mapped_column(Float, index=True)

    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)


#: A vote's winner: entry ``a``, entry ``b``, or a tie (migration 0004).
VOTE_WINNERS = "winner IN ('a', 'b', 'tie')"


class Compare(Base):
    """One brief sent to several models or settings at once; one job per entry."""

    __tablename__ = "compares"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    prompt: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float, index=True)


class CompareEntry(Base):
    """One side of a compare: a model with its options, and the job that runs it.

    ``label`` names the settings (empty: the model alone); ``price`` is the price table's
    price for the entry's request, in micro-USD, whether or not anyone was charged.
    """

    __tablename__ = "compare_entries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    compare_id: Mapped[str] = mapped_column(ForeignKey("compares.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(80), default="")
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    price: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (UniqueConstraint("compare_id", "position", name="uq_compare_entry_position"),)


class ArenaVote(Base):
    """A pairwise judgement between two entries of one compare, by its owner.

    The pair is stored in the order voted; ``pair`` (the two entry ids, sorted and joined) is
    unique per compare, so voting again on a pair replaces the earlier vote. The models are
    the ones that made the images (a fallback's, when one ran), with the entries' labels.
    """

    __tablename__ = "arena_votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    compare_id: Mapped[str] = mapped_column(ForeignKey("compares.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    pair: Mapped[str] = mapped_column(String(81))
    entry_a: Mapped[str] = mapped_column(String(40))
    entry_b: Mapped[str] = mapped_column(String(40))
    model_a: Mapped[str] = mapped_column(String(200))
    label_a: Mapped[str] = mapped_column(String(80), default="")
    model_b: Mapped[str] = mapped_column(String(200))
    label_b: Mapped[str] = mapped_column(String(80), default="")
    winner: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("compare_id", "pair", name="uq_arena_vote_pair"),
        CheckConstraint(VOTE_WINNERS, name="ck_arena_vote_winner"),
    )
