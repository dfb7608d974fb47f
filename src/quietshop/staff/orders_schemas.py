"""Request and response bodies of the staff order API (staff/orders_api.py).

Requests are strict, as every staff body: unknown fields and wrong JSON types are a 400
naming the field, every text has a bound (a 10,000-character tracking number is refused
before anything is looked up).

Responses carry what the role may read and nothing else. Every field of a part is
optional and the routes answer with ``response_model_exclude_unset``: a column the
need-to-know table does not grant the role is absent from the JSON, never ``null``. A
field that *is* null (an order not shipped has no carrier) is there as null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Detail = Annotated[str, Field(min_length=1, max_length=500)]
MAX_REVEAL_REASON = 500  # the payments vault keeps at most this much of a reason
StatedReason = Annotated[str, Field(max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=1_000)


class Part(BaseModel):
    """A row of one table as the role may see it (absent: not granted)."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- the queue


class QueueRowOut(Part):
    order_number: str | None = None
    status: str | None = None
    placed_at: datetime | None = None
    customer_number: str | None = None
    customer_name: str | None = None
    email: str | None = None
    ship_name: str | None = None
    ship_city: str | None = None
    ship_country: str | None = None
    bill_name: str | None = None
    currency: str | None = None
    total_cents: int | None = None
    shipping_method_name: str | None = None
    items_count: int | None = Field(default=None, description="Units ordered")


class StatusOut(BaseModel):
    code: str
    label: str


class QueueOut(BaseModel):
    orders: list[QueueRowOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: last")
    statuses: list[StatusOut] = Field(description="Every status of the order graph")


# ---------------------------------------------------------------- one order


class OrderOut(Part):
    order_number: str | None = None
    customer_number: str | None = None
    email: str | None = None
    customer_name: str | None = None
    status: str | None = None
    currency: str | None = None
    subtotal_cents: int | None = None
    discount_cents: int | None = None
    shipping_cents: int | None = None
    tax_cents: int | None = None
    total_cents: int | None = None
    refunded_cents: int | None = None
    prices_include_tax: bool | None = None
    discount_code: str | None = None
    shipping_method: str | None = None
    shipping_method_name: str | None = None
    ship_name: str | None = None
    ship_line1: str | None = None
    ship_line2: str | None = None
    ship_city: str | None = None
    ship_region: str | None = None
    ship_postcode: str | None = None
    ship_country: str | None = None
    bill_name: str | None = None
    bill_line1: str | None = None
    bill_line2: str | None = None
    bill_city: str | None = None
    bill_region: str | None = None
    bill_postcode: str | None = None
    bill_country: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    placed_at: datetime | None = None
    updated_at: datetime | None = None
    pseudonymised_at: datetime | None = None
    status_label: str | None = None


class LineOut(Part):
    sku: str | None = None
    product_name: str | None = None
    label: str | None = None
    quantity: int | None = None
    weight_grams: int | None = None
    returned_quantity: int | None = None
    unit_price_cents: int | None = None
    line_total_cents: int | None = None
    discount_cents: int | None = None
    tax_cents: int | None = None


class EventOut(Part):
    from_status: str | None = None
    to_status: str | None = None
    actor: str | None = Field(default=None, description='"customer", "processor", "staff:<id>"')
    note: str | None = Field(default=None, description="What the customer was told")
    created_at: datetime | None = None


class ReturnOut(Part):
    status: str | None = None
    lines: str | None = Field(default=None, description='{"SKU": quantity} as JSON')
    reason: str | None = None
    refund_cents: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PaymentStateOut(Part):
    status: str | None = None


class CardOut(Part):
    masked: str | None = Field(default=None, description='"Visa •••• 4242"')


class StaffOrderOut(BaseModel):
    order: OrderOut
    lines: list[LineOut]
    events: list[EventOut]
    returns: list[ReturnOut]
    payment: PaymentStateOut | None = Field(default=None, description="Billing only")
    card: CardOut | None = Field(default=None, description="Billing only")
    actions: list[str] = Field(
        description="What this person may do to the order now: record_payment, reveal_card, "
        "pack, ship, deliver, flag_payment_problem, flag_availability_problem, cancel, "
        "refund, receive_return"
    )


# ---------------------------------------------------------------- actions


class PaymentResultIn(Strict):
    """The answer of the shop's own card terminal."""

    result: Literal["approved", "declined"]
    authorization_code: str | None = Field(default=None, min_length=1, max_length=40)
    reason: str | None = Field(default=None, min_length=1, max_length=200)


class RevealIn(Strict):
    reason: str = Field(
        min_length=10, max_length=MAX_REVEAL_REASON, description="Why the number is needed (kept)"
    )


class RevealedOut(BaseModel):
    card_number: str = Field(description="Shown once; the page keeps it for a minute")


class ShipIn(Strict):
    carrier: str = Field(min_length=1, max_length=60)
    tracking_number: str = Field(min_length=1, max_length=60)


class ProblemIn(Strict):
    detail: Detail = Field(description="What the customer is told")


class CancelIn(Strict):
    reason: StatedReason = Field(default="", description="Told to the customer")


class RefundIn(Strict):
    amount_cents: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="Leave out to refund what is left"
    )
    reason: StatedReason = Field(default="", description="Told to the customer")


class MailPreviewOut(BaseModel):
    subject: str
    text: str
    html: str
    withheld: list[str] = Field(
        description="Parts of the mail your role may not read, left blank here (the "
        "customer's mail has them)"
    )
