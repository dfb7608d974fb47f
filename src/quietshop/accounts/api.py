"""The account API under /api/v1/auth and /api/v1/account. Routes are plain ``def``: they
write (sign-in counters, last use of a token), so FastAPI runs them in its thread pool."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from quietshop.accounts import addresses, service, signin, tokens
from quietshop.accounts.auth import bearer_token, client_address, limiter, now, signed_in
from quietshop.accounts.models import Customer
from quietshop.accounts.schemas import (
    AddressIn,
    AddressOut,
    CloseIn,
    EmailIn,
    MailingIn,
    MessageOut,
    NewPasswordIn,
    PasswordChangeIn,
    ProfileIn,
    ProfileOut,
    RegisteredOut,
    RegisterIn,
    SignedInOut,
    SignInIn,
    TokenIn,
)
from quietshop.errors import Unauthorized
from quietshop.mail import service as mail
from quietshop.web.dependencies import settings, write_session

router = APIRouter(prefix="/api/v1", tags=["account"])

RESET_ANSWER = "If an account uses this address, we have sent it a link to reset the password."


@router.post("/auth/register", status_code=201, response_model=RegisteredOut)
def register(request: Request, body: RegisterIn) -> RegisteredOut:
    data = service.Registration(**body.model_dump())
    with write_session(request) as session:
        customer = service.register(session, settings(request), data, now(request))
        number = customer.customer_number
    return RegisteredOut(
        customer_number=number,
        message="Welcome. We sent you a link to confirm your email address.",
    )


@router.post("/auth/sign-in", response_model=SignedInOut)
def sign_in(request: Request, body: SignInIn) -> SignedInOut:
    limiter(request).check(client_address(request))
    moment = now(request)
    with write_session(request) as session:
        result = signin.sign_in(session, settings(request), body.email, body.password, moment)
    if result.token is None or result.customer_number is None or result.expires_at is None:
        raise Unauthorized(result.failure or signin.FAILED)  # after the failure was counted
    return SignedInOut(
        token=result.token,
        customer_number=result.customer_number,
        idle_minutes=settings(request).token_idle_minutes,
        expires_at=result.expires_at,
    )


@router.post("/auth/sign-out", status_code=204)
def sign_out(request: Request) -> Response:
    token = bearer_token(request)
    with write_session(request) as session:
        tokens.revoke(session, token, now(request))
    return Response(status_code=204)


@router.post("/auth/sign-out-everywhere", status_code=204)
def sign_out_everywhere(request: Request) -> Response:
    with signed_in(request) as (session, customer):
        tokens.revoke_all(session, customer.id, now(request))
    return Response(status_code=204)


@router.post("/auth/verify-email", response_model=MessageOut)
def verify_email(request: Request, body: TokenIn) -> MessageOut:
    with write_session(request) as session:
        service.verify_email(session, body.token, now(request))
    return MessageOut(message="Thank you: your email address is confirmed.")


@router.post("/auth/password-reset", status_code=202, response_model=MessageOut)
def request_password_reset(request: Request, body: EmailIn) -> MessageOut:
    limiter(request).check(client_address(request))
    with write_session(request) as session:
        service.request_password_reset(session, settings(request), body.email, now(request))
    return MessageOut(message=RESET_ANSWER)


@router.post("/auth/password-reset/confirm", response_model=MessageOut)
def reset_password(request: Request, body: NewPasswordIn) -> MessageOut:
    with write_session(request) as session:
        service.reset_password(session, body.token, body.new_password, now(request))
    return MessageOut(message="Your password is changed. Please sign in with it.")


@router.post("/auth/email-change/confirm", response_model=MessageOut)
def confirm_email_change(request: Request, body: TokenIn) -> MessageOut:
    with write_session(request) as session:
        service.confirm_email_change(session, body.token, now(request))
    return MessageOut(message="Your new email address is confirmed.")


# ---------------------------------------------------------------- the account


def _profile(session: Session, customer: Customer) -> ProfileOut:
    return ProfileOut(
        customer_number=customer.customer_number,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        email_verified=customer.email_verified_at is not None,
        mailing_opt_in=mail.is_opted_in(session, customer.customer_number),
    )


@router.get("/account", response_model=ProfileOut)
def profile(request: Request) -> ProfileOut:
    with signed_in(request) as (session, customer):
        return _profile(session, customer)


@router.patch("/account", response_model=ProfileOut)
def update_profile(request: Request, body: ProfileIn) -> ProfileOut:
    with signed_in(request) as (session, customer):
        service.update_profile(session, customer, body.name, body.phone)
        return _profile(session, customer)


@router.put("/account/mailing", response_model=ProfileOut)
def set_mailing(request: Request, body: MailingIn) -> ProfileOut:
    with signed_in(request) as (session, customer):
        service.set_mailing_preference(session, customer, body.opted_in)
        return _profile(session, customer)


@router.post("/account/password", status_code=204)
def change_password(request: Request, body: PasswordChangeIn) -> Response:
    with signed_in(request) as (session, customer):
        service.change_password(
            session, customer, body.current_password, body.new_password, now(request)
        )
    return Response(status_code=204)


@router.post("/account/email", status_code=202, response_model=MessageOut)
def change_email(request: Request, body: EmailIn) -> MessageOut:
    with signed_in(request) as (session, customer):
        service.request_email_change(session, settings(request), customer, body.email, now(request))
    return MessageOut(message="We sent a link to the new address; it changes once you open it.")


@router.get("/account/addresses", response_model=list[AddressOut])
def list_addresses(request: Request) -> list[AddressOut]:
    with signed_in(request) as (session, customer):
        return [AddressOut.model_validate(a) for a in addresses.list_for(session, customer)]


@router.post("/account/addresses", status_code=201, response_model=AddressOut)
def add_address(request: Request, body: AddressIn) -> AddressOut:
    with signed_in(request) as (session, customer):
        address = addresses.add(session, customer, addresses.AddressInput(**body.model_dump()))
        return AddressOut.model_validate(address)


@router.put("/account/addresses/{address_id}", response_model=AddressOut)
def update_address(request: Request, address_id: int, body: AddressIn) -> AddressOut:
    with signed_in(request) as (session, customer):
        address = addresses.update(
            session, customer, address_id, addresses.AddressInput(**body.model_dump())
        )
        return AddressOut.model_validate(address)


@router.delete("/account/addresses/{address_id}", status_code=204)
def delete_address(request: Request, address_id: int) -> Response:
    with signed_in(request) as (session, customer):
        addresses.delete(session, customer, address_id)
    return Response(status_code=204)


@router.get("/account/export")
def export(request: Request) -> JSONResponse:
    """Everything held about me, as a JSON file to keep."""
    with signed_in(request) as (session, customer):
        data = service.export_data(session, customer)
        number = customer.customer_number
    return JSONResponse(
        data,
        headers={"content-disposition": f'attachment; filename="quietshop-{number}.json"'},
    )


@router.post("/account/close", status_code=204)
def close(request: Request, body: CloseIn) -> Response:
    """Close the account for good; the password confirms it is really the customer."""
    with signed_in(request) as (session, customer):
        service.close_account(session, settings(request), customer, body.password, now(request))
    return Response(status_code=204)
