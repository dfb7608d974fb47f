"""Request-scoped tools for routes: a database session, the templates, the settings."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from quietshop.settings import Settings
from quietshop.web.templating import Templates


def db_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    with factory() as session:
        yield session


def templates(request: Request) -> Templates:
    return request.app.state.templates  # type: ignore[no-any-return]


def settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]
