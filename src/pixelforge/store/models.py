"""Tables: users, sessions, API keys, the credits ledger, jobs, assets, idempotency records;
compares, their entries and arena votes; edit threads and their nodes; reference sets and
their images; files, batches and their requests.

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
    watermark_id: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)
    """The id the invisible watermark in the file carries (migration 0008); None: unmarked."""
    workspace: Mapped[str | None] = mapped_column(String(16), default=None, index=True)
    """The studio workspace the asset belongs to (``draft`` or ``explore``, migration 0009);
    None: none given."""


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


#: A thread node is an image: an existing asset (a root) or a job's (migration 0005).
NODE_HAS_IMAGE = "job_id IS NOT NULL OR asset_id IS NOT NULL"


class Thread(Base):
    """An edit thread: a tree of images made by successive edits, owned like jobs."""

    __tablename__ = "threads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)


class ThreadNode(Base):
    """One image of a thread: the root (``parent_id`` None) or a turn on its parent's image.

    ``job_id`` is the job that makes the image (None for a root made from an existing asset,
    which ``asset_id`` names); status and assets are read from the job. ``position`` numbers
    the nodes of a thread in the order they were added (the root is 0); ``depth`` counts the
    turns from the root.
    """

    __tablename__ = "thread_nodes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("thread_nodes.id"), default=None)
    position: Mapped[int] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None, index=True)
    asset_id: Mapped[str | None] = mapped_column(ForeignKey("assets.id"), default=None)
    instruction: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("thread_id", "position", name="uq_thread_node_position"),
        CheckConstraint(NODE_HAS_IMAGE, name="ck_thread_node_image"),
    )


class StoredFile(Base):
    """An uploaded file (``purpose`` batch) or one a batch wrote (``batch_output``).

    The bytes live in the blob store under ``blob_key``; deleting a file hides it (the blob
    may be shared: the store is content-addressed).
    """

    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    bytes: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class Batch(Base):
    """An OpenAI-style batch: one job per line of its input file (migration 0007).

    ``status`` is what the API shows; ``closed_at`` is set once, when the output files are
    written (the finalization guard). ``base_url`` is where ``url`` results point.
    """

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(40), default=None)
    endpoint: Mapped[str] = mapped_column(String(64))
    input_file_id: Mapped[str] = mapped_column(ForeignKey("files.id"))
    completion_window: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, default=None)
    base_url: Mapped[str] = mapped_column(Text, default="")
    total: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    output_file_id: Mapped[str | None] = mapped_column(String(40), default=None)
    error_file_id: Mapped[str | None] = mapped_column(String(40), default=None)
    images_file_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    in_progress_at: Mapped[float | None] = mapped_column(Float, default=None)
    expires_at: Mapped[float | None] = mapped_column(Float, default=None)
    finalizing_at: Mapped[float | None] = mapped_column(Float, default=None)
    completed_at: Mapped[float | None] = mapped_column(Float, default=None)
    failed_at: Mapped[float | None] = mapped_column(Float, default=None)
    expired_at: Mapped[float | None] = mapped_column(Float, default=None)
    cancelling_at: Mapped[float | None] = mapped_column(Float, default=None)
    cancelled_at: Mapped[float | None] = mapped_column(Float, default=None)
    closed_at: Mapped[float | None] = mapped_column(Float, default=None)

    __table_args__ = (Index("ix_batches_open", "closed_at", "status"),)


class BatchRequest(Base):
    """One line of a batch's input: its ``custom_id``, its job, and the fixed fields of its
    ``ImagesResponse`` (``response``: response_format, background, output_format, quality,
    size)."""

    __tablename__ = "batch_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    custom_id: Mapped[str] = mapped_column(String(255))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    response: Mapped[dict[str, Any]]

    __table_args__ = (
        UniqueConstraint("batch_id", "line", name="uq_batch_request_line"),
        UniqueConstraint("batch_id", "custom_id", name="uq_batch_request_custom_id"),
    )


#: What a reference set holds (migration 0006).
REFERENCE_SET_KINDS = "kind IN ('character', 'product', 'style', 'brand_kit')"


class ReferenceSet(Base):
    """A saved, named set of reference images of one kind, reusable by id in any request.

    Brand kits (``kind`` ``brand_kit``) also carry ``palette`` (``#rrggbb`` strings), ``fonts``
    (role -> family), ``tone`` (words) and a logo (``logo_*``: its blob key and size); other
    kinds leave them empty. ``name`` is unique per owner.
    """

    __tablename__ = "reference_sets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    palette: Mapped[list[str]] = mapped_column(JSON, default=list)
    fonts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tone: Mapped[list[str]] = mapped_column(JSON, default=list)
    logo_blob: Mapped[str | None] = mapped_column(String(120), default=None)
    logo_width: Mapped[int | None] = mapped_column(Integer, default=None)
    logo_height: Mapped[int | None] = mapped_column(Integer, default=None)
    logo_format: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("user_id", "name", name="uq_reference_set_owner_name"),
        CheckConstraint(REFERENCE_SET_KINDS, name="ck_reference_set_kind"),
    )


class ReferenceImage(Base):
    """One image of a reference set, in ``position`` order, with the role it plays when the
    set is used (the kind's default unless given) and a label."""

    __tablename__ = "reference_images"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    set_id: Mapped[str] = mapped_column(ForeignKey("reference_sets.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    blob_key: Mapped[str] = mapped_column(String(120))
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("set_id", "position", name="uq_reference_image_position"),)
