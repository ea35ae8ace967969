"""Assets carry the studio workspace they belong to (``draft`` or ``explore``; None: none).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("workspace", sa.String(16), nullable=True))
    op.create_index("ix_assets_workspace", "assets", ["workspace"])


def downgrade() -> None:
    op.drop_index("ix_assets_workspace", table_name="assets")
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("workspace")
