"""sealed links in the outbox, double opt-in, cancelled mail

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:00:00

- mail_outbox.sealed_context: a message's secret links, sealed until it is sent; the
  rendered bodies keep only placeholders (no usable token stays stored).
- mail_outbox.erase_after_send: the goodbye mail of a closed account is scrubbed once sent.
- mail_outbox.unsubscribe_url goes: mailings get their unsubscribe link at send time,
  from the sender's configured base URL and key.
- mail_outbox.status may be 'cancelled' (mail for an account that closed before it went).
- mailing_subscriptions.address_confirmed_at: a mailing goes only to a confirmed address.
  Existing subscriptions count as confirmed where the account's address was verified.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('queued', 'sending', 'sent', 'failed')"
NEW_STATUSES = "status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')"


def upgrade() -> None:
    # On SQLite, batch mode rebuilds the table from its reflected schema, named checks
    # included: the old status check is dropped by name and the new one created.
    with op.batch_alter_table("mail_outbox") as batch_op:
        batch_op.add_column(sa.Column("sealed_context", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("erase_after_send", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_column("unsubscribe_url")
        batch_op.drop_constraint(op.f("ck_mail_outbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_mail_outbox_status"), NEW_STATUSES)
    with op.batch_alter_table("mail_outbox") as batch_op:
        batch_op.alter_column("erase_after_send", server_default=None)

    with op.batch_alter_table("mailing_subscriptions") as batch_op:
        batch_op.add_column(
            sa.Column(
                "address_confirmed_at", quietshop.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.execute(
        """
        UPDATE mailing_subscriptions SET address_confirmed_at = (
            SELECT customers.email_verified_at FROM customers
            WHERE customers.customer_number = mailing_subscriptions.customer_number
              AND customers.email = mailing_subscriptions.email
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("mailing_subscriptions") as batch_op:
        batch_op.drop_column("address_confirmed_at")
    op.execute("UPDATE mail_outbox SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table("mail_outbox") as batch_op:
        batch_op.add_column(sa.Column("unsubscribe_url", sa.String(length=500), nullable=True))
        batch_op.drop_column("erase_after_send")
        batch_op.drop_column("sealed_context")
        batch_op.drop_constraint(op.f("ck_mail_outbox_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_mail_outbox_status"), OLD_STATUSES)
