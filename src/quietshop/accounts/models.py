"""Customer tables. No IP address is ever stored here (P5); passwords only as argon2id
hashes and sign-in tokens only as SHA-256 digests (P8). Every column that holds personal
data declares its kind and its erasure (``privacy.personal_data.personal``); times are
always given by the caller's clock, never defaulted here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quietshop.db import Base, UTCDateTime
from quietshop.privacy.personal_data import personal


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random, permanent, with a Damm check digit (P9); shown on every page and mail.
    customer_number: Mapped[str] = mapped_column(
        String(10),
        unique=True,
        info=personal(
            "contact",
            erase="keep",
            why_kept="the permanent account number orders refer to; it names nobody once "
            "the rest is erased",
        ),
    )
    name: Mapped[str] = mapped_column(String(200), info=personal("contact"))
    email: Mapped[str] = mapped_column(String(254), info=personal("contact", erase="placeholder"))
    # The address case-folded: unique, so Ann@Example.org and ann@example.org are one.
    # NULL for a guest: a guest's address signs nobody in.
    email_key: Mapped[str | None] = mapped_column(
        String(254), unique=True, info=personal("contact", erase="placeholder")
    )
    # A guest's address case-folded, so a guest who orders again keeps one customer
    # number; NULL for an account (and once a guest sets a password).
    guest_key: Mapped[str | None] = mapped_column(
        String(254), unique=True, info=personal("contact", erase="placeholder")
    )
    phone: Mapped[str] = mapped_column(String(40), default="", info=personal("contact"))
    # NULL for a guest, who has a customer number but no password (checkout as a guest).
    password_hash: Mapped[str | None] = mapped_column(String(200), info=personal("credentials"))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the customer closes the account; personal fields are erased then.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerToken(Base):
    """A signed-in browser tab. Only the SHA-256 of the token is kept."""

    __tablename__ = "customer_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=personal("credentials"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, info=personal("activity"))
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, info=personal("activity"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OneTimeLink(Base):
    """A mailed link: verify an email address, reset a password, confirm a new address."""

    __tablename__ = "account_links"
    __table_args__ = (
        CheckConstraint(
            "purpose IN ('verify_email', 'reset_password', 'change_email', 'claim_guest')",
            name="purpose",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=personal("credentials"))
    new_email: Mapped[str | None] = mapped_column(String(254), info=personal("contact"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Address(Base):
    __tablename__ = "customer_addresses"
    __table_args__ = (
        CheckConstraint("kind IN ('shipping', 'billing')", name="kind"),
        Index("ix_customer_addresses_customer", "customer_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200), info=personal("address"))
    line1: Mapped[str] = mapped_column(String(200), info=personal("address"))
    line2: Mapped[str] = mapped_column(String(200), default="", info=personal("address"))
    city: Mapped[str] = mapped_column(String(100), info=personal("address"))
    region: Mapped[str] = mapped_column(String(100), default="", info=personal("address"))
    postcode: Mapped[str] = mapped_column(String(20), default="", info=personal("address"))
    country: Mapped[str] = mapped_column(String(2), info=personal("address"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
