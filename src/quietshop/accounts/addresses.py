"""The address book: shipping and billing addresses, with the fields each country needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.accounts.models import Address
from quietshop.errors import InvalidInput, NotFound

MAX_ADDRESSES = 50
# What a postcode looks like, and whether a region (state, province) is required.
COUNTRY_RULES: dict[str, tuple[re.Pattern[str] | None, bool]] = {
    "US": (re.compile(r"^\d{5}(-\d{4})?$"), True),
    "CA": (re.compile(r"^[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d$"), True),
    "GB": (re.compile(r"^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$"), False),
    "DE": (re.compile(r"^\d{5}$"), False),
    "FR": (re.compile(r"^\d{5}$"), False),
    "NL": (re.compile(r"^\d{4} ?[A-Za-z]{2}$"), False),
    "AU": (re.compile(r"^\d{4}$"), True),
    "IE": (None, False),  # Eircodes are optional
}
# Countries we ship to; others are refused with a clear message.
COUNTRIES = frozenset(COUNTRY_RULES) | {
    "AT",
    "BE",
    "CH",
    "DK",
    "ES",
    "FI",
    "IT",
    "NO",
    "NZ",
    "PT",
    "SE",
}

# What the address form, checkout and the order pages call each country.
COUNTRY_NAMES = {
    "AT": "Austria",
    "AU": "Australia",
    "BE": "Belgium",
    "CA": "Canada",
    "CH": "Switzerland",
    "DE": "Germany",
    "DK": "Denmark",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "IE": "Ireland",
    "IT": "Italy",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "PT": "Portugal",
    "SE": "Sweden",
    "US": "United States",
}


@dataclass(frozen=True)
class AddressInput:
    kind: str
    name: str
    line1: str
    city: str
    country: str
    line2: str = ""
    region: str = ""
    postcode: str = ""


def _text(field: str, value: str, limit: int, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(field, "is required")
    if len(value) > limit:
        raise InvalidInput(field, f"must be at most {limit} characters")
    if any(not ch.isprintable() for ch in value):
        raise InvalidInput(field, "must not contain control characters")
    return value


def validate(data: AddressInput) -> AddressInput:
    """A clean copy, or InvalidInput naming the first wrong field."""
    if data.kind not in ("shipping", "billing"):
        raise InvalidInput("kind", "must be shipping or billing")
    country = data.country.strip().upper()
    if country not in COUNTRIES:
        raise InvalidInput("country", "we do not ship to this country (use a two-letter code)")
    pattern, region_required = COUNTRY_RULES.get(country, (None, False))
    postcode = _text("postcode", data.postcode, 20, required=pattern is not None)
    if pattern is not None and not pattern.match(postcode):
        raise InvalidInput("postcode", f"is not a valid postcode for {country}")
    return AddressInput(
        kind=data.kind,
        name=_text("name", data.name, 200, required=True),
        line1=_text("line1", data.line1, 200, required=True),
        line2=_text("line2", data.line2, 200, required=False),
        city=_text("city", data.city, 100, required=True),
        region=_text("region", data.region, 100, required=region_required),
        postcode=postcode,
        country=country,
    )


def add(session: Session, customer_id: int, data: AddressInput, now: datetime) -> Address:
    clean = validate(data)
    count = len(list_for(session, customer_id))
    if count >= MAX_ADDRESSES:
        raise InvalidInput("addresses", f"an address book holds at most {MAX_ADDRESSES}")
    address = Address(customer_id=customer_id, created_at=now, **clean.__dict__)
    session.add(address)
    session.flush()
    return address


def list_for(session: Session, customer_id: int) -> list[Address]:
    return list(
        session.execute(
            select(Address).where(Address.customer_id == customer_id).order_by(Address.id)
        ).scalars()
    )


def get_for(session: Session, customer_id: int, address_id: int) -> Address:
    """The one road to an address: another customer's is "not found", like a missing one."""
    address = session.execute(
        select(Address).where(Address.id == address_id, Address.customer_id == customer_id)
    ).scalar()
    if address is None:
        raise NotFound("address")
    return address


def update(session: Session, customer_id: int, address_id: int, data: AddressInput) -> Address:
    address = get_for(session, customer_id, address_id)
    for key, value in validate(data).__dict__.items():
        setattr(address, key, value)
    session.flush()
    return address


def delete(session: Session, customer_id: int, address_id: int) -> None:
    session.delete(get_for(session, customer_id, address_id))
    session.flush()
