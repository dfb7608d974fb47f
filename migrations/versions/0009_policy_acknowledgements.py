"""policy acknowledgements and policy mail runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:30:00

- staff_policy_acknowledgements: a staff member's confirmation of one policy version, one
  row per quarter (they lapse when a calendar quarter begins, P7), with the kind and
  version copied for the record.
- staff_policy_mail_runs: how far a round of policy mail has gone (the customers' notice
  of a new privacy policy, queued in batches; the quarterly staff reminder), so a crash
  resumes where it stopped and nobody is mailed twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_policy_acknowledgements",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_staff_policy_acknowledgements_policy_id_policies"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_policy_acknowledgements_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "staff_id", "policy_id", "quarter", name=op.f("pk_staff_policy_acknowledgements")
        ),
    )
    op.create_table(
        "staff_policy_mail_runs",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("after_customer_id", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("started_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_staff_policy_mail_runs_policy_id_policies"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_staff_policy_mail_runs")),
    )


def downgrade() -> None:
    op.drop_table("staff_policy_mail_runs")
    op.drop_table("staff_policy_acknowledgements")
