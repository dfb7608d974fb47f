"""Who is buying: a signed-in customer, or a guest who gave a name and an address.

A guest gets a customer record with a permanent customer number (P9) but no password and
no sign-in address (``email_key`` NULL), so an order never needs an account and a guest's
address signs nobody in. The same address ordering again as a guest keeps its record
(``guest_key``). The order mail carries a one-time link with which the guest may set a
password and make the record an account, unless an account already uses the address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quietshop.accounts import links, passwords
from quietshop.accounts.models import Customer
from quietshop.accounts.signin import email_key
from quietshop.errors import Conflict, Unauthorized


@dataclass(frozen=True)
class Buyer:
    """The customer an order belongs to, as the order copies it."""

    id: int
    customer_number: str
    name: str
    email: str
    is_guest: bool


class AddressHasAccount(Conflict):
    status_code = 409
    code = "address_has_account"


def buyer_of(row: Customer) -> Buyer:
    return Buyer(row.id, row.customer_number, row.name, row.email, row.password_hash is None)


def guest(
    session: Session, name: str, email: str, new_number: Callable[[], str], now: datetime
) -> Buyer:
    """The guest record for this address, made on first use (name updated if it changed)."""
    key = email_key(email)
    row = _guest_row(session, key)
    if row is None:
        row = Customer(
            customer_number=new_number(),  # drawn only for a guest seen for the first time
            name=name,
            email=email,
            email_key=None,
            guest_key=key,
            phone="",
            password_hash=None,
            password_changed_at=now,
            created_at=now,
        )
        session.add(row)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # a twin checkout made the record first: use that one
            row = _guest_row(session, key)
            if row is None:
                raise
    row.name, row.email = name, email
    return buyer_of(row)


def _guest_row(session: Session, key: str) -> Customer | None:
    return session.execute(
        select(Customer).where(Customer.guest_key == key, Customer.closed_at.is_(None))
    ).scalar()


def claim_link(session: Session, buyer: Buyer, base_url: str, now: datetime) -> str:
    """The mailed link with which a guest sets a password (the token is not kept)."""
    return links.create(session, buyer.id, "claim_guest", base_url, now)


def claim(session: Session, token: str, password: str, now: datetime) -> str:
    """Make a guest record an account: the mail reached its owner, so the address is
    verified. Refused when an account already uses the address. Returns the number."""
    _, row = links.redeem(session, "claim_guest", token, now)
    if row.password_hash is not None or row.guest_key is None:
        raise Unauthorized("this order was placed by an account already: sign in")
    passwords.check_password_policy(password, email=row.email, name=row.name)
    key = email_key(row.email)
    taken = session.execute(select(Customer.id).where(Customer.email_key == key)).first()
    if taken is not None:
        raise AddressHasAccount(
            "An account already uses this address: sign in to it instead. Your orders "
            "stay reachable through the links in their mails."
        )
    row.password_hash = passwords.hash_password(password)
    row.password_changed_at = now
    row.email_key, row.guest_key = key, None
    row.email_verified_at = now
    session.flush()
    return row.customer_number
