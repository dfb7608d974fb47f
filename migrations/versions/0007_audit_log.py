"""the staff audit log

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:30:00

- audit_entries: the append-only, hash-chained log of staff access (issue 9, P6). Each
  row holds the SHA-256 of the previous one (``prev_hash``) and its own (``hash``), over
  the canonical form that ``quietshop.audit.chain`` defines. Ids are given by the writer
  (the previous id + 1, under the append lock), never by a sequence, so the id in the
  hash is known before the row is written. No foreign keys: an entry must never change
  because a staff member or a customer row did (no ON DELETE SET NULL rewriting history),
  and the table can be granted INSERT and SELECT only (docs/deployment.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("data_kinds", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=100), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_entries_customer", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_audit_entries_staff", ["staff_id", "id"], unique=False)
        batch_op.create_index("ix_audit_entries_subject", ["subject", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_entries")
