"""Payment rules (P8): check a card, keep its number encrypted only until the payment is
captured, authorise through the configured processor, and show it masked everywhere.

The security code goes to the processor's authorize call and nowhere else: it is not an
argument of anything that stores, and no object here that outlives the call holds it.
Every function works in the caller's transaction; the orders domain calls them while it
places or moves an order, so an order and its payment commit together.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from quietshop.errors import Conflict, InvalidInput, NotFound
from quietshop.keyring import Keyring, open_keyring
from quietshop.payments.cards import (
    Brand,
    CardInput,
    ValidCard,
    card_associated_data,
    mask,
    validate_card,
)
from quietshop.payments.models import CardReveal, Payment, PaymentCard
from quietshop.payments.processors import (
    AuthorizationRequest,
    AuthorizationResult,
    AuthorizationStatus,
    PaymentProcessor,
    processor_for,
)
from quietshop.privacy.personal_data import DataSubject, SubjectRows
from quietshop.settings import Settings

__all__ = [
    "CardInput",
    "PaymentOutcome",
    "PaymentProcessor",
    "ValidCard",
    "authorize",
    "authorize_new_order",
    "capture",
    "card_label",
    "check_card",
    "keyring_for",
    "processor_for",
    "purge_captured_cards",
    "record_manual_result",
    "refund",
    "reveal_card",
    "void",
]

MAX_REASON = 500
# What a customer is told for each decline; the processor's own words stay with staff.
CUSTOMER_REASONS = {
    "card_declined": "your bank declined the card",
    "insufficient_funds": "your bank declined the card (insufficient funds)",
    "expired_card": "the card has expired",
    "incorrect_cvc": "the security code did not match",
    "processing_error": "the payment could not be processed; please try again",
}


class PaymentConflict(Conflict):
    status_code = 409
    code = "payment_conflict"


@dataclass(frozen=True)
class PaymentOutcome:
    """What placing (or a new card) did: the payment's status and what the customer sees."""

    status: str  # approved, declined, error, pending_manual
    card_label: str
    simulated: bool
    message: str

    @property
    def verified(self) -> bool:
        return self.status == AuthorizationStatus.APPROVED


def keyring_for(settings: Settings, now: datetime) -> Keyring:
    """The keyring in the data dir: made on first use in the demo, required otherwise
    (with the `quietshop keys init` hint). Keep one per process: loading locks the file."""
    return open_keyring(settings, now)


def check_card(card: CardInput, now: datetime) -> ValidCard:
    """Number (Luhn, brand length and prefix), expiry, name and code shape; InvalidInput
    naming the field, and never the digits."""
    return validate_card(card, now)


def _card_columns(keyring: Keyring, order_id: int, card: ValidCard) -> dict[str, Any]:
    sealed = keyring.encrypt(card.number.encode(), card_associated_data(order_id))
    return {
        "brand": card.brand.value,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "name_on_card": card.name,
        "key_id": sealed.key_id,
        "ciphertext": sealed.ciphertext,
        "purged_at": None,
    }


def _store_card(
    session: Session, keyring: Keyring, order_id: int, card: ValidCard, now: datetime
) -> None:
    columns = _card_columns(keyring, order_id, card)
    row = session.execute(select(PaymentCard).where(PaymentCard.order_id == order_id)).scalar()
    if row is None:
        row = PaymentCard(order_id=order_id, created_at=now)
        session.add(row)
    for name, value in columns.items():
        setattr(row, name, value)


def authorize(
    session: Session,
    processor: PaymentProcessor,
    keyring: Keyring,
    *,
    order_id: int,
    reference: str,
    amount_cents: int,
    currency: str,
    card: ValidCard,
    security_code: str,
    now: datetime,
) -> PaymentOutcome:
    """Keep the card (encrypted), ask the processor, and record the answer.

    A new card after a payment problem is a new payment row with a fresh idempotency key;
    the earlier declined row stays as history."""
    _store_card(session, keyring, order_id, card, now)
    key, result = _ask(processor, amount_cents, currency, card, security_code, reference)
    amount = (amount_cents, currency)
    session.add(Payment(**_payment_columns(processor, order_id, amount, key, result, now)))
    session.flush()
    return _outcome(processor, card, result)


# Built once: placing an order writes its card and payment with plain INSERTs on the
# session's connection, a fraction of the cost of an ORM flush (bench/order_cpu.py).
_INSERT_CARD = insert(PaymentCard)
_INSERT_PAYMENT = insert(Payment)


def authorize_new_order(
    session: Session,
    processor: PaymentProcessor,
    keyring: Keyring,
    *,
    order_id: int,
    reference: str,
    amount_cents: int,
    currency: str,
    card: ValidCard,
    security_code: str,
    now: datetime,
) -> PaymentOutcome:
    """``authorize`` for an order placed in this transaction, which has no card and no
    payment yet: the same rows, written by two INSERTs without the ORM."""
    connection = session.connection()
    card_row = {"order_id": order_id, "created_at": now, **_card_columns(keyring, order_id, card)}
    connection.execute(_INSERT_CARD, card_row)
    key, result = _ask(processor, amount_cents, currency, card, security_code, reference)
    amount = (amount_cents, currency)
    connection.execute(
        _INSERT_PAYMENT, _payment_columns(processor, order_id, amount, key, result, now)
    )
    return _outcome(processor, card, result)


_PAYMENT_STATUS = {
    AuthorizationStatus.APPROVED: "authorized",
    AuthorizationStatus.DECLINED: "declined",
    AuthorizationStatus.ERROR: "failed",
    AuthorizationStatus.PENDING_MANUAL: "pending_manual",
}


def _ask(
    processor: PaymentProcessor,
    amount_cents: int,
    currency: str,
    card: ValidCard,
    security_code: str,
    reference: str,
) -> tuple[str, AuthorizationResult]:
    """The processor's answer, under a fresh idempotency key (the code goes only here)."""
    key = f"pay_{secrets.token_hex(16)}"
    result = processor.authorize(
        AuthorizationRequest(
            idempotency_key=key,
            amount_cents=amount_cents,
            currency=currency,
            card=card,
            security_code=security_code,
            reference=reference,
        )
    )
    return key, result


def _payment_columns(
    processor: PaymentProcessor,
    order_id: int,
    amount: tuple[int, str],
    key: str,
    result: AuthorizationResult,
    now: datetime,
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "processor": processor.name,
        "status": _PAYMENT_STATUS[result.status],
        "amount_cents": amount[0],
        "currency": amount[1],
        "captured_cents": 0,
        "refunded_cents": 0,
        "authorization_code": result.authorization_code,
        "decline_reason": result.decline_reason,
        "processor_reference": result.processor_reference,
        "idempotency_key": key,
        "created_at": now,
        "updated_at": now,
    }


def _outcome(
    processor: PaymentProcessor, card: ValidCard, result: AuthorizationResult
) -> PaymentOutcome:
    return PaymentOutcome(
        status=result.status.value,
        card_label=card.masked,
        simulated=processor.simulated,
        message=_customer_message(result.status, result.decline_reason),
    )


def _customer_message(status: AuthorizationStatus, reason: str | None) -> str:
    if status == AuthorizationStatus.APPROVED:
        return "Payment approved."
    if status == AuthorizationStatus.PENDING_MANUAL:
        return "We will take the payment by hand and let you know if there is a problem."
    return (
        "The payment did not go through: "
        + CUSTOMER_REASONS.get(reason or "", "the payment could not be taken")
        + "."
    )


def _latest_or_none(session: Session, order_id: int) -> Payment | None:
    """The order's newest payment (a new card after a problem is a new one)."""
    return session.execute(
        select(Payment).where(Payment.order_id == order_id).order_by(Payment.id.desc()).limit(1)
    ).scalar()


def _latest(session: Session, order_id: int) -> Payment:
    payment = _latest_or_none(session, order_id)
    if payment is None:
        raise NotFound("payment")
    return payment


def payment_status(session: Session, order_id: int) -> str | None:
    payment = _latest_or_none(session, order_id)
    return payment.status if payment is not None else None


def card_label(session: Session, order_id: int) -> str | None:
    """The order's card as it may be shown anywhere: "Visa •••• 4242"."""
    row = session.execute(
        select(PaymentCard.brand, PaymentCard.last4).where(PaymentCard.order_id == order_id)
    ).first()
    if row is None or not row.last4:
        return None
    return mask(row.last4, Brand(row.brand))


def record_manual_result(
    session: Session,
    order_id: int,
    *,
    approved: bool,
    code_or_reason: str,
    now: datetime,
) -> None:
    """Billing staff took the card on their own terminal: approved (with the terminal's
    authorisation code) or declined (with the reason)."""
    text = code_or_reason.strip()
    if not text or len(text) > 200:
        raise InvalidInput(
            "code_or_reason", "say the authorisation code or the reason (at most 200)"
        )
    payment = _latest(session, order_id)
    if payment.status != "pending_manual":
        raise PaymentConflict("this payment is not waiting for a manual answer")
    payment.status = "authorized" if approved else "declined"
    if approved:
        payment.authorization_code = text
    else:
        payment.decline_reason = text
    payment.updated_at = now


def reveal_card(
    session: Session, keyring: Keyring, order_id: int, *, actor: str, reason: str, now: datetime
) -> str:
    """The full card number, for billing to key into their terminal: only while the
    payment waits for them, and only with a stated reason, which is recorded."""
    reason = reason.strip()
    if len(reason) < 10 or len(reason) > MAX_REASON:
        raise InvalidInput("reason", "say why the card number is needed (10 to 500 characters)")
    payment = _latest(session, order_id)
    if payment.status not in ("pending_manual", "declined", "failed"):
        raise PaymentConflict("a card is revealed only while its payment is waiting")
    row = session.execute(select(PaymentCard).where(PaymentCard.order_id == order_id)).scalar()
    if row is None or row.ciphertext is None or row.key_id is None:
        raise NotFound("card number (it has been purged)")
    session.add(CardReveal(order_id=order_id, actor=actor, reason=reason, created_at=now))
    session.flush()
    return keyring.decrypt(row.key_id, row.ciphertext, card_associated_data(order_id)).decode()


def capture(
    session: Session, settings: Settings, processor: PaymentProcessor, order_id: int, now: datetime
) -> None:
    """Take the authorised money (the parcel ships), then purge the card number unless the
    settings keep it a while."""
    payment = _latest(session, order_id)
    if payment.status == "captured":
        return
    if payment.status not in ("authorized", "pending_manual"):
        raise PaymentConflict("only an authorised payment can be captured")
    if payment.processor_reference and payment.status == "authorized":
        processor.capture(
            payment.processor_reference, payment.amount_cents, f"cap_{payment.idempotency_key}"
        )
    payment.status, payment.captured_cents, payment.updated_at = (
        "captured",
        payment.amount_cents,
        now,
    )
    if settings.card_purge_hours_after_capture == 0:
        _purge(session, [order_id], now)


def void(session: Session, processor: PaymentProcessor, order_id: int, now: datetime) -> None:
    """Release an authorisation (the order was cancelled before it shipped) and purge the
    card: an order that will never be paid keeps no card."""
    payment = _latest_or_none(session, order_id)
    if payment is not None and payment.status == "authorized":
        if payment.processor_reference:
            processor.void(payment.processor_reference, f"void_{payment.idempotency_key}")
        payment.status, payment.updated_at = "voided", now
    elif payment is not None and payment.status == "pending_manual":
        payment.status, payment.updated_at = "voided", now
    _purge(session, [order_id], now)


def refund(
    session: Session, processor: PaymentProcessor, order_id: int, amount_cents: int, now: datetime
) -> None:
    """Give money back, wholly or in part, never more than was captured."""
    payment = _latest(session, order_id)
    if payment.status not in ("captured", "partially_refunded"):
        raise PaymentConflict("only a captured payment can be refunded")
    left = payment.captured_cents - payment.refunded_cents
    if not 0 < amount_cents <= left:
        raise InvalidInput("amount", f"refund between 0.01 and what is left ({left} cents)")
    if payment.processor_reference:
        processor.refund(
            payment.processor_reference,
            amount_cents,
            f"ref_{payment.idempotency_key}_{payment.refunded_cents + amount_cents}",
        )
    payment.refunded_cents += amount_cents
    payment.status = (
        "refunded" if payment.refunded_cents == payment.captured_cents else "partially_refunded"
    )
    payment.updated_at = now


def _purge(session: Session, order_ids: list[int], now: datetime) -> int:
    result = session.execute(
        update(PaymentCard)
        .where(PaymentCard.order_id.in_(order_ids), PaymentCard.ciphertext.is_not(None))
        .values(ciphertext=None, key_id=None, purged_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge_captured_cards(session: Session, settings: Settings, now: datetime) -> int:
    """Purge every card number whose payment was captured (or ended) long enough ago."""
    cutoff = now - timedelta(hours=settings.card_purge_hours_after_capture)
    done = select(Payment.order_id).where(
        Payment.status.in_(("captured", "refunded", "partially_refunded", "voided")),
        Payment.updated_at <= cutoff,
    )
    order_ids = [row[0] for row in session.execute(done)]
    return _purge(session, order_ids, now) if order_ids else 0


def _present_card(row: dict[str, Any]) -> dict[str, Any]:
    # The export says a number is held, never what it is (not even encrypted).
    held = "[encrypted card number, held until the payment is captured]"
    return {**row, "ciphertext": held if row.get("ciphertext") else None}


def card_rows(orders_of: Callable[[DataSubject], Any]) -> SubjectRows:
    """The payments domain's share of a customer's data, for the orders that are theirs
    (``orders_of``: a subquery of their order ids). A closed account's cards go entirely
    (masked digits, expiry, name and any ciphertext not yet purged): no invoice needs
    them; the payment rows hold amounts and processor references only, and stay."""
    return SubjectRows(
        PaymentCard.__table__,  # type: ignore[arg-type]
        lambda subject: PaymentCard.order_id.in_(orders_of(subject)),
        "delete",
        "payment_cards",
        present=_present_card,
    )
