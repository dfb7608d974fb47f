"""The bearer-token road into a customer's own data: every account route goes through
``signed_in(request)``, and nothing else reads a customer by a token.

Reading routes read: the token is checked in the route's read session, and its last use
is recorded, at most once a minute, in a short write of its own afterwards. So a signed-in
GET never takes SQLite's write lock for the length of the route.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.orm import Session

from quietshop.accounts import tokens
from quietshop.accounts.tokens import SignedInCustomer
from quietshop.web.dependencies import bearer_token, now, read_session, settings, write_session

__all__ = ["SignedInCustomer", "maybe_signed_in", "signed_in"]


@contextmanager
def signed_in(
    request: Request, *, write: bool = False
) -> Iterator[tuple[Session, SignedInCustomer]]:
    """A session (a write transaction with ``write=True``) and the customer whose live token
    came with the request; Unauthorized (401) for no token or a dead one."""
    token = bearer_token(request)
    moment = now(request)
    opened = write_session(request) if write else read_session(request)
    with opened as session:
        found = tokens.authenticate(session, token, settings(request), moment)
        yield session, found.customer
        if write and found.touch_due:
            tokens.touch(session, found.token_id, moment)
    if not write and found.touch_due:
        with write_session(request) as session:
            tokens.touch(session, found.token_id, moment)


@contextmanager
def maybe_signed_in(
    request: Request, *, write: bool = False
) -> Iterator[tuple[Session, SignedInCustomer | None]]:
    """Like ``signed_in`` for routes a guest may use too (checkout): no Authorization
    header is a guest; a token that is sent must be live (401 otherwise), so a stale tab
    never places an order as a guest by surprise."""
    if not request.headers.get("authorization"):
        opened = write_session(request) if write else read_session(request)
        with opened as session:
            yield session, None
        return
    with signed_in(request, write=write) as (session, customer):
        yield session, customer
