"""Compare and arena: compares, their entries (one job each) and pairwise votes.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compares",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_compares_user_id", "compares", ["user_id"])
    op.create_index("ix_compares_created_at", "compares", ["created_at"])
    op.create_table(
        "compare_entries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("compare_id", sa.String(40), sa.ForeignKey("compares.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("compare_id", "position", name="uq_compare_entry_position"),
    )
    op.create_index("ix_compare_entries_compare_id", "compare_entries", ["compare_id"])
    op.create_index("ix_compare_entries_job_id", "compare_entries", ["job_id"])
    op.create_table(
        "arena_votes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("compare_id", sa.String(40), sa.ForeignKey("compares.id"), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("pair", sa.String(81), nullable=False),
        sa.Column("entry_a", sa.String(40), nullable=False),
        sa.Column("entry_b", sa.String(40), nullable=False),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("label_a", sa.String(80), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=False),
        sa.Column("label_b", sa.String(80), nullable=False),
        sa.Column("winner", sa.String(4), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("compare_id", "pair", name="uq_arena_vote_pair"),
        sa.CheckConstraint("winner IN ('a', 'b', 'tie')", name="ck_arena_vote_winner"),
    )
    op.create_index("ix_arena_votes_compare_id", "arena_votes", ["compare_id"])
    op.create_index("ix_arena_votes_user_id", "arena_votes", ["user_id"])
    op.create_index("ix_arena_votes_category", "arena_votes", ["category"])


def downgrade() -> None:
    op.drop_table("arena_votes")
    op.drop_table("compare_entries")
    op.drop_table("compares")
