"""Account factories: registered customers, signed in or not, at a controllable time."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from quietshop.accounts import service, signin
from quietshop.accounts.models import Customer
from quietshop.settings import Settings

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Account:
    customer: Customer
    email: str
    password: str


def make_customer(
    db: Session,
    settings: Settings,
    *,
    name: str = "Ann Example",
    email: str | None = None,
    opt_in: bool = False,
    now: datetime = T0,
) -> Account:
    email = email or f"customer{next(_numbers)}@example.org"
    customer = service.register(
        db, settings, service.Registration(name, email, PASSWORD, "", opt_in), now
    )
    return Account(customer, email, PASSWORD)


def token_for(db: Session, settings: Settings, account: Account, now: datetime = T0) -> str:
    result = signin.sign_in(db, settings, account.email, account.password, now)
    assert result.token is not None, result.failure
    return result.token
