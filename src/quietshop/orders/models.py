"""Order tables: orders with their lines and status history, the rate tables the owner
edits (shipping, tax, discount codes), idempotency keys, and information requests.

No IP address and no card data live here (P5, P8: cards are the payments domain's). An
order copies the names, addresses and prices it was placed with, so later edits to the
address book or the catalog never rewrite a past order. Times always come from the
caller's clock.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quietshop.db import Base, UTCDateTime
from quietshop.privacy.personal_data import personal

# The order graph (orders/lifecycle.py holds the allowed moves).
STATUSES = (
    "placed",
    "payment_verified",
    "packed",
    "shipped",
    "delivered",
    "payment_problem",
    "availability_problem",
    "cancelled",
    "refunded",
    "partially_refunded",
    "return_requested",
    "return_received",
)
RETURN_STATUSES = ("requested", "received", "refunded", "rejected")

_TAX_LAW = (
    "tax law requires an invoice (billing name and address) to be kept for the retention "
    "period (order_retention_days), even after the account is closed"
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
        Index("ix_orders_customer", "customer_id", "placed_at"),
        # The back office's order queue: one range scan per status, in placed_at order,
        # the id breaking ties for its keyset cursor (orders.service.order_queue).
        Index("ix_orders_status_placed", "status", "placed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random with a Damm check digit, shown to the customer; the id stays internal.
    order_number: Mapped[str] = mapped_column(String(12), unique=True)
    # NULL once the customer's account is closed: the order is detached and pseudonymised.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"),
        info=personal("contact", erase="blank"),
    )
    customer_number: Mapped[str | None] = mapped_column(
        String(10), info=personal("contact", erase="blank")
    )
    email: Mapped[str] = mapped_column(String(254), info=personal("contact"))
    customer_name: Mapped[str] = mapped_column(String(200), info=personal("contact"))
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_cents: Mapped[int] = mapped_column(Integer)
    discount_cents: Mapped[int] = mapped_column(Integer, default=0)
    shipping_cents: Mapped[int] = mapped_column(Integer)
    tax_cents: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(Integer)
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    prices_include_tax: Mapped[bool] = mapped_column(Boolean)
    discount_code: Mapped[str | None] = mapped_column(String(40))
    shipping_method: Mapped[str] = mapped_column(String(40))
    shipping_method_name: Mapped[str] = mapped_column(String(120))
    ship_name: Mapped[str] = mapped_column(String(200), info=personal("address"))
    ship_line1: Mapped[str] = mapped_column(String(200), info=personal("address"))
    ship_line2: Mapped[str] = mapped_column(String(200), default="", info=personal("address"))
    ship_city: Mapped[str] = mapped_column(String(100), info=personal("address"))
    ship_region: Mapped[str] = mapped_column(String(100), default="", info=personal("address"))
    ship_postcode: Mapped[str] = mapped_column(String(20), default="", info=personal("address"))
    ship_country: Mapped[str] = mapped_column(
        String(2),
        info=personal(
            "address", erase="keep", why_kept="the destination country decides the tax charged"
        ),
    )
    bill_name: Mapped[str] = mapped_column(
        String(200), info=personal("address", erase="keep", why_kept=_TAX_LAW)
    )
    bill_line1: Mapped[str] = mapped_column(
        String(200), info=personal("address", erase="keep", why_kept=_TAX_LAW)
    )
    bill_line2: Mapped[str] = mapped_column(
        String(200), default="", info=personal("address", erase="keep", why_kept=_TAX_LAW)
    )
    bill_city: Mapped[str] = mapped_column(
        String(100), info=personal("address", erase="keep", why_kept=_TAX_LAW)
    )
    bill_region: Mapped[str] = mapped_column(
        String(100), default="", info=personal("address", erase="keep", why_kept=_TAX_LAW)
    )
    bill_postcode: Mapped[str] = mapped_column(
        String(20), default="", info=personal("address", erase="keep", why_kept=_TAX_LAW)
    )
    bill_country: Mapped[str] = mapped_column(
        String(2), info=personal("address", erase="keep", why_kept=_TAX_LAW)
    )
    carrier: Mapped[str | None] = mapped_column(String(60))
    tracking_number: Mapped[str | None] = mapped_column(String(60))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the customer's account closed: contact and shipping data are gone by then.
    pseudonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        order_by="OrderEvent.id", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    """One SKU of an order, with the price and name it was bought at."""

    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    product_name: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(120), default="")
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    line_total_cents: Mapped[int] = mapped_column(Integer)
    discount_cents: Mapped[int] = mapped_column(Integer, default=0)
    tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    weight_grams: Mapped[int] = mapped_column(Integer, default=0)
    # Units returned and refunded so far (a partial return).
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderEvent(Base):
    """One move along the order graph: when, from what, to what, and who moved it."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    # "customer", "system", "processor", or a staff role ("billing", "fulfilment").
    actor: Mapped[str] = mapped_column(String(40))
    # What the customer is told (a decline reason, a carrier): never card data.
    note: Mapped[str] = mapped_column(Text, default="", info=personal("activity"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderReturn(Base):
    """A customer's return request: requested -> received -> refunded (or rejected)."""

    __tablename__ = "order_returns"
    __table_args__ = (CheckConstraint(_one_of("status", RETURN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12))
    # {"SKU": quantity} of the lines being returned.
    lines: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="", info=personal("activity"))
    refund_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShippingRegion(Base):
    """Which region a country ships in; a country not listed is one we do not ship to."""

    __tablename__ = "shipping_regions"

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    region: Mapped[str] = mapped_column(String(40))


class ShippingRate(Base):
    """A shipping method for one region: flat, or by weight bands."""

    __tablename__ = "shipping_rates"
    __table_args__ = (
        CheckConstraint("kind IN ('flat', 'weight')", name="kind"),
        UniqueConstraint("region", "method_code", name="uq_shipping_rates_region_method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(String(40))
    method_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(6))
    base_cents: Mapped[int] = mapped_column(Integer)
    # Weight-based: this much more per started kilogram above the first.
    per_kg_cents: Mapped[int] = mapped_column(Integer, default=0)
    free_over_cents: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    delivery_days_min: Mapped[int] = mapped_column(Integer)
    delivery_days_max: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TaxRate(Base):
    __tablename__ = "tax_rates"
    __table_args__ = (
        UniqueConstraint("country", "tax_class", name="uq_tax_rates_country_class"),
        CheckConstraint("rate_basis_points BETWEEN 0 AND 10000", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    tax_class: Mapped[str] = mapped_column(String(20), default="standard")
    # 1900 = 19 %.
    rate_basis_points: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(60), default="VAT")


class DiscountCode(Base):
    __tablename__ = "discount_codes"
    __table_args__ = (
        CheckConstraint("kind IN ('percent', 'amount')", name="kind"),
        CheckConstraint("uses >= 0", name="uses_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Upper case; customers type it in any case.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(7))
    percent_basis_points: Mapped[int] = mapped_column(Integer, default=0)
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    minimum_order_cents: Mapped[int] = mapped_column(Integer, default=0)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    max_uses_per_customer: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DiscountRedemption(Base):
    """One use of a code by one order; counts the per-customer limit."""

    __tablename__ = "discount_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    discount_code_id: Mapped[int] = mapped_column(
        ForeignKey("discount_codes.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    # Blanked when the account closes: it would tie the detached order to the customer.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"),
        index=True,
        info=personal("activity", erase="blank"),
    )
    # Returned to the code when the order is cancelled before it ships.
    released: Mapped[bool] = mapped_column(Boolean, default=False)


class IdempotencyKey(Base):
    """One ``Idempotency-Key`` of ``POST /api/v1/orders`` and the answer it got.

    The answer is replayed for the same key and body, a different body is refused (422),
    and a key whose first request is still running answers 409 (IETF httpapi draft).
    The stored answer holds the order number and totals, never an address or card.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),
        Index("ix_idempotency_keys_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "customer:<number>" for a signed-in customer, "guest" otherwise.
    scope: Mapped[str] = mapped_column(String(40), info=personal("activity", erase="blank"))
    key: Mapped[str] = mapped_column(String(255))
    request_digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="running")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InformationRequest(Base):
    """A product question or quote request for customer service: name, email, question.

    Purpose-limited: used only to answer, and deleted after info_request_retention_days.
    """

    __tablename__ = "information_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('question', 'quote')", name="kind"),
        Index("ix_information_requests_delete_after", "delete_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    product_sku: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200), info=personal("contact"))
    email: Mapped[str] = mapped_column(String(254), info=personal("contact"))
    question: Mapped[str] = mapped_column(Text, info=personal("contact"))
    quantity: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delete_after: Mapped[datetime] = mapped_column(UTCDateTime)
