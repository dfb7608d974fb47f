"""The bearer-token road into a customer's own data: every account route goes through
``signed_in(request)``, and nothing else reads a customer by a token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session

from quietshop.accounts import tokens
from quietshop.accounts.models import Customer
from quietshop.accounts.signin import AttemptLimiter
from quietshop.errors import Unauthorized
from quietshop.web.dependencies import settings, write_session


def now(request: Request) -> datetime:
    """The app's clock (tests move it to expire tokens)."""
    clock = request.app.state.clock
    moment: datetime = clock()
    return moment


def limiter(request: Request) -> AttemptLimiter:
    return request.app.state.sign_in_limiter  # type: ignore[no-any-return]


def bearer_token(request: Request) -> str:
    """The token from ``Authorization: Bearer ...``; never from a URL, never from a cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


@contextmanager
def signed_in(request: Request) -> Iterator[tuple[Session, Customer]]:
    """A write session and the customer whose live token came with the request."""
    token = bearer_token(request)
    with write_session(request) as session:
        customer = tokens.authenticate(session, token, settings(request), now(request))
        yield session, customer


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
