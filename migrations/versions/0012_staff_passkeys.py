"""staff passkeys and their challenges

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:00:00

- staff_passkeys: WebAuthn credentials a staff member registered as a second factor
  beside the TOTP app (issue 9 item 1): the credential id (unique), its COSE public key,
  the authenticator's signature counter (an unsigned 32-bit number, so a BIGINT), the
  transports the browser reported, a name the person chose, when it was added and last
  used. Nothing secret: the private key never leaves the authenticator.
- staff_passkey_challenges: one row per ceremony (register, sign_in), the challenge as
  SHA-256 only, expiring after five minutes, spent once (used_at).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_passkeys_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_staff_passkeys_credential_id")),
    )
    op.create_index(
        op.f("ix_staff_passkeys_staff_id"), "staff_passkeys", ["staff_id"], unique=False
    )
    op.create_table(
        "staff_passkey_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('register', 'sign_in')",
            name=op.f("ck_staff_passkey_challenges_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_passkey_challenges_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_passkey_challenges")),
    )
    op.create_index(
        op.f("ix_staff_passkey_challenges_expires_at"),
        "staff_passkey_challenges",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_staff_passkey_challenges_expires_at"), table_name="staff_passkey_challenges"
    )
    op.drop_table("staff_passkey_challenges")
    op.drop_index(op.f("ix_staff_passkeys_staff_id"), table_name="staff_passkeys")
    op.drop_table("staff_passkeys")
