"""Edit threads (tree of turns) and variations.

A thread is a tree of nodes; each node is an image: the root (an existing asset, or the job
that generated it) or a turn (an edit job of its parent node's image). A node's status and
assets are read from its job, so the tables hold only the tree.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "threads",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_threads_user_id", "threads", ["user_id"])
    op.create_index("ix_threads_created_at", "threads", ["created_at"])
    op.create_table(
        "thread_nodes",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("thread_id", sa.String(40), sa.ForeignKey("threads.id"), nullable=False),
        sa.Column("parent_id", sa.String(40), sa.ForeignKey("thread_nodes.id"), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), nullable=True),
        sa.Column("asset_id", sa.String(40), sa.ForeignKey("assets.id"), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("thread_id", "position", name="uq_thread_node_position"),
        sa.CheckConstraint(
            "job_id IS NOT NULL OR asset_id IS NOT NULL", name="ck_thread_node_image"
        ),
    )
    op.create_index("ix_thread_nodes_thread_id", "thread_nodes", ["thread_id"])
    op.create_index("ix_thread_nodes_job_id", "thread_nodes", ["job_id"])


def downgrade() -> None:
    op.drop_table("thread_nodes")
    op.drop_table("threads")
