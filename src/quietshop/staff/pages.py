"""The back office's HTML shells: enrolment, sign-in, and the shell every staff screen
lives in, with its lock screen.

A shell holds no personal data and no token: its module script asks the JSON API for
everything with the staff token kept in ``sessionStorage`` (P1). The enrolment link's
token stays in the address's fragment, which no browser sends; the script reads it and
removes it. The routes touch no database, so they are plain ``async`` functions, and
their answers are ``no-store`` (the privacy middleware adds it).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from quietshop.staff.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from quietshop.web.dependencies import settings
from quietshop.web.pages import private_page

router = APIRouter(include_in_schema=False)

PASSWORD_RULES = {"password_min": MIN_PASSWORD_LENGTH, "password_max": MAX_PASSWORD_LENGTH}


@router.get("/staff", response_class=HTMLResponse)
async def shell(request: Request) -> HTMLResponse:
    return private_page(request, "staff/shell.html", **PASSWORD_RULES)


@router.get("/staff/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> HTMLResponse:
    minutes = settings(request).staff_idle_lock_minutes
    return private_page(request, "staff/sign_in.html", idle_lock_minutes=minutes, **PASSWORD_RULES)


@router.get("/staff/enrol", response_class=HTMLResponse)
async def enrol_page(request: Request) -> HTMLResponse:
    return private_page(request, "staff/enrol.html", **PASSWORD_RULES)


@router.post("/staff/needs-javascript", response_class=HTMLResponse)
async def needs_javascript(request: Request) -> HTMLResponse:
    """Where a staff form goes if it is somehow sent without its script. The body (maybe a
    password) is never read."""
    return private_page(request, "staff/needs_javascript.html")
