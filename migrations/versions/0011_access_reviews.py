"""staff access reviews

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:30:00

- staff_access_reviews: the owner's six-monthly confirmation of who holds which roles
  (issue 9 item 1): who confirmed it and when, the owner's note, and a JSON snapshot of
  every active staff member's roles, status and last activity at that moment. Staff
  data only; rows are only ever added.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_access_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["staff_members.id"],
            name=op.f("fk_staff_access_reviews_confirmed_by_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_access_reviews")),
    )


def downgrade() -> None:
    op.drop_table("staff_access_reviews")
