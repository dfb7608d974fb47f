"""Public privacy pages: the policy (current and past versions) and the leaving-site notice."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from quietshop.privacy import service
from quietshop.web.dependencies import read_session
from quietshop.web.pages import public_page

router = APIRouter(include_in_schema=False)


@router.get("/privacy", response_class=HTMLResponse)
async def privacy_policy(request: Request) -> HTMLResponse:
    with read_session(request) as session:
        policy, history = service.policy_with_history(session, "privacy")
    return public_page(request, "privacy/privacy.html", policy=policy, history=history)


@router.get("/privacy/versions/{version}", response_class=HTMLResponse)
async def privacy_policy_version(
    request: Request, version: Annotated[int, Path(ge=1, le=1_000_000)]
) -> HTMLResponse:
    with read_session(request) as session:
        policy, history = service.policy_with_history(session, "privacy", version)
    return public_page(request, "privacy/privacy.html", policy=policy, history=history)


@router.get("/leaving", response_class=HTMLResponse)
async def leaving_notice(
    request: Request, to: Annotated[str, Query(min_length=1, max_length=2000)]
) -> HTMLResponse:
    """Links that leave the shop pass here first (P2): the visitor sees where they are going."""
    host = service.leaving_host(to)
    return public_page(request, "privacy/leaving.html", target=to, host=host)
