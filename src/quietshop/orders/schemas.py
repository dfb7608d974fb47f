"""Request and response bodies of the checkout and orders API.

Strict like the account API: unknown fields and wrong JSON types are a 400 naming the
field. Quantities are whole JSON numbers (``2.5`` and ``"2"`` are refused); money goes out
as integer cents with the currency. The card's security code is a field of requests only:
no response model has one, and no card number but the masked label ever goes out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from quietshop.db import MAX_ROW_ID
from quietshop.orders.checkout import MAX_LINES, MAX_QUANTITY


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=10_000)


_PRINTABLE = "Printable text without line breaks or control characters"
Sku = Annotated[str, Field(min_length=1, max_length=40)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
DiscountCodeText = Annotated[str, Field(max_length=40, description="As printed; any case")]
MethodCode = Annotated[str, Field(min_length=1, max_length=40)]
Country = Annotated[str, Field(min_length=2, max_length=2, description="Two-letter code")]


class LineIn(Strict):
    sku: Sku
    quantity: Quantity


class QuoteIn(Strict):
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    shipping_country: Country
    shipping_method: MethodCode | None = None
    discount_code: DiscountCodeText | None = None


class MoneyOut(BaseModel):
    cents: int
    currency: str


class MoneyIn(Strict):
    cents: int = Field(ge=0, le=10**12)
    currency: str = Field(min_length=3, max_length=3)


class QuoteLineOut(BaseModel):
    sku: str
    name: str
    unit_price: MoneyOut
    quantity: int
    line_total: MoneyOut
    discount: MoneyOut
    tax: MoneyOut


class ShippingOptionOut(BaseModel):
    code: str
    name: str
    cost: MoneyOut
    delivery_days_min: int
    delivery_days_max: int


class QuoteOut(BaseModel):
    lines: list[QuoteLineOut]
    subtotal: MoneyOut
    discount: MoneyOut
    shipping: MoneyOut
    tax: MoneyOut
    total: MoneyOut
    prices_include_tax: bool
    shipping_method: str
    shipping_options: list[ShippingOptionOut]
    discount_code: str | None
    payment_simulated: bool


class CountryOut(BaseModel):
    code: str
    name: str


PersonName = Annotated[
    str, Field(min_length=1, max_length=200, description=f"{_PRINTABLE}; not blank")
]
Email = Annotated[str, Field(min_length=3, max_length=254, json_schema_extra={"format": "email"})]


class GuestIn(Strict):
    name: PersonName
    email: Email


class CheckoutAddressIn(Strict):
    """An address typed at checkout, checked by the address book's per-country rules
    (postcode shape, region where the country needs one); where it is given says whether
    it ships or bills."""

    name: str = Field(min_length=1, max_length=200, description=f"{_PRINTABLE}; not blank")
    line1: str = Field(min_length=1, max_length=200, description=f"{_PRINTABLE}; not blank")
    line2: str = Field("", max_length=200, description=_PRINTABLE)
    city: str = Field(min_length=1, max_length=100, description=f"{_PRINTABLE}; not blank")
    region: str = Field("", max_length=100, description=f"{_PRINTABLE}; needed in some countries")
    postcode: str = Field("", max_length=20, description="In the shape the country uses")
    country: Country


class CardIn(Strict):
    # repr=False: a model printed in a log or a traceback never shows the card.
    number: str = Field(
        min_length=12,
        max_length=40,
        repr=False,
        description="Digits; spaces and dashes are dropped",
    )
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100, description="Four digits")
    name: str = Field(min_length=1, max_length=200, description="As printed on the card")
    security_code: str = Field(
        min_length=3,
        max_length=4,
        repr=False,
        pattern=r"^[0-9]{3,4}$",
        description="Used for this authorisation only; never stored",
    )


class PlaceOrderIn(Strict):
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    guest: GuestIn | None = Field(None, description="Required when not signed in")
    shipping_address: CheckoutAddressIn | None = None
    shipping_address_id: int | None = Field(None, ge=1, le=MAX_ROW_ID)
    billing_address: CheckoutAddressIn | None = None
    billing_address_id: int | None = Field(None, ge=1, le=MAX_ROW_ID)
    billing_same_as_shipping: bool = True
    shipping_method: MethodCode
    discount_code: DiscountCodeText | None = None
    card: CardIn
    expected_total: MoneyIn = Field(description="The total the customer confirmed")


class PaymentOut(BaseModel):
    status: str
    card_label: str
    simulated: bool
    message: str


class PlacedOut(BaseModel):
    order_number: str
    status: str
    total: MoneyOut
    payment: PaymentOut
    next: Literal["account", "mail"]


class OrderSummaryOut(BaseModel):
    order_number: str
    status: str
    status_label: str
    placed_at: datetime
    total: MoneyOut


class OrderLineOut(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: MoneyOut
    line_total: MoneyOut
    returned_quantity: int


class HistoryOut(BaseModel):
    status: str
    status_label: str
    at: datetime
    note: str


class OrderDetailOut(OrderSummaryOut):
    lines: list[OrderLineOut]
    subtotal: MoneyOut
    discount: MoneyOut
    shipping: MoneyOut
    tax: MoneyOut
    refunded: MoneyOut
    prices_include_tax: bool
    shipping_method_name: str
    shipping_address: list[str]
    billing_address: list[str]
    card_label: str | None
    carrier: str | None
    tracking_number: str | None
    history: list[HistoryOut]
    actions: list[str]


class OrderLinkIn(Strict):
    token: str = Field(min_length=1, max_length=200, description="From the order mail's link")


class AvailabilityIn(Strict):
    choice: Literal["wait", "cancel"]


class LinkAvailabilityIn(OrderLinkIn, AvailabilityIn):
    pass


class NewCardIn(Strict):
    card: CardIn


class LinkNewCardIn(OrderLinkIn, NewCardIn):
    pass


class ReturnIn(Strict):
    lines: dict[Sku, Quantity] = Field(min_length=1, max_length=MAX_LINES)
    reason: str = Field("", max_length=2000)


class LinkReturnIn(OrderLinkIn, ReturnIn):
    pass


class NewCardOut(BaseModel):
    order: OrderDetailOut
    payment: PaymentOut


class InformationRequestIn(Strict):
    kind: Literal["question", "quote"]
    product_sku: Sku | None = None
    name: PersonName
    email: Email
    question: str = Field(min_length=1, max_length=5000)
    quantity: int | None = Field(None, ge=1, le=1_000_000)


class MessageOut(BaseModel):
    message: str
