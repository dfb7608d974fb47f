"""Signing in: the same answer, in about the same time, for an unknown address and a wrong
password; 10 failures lock an account for 30 minutes. (The per-address limit on attempts
is web/limits.py, counted by the routes.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.accounts import passwords, tokens
from quietshop.accounts.models import Customer
from quietshop.settings import Settings

FAILED = "The email address or the password is wrong, or the account is locked for a while."


def email_key(email: str) -> str:
    return email.strip().casefold()


@dataclass(frozen=True)
class SignInResult:
    """A token on success; otherwise ``failure`` says why, in words safe to show anyone."""

    token: str | None
    customer_number: str | None
    failure: str | None = None
    expires_at: datetime | None = None


def open_customer_by_email(session: Session, email: str) -> Customer | None:
    """The account (not closed) that uses this address, whatever its case."""
    return session.execute(
        select(Customer).where(Customer.email_key == email_key(email), Customer.closed_at.is_(None))
    ).scalar()


def sign_in(
    session: Session, settings: Settings, email: str, password: str, now: datetime
) -> SignInResult:
    """Check the password and record the outcome; the caller commits either way, so a
    failure still counts towards the lock."""
    customer = open_customer_by_email(session, email)
    if customer is None:
        passwords.verify_password(passwords.DUMMY_HASH, password)  # same time as a real check
        return SignInResult(None, None, FAILED)
    if customer.locked_until is not None and now < customer.locked_until:
        passwords.verify_password(passwords.DUMMY_HASH, password)
        return SignInResult(None, None, FAILED)
    if customer.password_hash is None or not passwords.verify_password(
        customer.password_hash, password
    ):
        _count_failure(customer, settings, now)
        return SignInResult(None, None, FAILED)
    customer.failed_sign_ins, customer.locked_until = 0, None
    if passwords.needs_rehash(customer.password_hash):  # set: checked just above
        customer.password_hash = passwords.hash_password(password)
    token = tokens.issue(session, customer, settings, now)
    return SignInResult(
        token, customer.customer_number, expires_at=tokens.absolute_expiry(settings, now)
    )


def _count_failure(customer: Customer, settings: Settings, now: datetime) -> None:
    customer.failed_sign_ins += 1
    if customer.failed_sign_ins >= settings.sign_in_max_failures:
        customer.locked_until = now + timedelta(minutes=settings.sign_in_lock_minutes)
        customer.failed_sign_ins = 0
