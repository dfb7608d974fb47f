"""staff accounts and sessions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:00:00

- staff_members: the shop's employees, apart from customers (P7). The password as an
  argon2id hash, the TOTP secret AES-256-GCM sealed under the keyring (key id beside it)
  with the last time-step accepted (replay refusal), the failure count and account lock,
  disabling (and why), last activity, and the one-time enrolment link's SHA-256.
- staff_roles: one row per role held (the closed set of quietshop.staff.roles, as of now).
- staff_sessions: back-office sign-ins, the token as SHA-256 only, with their last request,
  absolute expiry, screen lock, end, and the origin the audit chain records.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = (
    "role IN ('owner', 'billing', 'customer_service', 'fulfilment', 'catalog', 'marketing', "
    "'analyst', 'privacy_officer')"
)


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("totp_key_id", sa.String(length=16), nullable=True),
        sa.Column("totp_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("enrolled_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_active_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=200), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("enrolment_token_hash", sa.String(length=64), nullable=True),
        sa.Column("enrolment_expires_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("email_key", name=op.f("uq_staff_members_email_key")),
        sa.UniqueConstraint(
            "enrolment_token_hash", name=op.f("uq_staff_members_enrolment_token_hash")
        ),
    )
    op.create_table(
        "staff_roles",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.CheckConstraint(ROLES, name=op.f("ck_staff_roles_role")),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_roles_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "role", name=op.f("pk_staff_roles")),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_sessions_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_sessions_staff_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_roles")
    op.drop_table("staff_members")
