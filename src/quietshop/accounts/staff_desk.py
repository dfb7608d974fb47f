"""What customer service reads of a customer (issue 9 item 7): the lookup by customer
number, email address or name, the record behind a number, and whether a caller named the
postcode of an address on file (P9: the number alone is never enough).

Rows come back as plain dicts keyed by column name, so the staff domain can cut each one
through its need-to-know table to what the role reads. Nothing here knows roles and
nothing here writes the audit chain: the staff domain does both. Closed accounts are not
found: their personal data is erased and there is nothing left to discuss.

The name lookup is a case-insensitive "contains" match over open accounts, and so a scan:
measured at about 25 ms for 100,000 customers on SQLite (no index serves ``%text%``
without trigrams), well under the issue's 50 ms. On SQLite the case is folded for ASCII
letters only (its ``lower()``); PostgreSQL folds every letter.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from quietshop.accounts import addresses
from quietshop.accounts.models import Address, Customer
from quietshop.accounts.numbers import parse_customer_number
from quietshop.accounts.signin import email_key
from quietshop.errors import InvalidInput, NotFound

MIN_NAME_QUERY = 2
MAX_QUERY = 200
MAX_RESULTS = 50
MAX_OFFSET = 1_000
MAX_POSTCODE = 40

# What a lookup and a record show of the customer row; the staff table decides which of
# these a role reads. Never the hashes, keys or sign-in counters.
CUSTOMER_COLUMNS = (
    "id",
    "customer_number",
    "name",
    "email",
    "phone",
    "email_verified_at",
    "created_at",
    "closed_at",
)
ADDRESS_COLUMNS = (
    "id",
    "customer_id",
    "kind",
    "name",
    "line1",
    "line2",
    "city",
    "region",
    "postcode",
    "country",
    "created_at",
)
_SELECTED = tuple(getattr(Customer, name) for name in CUSTOMER_COLUMNS)
_NUMBER_CHARACTERS = frozenset("0123456789 -\u00a0\u202f\u2010\u2011\u2012\u2013")


@dataclass(frozen=True)
class Lookup:
    """One page of a lookup: ``by`` says how the text was read (customer_number, email or
    name), ``more`` whether another page follows."""

    by: str
    rows: list[dict[str, Any]]
    more: bool


@dataclass(frozen=True)
class CustomerRecord:
    id: int
    customer_number: str
    customer: dict[str, Any]
    addresses: list[dict[str, Any]]


def _clean_query(typed: str) -> str:
    text = unicodedata.normalize("NFC", typed.strip())
    if not text:
        raise InvalidInput("q", "type a customer number, an email address or a name")
    if len(text) > MAX_QUERY:
        raise InvalidInput("q", f"at most {MAX_QUERY} characters")
    if any(not ch.isprintable() for ch in text):
        raise InvalidInput("q", "must not contain control characters")
    return text


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput("limit", f"from 1 to {MAX_RESULTS}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("offset", f"from 0 to {MAX_OFFSET}: narrow the search instead")


def _like_pattern(text: str) -> str:
    """``text`` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def lookup_statement(typed: str, limit: int, offset: int = 0) -> tuple[str, Any]:
    """How ``typed`` is read (customer_number, email or name) and the page's statement,
    one row more than ``limit`` (it says whether another page follows); InvalidInput as
    ``look_up`` says."""
    _page(limit, offset)
    text = _clean_query(typed)
    statement = select(*_SELECTED).where(Customer.closed_at.is_(None))
    if set(text) <= _NUMBER_CHARACTERS:
        number = parse_customer_number(text)
        if number is None:
            raise InvalidInput("q", "this is not a valid customer number (check the digits)")
        by, statement = "customer_number", statement.where(Customer.customer_number == number)
    elif "@" in text:
        key = email_key(text)
        by = "email"
        statement = statement.where(or_(Customer.email_key == key, Customer.guest_key == key))
    else:
        if len(text) < MIN_NAME_QUERY:
            raise InvalidInput("q", f"type at least {MIN_NAME_QUERY} characters of a name")
        by = "name"
        statement = statement.where(Customer.name.ilike(_like_pattern(text), escape="\\"))
    return by, statement.order_by(Customer.name, Customer.id).limit(limit + 1).offset(offset)


def look_up(session: Session, typed: str, limit: int, offset: int = 0) -> Lookup:
    """Open customers by their number (exact; the check digit is checked first), their
    email address (exact, whatever its case; a guest's too) or their name (contains, at
    least two characters), ordered by name. InvalidInput names ``q`` for text that is none
    of these, ``limit`` and ``offset`` for a page out of bounds."""
    by, statement = lookup_statement(typed, limit, offset)
    found = session.execute(statement).all()
    rows = [dict(zip(CUSTOMER_COLUMNS, row, strict=True)) for row in found[:limit]]
    return Lookup(by, rows, more=len(found) > limit)


def _open_customer(session: Session, typed_number: str) -> tuple[Any, ...]:
    number = parse_customer_number(typed_number)
    if number is None:
        raise NotFound("customer")  # a number that cannot exist is not found, like a missing one
    row = session.execute(
        select(*_SELECTED).where(Customer.customer_number == number, Customer.closed_at.is_(None))
    ).first()
    if row is None:
        raise NotFound("customer")
    return tuple(row)


def customer_id_for(session: Session, typed_number: str) -> int:
    """The id of the open customer with this number; NotFound otherwise."""
    return int(_open_customer(session, typed_number)[0])


def address_row(address: Address) -> dict[str, Any]:
    return {name: getattr(address, name) for name in ADDRESS_COLUMNS}


def address_rows(session: Session, customer_id: int) -> list[dict[str, Any]]:
    return [address_row(address) for address in addresses.list_for(session, customer_id)]


def record(session: Session, typed_number: str) -> CustomerRecord:
    """The customer row and address book behind a number; NotFound for a closed account,
    one never issued, or text that is not a customer number at all."""
    customer = dict(zip(CUSTOMER_COLUMNS, _open_customer(session, typed_number), strict=True))
    return CustomerRecord(
        customer["id"],
        customer["customer_number"],
        customer,
        address_rows(session, customer["id"]),
    )


def customer_ids(session: Session, numbers: Iterable[str]) -> dict[str, int]:
    """Customer number -> id for the numbers that name a customer (closed ones too: their
    mail and their audit entries still belong to them)."""
    wanted = sorted({number for number in numbers if number})
    if not wanted:
        return {}
    rows = session.execute(
        select(Customer.customer_number, Customer.id).where(Customer.customer_number.in_(wanted))
    )
    return {number: customer_id for number, customer_id in rows}


# ---------------------------------------------------------------- the caller's postcode


def normalised_postcode(typed: str) -> str:
    """ "sw1a 1aa", "SW1A1AA" and "SW1A-1AA" are one postcode: letters and digits only,
    case folded (NFKC first, so full-width digits count as digits)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", typed).casefold() if ch.isalnum())


def _digest(postcode: str) -> bytes:
    # Digests of equal length, so comparing takes the same time whatever was typed.
    return hashlib.sha256(postcode.encode()).digest()


def postcode_on_file(
    session: Session, customer_id: int, typed: str, also_on_file: Iterable[str] = ()
) -> bool:
    """Whether ``typed`` is the postcode of an address in the customer's book (or of
    ``also_on_file``: the addresses on their orders, which a guest's only are). Every
    postcode on file is compared, in constant time, whatever matched first."""
    if len(typed) > MAX_POSTCODE:
        raise InvalidInput("postcode", f"at most {MAX_POSTCODE} characters")
    wanted = normalised_postcode(typed)
    if not wanted:
        raise InvalidInput("postcode", "type the postcode the caller gives")
    on_file = session.execute(
        select(Address.postcode).where(Address.customer_id == customer_id)
    ).scalars()
    candidates = {normalised_postcode(code) for code in (*on_file, *also_on_file)} - {""}
    typed_digest, matched = _digest(wanted), False
    for candidate in sorted(candidates):
        matched |= hmac.compare_digest(_digest(candidate), typed_digest)
    return matched
