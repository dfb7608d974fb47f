"""Public privacy pages: the policy (current and past versions) and the leaving-site notice."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from quietshop.errors import InvalidInput
from quietshop.privacy import service
from quietshop.web.dependencies import db_session
from quietshop.web.pages import public_page

router = APIRouter(include_in_schema=False)
DbSession = Annotated[Session, Depends(db_session)]


@router.get("/privacy", response_class=HTMLResponse)
def privacy_policy(request: Request, session: DbSession) -> HTMLResponse:
    policy = service.current_policy(session, "privacy")
    history = service.policy_history(session, "privacy")
    return public_page(request, "privacy.html", policy=policy, history=history)


@router.get("/privacy/versions/{version}", response_class=HTMLResponse)
def privacy_policy_version(
    request: Request, session: DbSession, version: Annotated[int, Path(ge=1, le=1_000_000)]
) -> HTMLResponse:
    policy = service.policy_version(session, "privacy", version)
    history = service.policy_history(session, "privacy")
    return public_page(request, "privacy.html", policy=policy, history=history)


@router.get("/leaving", response_class=HTMLResponse)
def leaving_notice(
    request: Request, to: Annotated[str, Query(min_length=1, max_length=2000)]
) -> HTMLResponse:
    """Links that leave the shop pass here first (P2): the visitor sees where they are going."""
    try:
        target = urlsplit(to)
    except ValueError:
        raise InvalidInput("to", "is not a web address") from None
    if target.scheme not in ("http", "https") or not target.hostname:
        raise InvalidInput("to", "must be an http or https address")
    return public_page(request, "leaving.html", target=to, host=target.hostname)
