"""Sign-in tokens: 256 random bits, handed to the browser once, kept only as SHA-256.

A token dies after ``token_idle_minutes`` without use, after ``token_absolute_hours`` in
any case, on sign-out, and with every other token of the account on a password change,
"sign out everywhere" or account closure.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from quietshop.accounts.models import Customer, CustomerToken
from quietshop.clock import to_the_minute
from quietshop.errors import Unauthorized
from quietshop.settings import Settings

# Writing last_used_at on every request would make every read a write; a minute's
# precision is plenty for a 30-minute idle limit (and it is all the record keeps).
TOUCH_INTERVAL = timedelta(seconds=60)
MAX_TOKEN_CHARS = 100


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def absolute_expiry(settings: Settings, issued_at: datetime) -> datetime:
    return issued_at + timedelta(hours=settings.token_absolute_hours)


def issue(session: Session, customer: Customer, settings: Settings, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    # To the minute, the expiry too (it is the sign-in time plus a constant): the idle and
    # absolute limits need no finer, and the sign-in's access-log line is to the second.
    issued = to_the_minute(now)
    session.add(
        CustomerToken(
            customer_id=customer.id,
            token_hash=digest(token),
            created_at=issued,
            last_used_at=issued,
            expires_at=absolute_expiry(settings, issued),
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class SignedInCustomer:
    """Who a live token belongs to: what routes and other domains may hold, instead of the
    accounts table's row (orders keep this, never a ``Customer``)."""

    id: int
    number: str
    name: str
    email: str


@dataclass(frozen=True)
class Authenticated:
    customer: SignedInCustomer
    token_id: int
    # The token's last use is more than TOUCH_INTERVAL old: record this one (``touch``).
    touch_due: bool


_AUTHENTICATE = (
    # Plain columns, no ORM object: one indexed lookup (bench/results-tokens.md).
    select(
        Customer.id,
        Customer.customer_number,
        Customer.name,
        Customer.email,
        Customer.closed_at,
        CustomerToken.id,
        CustomerToken.last_used_at,
        CustomerToken.expires_at,
        CustomerToken.revoked_at,
    ).join(Customer, Customer.id == CustomerToken.customer_id)
)


def authenticate(session: Session, token: str, settings: Settings, now: datetime) -> Authenticated:
    """The customer a live token belongs to; Unauthorized for anything else. Only reads."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise Unauthorized()
    row = session.execute(_AUTHENTICATE.where(CustomerToken.token_hash == digest(token))).first()
    if row is None:
        raise Unauthorized()
    (
        customer_id, number, name, email, closed_at,
        token_id, last_used_at, expires_at, revoked_at,
    ) = row  # fmt: skip
    idle_limit = last_used_at + timedelta(minutes=settings.token_idle_minutes)
    if revoked_at is not None or now >= expires_at or now >= idle_limit:
        raise Unauthorized("your sign-in has expired; please sign in again")
    if closed_at is not None:
        raise Unauthorized()
    return Authenticated(
        customer=SignedInCustomer(customer_id, number, name, email),
        token_id=token_id,
        touch_due=now - last_used_at >= TOUCH_INTERVAL,
    )


def touch(session: Session, token_id: int, now: datetime) -> None:
    """Record a use of the token (at most once a minute: see ``Authenticated.touch_due``),
    to the minute: a token may idle out up to a minute early, never late."""
    used = to_the_minute(now)
    session.execute(
        update(CustomerToken)
        .where(CustomerToken.id == token_id, CustomerToken.last_used_at < used)
        .values(last_used_at=used)
    )


def revoke(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(CustomerToken)
        .where(CustomerToken.token_hash == digest(token), CustomerToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all(session: Session, customer_id: int, now: datetime) -> None:
    session.execute(
        update(CustomerToken)
        .where(CustomerToken.customer_id == customer_id, CustomerToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
