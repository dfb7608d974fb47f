"""Payment tables (P8). A card number is kept only AES-256-GCM encrypted under a data key
from the keyring file (never in this database), with the key's id beside it, and only
until the payment is captured. The security code is never stored, not even encrypted
(PCI DSS 3.3.1): there is no column for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quietshop.db import Base, UTCDateTime
from quietshop.privacy.personal_data import personal

PAYMENT_STATUSES = (
    "pending_manual",
    "authorized",
    "declined",
    "failed",
    "captured",
    "voided",
    "refunded",
    "partially_refunded",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PaymentCard(Base):
    """The card an order is paid with: masked facts in clear, the number encrypted."""

    __tablename__ = "payment_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4), info=personal("payment", erase="blank"))
    exp_month: Mapped[int] = mapped_column(Integer, info=personal("payment", erase="blank"))
    exp_year: Mapped[int] = mapped_column(Integer, info=personal("payment", erase="blank"))
    name_on_card: Mapped[str] = mapped_column(String(200), info=personal("payment"))
    # The keyring's id of the data key the number is encrypted under.
    key_id: Mapped[str | None] = mapped_column(String(16))
    # nonce || AES-256-GCM(number), bound to the order by associated data; NULL once purged.
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, info=personal("payment"))
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Payment(Base):
    """One order's payment at the processor: authorised, captured, refunded."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(_one_of("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint("refunded_cents <= captured_cents", name="refund_within_capture"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # "manual" or "simulator" (the simulator is named as such on every screen).
    processor: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    captured_cents: Mapped[int] = mapped_column(Integer, default=0)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    authorization_code: Mapped[str | None] = mapped_column(String(40))
    decline_reason: Mapped[str | None] = mapped_column(String(200))
    processor_reference: Mapped[str | None] = mapped_column(String(100))
    # The key sent to the processor's authorize call, so a retry cannot charge twice.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CardReveal(Base):
    """A decryption of a card number by billing staff, with the reason they gave."""

    __tablename__ = "card_reveals"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
