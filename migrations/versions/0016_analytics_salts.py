"""analytics salts

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 16:00:00

- analytics_salts: one random salt per UTC day, the key of that day's visitor hashes
  (design.md P5, analytics/visitors.py): private routes' access-log lines carry the hash
  instead of the client's address. A salt is deleted once its day has closed, so no hash
  can be recomputed afterwards.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_salts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_analytics_salts")),
    )


def downgrade() -> None:
    op.drop_table("analytics_salts")
