"""Unsubscribing from mailings: no sign-in, no JavaScript, one click (RFC 8058).

GET shows a confirmation form and changes nothing (mail scanners follow links);
POST turns mailings off at once, from that form or from a mail client's one-click
``List-Unsubscribe=One-Click`` request (whose body carries nothing we need: the token is
in the URL the message named). A forged or altered token is refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from quietshop.mail import service
from quietshop.web.dependencies import now, settings, write_session
from quietshop.web.pages import private_page

router = APIRouter(include_in_schema=False)

Token = Annotated[str, Query(min_length=1, max_length=100)]


@router.get("/unsubscribe", response_class=HTMLResponse)
def unsubscribe_form(request: Request, token: Token) -> HTMLResponse:
    service.customer_for_token(settings(request), token)  # refuse a forged link up front
    return private_page(request, "mail/unsubscribe.html", token=token, done=False)


@router.post("/unsubscribe", response_class=HTMLResponse)
def unsubscribe(request: Request, token: Token) -> HTMLResponse:
    with write_session(request) as session:
        service.unsubscribe(session, settings(request), token, now(request))
    return private_page(request, "mail/unsubscribe.html", token=token, done=True)
