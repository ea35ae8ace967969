"""Reference library (saved reference sets and brand kits).

A reference set is a named, owned collection of reference images of one kind (a character, a
product, a style, or a brand kit, which adds a palette, fonts, tone words and a logo). Image
bytes live in the blob store; the tables hold the keys.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_sets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("palette", sa.JSON(), nullable=False),
        sa.Column("fonts", sa.JSON(), nullable=False),
        sa.Column("tone", sa.JSON(), nullable=False),
        sa.Column("logo_blob", sa.String(120), nullable=True),
        sa.Column("logo_width", sa.Integer(), nullable=True),
        sa.Column("logo_height", sa.Integer(), nullable=True),
        sa.Column("logo_format", sa.String(8), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_reference_set_owner_name"),
        sa.CheckConstraint(
            "kind IN ('character', 'product', 'style', 'brand_kit')", name="ck_reference_set_kind"
        ),
    )
    op.create_index("ix_reference_sets_user_id", "reference_sets", ["user_id"])
    op.create_index("ix_reference_sets_created_at", "reference_sets", ["created_at"])
    op.create_table(
        "reference_images",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("set_id", sa.String(40), sa.ForeignKey("reference_sets.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("blob_key", sa.String(120), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.String(120), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("set_id", "position", name="uq_reference_image_position"),
    )
    op.create_index("ix_reference_images_set_id", "reference_images", ["set_id"])


def downgrade() -> None:
    op.drop_table("reference_images")
    op.drop_table("reference_sets")
