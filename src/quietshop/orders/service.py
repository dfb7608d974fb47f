"""Order rules: place an order, show it to its customer, move it along the graph.

Every move is checked against ``lifecycle.GRAPH``, recorded as an ``OrderEvent`` (when,
from, to, who) and, when it concerns the customer, queues its mail in the same
transaction (P4: order updates only). A guest reaches an order only through the signed,
expiring link in its mails (``order_link_token``), never by the order number alone.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import anyio
from sqlalchemy import and_, bindparam, case, delete, func, literal, or_, select, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from quietshop import signing
from quietshop.accounts import service as accounts
from quietshop.accounts.service import SignedInCustomer
from quietshop.catalog import service as catalog
from quietshop.db import MAX_ROW_ID
from quietshop.errors import InvalidInput, NotFound, Unauthorized
from quietshop.keyring import Keyring
from quietshop.mail import service as mail
from quietshop.orders import checkout, lifecycle, pricing, rates

# Re-exported: the routes build these requests and catch this refusal.
from quietshop.orders.checkout import QuoteRequest as QuoteRequest
from quietshop.orders.checkout import TotalsChanged as TotalsChanged
from quietshop.orders.checkout import WantedLine as WantedLine
from quietshop.orders.models import InformationRequest, Order, OrderEvent, OrderLine, OrderReturn
from quietshop.orders.numbers import format_order_number, parse_order_number

# Re-exported for the back office's rate-table routes (staff reaches orders here only).
from quietshop.orders.rates import DiscountCodeInput as DiscountCodeInput
from quietshop.orders.rates import DiscountCodeRow as DiscountCodeRow
from quietshop.orders.rates import RateEditor as RateEditor
from quietshop.orders.rates import Region as Region
from quietshop.orders.rates import ShippingRateInput as ShippingRateInput
from quietshop.orders.rates import ShippingRateRow as ShippingRateRow
from quietshop.orders.rates import TaxRateInput as TaxRateInput
from quietshop.orders.rates import TaxRateRow as TaxRateRow
from quietshop.payments import service as payments
from quietshop.settings import Settings

LINK_PURPOSE = "order_link"


# ---------------------------------------------------------------- quoting


@dataclass(frozen=True)
class QuoteView:
    quote: pricing.Quote
    options: list[pricing.ShippingOption]
    simulated: bool


def quote(
    session: Session,
    settings: Settings,
    request: QuoteRequest,
    customer: SignedInCustomer | None,
    now: datetime,
) -> QuoteView:
    priced = checkout.price(
        session, settings.prices_include_tax, request, now, customer.id if customer else None
    )
    return QuoteView(
        priced.quote,
        list(priced.options),
        settings.payment_processor == "simulator",
    )


def shipping_countries(session: Session) -> list[str]:
    return checkout.shipping_countries(session)


def country_name(code: str) -> str:
    return accounts.country_name(code)


# ---------------------------------------------------------------- placing


@dataclass(frozen=True)
class PlaceOrder:
    lines: tuple[WantedLine, ...]
    shipping_address: accounts.AddressInput | None
    shipping_address_id: int | None
    billing_address: accounts.AddressInput | None
    billing_address_id: int | None
    billing_same_as_shipping: bool
    shipping_method: str
    discount_code: str | None
    card: payments.CardInput = field(repr=False)
    expected_total_cents: int
    expected_currency: str
    guest_name: str | None = None
    guest_email: str | None = None


@dataclass(frozen=True)
class PlacedOrder:
    order_number: str
    status: str
    total: pricing.Money
    payment: payments.PaymentOutcome
    is_guest: bool


class Collaborators:
    """What placing and moving orders use beyond the database: the card keyring and the
    payment processor (one per app, chosen in settings). The keyring file is read on
    first use, so an app that never takes a card never needs it; ``serve`` refuses to
    start without it outside the demo (Settings.start_up_problems)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.processor: payments.PaymentProcessor = payments.processor_for(
            settings.payment_processor
        )
        self._settings, self._clock = settings, clock
        # Shared by this app's order routes (orders/api.py): see Settings.order_threads.
        self.order_threads = anyio.CapacityLimiter(settings.order_threads)
        self._keyring: Keyring | None = None
        self._lock = threading.Lock()

    @property
    def keyring(self) -> Keyring:
        with self._lock:
            if self._keyring is None:
                self._keyring = payments.keyring_for(self._settings, self._clock())
            return self._keyring


def _address(
    session: Session,
    customer: SignedInCustomer | None,
    typed: accounts.AddressInput | None,
    book_id: int | None,
    kind: str,
) -> accounts.AddressInput:
    if book_id is not None:
        if customer is None:
            raise InvalidInput(f"{kind}_address_id", "sign in to use your address book")
        return accounts.address_from_book(session, customer, book_id, kind)
    if typed is None:
        raise InvalidInput(f"{kind}_address", "give an address")
    try:
        return accounts.checked_address(typed)
    except InvalidInput as error:  # say which of the two addresses: "billing_address.postcode"
        raise InvalidInput(f"{kind}_address.{error.field}", error.message) from None


def place_order(
    session: Session,
    settings: Settings,
    parts: Collaborators,
    request: PlaceOrder,
    customer: SignedInCustomer | None,
    now: datetime,
) -> PlacedOrder:
    """Check everything, save the order, take stock, keep the card encrypted, ask the
    processor and queue the mail: one transaction, the caller's (orders/placing.py)."""
    # Imported here: placing builds on this module's pieces (addresses, the order mail).
    from quietshop.orders import placing

    return placing.place_order(session, settings, parts, request, customer, now)


def _authorize(
    session: Session,
    parts: Collaborators,
    order: Order,
    card: payments.ValidCard,
    security_code: str,
    now: datetime,
) -> payments.PaymentOutcome:
    """Ask for the order's total on this card (the code goes to the processor only)."""
    return payments.authorize(
        session,
        parts.processor,
        parts.keyring,
        order_id=order.id,
        reference=order.order_number,
        amount_cents=order.total_cents,
        currency=order.currency,
        card=card,
        security_code=security_code,
        now=now,
    )


def _address_columns(prefix: str, address: accounts.AddressInput) -> dict[str, str]:
    return {
        f"{prefix}_name": address.name,
        f"{prefix}_line1": address.line1,
        f"{prefix}_line2": address.line2,
        f"{prefix}_city": address.city,
        f"{prefix}_region": address.region,
        f"{prefix}_postcode": address.postcode,
        f"{prefix}_country": address.country,
    }


def _after_authorisation(
    session: Session,
    settings: Settings,
    order: Order,
    outcome: payments.PaymentOutcome,
    actor: str,
    now: datetime,
) -> None:
    if outcome.verified:
        _move(session, settings, order, "payment_verified", actor, now, note="")
    elif outcome.status in ("declined", "error"):
        _move(session, settings, order, "payment_problem", actor, now, note=outcome.message)


# ---------------------------------------------------------------- moving along the graph


def _move(
    session: Session,
    settings: Settings,
    order: Order,
    target: str,
    actor: str,
    now: datetime,
    *,
    note: str = "",
) -> None:
    move = lifecycle.check_move(order.status, target)
    order.status, order.updated_at = target, now
    order.events.append(
        OrderEvent(
            from_status=move.from_status,
            to_status=target,
            actor=actor,
            note=note[:500],
            created_at=now,
        )
    )
    session.flush()
    kind = lifecycle.MAIL_FOR.get(target)
    if target == "payment_verified" and actor != "processor":
        # Confirmed later (by hand, or a new card after a problem): worth a mail. At
        # placing, the order mail itself says the payment went through.
        kind = "payment_verified"
    if kind is not None:
        _queue(session, settings, order, kind, now, detail=note)


def _m(cents: int, currency: str) -> pricing.Money:
    return pricing.Money(cents=cents, currency=currency)


def _money(cents: int, currency: str) -> str:
    return pricing.format_money(cents, currency)


def _mail_context(
    session: Session, order: Order, detail: str, card_label: str | None = None
) -> dict[str, Any]:
    c = order.currency
    return {
        "order_number": format_order_number(order.order_number),
        "status_label": lifecycle.LABELS[order.status],
        "placed_on": f"{order.placed_at.day} {order.placed_at:%B %Y}",
        "lines": [
            {
                "name": line.product_name,
                "label": line.label,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price_cents, c),
                "line_total": _money(line.line_total_cents, c),
            }
            for line in order.lines
        ],
        "subtotal": _money(order.subtotal_cents, c),
        "discount": _money(order.discount_cents, c) if order.discount_cents else "",
        "shipping": _money(order.shipping_cents, c),
        "shipping_method_name": order.shipping_method_name,
        "tax": _money(order.tax_cents, c),
        "tax_included": order.prices_include_tax,
        "total": _money(order.total_cents, c),
        "refunded": _money(order.refunded_cents, c) if order.refunded_cents else "",
        "ship_to": _address_lines(order, "ship"),
        "card_label": card_label or payments.card_label(session, order.id) or "",
        "payment_simulated": False,
        "detail": detail,
        "carrier": order.carrier or "",
        "tracking_number": order.tracking_number or "",
    }


def _address_lines(order: Order, prefix: str) -> list[str]:
    def value(name: str) -> str:
        return str(getattr(order, f"{prefix}_{name}") or "")

    country = value("country")
    if country in ("US", "CA", "AU"):  # "Springfield, IL 62701"
        region = " ".join(part for part in (value("region"), value("postcode")) if part)
        city = ", ".join(part for part in (value("city"), region) if part)
        lines = [value("name"), value("line1"), value("line2"), city]
    elif country in ("GB", "IE"):  # town, then the postcode on a line of its own
        lines = [value("name"), value("line1"), value("line2"), value("city"), value("postcode")]
    else:  # "10115 Berlin", as most of Europe writes it
        city = " ".join(part for part in (value("postcode"), value("city")) if part)
        lines = [value("name"), value("line1"), value("line2"), city, value("region")]
    lines.append(accounts.country_name(country) if country else "")
    return [line for line in lines if line]


def _queue(
    session: Session,
    settings: Settings,
    order: Order,
    kind: str,
    now: datetime,
    *,
    detail: str = "",
    who: accounts.Buyer | None = None,
    card_label: str | None = None,
) -> None:
    """The order's mail, with its signed view link (and a guest's set-a-password link)."""
    row = order_mail(
        session, settings, order, kind, now, detail=detail, who=who, card_label=card_label
    )
    if row is not None:
        mail.insert_messages(session, [row])


def order_mail(
    session: Session,
    settings: Settings,
    order: Order,
    kind: str,
    now: datetime,
    *,
    detail: str = "",
    who: accounts.Buyer | None = None,
    card_label: str | None = None,
) -> dict[str, Any] | None:
    """The outbox row of ``_queue``'s mail, rendered but not written (None: nobody to
    tell). ``order`` may be transient: only its columns and lines are read."""
    if order.pseudonymised_at is not None or not order.email:
        return None  # the account closed: nobody to tell, and no address left
    context = _mail_context(session, order, detail, card_label)
    context["payment_simulated"] = settings.payment_processor == "simulator"
    is_guest = who.is_guest if who is not None else _is_guest_order(session, order)
    context["is_guest"] = is_guest
    links = {"order_link": order_link(settings, order.order_number, now, guest=is_guest)}
    if who is not None and who.is_guest and kind == "order_received":
        links["claim_link"] = accounts.guest_claim_link(session, settings, who, now)
    return mail.prepare_message(
        session,
        settings,
        kind,
        mail.Recipient(order.email, order.customer_name, order.customer_number),
        context,
        now=now,
        links=links,
        reference=order.order_number,
    )


def _is_guest_order(session: Session, order: Order) -> bool:
    return accounts.is_guest(session, order.customer_id) if order.customer_id else True


# ---------------------------------------------------------------- guest links


def order_link_token(settings: Settings, order_number: str, now: datetime) -> str:
    """``<number>.<expiry>.<signature>``: signed with the shop's key, not stored."""
    expires = int((now + timedelta(days=settings.order_link_days)).timestamp())
    value = f"{order_number}.{expires}"
    return f"{value}.{signing.sign(signing.signing_key(settings), LINK_PURPOSE, value)}"


def order_link(settings: Settings, order_number: str, now: datetime, *, guest: bool) -> str:
    if not guest:
        return f"{settings.base_url}/account/orders/{format_order_number(order_number)}"
    # In the fragment: a browser never sends it to the server, so no log can keep it.
    return f"{settings.base_url}/orders/view#token={order_link_token(settings, order_number, now)}"


def order_number_from_link(settings: Settings, token: str, now: datetime) -> str:
    parts = token.split(".") if isinstance(token, str) and len(token) <= 200 else []
    if len(parts) != 3 or not parts[1].isdigit():
        raise Unauthorized("this order link is incomplete or not ours")
    number, expires, signature = parts
    if not signing.verify(
        signing.signing_key(settings), LINK_PURPOSE, f"{number}.{expires}", signature
    ):
        raise Unauthorized("this order link is incomplete or not ours")
    if now.timestamp() >= int(expires):
        raise Unauthorized("this order link has expired: sign in, or ask us for a new one")
    return number


# ---------------------------------------------------------------- reading orders


@dataclass(frozen=True)
class OrderSummary:
    order_number: str
    status: str
    status_label: str
    placed_at: datetime
    total: pricing.Money


@dataclass(frozen=True)
class HistoryEntry:
    status: str
    status_label: str
    at: datetime
    note: str


@dataclass(frozen=True)
class OrderDetail:
    summary: OrderSummary
    lines: list[OrderLine]
    subtotal: pricing.Money
    discount: pricing.Money
    shipping: pricing.Money
    tax: pricing.Money
    refunded: pricing.Money
    prices_include_tax: bool
    shipping_method_name: str
    shipping_address: list[str]
    billing_address: list[str]
    card_label: str | None
    carrier: str | None
    tracking_number: str | None
    history: list[HistoryEntry]
    actions: list[str]


def _summary(order: Order) -> OrderSummary:
    return OrderSummary(
        order.order_number,
        order.status,
        lifecycle.LABELS[order.status],
        order.placed_at,
        _m(order.total_cents, order.currency),
    )


def list_orders(session: Session, customer: SignedInCustomer) -> list[OrderSummary]:
    rows = session.execute(
        select(Order)
        .where(Order.customer_id == customer.id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
    ).scalars()
    return [_summary(order) for order in rows]


def _customers_order(session: Session, customer: SignedInCustomer, typed: str) -> Order:
    number = parse_order_number(typed)
    order = None
    if number is not None:
        order = session.execute(
            select(Order).where(Order.order_number == number, Order.customer_id == customer.id)
        ).scalar()
    if order is None:
        raise NotFound("order")  # another customer's order is "not found" too
    return order


def _linked_order(session: Session, settings: Settings, token: str, now: datetime) -> Order:
    number = order_number_from_link(settings, token, now)
    order = session.execute(select(Order).where(Order.order_number == number)).scalar()
    if order is None or order.pseudonymised_at is not None:
        raise Unauthorized("this order link is not valid any more")
    return order


def _detail(session: Session, order: Order) -> OrderDetail:
    c = order.currency
    return OrderDetail(
        summary=_summary(order),
        lines=list(order.lines),
        subtotal=_m(order.subtotal_cents, c),
        discount=_m(order.discount_cents, c),
        shipping=_m(order.shipping_cents, c),
        tax=_m(order.tax_cents, c),
        refunded=_m(order.refunded_cents, c),
        prices_include_tax=order.prices_include_tax,
        shipping_method_name=order.shipping_method_name,
        shipping_address=_address_lines(order, "ship"),
        billing_address=_address_lines(order, "bill"),
        card_label=payments.card_label(session, order.id),
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        history=[
            HistoryEntry(e.to_status, lifecycle.LABELS[e.to_status], e.created_at, e.note)
            for e in order.events
        ],
        actions=lifecycle.customer_actions(
            order.status, payments.payment_status(session, order.id)
        ),
    )


def order_detail(session: Session, customer: SignedInCustomer, number: str) -> OrderDetail:
    return _detail(session, _customers_order(session, customer, number))


def linked_order_detail(
    session: Session, settings: Settings, token: str, now: datetime
) -> OrderDetail:
    return _detail(session, _linked_order(session, settings, token, now))


# ---------------------------------------------------------------- the customer's moves


@dataclass(frozen=True)
class OrderRef:
    """Which order a customer acts on: their own by number, or a guest's by its link."""

    customer: SignedInCustomer | None = None
    number: str = ""
    link_token: str = ""


def _order_for(session: Session, settings: Settings, ref: OrderRef, now: datetime) -> Order:
    if ref.customer is not None:
        return _customers_order(session, ref.customer, ref.number)
    return _linked_order(session, settings, ref.link_token, now)


def _give_back(session: Session, parts: Collaborators, order: Order, now: datetime) -> None:
    """What a cancelled order held: its stock, its use of a code, its authorisation."""
    if order.status in lifecycle.HOLDS_STOCK:
        catalog.return_stock(session, {line.sku: line.quantity for line in order.lines})
    checkout.release_discount(session, order.id)
    payments.void(session, parts.processor, order.id, now)


def cancel(
    session: Session, settings: Settings, parts: Collaborators, ref: OrderRef, now: datetime
) -> OrderDetail:
    order = _order_for(session, settings, ref, now)
    if order.status not in lifecycle.CANCELLABLE:
        raise lifecycle.StatusConflict(
            "This order is packed already; ask for a return once it arrives."
        )
    _give_back(session, parts, order, now)
    _move(session, settings, order, "cancelled", "customer", now, note="Cancelled by you.")
    return _detail(session, order)


def answer_availability(
    session: Session,
    settings: Settings,
    parts: Collaborators,
    ref: OrderRef,
    choice: str,
    now: datetime,
) -> OrderDetail:
    order = _order_for(session, settings, ref, now)
    if order.status != "availability_problem":
        raise lifecycle.StatusConflict("This order is not waiting for your answer.")
    if choice == "cancel":
        _give_back(session, parts, order, now)
        _move(session, settings, order, "cancelled", "customer", now, note="You chose to cancel.")
    elif choice == "wait":
        verified = payments.payment_status(session, order.id) == "authorized"
        target = "payment_verified" if verified else "placed"
        _move(
            session,
            settings,
            order,
            target,
            "customer",
            now,
            note="You chose to wait for the item.",
        )
    else:
        raise InvalidInput("choice", "choose wait or cancel")
    return _detail(session, order)


def new_card(
    session: Session,
    settings: Settings,
    parts: Collaborators,
    ref: OrderRef,
    card: payments.CardInput,
    now: datetime,
) -> tuple[OrderDetail, payments.PaymentOutcome]:
    order = _order_for(session, settings, ref, now)
    if order.status != "payment_problem":
        raise lifecycle.StatusConflict("This order's payment has no problem to fix.")
    valid = payments.check_card(card, now)
    outcome = _authorize(session, parts, order, valid, card.security_code, now)
    if outcome.verified:
        _move(session, settings, order, "payment_verified", "customer", now)
    return _detail(session, order), outcome


def request_return(
    session: Session,
    settings: Settings,
    ref: OrderRef,
    wanted: dict[str, int],
    reason: str,
    now: datetime,
) -> OrderDetail:
    order = _order_for(session, settings, ref, now)
    if order.status not in ("delivered", "partially_refunded"):
        raise lifecycle.StatusConflict("A return can be asked for once the order is delivered.")
    bought = {line.sku: line.quantity - line.returned_quantity for line in order.lines}
    if not wanted:
        raise InvalidInput("lines", "say which items you return")
    for sku, quantity in wanted.items():
        if sku not in bought:
            raise InvalidInput("lines", f"{sku} is not in this order")
        if (
            isinstance(quantity, bool)
            or not isinstance(quantity, int)
            or not 1 <= quantity <= bought[sku]
        ):
            raise InvalidInput("lines", f"{sku}: return between 1 and {bought[sku]}")
    reason = reason.strip()
    if len(reason) > 2000:
        raise InvalidInput("reason", "at most 2000 characters")
    session.add(
        OrderReturn(
            order_id=order.id, status="requested", lines=json.dumps(wanted, sort_keys=True),
            reason=reason, refund_cents=0, created_at=now, updated_at=now,
        )
    )  # fmt: skip
    _move(session, settings, order, "return_requested", "customer", now, note=reason[:200])
    return _detail(session, order)


# ---------------------------------------------------------------- the shop's moves


def _order_by_number(session: Session, typed: str) -> Order:
    number = parse_order_number(typed)
    order = (
        session.execute(select(Order).where(Order.order_number == number)).scalar()
        if number
        else None
    )
    if order is None:
        raise NotFound("order")
    return order


def record_manual_payment(
    session: Session,
    settings: Settings,
    number: str,
    *,
    approved: bool,
    code_or_reason: str,
    actor: str,
    now: datetime,
) -> None:
    """Billing's answer from their own terminal (the manual processor)."""
    order = _order_by_number(session, number)
    payments.record_manual_result(
        session, order.id, approved=approved, code_or_reason=code_or_reason, now=now
    )
    if approved:
        _move(session, settings, order, "payment_verified", actor, now)
    else:
        note = "The payment did not go through: " + code_or_reason.strip()[:200]
        _move(session, settings, order, "payment_problem", actor, now, note=note)


def report_availability_problem(
    session: Session, settings: Settings, number: str, detail: str, actor: str, now: datetime
) -> None:
    order = _order_by_number(session, number)
    _move(session, settings, order, "availability_problem", actor, now, note=detail.strip()[:500])


def mark_packed(
    session: Session, settings: Settings, number: str, actor: str, now: datetime
) -> None:
    order = _order_by_number(session, number)
    _move(session, settings, order, "packed", actor, now)


def mark_shipped(
    session: Session,
    settings: Settings,
    parts: Collaborators,
    number: str,
    *,
    carrier: str,
    tracking_number: str,
    actor: str,
    now: datetime,
) -> None:
    """The parcel left: the payment is captured and the card number purged (P8)."""
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not carrier or len(carrier) > 60:
        raise InvalidInput("carrier", "name the carrier (at most 60 characters)")
    if not tracking_number or len(tracking_number) > 60:
        raise InvalidInput("tracking_number", "give the tracking number (at most 60 characters)")
    if any(mark in carrier + tracking_number for mark in ("://", "<", ">")):
        # They are printed in the customer's mail: no link or markup may ride along.
        raise InvalidInput("tracking_number", "plain text only: no links or markup")
    order = _order_by_number(session, number)
    lifecycle.check_move(order.status, "shipped")
    payments.capture(session, settings, parts.processor, order.id, now)
    order.carrier, order.tracking_number = carrier, tracking_number
    _move(session, settings, order, "shipped", actor, now, note=f"{carrier} {tracking_number}")


def mark_delivered(
    session: Session, settings: Settings, number: str, actor: str, now: datetime
) -> None:
    _move(session, settings, _order_by_number(session, number), "delivered", actor, now)


def receive_return(
    session: Session, settings: Settings, number: str, actor: str, now: datetime
) -> None:
    order = _order_by_number(session, number)
    _move(session, settings, order, "return_received", actor, now)
    returned = session.execute(
        select(OrderReturn).where(
            OrderReturn.order_id == order.id, OrderReturn.status == "requested"
        )
    ).scalars()
    for row in returned:
        row.status, row.updated_at = "received", now


def refund(
    session: Session,
    settings: Settings,
    parts: Collaborators,
    number: str,
    amount_cents: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    """Whole or partial; never more than was paid less earlier refunds."""
    order = _order_by_number(session, number)
    left = order.total_cents - order.refunded_cents
    if (
        isinstance(amount_cents, bool)
        or not isinstance(amount_cents, int)
        or not 0 < amount_cents <= left
    ):
        raise InvalidInput("amount", f"refund between 1 and {left} cents")
    target = "refunded" if amount_cents == left else "partially_refunded"
    lifecycle.check_move(order.status, target)
    payments.refund(session, parts.processor, order.id, amount_cents, now)
    order.refunded_cents += amount_cents
    note = f"{_money(amount_cents, order.currency)} refunded. {reason.strip()[:200]}".strip()
    _move(session, settings, order, target, actor, now, note=note)


# ---------------------------------------------------------------- information requests


MAX_QUESTION = 5000


def ask(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    product_sku: str | None,
    name: str,
    email: str,
    question: str,
    quantity: int | None,
    now: datetime,
) -> None:
    """A product question or quote request for customer service: name, email, question
    and nothing else, deleted after ``info_request_retention_days``."""
    if kind not in ("question", "quote"):
        raise InvalidInput("kind", "ask a question or for a quote")
    name, question = name.strip(), question.strip()
    mail.check_header_text("name", name, required=True)
    mail.check_address("email", email.strip())
    if not question:
        raise InvalidInput("question", "write your question")
    if len(question) > MAX_QUESTION:
        raise InvalidInput("question", f"at most {MAX_QUESTION} characters")
    if product_sku is not None and (not product_sku.strip() or len(product_sku) > 40):
        raise InvalidInput("product_sku", "at most 40 characters")
    if quantity is not None and (isinstance(quantity, bool) or not 1 <= quantity <= 1_000_000):
        raise InvalidInput("quantity", "between 1 and 1,000,000")
    session.add(
        InformationRequest(
            kind=kind,
            product_sku=product_sku.strip() if product_sku else None,
            name=name,
            email=email.strip(),
            question=question,
            quantity=quantity if kind == "quote" else None,
            created_at=now,
            delete_after=now + timedelta(days=settings.info_request_retention_days),
        )
    )
    session.flush()


def open_questions(session: Session, limit: int) -> list[InformationRequest]:
    """Questions and quote requests not answered yet, oldest first (customer service)."""
    return list(
        session.execute(
            select(InformationRequest)
            .where(InformationRequest.answered_at.is_(None))
            .order_by(InformationRequest.id)
            .limit(limit)
        ).scalars()
    )


def mark_answered(session: Session, request_id: int, now: datetime) -> None:
    row = session.get(InformationRequest, request_id)
    if row is None:
        raise NotFound("question")
    row.answered_at = row.answered_at or now


# ---------------------------------------------------------------- housekeeping


def forget_expired(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """What the retention settings say must go: old questions, purged cards; and orders
    past the tax-law period lose their remaining personal data."""
    questions = session.execute(
        delete(InformationRequest).where(InformationRequest.delete_after <= now)
    )
    cards = payments.purge_captured_cards(session, settings, now)
    return {
        "information_requests": int(questions.rowcount or 0),  # type: ignore[attr-defined]
        "card_numbers": cards,
        "orders": _pseudonymise_past_retention(session, settings, now),
    }


def _pseudonymise_past_retention(session: Session, settings: Settings, now: datetime) -> int:
    """Past the tax-law period an invoice needs nobody's name: one UPDATE blanks what the
    account's closing kept (billing) and, for an account still open, the rest too."""
    cutoff = now - timedelta(days=settings.order_retention_days)
    blank = {
        f"{prefix}_{name}": ""
        for prefix in ("ship", "bill")
        for name in ("name", "line1", "line2", "city", "region", "postcode")
    }
    done = session.execute(
        update(Order)
        .where(Order.placed_at < cutoff, Order.bill_name != "")
        .values(
            **blank,
            email="",
            customer_name="",
            customer_number=None,
            customer_id=None,
            pseudonymised_at=func.coalesce(
                Order.pseudonymised_at, literal(now, type_=Order.pseudonymised_at.type)
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def quote_out(
    q: pricing.Quote, options: Sequence[pricing.ShippingOption], settings: Settings
) -> dict[str, Any]:
    """The quote as the API shows it (also inside a 409 totals_changed answer)."""

    def money(cents: int) -> dict[str, Any]:
        return {"cents": cents, "currency": q.currency}

    return {
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "unit_price": money(line.unit_price_cents),
                "quantity": line.quantity,
                "line_total": money(line.line_total_cents),
                "discount": money(line.discount_cents),
                "tax": money(line.tax_cents),
            }
            for line in q.lines
        ],
        "subtotal": money(q.subtotal_cents),
        "discount": money(q.discount_cents),
        "shipping": money(q.shipping_cents),
        "tax": money(q.tax_cents),
        "total": money(q.total_cents),
        "prices_include_tax": q.prices_include_tax,
        "shipping_method": q.shipping.method_code,
        "shipping_options": [
            {
                "code": o.method_code,
                "name": o.name,
                "cost": money(o.cost_cents),
                "delivery_days_min": o.delivery_days_min,
                "delivery_days_max": o.delivery_days_max,
            }
            for o in options
        ],
        "discount_code": q.discount_code,
        "payment_simulated": settings.payment_processor == "simulator",
    }


def idempotency_lifetime(settings: Settings) -> timedelta:
    return timedelta(hours=settings.idempotency_key_hours)


# ---------------------------------------------------------------- the back office
#
# What the staff screens read and do (staff/orders_api.py). Rows go out as mappings of
# one table's columns, so the staff domain cuts each of them through its need-to-know
# table (a column a role is not granted never leaves in the JSON) and names the fields in
# the audit chain. The moves are the ones above, with the staff member as the actor.

# What the order queue shows of each order; the staff domain drops what a role may not read.
QUEUE_COLUMNS = (
    "order_number",
    "status",
    "placed_at",
    "customer_number",
    "customer_name",
    "email",
    "ship_name",
    "ship_city",
    "ship_country",
    "bill_name",
    "currency",
    "total_cents",
    "shipping_method_name",
)
QUEUE_DEFAULT_LIMIT = 25
QUEUE_MAX_LIMIT = 100
MAX_AGE_HOURS = 24 * 366 * 20  # twenty years: any order the shop can hold
QUEUE_PARAMETERS = frozenset(
    {"status", "older_than_hours", "newer_than_hours", "sort", "limit", "cursor"}
)
_MAX_CURSOR = 40

# What the order detail shows of each part (the internal ids stay inside).
ORDER_COLUMNS = tuple(
    column.name for column in Order.__table__.columns if column.name not in ("id", "customer_id")
)
LINE_COLUMNS = (
    "sku",
    "product_name",
    "label",
    "quantity",
    "weight_grams",
    "returned_quantity",
    "unit_price_cents",
    "line_total_cents",
    "discount_cents",
    "tax_cents",
)
EVENT_COLUMNS = ("from_status", "to_status", "actor", "note", "created_at")
RETURN_COLUMNS = ("status", "lines", "reason", "refund_cents", "created_at", "updated_at")


class InvalidFilter(InvalidInput):
    """A queue filter that cannot be read (an unknown status, a page over the limit, a
    negative age, a cursor that is not one of ours): 422 naming the parameter."""

    status_code = 422
    code = "invalid_filter"


@dataclass(frozen=True)
class QueueQuery:
    statuses: tuple[str, ...]  # in the graph's order; every status when none was asked
    older_than_hours: int | None
    newer_than_hours: int | None
    newest_first: bool
    limit: int
    after: tuple[datetime, int] | None  # (placed_at, id) of the last order already seen


def _hours(name: str, typed: str | None) -> int | None:
    if typed is None:
        return None
    text = typed.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 7 or int(text) > MAX_AGE_HOURS:
        raise InvalidFilter(name, f"a whole number of hours from 0 to {MAX_AGE_HOURS}")
    return int(text)


def _statuses(typed: Sequence[str]) -> tuple[str, ...]:
    """``status=placed&status=packed`` or ``status=placed,packed``; none: every status."""
    if sum(len(text) for text in typed) > 400:
        raise InvalidFilter("status", "at most 400 characters of statuses")
    wanted = {part.strip() for text in typed for part in text.split(",") if part.strip()}
    unknown = sorted(name[:40] for name in wanted if name not in lifecycle.LABELS)
    if unknown:
        known = ", ".join(lifecycle.LABELS)
        raise InvalidFilter("status", f"unknown status {', '.join(unknown)} (statuses: {known})")
    return tuple(name for name in lifecycle.LABELS if not wanted or name in wanted)


def _limit(typed: str | None) -> int:
    if typed is None:
        return QUEUE_DEFAULT_LIMIT
    text = typed.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 3) or not (
        1 <= int(text) <= QUEUE_MAX_LIMIT
    ):
        raise InvalidFilter("limit", f"from 1 to {QUEUE_MAX_LIMIT} orders a page")
    return int(text)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def queue_cursor(placed_at: datetime, order_id: int) -> str:
    """Where the next page starts: the last order shown, as an opaque token."""
    micros = (placed_at - _EPOCH) // _MICROSECOND  # exact, where a float would round
    return base64.urlsafe_b64encode(f"{micros}.{order_id}".encode()).decode().rstrip("=")


def _cursor(typed: str | None) -> tuple[datetime, int] | None:
    if typed is None:
        return None
    refused = InvalidFilter("cursor", "not a cursor from this queue: start from the first page")
    if len(typed) > _MAX_CURSOR or not typed.isascii():
        raise refused
    try:
        decoded = base64.urlsafe_b64decode(typed + "=" * (-len(typed) % 4)).decode("ascii")
        micros, order_id = (int(part) for part in decoded.split("."))
        placed_at = _EPOCH + micros * _MICROSECOND
    except (ValueError, OverflowError, OSError):
        raise refused from None
    if queue_cursor(placed_at, order_id) != typed or not 1 <= order_id <= MAX_ROW_ID:
        raise refused
    return placed_at, order_id


def queue_query(parameters: Mapping[str, Sequence[str]]) -> QueueQuery:
    """The queue's filters as typed in the query string (every value a list of texts), or
    InvalidFilter naming the first one that is wrong (an unknown parameter too)."""
    unknown = sorted(name[:40] for name in parameters if name not in QUEUE_PARAMETERS)
    if unknown:
        raise InvalidFilter(
            unknown[0], f"no such filter (filters: {', '.join(sorted(QUEUE_PARAMETERS))})"
        )

    def one(name: str) -> str | None:
        values = parameters.get(name) or []
        if len(values) > 1:
            raise InvalidFilter(name, "give it once")
        return values[0] if values else None

    sort = one("sort")
    if sort not in (None, "placed_at", "-placed_at"):
        raise InvalidFilter("sort", "placed_at (oldest first) or -placed_at (newest first)")
    return QueueQuery(
        statuses=_statuses(parameters.get("status") or []),
        older_than_hours=_hours("older_than_hours", one("older_than_hours")),
        newer_than_hours=_hours("newer_than_hours", one("newer_than_hours")),
        newest_first=sort != "placed_at",
        limit=_limit(one("limit")),
        after=_cursor(one("cursor")),
    )


@dataclass(frozen=True)
class QueueRow:
    order_id: int
    customer_id: int | None  # whose order it is, for the audit chain (None: pseudonymised)
    values: dict[str, Any]  # QUEUE_COLUMNS, the order number as shown
    items: int  # units ordered


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None  # None on the last page


_QUEUE_SELECT = (Order.id, Order.customer_id, *(Order.__table__.c[name] for name in QUEUE_COLUMNS))


# The queue statement's values, bound at execution: the statement itself depends only on
# the query's shape (which statuses, which filters, which order) and is built once per shape.
_OLDER: BindParameter[Any] = bindparam("older_than")
_NEWER: BindParameter[Any] = bindparam("newer_than")
_AFTER_AT: BindParameter[Any] = bindparam("after_at")
_AFTER_ID: BindParameter[Any] = bindparam("after_id")
_PAGE: BindParameter[Any] = bindparam("page")


def _status_range(status: str, older: bool, newer: bool, after: bool, newest_first: bool) -> Any:
    """One status's range of ix_orders_status_placed in the queue's order, no further than
    the page."""
    statement = select(*_QUEUE_SELECT).where(Order.status == status)
    if older:
        statement = statement.where(Order.placed_at <= _OLDER)
    if newer:
        statement = statement.where(Order.placed_at >= _NEWER)
    if after and newest_first:
        # (placed_at, id) past the cursor, spelt so that both databases seek the index on
        # placed_at rather than filter every order before the cursor.
        statement = statement.where(
            Order.placed_at <= _AFTER_AT, or_(Order.placed_at < _AFTER_AT, Order.id < _AFTER_ID)
        )
    elif after:
        statement = statement.where(
            Order.placed_at >= _AFTER_AT, or_(Order.placed_at > _AFTER_AT, Order.id > _AFTER_ID)
        )
    order = (
        (Order.placed_at.desc(), Order.id.desc()) if newest_first else (Order.placed_at, Order.id)
    )
    return statement.order_by(*order).limit(_PAGE)


@functools.lru_cache(maxsize=256)
def _queue_shape(
    statuses: tuple[str, ...], older: bool, newer: bool, after: bool, newest_first: bool
) -> Any:
    branches = [
        select(*ranged.c).select_from(ranged)
        for ranged in (
            _status_range(status, older, newer, after, newest_first).subquery()
            for status in statuses
        )
    ]
    merged = union_all(*branches).subquery("queue")
    placed_at, order_id = merged.c.placed_at, merged.c.id
    order = (placed_at.desc(), order_id.desc()) if newest_first else (placed_at, order_id)
    return select(*merged.c).order_by(*order).limit(_PAGE)


def queue_statement(query: QueueQuery) -> Any:
    """The page of the queue in one statement (one more order than the page, to tell
    whether another follows): each status's index range read no further than the page
    (a LIMIT inside each branch), the branches merged by the database (UNION ALL, ordered,
    limited), so only the page comes back. An ``IN`` over the statuses ordered by time
    would read every matching order to sort them. Its values: ``queue_values``."""
    return _queue_shape(
        query.statuses,
        query.older_than_hours is not None,
        query.newer_than_hours is not None,
        query.after is not None,
        query.newest_first,
    )


def queue_values(query: QueueQuery, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"page": query.limit + 1}
    if query.older_than_hours is not None:
        values["older_than"] = now - timedelta(hours=query.older_than_hours)
    if query.newer_than_hours is not None:
        values["newer_than"] = now - timedelta(hours=query.newer_than_hours)
    if query.after is not None:
        values["after_at"], values["after_id"] = query.after
    return values


def order_queue(session: Session, query: QueueQuery, now: datetime) -> QueuePage:
    """A page of the staff order queue: orders of the asked statuses and ages, by time
    placed, after the cursor (``queue_statement``)."""
    found = session.execute(queue_statement(query), queue_values(query, now)).all()
    page, more = found[: query.limit], len(found) > query.limit
    items = _units(session, [row.id for row in page])
    shown = [
        QueueRow(
            row.id,
            row.customer_id,
            {
                **{name: getattr(row, name) for name in QUEUE_COLUMNS},
                "order_number": format_order_number(row.order_number),
            },
            items.get(row.id, 0),
        )
        for row in page
    ]
    last = page[-1] if page and more else None
    return QueuePage(shown, queue_cursor(last.placed_at, last.id) if last is not None else None)


def _units(session: Session, order_ids: list[int]) -> dict[int, int]:
    if not order_ids:
        return {}
    counted = session.execute(
        select(OrderLine.order_id, func.sum(OrderLine.quantity))
        .where(OrderLine.order_id.in_(order_ids))
        .group_by(OrderLine.order_id)
    )
    return {order_id: int(units) for order_id, units in counted}


def status_labels() -> dict[str, str]:
    """Every status of the order graph with its label, in the graph's order."""
    return dict(lifecycle.LABELS)


# The staff moves the order's state allows now (the staff domain keeps those the role may
# take). Each move's own service function checks the state again when it is taken.
_AWAITING_PAYMENT = ("pending_manual", "declined", "failed")
_REFUNDABLE = ("shipped", "delivered", "return_received", "partially_refunded")


def shop_moves(status: str, payment_status: str | None) -> tuple[str, ...]:
    moves: list[str] = []
    if status == "placed" and payment_status == "pending_manual":
        moves.append("record_payment")
    if status in ("placed", "payment_problem") and payment_status in _AWAITING_PAYMENT:
        moves.append("reveal_card")
    moves += {"payment_verified": ["pack"], "packed": ["ship"], "shipped": ["deliver"]}.get(
        status, []
    )
    if status == "placed":
        moves.append("flag_payment_problem")
    if "availability_problem" in lifecycle.GRAPH[status]:
        moves.append("flag_availability_problem")
    if status in lifecycle.CANCELLABLE:
        moves.append("cancel")
    if status in _REFUNDABLE and payment_status in ("captured", "partially_refunded"):
        moves.append("refund")
    if status == "return_requested":
        moves.append("receive_return")
    return tuple(moves)


@dataclass(frozen=True)
class OrderKey:
    """Which order a staff move is about, for its audit entry: read before the move."""

    order_id: int
    customer_id: int | None
    status: str


def order_key(session: Session, number: str) -> OrderKey:
    order = _order_by_number(session, number)
    return OrderKey(order.id, order.customer_id, order.status)


@dataclass(frozen=True)
class StaffOrder:
    """One order for the back office, each part as mappings of its table's columns."""

    order_id: int
    customer_id: int | None
    order: dict[str, Any]  # ORDER_COLUMNS, the order number as shown
    lines: list[dict[str, Any]]  # LINE_COLUMNS
    events: list[dict[str, Any]]  # EVENT_COLUMNS, oldest first
    returns: list[dict[str, Any]]  # RETURN_COLUMNS
    payment_status: str | None  # the latest payment's
    card_label: str | None  # "Visa •••• 4242"
    moves: tuple[str, ...]  # shop_moves for its state


def staff_order(session: Session, number: str) -> StaffOrder:
    """The order by its number (NotFound when there is none)."""
    order = _order_by_number(session, number)
    returns = session.execute(
        select(OrderReturn).where(OrderReturn.order_id == order.id).order_by(OrderReturn.id)
    ).scalars()
    payment_status = payments.payment_status(session, order.id)
    return StaffOrder(
        order_id=order.id,
        customer_id=order.customer_id,
        order={
            **{name: getattr(order, name) for name in ORDER_COLUMNS},
            "order_number": format_order_number(order.order_number),
        },
        lines=[{name: getattr(line, name) for name in LINE_COLUMNS} for line in order.lines],
        events=[{name: getattr(event, name) for name in EVENT_COLUMNS} for event in order.events],
        returns=[{name: getattr(row, name) for name in RETURN_COLUMNS} for row in returns],
        payment_status=payment_status,
        card_label=payments.card_label(session, order.id),
        moves=shop_moves(order.status, payment_status),
    )


def refundable_cents(session: Session, number: str) -> int:
    """What is left to refund of the order: its total less earlier refunds."""
    order = _order_by_number(session, number)
    return order.total_cents - order.refunded_cents


def report_payment_problem(
    session: Session, settings: Settings, number: str, detail: str, actor: str, now: datetime
) -> None:
    """Billing sees a problem with the payment (the customer is mailed, and may give a new
    card or cancel): only before the payment is confirmed."""
    order = _order_by_number(session, number)
    _move(session, settings, order, "payment_problem", actor, now, note=detail.strip()[:500])


def cancel_for_customer(
    session: Session,
    settings: Settings,
    parts: Collaborators,
    number: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    """The shop cancels an order before it is packed (the customer asked by phone, the
    item will not come): stock, the code's use and the authorisation are given back."""
    order = _order_by_number(session, number)
    lifecycle.check_move(order.status, "cancelled")
    _give_back(session, parts, order, now)
    note = reason.strip()[:500] or "Cancelled by the shop."
    _move(session, settings, order, "cancelled", actor, now, note=note)


@dataclass(frozen=True)
class RevealedCard:
    order_id: int
    customer_id: int | None
    number: str = field(repr=False)


def reveal_card_number(
    session: Session,
    parts: Collaborators,
    number: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> RevealedCard:
    """The full card number of an order awaiting payment, for billing's own terminal; the
    reveal and its reason are recorded (payments' card_reveals) in the caller's
    transaction. Any other order: StatusConflict, and nothing is decrypted."""
    order = _order_by_number(session, number)
    if order.status not in ("placed", "payment_problem"):
        raise lifecycle.StatusConflict(
            "A card number is shown only while the order is waiting for its payment."
        )
    revealed = payments.reveal_card(
        session, parts.keyring, order.id, actor=actor, reason=reason, now=now
    )
    return RevealedCard(order.id, order.customer_id, revealed)


# What each value of an order mail is made of: (table, columns), one table each, so a
# staff preview can leave out what the reader's role may not read. "lines.x" is the x of
# every line. Values without sources (the detail typed by staff, the link) are always shown.
MAIL_SOURCES: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {
        "name": ("orders", ("customer_name",)),
        "customer_number": ("orders", ("customer_number",)),
        "order_number": ("orders", ("order_number",)),
        "status_label": ("orders", ("status",)),
        "placed_on": ("orders", ("placed_at",)),
        "lines.name": ("order_lines", ("product_name",)),
        "lines.label": ("order_lines", ("label",)),
        "lines.quantity": ("order_lines", ("quantity",)),
        "lines.unit_price": ("order_lines", ("unit_price_cents",)),
        "lines.line_total": ("order_lines", ("line_total_cents",)),
        "subtotal": ("orders", ("subtotal_cents", "currency")),
        "discount": ("orders", ("discount_cents", "currency")),
        "shipping": ("orders", ("shipping_cents", "currency")),
        "shipping_method_name": ("orders", ("shipping_method_name",)),
        "tax": ("orders", ("tax_cents", "currency")),
        "tax_included": ("orders", ("prices_include_tax",)),
        "total": ("orders", ("total_cents", "currency")),
        "refunded": ("orders", ("refunded_cents", "currency")),
        "ship_to": (
            "orders",
            tuple(
                f"ship_{n}"
                for n in ("name", "line1", "line2", "city", "region", "postcode", "country")
            ),
        ),
        "card_label": ("payment_cards", ("brand", "last4")),
        "carrier": ("orders", ("carrier",)),
        "tracking_number": ("orders", ("tracking_number",)),
    }
)
# What each problem mail prints (its template's parts, mail/message_templates/): what a
# preview shows, and so what the audit entry of a preview names.
_EVERY_MAIL = ("name", "customer_number", "order_number", "placed_on", "total", "status_label")
PREVIEW_SOURCES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "availability_problem": (
            *_EVERY_MAIL,
            *("lines.name", "lines.label", "lines.quantity", "lines.unit_price"),
            "lines.line_total",
        ),
        "payment_problem": (*_EVERY_MAIL, "card_label"),
    }
)
PROBLEM_MAILS = frozenset(PREVIEW_SOURCES)
PREVIEW_LINK = "[the order's own link, made when the mail is sent]"


@dataclass(frozen=True)
class MailPreview:
    subject: str
    text: str
    html: str
    withheld: tuple[str, ...]  # what this kind of mail prints that the reader may not read


def _blank(value: Any) -> Any:
    if isinstance(value, bool):
        return False
    if isinstance(value, list):
        return []
    return "" if isinstance(value, str) else None


def preview_problem_mail(
    session: Session,
    settings: Settings,
    number: str,
    kind: str,
    detail: str,
    *,
    shown: frozenset[str],
    now: datetime,
) -> MailPreview:
    """The payment or availability mail the move would queue with ``detail``, rendered and
    queued nowhere. Values whose MAIL_SOURCES key is not in ``shown`` are left blank (the
    customer's own mail has them); ``withheld`` names those this kind of mail prints. The
    link the real mail carries is made at send time."""
    if kind not in PROBLEM_MAILS:
        raise InvalidInput("kind", "a payment or availability problem")
    order = _order_by_number(session, number)
    target = "payment_problem" if kind == "payment_problem" else "availability_problem"
    lifecycle.check_move(order.status, target)
    context: dict[str, Any] = {
        "name": order.customer_name or "customer",
        "customer_number": order.customer_number,
        **_mail_context(session, order, detail.strip()[:500]),
        "payment_simulated": settings.payment_processor == "simulator",
        "is_guest": _is_guest_order(session, order),
        "order_link": PREVIEW_LINK,
    }
    blanked = [key for key in MAIL_SOURCES if key not in shown]
    for key in blanked:
        if key.startswith("lines."):
            name = key.removeprefix("lines.")
            context["lines"] = [{**line, name: _blank(line[name])} for line in context["lines"]]
        else:
            context[key] = "customer" if key == "name" else _blank(context[key])
    rendered = mail.templates_for(settings).render(kind, context)
    withheld = tuple(key for key in PREVIEW_SOURCES[kind] if key not in shown)
    return MailPreview(rendered.subject, rendered.text, rendered.html, withheld)


# ---------------------------------------------------------------- customer service (staff's seam)
#
# What the customer-service screens read (staff/customers_api.py, staff/inbox_api.py), as
# mappings of one table's columns for the staff domain's need-to-know table.

CUSTOMER_ORDER_COLUMNS = ("order_number", "status", "placed_at", "currency", "total_cents")
MAX_CUSTOMER_ORDERS = 50
QUESTION_COLUMNS = (
    "id",
    "kind",
    "product_sku",
    "name",
    "email",
    "question",
    "quantity",
    "answered_at",
    "created_at",
    "delete_after",
)
MAX_QUESTIONS_PAGE = 100
MAX_QUESTIONS_OFFSET = 10_000


def customer_order_rows(
    session: Session, customer_id: int, limit: int = MAX_CUSTOMER_ORDERS
) -> tuple[list[dict[str, Any]], bool]:
    """The customer's newest orders (the number as shown) and whether there are more."""
    found = session.execute(
        select(*(Order.__table__.c[name] for name in CUSTOMER_ORDER_COLUMNS))
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit + 1)
    ).all()
    rows = [dict(zip(CUSTOMER_ORDER_COLUMNS, row, strict=True)) for row in found[:limit]]
    for row in rows:
        row["order_number"] = format_order_number(row["order_number"])
    return rows, len(found) > limit


def order_postcodes(session: Session, customer_id: int) -> list[str]:
    """The shipping and billing postcodes of the customer's orders: addresses on file too,
    and a guest's only ones (P9's second fact for a caller)."""
    rows = session.execute(
        select(Order.ship_postcode, Order.bill_postcode).where(
            Order.customer_id == customer_id, Order.pseudonymised_at.is_(None)
        )
    )
    return sorted({code for row in rows for code in row if code})


def question_rows(session: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], bool]:
    """Questions and quote requests, the open ones first (oldest first: the queue), then
    the answered ones; and whether another page follows."""
    if not 1 <= limit <= MAX_QUESTIONS_PAGE:
        raise InvalidInput("limit", f"from 1 to {MAX_QUESTIONS_PAGE}")
    if not 0 <= offset <= MAX_QUESTIONS_OFFSET:
        raise InvalidInput("offset", f"from 0 to {MAX_QUESTIONS_OFFSET}")
    found = session.execute(
        select(*(InformationRequest.__table__.c[name] for name in QUESTION_COLUMNS))
        .order_by(InformationRequest.answered_at.is_not(None), InformationRequest.id)
        .limit(limit + 1)
        .offset(offset)
    ).all()
    rows = [dict(zip(QUESTION_COLUMNS, row, strict=True)) for row in found[:limit]]
    return rows, len(found) > limit


def answer_question(session: Session, request_id: int, now: datetime) -> bool:
    """``mark_answered``, saying whether it changed anything (False: answered already)."""
    row = session.get(InformationRequest, request_id)
    if row is None:
        raise NotFound("question")
    if row.answered_at is not None:
        return False
    mark_answered(session, request_id, now)
    return True


# ---------------------------------------------------------------- the owner's rate tables
# Thin doors for the back office (staff/rates_api.py): the rules are orders/rates.py's.


@dataclass(frozen=True)
class RateTables:
    regions: list[rates.Region]
    shipping_rates: list[rates.ShippingRateRow]
    tax_rates: list[rates.TaxRateRow]
    discount_codes: list[rates.DiscountCodeRow]
    # The countries a region or a tax rate may name: those the address book can check.
    countries: list[str]


def rate_tables(session: Session) -> RateTables:
    return RateTables(
        rates.list_regions(session),
        rates.list_shipping_rates(session),
        rates.list_tax_rates(session),
        rates.list_discount_codes(session),
        sorted(accounts.shipping_countries()),
    )


@dataclass(frozen=True)
class PublishedShippingRate:
    """One active shipping method as the public shipping page lists it: where it goes,
    what it costs and how long it takes (no id, no inactive rows)."""

    region_countries: tuple[str, ...]  # country names, sorted
    name: str
    kind: str  # "flat" or "weight"
    currency: str
    base_cents: int
    per_kg_cents: int
    free_over_cents: int | None
    delivery_days_min: int
    delivery_days_max: int


def published_shipping_rates(session: Session) -> list[PublishedShippingRate]:
    """The active shipping rates with their regions' countries, by region then method,
    for the public /shipping page. A rate or region edit records a whole-site change
    (rates.py), so the cached page follows it."""
    countries = {region.code: region.countries for region in rates.list_regions(session)}
    return [
        PublishedShippingRate(
            region_countries=tuple(
                sorted(country_name(code) for code in countries.get(row.rate.region, ()))
            ),
            name=row.rate.name,
            kind=row.rate.kind,
            currency=row.currency,
            base_cents=row.rate.base_cents,
            per_kg_cents=row.rate.per_kg_cents,
            free_over_cents=row.rate.free_over_cents,
            delivery_days_min=row.rate.delivery_days_min,
            delivery_days_max=row.rate.delivery_days_max,
        )
        for row in rates.list_shipping_rates(session)
        if row.rate.active and countries.get(row.rate.region)
    ]


def save_shipping_region(
    session: Session, code: str, countries: list[str], editor: RateEditor, now: datetime
) -> rates.Region:
    return rates.save_region(session, code, countries, editor, now)


def delete_shipping_region(session: Session, code: str, editor: RateEditor, now: datetime) -> None:
    rates.delete_region(session, code, editor, now)


def save_shipping_rate(
    session: Session,
    settings: Settings,
    rate_id: int | None,
    data: ShippingRateInput,
    editor: RateEditor,
    now: datetime,
) -> rates.ShippingRateRow:
    return rates.save_shipping_rate(session, settings.currency, rate_id, data, editor, now)


def delete_shipping_rate(session: Session, rate_id: int, editor: RateEditor, now: datetime) -> None:
    rates.delete_shipping_rate(session, rate_id, editor, now)


def save_tax_rate(
    session: Session, rate_id: int | None, data: TaxRateInput, editor: RateEditor, now: datetime
) -> rates.TaxRateRow:
    return rates.save_tax_rate(session, rate_id, data, editor, now)


def delete_tax_rate(session: Session, rate_id: int, editor: RateEditor, now: datetime) -> None:
    rates.delete_tax_rate(session, rate_id, editor, now)


def save_discount_code(
    session: Session,
    settings: Settings,
    code_id: int | None,
    data: DiscountCodeInput,
    editor: RateEditor,
    now: datetime,
) -> rates.DiscountCodeRow:
    return rates.save_discount_code(session, settings.currency, code_id, data, editor, now)


def delete_discount_code(session: Session, code_id: int, editor: RateEditor, now: datetime) -> None:
    rates.delete_discount_code(session, code_id, editor, now)


# ---------------------------------------------------------------- the back office's dashboard


def order_counts_by_status(session: Session, statuses: Sequence[str]) -> dict[str, int]:
    """How many orders are in each of ``statuses`` (0 for none): counts, never an order."""
    found = session.execute(
        select(Order.status, func.count())
        .where(Order.status.in_(list(statuses)))
        .group_by(Order.status)
    ).all()
    counted = {str(status): int(count) for status, count in found}
    return {status: counted.get(status, 0) for status in statuses}


def orders_placed_per_day(session: Session, first_day: datetime, days: int) -> list[int]:
    """How many orders were placed on each of ``days`` UTC days from ``first_day`` (a
    midnight), oldest first. One scan, the days told apart by CASE over bound times, so
    both databases count the same UTC days whatever their session's time zone."""
    bounds = [first_day + timedelta(days=n) for n in range(days + 1)]
    day = case(
        *((and_(Order.placed_at >= bounds[n], Order.placed_at < bounds[n + 1]), n)
          for n in range(days)),
        else_=-1,
    ).label("day")  # fmt: skip
    found = session.execute(
        select(day, func.count())
        .where(Order.placed_at >= bounds[0], Order.placed_at < bounds[-1])
        .group_by(day)
    ).all()
    counts = [0] * days
    for index, count in found:
        if 0 <= index < days:
            counts[index] = int(count)
    return counts


def open_question_count(session: Session) -> int:
    """Questions and quote requests not marked answered yet."""
    counted = select(func.count()).select_from(InformationRequest)
    return session.execute(counted.where(InformationRequest.answered_at.is_(None))).scalar_one()
