"""Assets keep the id of the invisible watermark in their file (``/api/verify`` maps it back).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("watermark_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_assets_watermark_id", "assets", ["watermark_id"])


def downgrade() -> None:
    op.drop_index("ix_assets_watermark_id", table_name="assets")
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("watermark_id")
