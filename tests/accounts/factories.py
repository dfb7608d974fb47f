"""Account factories: registered customers, signed in or not, at a controllable time."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.accounts import service, signin
from quietshop.accounts.models import Customer
from quietshop.accounts.tokens import SignedInCustomer
from quietshop.mail import sealing
from quietshop.mail.models import OutboxMessage
from quietshop.settings import Settings
from tests.clock import T0

__all__ = ["PASSWORD", "T0", "Account", "link_in", "mails_to", "make_customer", "token_for"]

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Account:
    customer: Customer
    email: str
    password: str

    @property
    def signed_in(self) -> SignedInCustomer:
        """What a live token of this customer resolves to."""
        c = self.customer
        return SignedInCustomer(c.id, c.customer_number, c.name, c.email)


def make_customer(
    db: Session,
    settings: Settings,
    *,
    name: str = "Ann Example",
    email: str | None = None,
    opt_in: bool = False,
    verified: bool = False,
    now: datetime = T0,
) -> Account:
    """A customer registered through the service (``verified``: the mailed link opened)."""
    email = email or f"customer{next(_numbers)}@example.org"
    service.register(db, settings, service.Registration(name, email, PASSWORD, "", opt_in), now)
    customer = db.execute(select(Customer).where(Customer.email == email)).scalar_one()
    if verified:
        service.verify_email(db, link_in(mails_to(db, email)[-1], settings), now)
    return Account(customer, email, PASSWORD)


def token_for(db: Session, settings: Settings, account: Account, now: datetime = T0) -> str:
    result = signin.sign_in(db, settings, account.email, account.password, now)
    assert result.token is not None, result.failure
    return result.token


def mails_to(db: Session, address: str) -> list[OutboxMessage]:
    return list(
        db.execute(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == address)
            .order_by(OutboxMessage.id)
        ).scalars()
    )


def link_in(message: OutboxMessage, settings: Settings) -> str:
    """The token of the one-time link a queued message will carry, opened with the shop's
    key as the sender would (the stored body holds only a placeholder)."""
    assert message.sealed_context is not None, "this message carries no one-time link"
    assert "[[link:link]]" in message.text_body
    link = sealing.unseal_links(settings, message.sealed_context)["link"]
    return link.split("token=", 1)[1]
