"""Placing an order: the shop's one hot write, in as few statements as it can be.

``place_order`` checks everything first (addresses, card, buyer, the prices against the
total the customer confirmed), then writes the order and its lines, renders the order
mail, and only then takes stock, just before the card is stored and the processor asked:
on PostgreSQL the stock rows stay locked until the commit, so they are held for the
processor call and a few INSERTs, not for the whole order. Everything happens in the
caller's one transaction: any refusal leaves no order, no stock taken, no card, no mail.

The rows are written with INSERTs built once, on the session's connection, not through
the ORM: its unit of work cost about 40 % of an order in flushes (bench/order_cpu.py
measures the statements, flushes and CPU per order). The order mail is rendered from a
transient ``Order`` (never added to the session) so it reads exactly as every other
order mail does, through ``service.order_mail``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, insert, update
from sqlalchemy.orm import Session

from quietshop.accounts import service as accounts
from quietshop.accounts.service import SignedInCustomer
from quietshop.catalog import service as catalog
from quietshop.db import per_dialect
from quietshop.mail import service as mail
from quietshop.orders import checkout, lifecycle, pricing, service
from quietshop.orders.models import Order, OrderEvent, OrderLine
from quietshop.orders.numbers import new_order_number
from quietshop.payments import service as payments
from quietshop.settings import Settings

_NUMBER_DRAWS = 5  # two random numbers clash about once in a hundred million orders


def _order_insert(dialect: Any) -> Insert:
    # A clash of order numbers is answered by drawing again, without a savepoint: the
    # INSERT skips a taken number and RETURNING then gives no row.
    statement = dialect.insert(Order).on_conflict_do_nothing(index_elements=["order_number"])
    return statement.returning(Order.id)  # type: ignore[no-any-return]


_INSERT_ORDER = per_dialect(_order_insert)
_INSERT_LINES = insert(OrderLine)
_INSERT_EVENTS = insert(OrderEvent)
_MOVE_ORDER = (
    update(Order)
    .where(Order.id == bindparam("order_id"))
    .values(status=bindparam("new_status"), updated_at=bindparam("moved_at"))
)


def place_order(
    session: Session,
    settings: Settings,
    parts: service.Collaborators,
    request: service.PlaceOrder,
    customer: SignedInCustomer | None,
    now: datetime,
) -> service.PlacedOrder:
    """Check everything, save the order, take stock, keep the card encrypted, ask the
    processor and queue the mail: one transaction, the caller's."""
    ship, bill = _addresses(session, customer, request)
    quote_request = checkout.QuoteRequest(
        request.lines, ship.country, request.shipping_method, request.discount_code
    )
    card = payments.check_card(request.card, now)
    who = checkout.buyer(session, customer, request.guest_name, request.guest_email, now)
    priced = checkout.price(session, settings.prices_include_tax, quote_request, now, who.id)
    q = priced.quote
    if (request.expected_total_cents, request.expected_currency) != (q.total_cents, q.currency):
        raise checkout.TotalsChanged(q, service.quote_out(q, priced.options, settings))
    order = _save_order(session.connection(), who, q, ship, bill, now)
    if priced.discount_row is not None:
        checkout.redeem_discount(session, priced.discount_row, order.id, who.id)
    # Rendered before stock is taken: the slowest step of the order holds no row lock.
    mails = [
        service.order_mail(
            session, settings, order, "order_received", now, who=who, card_label=card.masked
        )
    ]
    catalog.take_stock(session, {line.sku: line.quantity for line in q.lines})
    outcome = payments.authorize_new_order(
        session,
        parts.processor,
        parts.keyring,
        order_id=order.id,
        reference=order.order_number,
        amount_cents=order.total_cents,
        currency=order.currency,
        card=card,
        security_code=request.card.security_code,
        now=now,
    )
    events = [_event(order.id, None, "placed", "customer", "", now)]
    mails += _after_authorisation(session, settings, order, outcome, who, events, now)
    mail.insert_messages(session, [row for row in mails if row is not None])
    session.connection().execute(_INSERT_EVENTS, events)
    return service.PlacedOrder(
        order.order_number,
        order.status,
        pricing.Money(cents=q.total_cents, currency=q.currency),
        outcome,
        who.is_guest,
    )


def _addresses(
    session: Session, customer: SignedInCustomer | None, request: service.PlaceOrder
) -> tuple[accounts.AddressInput, accounts.AddressInput]:
    ship = service._address(
        session, customer, request.shipping_address, request.shipping_address_id, "shipping"
    )
    if request.billing_same_as_shipping:
        return ship, ship
    bill = service._address(
        session, customer, request.billing_address, request.billing_address_id, "billing"
    )
    return ship, bill


def _save_order(
    connection: Connection,
    who: accounts.Buyer,
    q: pricing.Quote,
    ship: accounts.AddressInput,
    bill: accounts.AddressInput,
    now: datetime,
) -> Order:
    """INSERT the order (drawing its number) and its lines; the transient ``Order`` they
    were made from, with its id and number, for the mail and the answer."""
    columns: dict[str, Any] = {
        "customer_id": who.id,
        "customer_number": who.customer_number,
        "email": who.email,
        "customer_name": who.name,
        "status": "placed",
        "currency": q.currency,
        "subtotal_cents": q.subtotal_cents,
        "discount_cents": q.discount_cents,
        "shipping_cents": q.shipping_cents,
        "tax_cents": q.tax_cents,
        "total_cents": q.total_cents,
        "refunded_cents": 0,
        "prices_include_tax": q.prices_include_tax,
        "discount_code": q.discount_code,
        "shipping_method": q.shipping.method_code,
        "shipping_method_name": q.shipping.name,
        "placed_at": now,
        "updated_at": now,
        **service._address_columns("ship", ship),
        **service._address_columns("bill", bill),
    }
    order_id, number = _insert_order(connection, columns)
    lines = [
        {
            "order_id": order_id,
            "sku": line.sku,
            "product_name": line.name,
            "label": "",
            "unit_price_cents": line.unit_price_cents,
            "quantity": line.quantity,
            "line_total_cents": line.line_total_cents,
            "discount_cents": line.discount_cents,
            "tax_cents": line.tax_cents,
            "weight_grams": 0,
            "returned_quantity": 0,
        }
        for line in q.lines
    ]
    connection.execute(_INSERT_LINES, lines)
    order = Order(id=order_id, order_number=number, **columns)
    order.lines = [OrderLine(**line) for line in lines]
    return order


def _insert_order(connection: Connection, columns: dict[str, Any]) -> tuple[int, str]:
    statement = _INSERT_ORDER[connection.dialect.name]
    for _ in range(_NUMBER_DRAWS):
        number = new_order_number()
        row = connection.execute(statement, {**columns, "order_number": number}).first()
        if row is not None:
            return int(row[0]), number
    raise RuntimeError("could not draw an unused order number")


def _event(
    order_id: int, from_status: str | None, to_status: str, actor: str, note: str, now: datetime
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "from_status": from_status,
        "to_status": to_status,
        "actor": actor,
        "note": note[:500],
        "created_at": now,
    }


def _after_authorisation(
    session: Session,
    settings: Settings,
    order: Order,
    outcome: payments.PaymentOutcome,
    who: accounts.Buyer,
    events: list[dict[str, Any]],
    now: datetime,
) -> list[dict[str, Any] | None]:
    """The processor's answer moves the order, as ``service._move`` would (the graph
    checked, the move recorded, a payment problem mailed); the mail rows to queue."""
    if outcome.verified:
        target, note = "payment_verified", ""
    elif outcome.status in ("declined", "error"):
        target, note = "payment_problem", outcome.message
    else:
        return []  # waiting for billing's manual answer: still "placed"
    move = lifecycle.check_move(order.status, target)
    order.status, order.updated_at = target, now
    events.append(_event(order.id, move.from_status, target, "processor", note, now))
    session.connection().execute(
        _MOVE_ORDER, {"order_id": order.id, "new_status": target, "moved_at": now}
    )
    # At placing, the order mail itself says the payment went through (service._move).
    kind = lifecycle.MAIL_FOR.get(target)
    if kind is None:
        return []
    row = service.order_mail(
        session, settings, order, kind, now, detail=note, who=who, card_label=outcome.card_label
    )
    return [row]
