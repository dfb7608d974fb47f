"""The orders domain's share of a customer's data, for export and erasure (privacy/).

Closing an account detaches its orders (``customer_id`` NULL) and pseudonymises them: the
contact details and the shipping address are blanked, the status notes and return reasons
too. What tax law requires of an invoice stays (billing name and address, lines, totals,
dates) until ``order_retention_days`` have passed, when ``service.forget_expired`` blanks
it as well. Idempotency answers and product questions about the person are deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from quietshop.orders.models import (
    DiscountRedemption,
    IdempotencyKey,
    InformationRequest,
    Order,
    OrderEvent,
    OrderReturn,
)
from quietshop.payments import service as payments
from quietshop.privacy.personal_data import DataSubject, SubjectRows


def _orders_of(subject: DataSubject) -> ColumnElement[bool]:
    return Order.customer_id == subject.customer_id


def _their_order_ids(subject: DataSubject) -> ColumnElement[bool]:
    return select(Order.id).where(_orders_of(subject)).scalar_subquery()


def _mark_pseudonymised(session: Session, subject: DataSubject, now: datetime) -> None:
    # Before the scrub detaches them: afterwards nothing finds these orders by customer.
    session.execute(update(Order).where(_orders_of(subject)).values(pseudonymised_at=now))


def _asked_by(subject: DataSubject) -> ColumnElement[bool]:
    # Questions are kept by address (a visitor asks without an account); none match "".
    return func.lower(InformationRequest.email) == (subject.email.lower() or "\x00")


ROWS = (
    SubjectRows(
        Order.__table__,  # type: ignore[arg-type]
        _orders_of,
        "scrub",
        "orders",
        before_erase=_mark_pseudonymised,
    ),
    SubjectRows(
        OrderEvent.__table__,  # type: ignore[arg-type]
        lambda subject: OrderEvent.order_id.in_(_their_order_ids(subject)),
        "scrub",
        "order_history",
    ),
    SubjectRows(
        OrderReturn.__table__,  # type: ignore[arg-type]
        lambda subject: OrderReturn.order_id.in_(_their_order_ids(subject)),
        "scrub",
        "returns",
    ),
    SubjectRows(
        DiscountRedemption.__table__,  # type: ignore[arg-type]
        lambda subject: DiscountRedemption.customer_id == subject.customer_id,
        "scrub",
        "discount_codes_used",
    ),
    SubjectRows(
        IdempotencyKey.__table__,  # type: ignore[arg-type]
        lambda subject: IdempotencyKey.scope == f"customer:{subject.customer_number}",
        "delete",
        "order_attempts",
    ),
    payments.card_rows(_their_order_ids),
    SubjectRows(
        InformationRequest.__table__,  # type: ignore[arg-type]
        _asked_by,
        "delete",
        "questions",
    ),
)
