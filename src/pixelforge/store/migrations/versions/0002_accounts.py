"""Accounts, sessions, API keys, the credits ledger; job ownership, price and fair rank.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("daily_quota", sa.BigInteger(), nullable=True),
        sa.Column("monthly_quota", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(24), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("api_key_id", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("settles", sa.String(40), nullable=True, unique=True),
        sa.Column("note", sa.String(400), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("job_id", "kind", name="uq_ledger_job_kind"),
    )
    op.create_index("ix_ledger_entries_user_id", "ledger_entries", ["user_id"])
    op.create_index("ix_ledger_entries_job_id", "ledger_entries", ["job_id"])
    op.create_index("ix_ledger_entries_api_key_id", "ledger_entries", ["api_key_id"])
    op.create_index("ix_ledger_entries_created_at", "ledger_entries", ["created_at"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("user_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("api_key_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("price", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("fair_rank", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_jobs_user_id", "jobs", ["user_id"])
    op.create_index("ix_jobs_fair", "jobs", ["status", "priority", "fair_rank", "created_at"])
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("user_id", sa.String(40), nullable=True))
    op.create_index("ix_assets_user_id", "assets", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_assets_user_id", "assets")
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("user_id")
    op.drop_index("ix_jobs_fair", "jobs")
    op.drop_index("ix_jobs_user_id", "jobs")
    with op.batch_alter_table("jobs") as batch:
        for column in ("fair_rank", "price", "api_key_id", "user_id"):
            batch.drop_column(column)
    op.drop_table("ledger_entries")
    op.drop_table("api_keys")
    op.drop_table("sessions")
    op.drop_table("users")
