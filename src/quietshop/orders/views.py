"""Between the API's bodies and the service's values: requests in, answers out.

Kept apart from ``api.py`` so routes stay a parse, one service call and a render. Nothing
here reads the database; a card's security code passes through ``card_input`` into the
service's call and is never copied into anything that is answered or kept.
"""

from __future__ import annotations

from typing import Any

from quietshop.accounts.service import AddressInput
from quietshop.orders import service
from quietshop.orders.numbers import format_order_number
from quietshop.orders.pricing import Money
from quietshop.orders.schemas import (
    CardIn,
    CheckoutAddressIn,
    HistoryOut,
    MoneyOut,
    OrderDetailOut,
    OrderLineOut,
    OrderSummaryOut,
    PaymentOut,
    PlaceOrderIn,
    QuoteIn,
)
from quietshop.payments.service import CardInput, PaymentOutcome


def quote_request(body: QuoteIn) -> service.QuoteRequest:
    return service.QuoteRequest(
        lines=tuple(service.WantedLine(line.sku, line.quantity) for line in body.lines),
        country=body.shipping_country,
        shipping_method=body.shipping_method,
        discount_code=body.discount_code,
    )


def _address(body: CheckoutAddressIn | None, kind: str) -> AddressInput | None:
    if body is None:
        return None
    return AddressInput(kind=kind, **body.model_dump())


def card_input(card: CardIn) -> CardInput:
    return CardInput(
        number=card.number,
        expiry_month=card.exp_month,
        expiry_year=card.exp_year,
        name=card.name,
        security_code=card.security_code,
    )


def place_request(body: PlaceOrderIn) -> service.PlaceOrder:
    return service.PlaceOrder(
        lines=tuple(service.WantedLine(line.sku, line.quantity) for line in body.lines),
        shipping_address=_address(body.shipping_address, "shipping"),
        shipping_address_id=body.shipping_address_id,
        billing_address=_address(body.billing_address, "billing"),
        billing_address_id=body.billing_address_id,
        billing_same_as_shipping=body.billing_same_as_shipping,
        shipping_method=body.shipping_method,
        discount_code=body.discount_code,
        card=card_input(body.card),
        expected_total_cents=body.expected_total.cents,
        expected_currency=body.expected_total.currency,
        guest_name=body.guest.name if body.guest else None,
        guest_email=body.guest.email if body.guest else None,
    )


def money_out(money: Money) -> MoneyOut:
    return MoneyOut(cents=money.cents, currency=money.currency)


def payment_out(outcome: PaymentOutcome) -> PaymentOut:
    return PaymentOut(
        status=outcome.status,
        card_label=outcome.card_label,
        simulated=outcome.simulated,
        message=outcome.message,
    )


def placed_out(placed: service.PlacedOrder) -> dict[str, Any]:
    return {
        "order_number": format_order_number(placed.order_number),
        "status": placed.status,
        "total": money_out(placed.total),
        "payment": payment_out(placed.payment),
        "next": "mail" if placed.is_guest else "account",
    }


def summary_out(summary: service.OrderSummary) -> OrderSummaryOut:
    return OrderSummaryOut(
        order_number=format_order_number(summary.order_number),
        status=summary.status,
        status_label=summary.status_label,
        placed_at=summary.placed_at,
        total=money_out(summary.total),
    )


def detail_out(detail: service.OrderDetail) -> OrderDetailOut:
    currency = detail.summary.total.currency
    return OrderDetailOut(
        **summary_out(detail.summary).model_dump(),
        lines=[
            OrderLineOut(
                sku=line.sku,
                name=line.product_name,
                quantity=line.quantity,
                unit_price=MoneyOut(cents=line.unit_price_cents, currency=currency),
                line_total=MoneyOut(cents=line.line_total_cents, currency=currency),
                returned_quantity=line.returned_quantity,
            )
            for line in detail.lines
        ],
        subtotal=money_out(detail.subtotal),
        discount=money_out(detail.discount),
        shipping=money_out(detail.shipping),
        tax=money_out(detail.tax),
        refunded=money_out(detail.refunded),
        prices_include_tax=detail.prices_include_tax,
        shipping_method_name=detail.shipping_method_name,
        shipping_address=detail.shipping_address,
        billing_address=detail.billing_address,
        card_label=detail.card_label,
        carrier=detail.carrier,
        tracking_number=detail.tracking_number,
        history=[
            HistoryOut(status=h.status, status_label=h.status_label, at=h.at, note=h.note)
            for h in detail.history
        ],
        actions=detail.actions,
    )
