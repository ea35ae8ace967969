"""Ledger: a settlement (capture or refund) never lowers the balance.

Captures may now charge less than the reservation (the actual cost from usage) and return the
rest in their ``delta``; this check makes "a capture never takes more than was reserved" a
database rule. Existing rows pass it (captures so far have ``delta`` 0, refunds the amount).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAME = "ck_ledger_settlement_gives_back"
CONDITION = "kind NOT IN ('capture', 'refund') OR delta >= 0"


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.create_check_constraint(NAME, CONDITION)


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_constraint(NAME, type_="check")
