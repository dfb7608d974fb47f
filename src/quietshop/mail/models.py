"""Mail tables: the outbox (written in the same transaction as the change that causes a
message), mailing subscriptions (the opt-in lives here) and mailings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quietshop.db import Base, UTCDateTime
from quietshop.privacy.personal_data import personal

PURPOSES = ("order_update", "account", "policy_change", "mailing")
# cancelled: never sent, because the account it was for closed meanwhile.
STATUSES = ("queued", "sending", "sent", "failed", "cancelled")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class OutboxMessage(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        CheckConstraint(_one_of("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        # The sender's claim: the oldest due messages first.
        Index("ix_mail_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(254), info=personal("contact"))
    recipient_name: Mapped[str] = mapped_column(String(200), default="", info=personal("contact"))
    customer_number: Mapped[str | None] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    # The bodies as rendered at queue time, with a placeholder where a secret link goes
    # (mail/sealing.py): what is stored here can be shown, exported and kept.
    text_body: Mapped[str] = mapped_column(Text, info=personal("contact"))
    html_body: Mapped[str] = mapped_column(Text, info=personal("contact"))
    # The secret links of a message not sent yet, AES-GCM sealed with the shop's key and
    # set to NULL once the message is sent or given up: no usable link stays stored.
    sealed_context: Mapped[str | None] = mapped_column(Text, info=personal("credentials"))
    # Scrub recipient, name and bodies once sent (the goodbye mail of a closed account).
    erase_after_send: Mapped[bool] = mapped_column(Boolean, default=False)
    # What caused it: an order number, a policy version, a mailing id.
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The server's reply code and a short reason, with any address in it cut out.
    last_error: Mapped[str | None] = mapped_column(Text, info=personal("contact"))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailingSubscription(Base):
    """Whether one customer wants mailings, and whether the address is confirmed.

    Accounts tell the mail domain of every change. A mailing goes only where ``opted_in``
    is on and ``address_confirmed_at`` is set for the address held here (double opt-in):
    ticking the box for someone else's address sends them nothing.
    """

    __tablename__ = "mailing_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(20), unique=True)
    email: Mapped[str] = mapped_column(String(254), info=personal("contact"))
    name: Mapped[str] = mapped_column(String(200), default="", info=personal("contact"))
    opted_in: Mapped[bool] = mapped_column(Boolean, default=False)
    address_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Mailing(Base):
    __tablename__ = "mailings"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)
