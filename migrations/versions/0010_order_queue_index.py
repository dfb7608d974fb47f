"""the back office's order queue index

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00

- ix_orders_status_placed on orders (status, placed_at, id): the staff order queue reads
  each status it shows as one index range in placed_at order, the id breaking ties for
  its keyset cursor, so a page costs the same with 100,000 orders as with 100.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_status_placed", ["status", "placed_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_placed")
