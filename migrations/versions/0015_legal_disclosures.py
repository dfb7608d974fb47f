"""legal disclosures

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 09:20:00

- legal_disclosures: a customer's data handed to an authority that required it by law
  (design.md P2, staff/disclosures.py): when, by which privacy officer, whose data (the
  customer id and number, declared personal: closing the account NULLs and blanks them),
  the legal basis (authority, reference) and the kinds of data handed over. The same
  disclosure is a ``legal_disclosure`` entry in the audit chain.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legal_disclosures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("disclosed_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("customer_number", sa.String(length=20), nullable=False),
        sa.Column("authority", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("kinds", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_legal_disclosures_staff_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_disclosures")),
    )
    op.create_index(
        op.f("ix_legal_disclosures_customer_id"),
        "legal_disclosures",
        ["customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_legal_disclosures_customer_id"), table_name="legal_disclosures")
    op.drop_table("legal_disclosures")
