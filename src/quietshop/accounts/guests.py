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
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from quietshop.accounts import links, passwords
from quietshop.accounts.models import Customer
from quietshop.accounts.signin import email_key
from quietshop.clock import to_the_minute
from quietshop.db import per_dialect
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
    """The guest record for this address, made on first use (name updated if it changed).

    Plain statements on the session's connection, not the ORM: this runs in every guest
    order, where a loaded entity, a savepoint and a flush cost more than the rest of the
    record's work (bench/order_cpu.py)."""
    key = email_key(email)
    connection = session.connection()
    for _ in range(_NUMBER_DRAWS):
        row = connection.execute(_GUEST_ROW, {"guest_key": key}).first()
        if row is not None:
            if (row.name, row.email) != (name, email):
                connection.execute(_RENAME_GUEST, {"row_id": row.id, "name": name, "email": email})
            return Buyer(row.id, row.customer_number, name, email, True)
        number = new_number()  # drawn only for a guest seen for the first time
        values = _new_guest_row(number, name, email, key, now)
        # DO NOTHING on any unique column: a twin checkout that made the record first is
        # found by the next round's SELECT; a number drawn twice (vanishingly rare) is
        # drawn again.
        made = connection.execute(_INSERT_GUEST[connection.dialect.name], values).first()
        if made is not None:
            return Buyer(int(made[0]), number, name, email, True)
    raise RuntimeError("could not make a guest record")


_NUMBER_DRAWS = 5
_GUEST_ROW = select(Customer.id, Customer.customer_number, Customer.name, Customer.email).where(
    Customer.guest_key == bindparam("guest_key"), Customer.closed_at.is_(None)
)
_RENAME_GUEST = (
    update(Customer)
    .where(Customer.id == bindparam("row_id"))
    .values(name=bindparam("name"), email=bindparam("email"))
)


def _new_guest_row(number: str, name: str, email: str, key: str, now: datetime) -> dict[str, Any]:
    # No password and no sign-in address (email_key): a guest's address signs nobody in.
    return {
        "customer_number": number,
        "name": name,
        "email": email,
        "email_key": None,
        "guest_key": key,
        "phone": "",
        "password_hash": None,
        "failed_sign_ins": 0,
        # To the minute: the order's access-log line is to the second (P5).
        "password_changed_at": to_the_minute(now),
        "created_at": to_the_minute(now),
    }


def _guest_insert(dialect: Any) -> Any:
    return dialect.insert(Customer).on_conflict_do_nothing().returning(Customer.id)


_INSERT_GUEST = per_dialect(_guest_insert)


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
