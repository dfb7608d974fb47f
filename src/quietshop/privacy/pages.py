"""Public privacy pages: the policy (current and past versions) and the leaving-site notice."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from quietshop.errors import InvalidInput, NotFound
from quietshop.privacy import service
from quietshop.web.dependencies import read_session
from quietshop.web.pages import public_page

router = APIRouter(include_in_schema=False)


@router.get("/privacy", response_class=HTMLResponse)
async def privacy_policy(request: Request) -> HTMLResponse:
    with read_session(request) as session:
        history = service.policy_history(session, "privacy")
    if not history:
        raise NotFound("policy")
    policy = history[0]
    return public_page(request, "privacy.html", policy=policy, history=history)


@router.get("/privacy/versions/{version}", response_class=HTMLResponse)
async def privacy_policy_version(
    request: Request, version: Annotated[int, Path(ge=1, le=1_000_000)]
) -> HTMLResponse:
    with read_session(request) as session:
        history = service.policy_history(session, "privacy")
    policy = next((p for p in history if p.version == version), None)
    if policy is None:
        raise NotFound("policy")
    return public_page(request, "privacy.html", policy=policy, history=history)


@router.get("/leaving", response_class=HTMLResponse)
async def leaving_notice(
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
