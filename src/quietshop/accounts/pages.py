"""The account screens' HTML shells: sign in, register, the account itself, and the pages
that mailed links open (verify an address, reset a password, confirm a new address).

A shell holds no personal data and no token: its module script asks the JSON API for
everything with the bearer token kept in ``sessionStorage`` (P1). A mailed link's one-time
token stays in the address bar, where the script reads it and then removes it; it is never
echoed into the page. The routes touch no database, so they are plain ``async`` functions
and their answers are ``no-store`` (the privacy middleware adds it).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from quietshop.accounts.addresses import COUNTRIES, COUNTRY_NAMES
from quietshop.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from quietshop.web.pages import private_page

router = APIRouter(include_in_schema=False)

COUNTRY_CHOICES = sorted(
    ((code, COUNTRY_NAMES.get(code, code)) for code in COUNTRIES), key=lambda item: item[1]
)
PASSWORD_RULES = {"password_min": MIN_PASSWORD_LENGTH, "password_max": MAX_PASSWORD_LENGTH}


@router.get("/account", response_class=HTMLResponse)
async def account_screen(request: Request) -> HTMLResponse:
    return private_page(
        request, "account/account.html", countries=COUNTRY_CHOICES, **PASSWORD_RULES
    )


@router.get("/account/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request) -> HTMLResponse:
    return private_page(request, "account/sign_in.html")


@router.get("/account/register", response_class=HTMLResponse)
async def register_page(request: Request) -> HTMLResponse:
    return private_page(request, "account/register.html", **PASSWORD_RULES)


@router.get("/account/verify", response_class=HTMLResponse)
async def verify_page(request: Request) -> HTMLResponse:
    return private_page(request, "account/verify.html")


@router.get("/account/reset", response_class=HTMLResponse)
async def reset_page(request: Request) -> HTMLResponse:
    """With a mailed link's token: choose a new password; without: ask for a reset link."""
    return private_page(request, "account/reset.html", **PASSWORD_RULES)


@router.get("/account/confirm-email", response_class=HTMLResponse)
async def confirm_email_page(request: Request) -> HTMLResponse:
    return private_page(request, "account/confirm_email.html")


@router.post("/account/needs-javascript", response_class=HTMLResponse)
async def needs_javascript(request: Request) -> HTMLResponse:
    """Where an account form goes if it is somehow sent without its script: a plain form
    cannot carry the sign-in header. The body (maybe a password) is never read."""
    return private_page(request, "account/needs_javascript.html")
