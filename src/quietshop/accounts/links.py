"""Mailed single-use links: verify an address (24 h), reset a password (1 h), confirm a
new address (24 h). Only the SHA-256 of a link's token is stored; a link works once, and a
reset link also dies with any password change made after it was sent."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from quietshop.accounts.models import Customer, OneTimeLink
from quietshop.accounts.tokens import digest
from quietshop.errors import InvalidInput

LIFETIMES = {
    "verify_email": timedelta(hours=24),
    "reset_password": timedelta(hours=1),
    "change_email": timedelta(hours=24),
    # In every order mail of a guest; a guest may decide weeks later to keep an account.
    "claim_guest": timedelta(days=30),
}
PATHS = {
    "verify_email": "/account/verify",
    "reset_password": "/account/reset",
    "change_email": "/account/confirm-email",
    "claim_guest": "/account/claim",
}
INVALID = "This link is not valid any more. It may have been used already or be too old."
INCOMPLETE = (
    "This link is incomplete: part of it may have been cut off when it was copied. "
    "Open it again from the message we sent, or copy the whole line."
)
# secrets.token_urlsafe(32): exactly 43 characters of the URL-safe alphabet. Anything else
# was cut short or mangled on its way from the mail, which is worth saying so.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def create(
    session: Session,
    customer_id: int,
    purpose: str,
    base_url: str,
    now: datetime,
    new_email: str | None = None,
) -> str:
    """A new link's URL (to be mailed); the token is not kept."""
    token = secrets.token_urlsafe(32)
    session.flush()  # the customer row the link points to, if it is still pending
    # A plain INSERT built once: a guest's claim link is made in every guest order.
    session.connection().execute(
        _INSERT_LINK,
        {
            "customer_id": customer_id,
            "purpose": purpose,
            "token_hash": digest(token),
            "new_email": new_email,
            "created_at": now,
            "expires_at": now + LIFETIMES[purpose],
            "used_at": None,
        },
    )
    # A guest's claim link keeps its token in the fragment, which no browser sends: the
    # page's script reads it (the older account links use the query, as their pages do).
    separator = "#" if purpose == "claim_guest" else "?"
    return f"{base_url}{PATHS[purpose]}{separator}token={token}"


_INSERT_LINK = insert(OneTimeLink)


def redeem(
    session: Session, purpose: str, token: str, now: datetime
) -> tuple[OneTimeLink, Customer]:
    """Use a link once; InvalidInput (nothing changed) for a replayed, expired or forged one,
    and one that says "incomplete" for a token that is not the shape of any link."""
    if not TOKEN_SHAPE.match(token):
        raise InvalidInput("token", INCOMPLETE)
    row = session.execute(
        select(OneTimeLink, Customer)
        .join(Customer, Customer.id == OneTimeLink.customer_id)
        .where(OneTimeLink.token_hash == digest(token), OneTimeLink.purpose == purpose)
    ).first()
    if row is None:
        raise InvalidInput("token", INVALID)
    link, customer = row
    stale = purpose == "reset_password" and link.created_at < customer.password_changed_at
    if link.used_at is not None or now >= link.expires_at or stale or customer.closed_at:
        raise InvalidInput("token", INVALID)
    link.used_at = now
    session.flush()
    return link, customer
