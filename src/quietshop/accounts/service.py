"""Account rules: registration, email verification, profile, passwords, closing, export.

Every mail goes through the mail domain's outbox in the same transaction (P4); the
mailing opt-in is the mail domain's row, told of every change here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quietshop.accounts import addresses, links, passwords, tokens
from quietshop.accounts.models import Customer, CustomerToken
from quietshop.accounts.numbers import new_customer_number, parse_customer_number
from quietshop.accounts.signin import email_key, open_customer_by_email
from quietshop.errors import InvalidInput, NotFound
from quietshop.mail import service as mail
from quietshop.settings import Settings

MAX_NAME = 200
MAX_PHONE = 40
PHONE_CHARACTERS = set("0123456789+-() ./")


@dataclass(frozen=True)
class Registration:
    name: str
    email: str
    password: str
    phone: str = ""
    mailing_opt_in: bool = False


def _clean_name(name: str) -> str:
    name = name.strip()
    mail.check_header_text("name", name, required=True)  # it goes into mail headers
    return name


def _clean_phone(phone: str) -> str:
    phone = phone.strip()
    if len(phone) > MAX_PHONE or not set(phone) <= PHONE_CHARACTERS:
        raise InvalidInput("phone", "use digits, spaces and + - ( ) only, at most 40")
    return phone


def _clean_email(email: str) -> str:
    email = email.strip()
    mail.check_address("email", email)
    return email


def _recipient(customer: Customer) -> mail.Recipient:
    return mail.Recipient(customer.email, customer.name, customer.customer_number)


def _email_in_use(session: Session, email: str) -> bool:
    taken = session.execute(select(Customer.id).where(Customer.email_key == email_key(email)))
    return taken.first() is not None


def register(session: Session, settings: Settings, data: Registration, now: datetime) -> Customer:
    """A new customer with a fresh customer number, and the verification mail queued."""
    name, email = _clean_name(data.name), _clean_email(data.email)
    phone = _clean_phone(data.phone)
    passwords.check_password_policy(data.password, email=email, name=name)
    if _email_in_use(session, email):
        raise InvalidInput("email", "an account with this email address exists; sign in instead")
    customer = Customer(
        customer_number=_unused_customer_number(session),
        name=name,
        email=email,
        email_key=email_key(email),
        phone=phone,
        password_hash=passwords.hash_password(data.password),
        password_changed_at=now,
        created_at=now,
    )
    session.add(customer)
    try:
        session.flush()
    except IntegrityError:  # a twin registration won the race for this address
        raise InvalidInput("email", "an account with this email address exists") from None
    mail.set_mailing_opt_in(session, customer.customer_number, email, name, data.mailing_opt_in)
    _queue_verification(session, settings, customer, now)
    return customer


def _unused_customer_number(session: Session) -> str:
    while True:
        number = new_customer_number()
        if not session.execute(
            select(Customer.id).where(Customer.customer_number == number)
        ).first():
            return number


def _queue_verification(
    session: Session, settings: Settings, customer: Customer, now: datetime
) -> None:
    link = links.create(session, customer, "verify_email", settings.base_url, now)
    mail.queue_message(
        session, settings, "email_verification", _recipient(customer), {"link": link}
    )


def verify_email(session: Session, token: str, now: datetime) -> Customer:
    _, customer = links.redeem(session, "verify_email", token, now)
    customer.email_verified_at = customer.email_verified_at or now
    return customer


def find_by_number(session: Session, typed: str) -> Customer:
    """Customer service's lookup: the check digit is checked before any query (P9).
    Accepts the number as printed ("2442 7250 94") or plain."""
    number = parse_customer_number(typed)
    if number is None:
        raise InvalidInput("customer_number", "this is not a valid customer number")
    customer = session.execute(
        select(Customer).where(Customer.customer_number == number, Customer.closed_at.is_(None))
    ).scalar()
    if customer is None:
        raise NotFound("customer")
    return customer


# ---------------------------------------------------------------- profile and passwords


def update_profile(
    session: Session, customer: Customer, name: str | None, phone: str | None
) -> Customer:
    if name is not None:
        customer.name = _clean_name(name)
    if phone is not None:
        customer.phone = _clean_phone(phone)
    session.flush()
    return customer


def set_mailing_preference(session: Session, customer: Customer, opted_in: bool) -> None:
    mail.set_mailing_opt_in(
        session, customer.customer_number, customer.email, customer.name, opted_in
    )


def change_password(
    session: Session, customer: Customer, current: str, new: str, now: datetime
) -> None:
    """Asks the current password; every sign-in of the account ends (P8)."""
    if not passwords.verify_password(customer.password_hash, current):
        raise InvalidInput("current_password", "is not your current password")
    passwords.check_password_policy(new, email=customer.email, name=customer.name)
    _set_password(session, customer, new, now)


def _set_password(session: Session, customer: Customer, new: str, now: datetime) -> None:
    customer.password_hash = passwords.hash_password(new)
    customer.password_changed_at = now
    customer.failed_sign_ins, customer.locked_until = 0, None
    tokens.revoke_all(session, customer.id, now)
    session.flush()


def request_password_reset(session: Session, settings: Settings, email: str, now: datetime) -> None:
    """Mail a reset link if the address has an account; the caller answers the same either way."""
    customer = open_customer_by_email(session, email)
    if customer is None:
        return
    link = links.create(session, customer, "reset_password", settings.base_url, now)
    mail.queue_message(session, settings, "password_reset", _recipient(customer), {"link": link})


def reset_password(session: Session, token: str, new: str, now: datetime) -> None:
    _, customer = links.redeem(session, "reset_password", token, now)
    passwords.check_password_policy(new, email=customer.email, name=customer.name)
    _set_password(session, customer, new, now)


def request_email_change(
    session: Session, settings: Settings, customer: Customer, new_email: str, now: datetime
) -> None:
    """A link to the new address confirms it; the old address is told."""
    new_email = _clean_email(new_email)
    if _email_in_use(session, new_email):
        raise InvalidInput("email", "another account uses this address")
    link = links.create(session, customer, "change_email", settings.base_url, now, new_email)
    mail.queue_message(
        session, settings, "email_change",
        mail.Recipient(new_email, customer.name, customer.customer_number), {"link": link},
    )  # fmt: skip
    mail.queue_message(
        session, settings, "email_change_notice", _recipient(customer), {"new_email": new_email}
    )


def confirm_email_change(session: Session, token: str, now: datetime) -> Customer:
    link, customer = links.redeem(session, "change_email", token, now)
    if link.new_email is None:
        raise InvalidInput("token", links.INVALID)
    if _email_in_use(session, link.new_email):
        raise InvalidInput("email", "another account uses this address now")
    customer.email, customer.email_key = link.new_email, email_key(link.new_email)
    customer.email_verified_at = now
    mail.set_mailing_opt_in(
        session, customer.customer_number, customer.email, customer.name,
        mail.is_opted_in(session, customer.customer_number),
    )  # fmt: skip
    session.flush()
    return customer


# ---------------------------------------------------------------- leaving and taking one's data

# Columns that are secrets or bookkeeping, not facts about the customer.
NOT_EXPORTED = {
    "password_hash": "stored only as an argon2id hash",
    "token_hash": None,
    "email_key": None,
}


def _row(record: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for column in inspect(record).mapper.column_attrs:
        if column.key in NOT_EXPORTED:
            if NOT_EXPORTED[column.key]:
                data[column.key] = NOT_EXPORTED[column.key]
            continue
        value = getattr(record, column.key)
        data[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return data


def export_data(session: Session, customer: Customer) -> dict[str, Any]:
    """Every personal datum held about the customer, generated from the tables themselves."""
    sign_ins = session.execute(
        select(CustomerToken).where(CustomerToken.customer_id == customer.id)
    ).scalars()
    return {
        "customer": _row(customer),
        "addresses": [_row(a) for a in addresses.list_for(session, customer)],
        "sign_ins": [_row(t) for t in sign_ins],
        "mail": mail.export_for_customer(session, customer.customer_number),
    }


def close_account(
    session: Session, settings: Settings, customer: Customer, password: str, now: datetime
) -> None:
    """Erase personal data, keep the customer number (order records refer to it), end every
    sign-in, stop mailings, and confirm by mail to the address being erased. The password
    confirms it is really the customer."""
    if not passwords.verify_password(customer.password_hash, password):
        raise InvalidInput("password", "is not your password")
    mail.queue_message(session, settings, "account_closed", _recipient(customer), {})
    mail.set_mailing_opt_in(session, customer.customer_number, customer.email, customer.name, False)
    mail.forget_subscriber(session, customer.customer_number)
    tokens.revoke_all(session, customer.id, now)
    for address in addresses.list_for(session, customer):
        session.delete(address)
    erased = f"closed-{customer.customer_number}@erased.invalid"
    customer.name, customer.phone = "Closed account", ""
    customer.email, customer.email_key = erased, erased
    customer.password_hash = passwords.hash_password(secrets.token_urlsafe(32))
    customer.closed_at = now
    session.flush()
