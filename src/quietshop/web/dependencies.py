"""Request-scoped tools for routes: database sessions, the clock, the settings, the
templates, the bearer token and the client address. Every domain's routes use these."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session

from quietshop.db import transaction
from quietshop.errors import Unauthorized
from quietshop.settings import Settings
from quietshop.web.state import app_state
from quietshop.web.templating import Templates


@contextmanager
def read_session(request: Request) -> Iterator[Session]:
    """A session for one request's reads, closed as soon as the route has its data.

    Routes open it themselves rather than through ``Depends``: FastAPI's generator
    dependencies cost about 55 us a request here, an eighth of an uncached product page
    (docs/decisions/0001-no-depends.md). Reading routes never take the write lock.
    """
    with app_state(request).sessions() as session:
        yield session


@contextmanager
def write_session(request: Request) -> Iterator[Session]:
    """A session whose changes commit together when the block ends, or not at all.

    Use it from plain ``def`` routes, which FastAPI runs in its thread pool: a write may
    wait for a lock, and that wait must not stall the event loop."""
    with transaction(app_state(request).sessions) as session:
        yield session


def now(request: Request) -> datetime:
    """The app's clock (tests hand build_app one they move)."""
    return app_state(request).clock()


def templates(request: Request) -> Templates:
    return app_state(request).templates


def settings(request: Request) -> Settings:
    return app_state(request).settings


def bearer_token(request: Request) -> str:
    """The token from ``Authorization: Bearer ...``; never from a URL, never from a cookie."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def count_attempt(request: Request) -> None:
    """Count one costly attempt (a hash, a mail) from this client; 429 once over the limit."""
    app_state(request).limiter.check(client_address(request))
