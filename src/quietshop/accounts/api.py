"""The account API under /api/v1/auth and /api/v1/account. Routes are plain ``def``: they
hash passwords or write, so FastAPI runs them in its thread pool.

Every route that costs an argon2id hash or sends mail counts against the per-address
limit first (``count_attempt``); every signed-in route is a ``SignedInRoute``, so a
request without a token is refused before its body is read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from quietshop.accounts import addresses, service, signin, tokens
from quietshop.accounts.auth import signed_in
from quietshop.accounts.schemas import (
    AddressIn,
    AddressOut,
    ClaimGuestIn,
    CloseIn,
    EmailIn,
    MailingIn,
    MessageOut,
    NewEmailIn,
    NewPasswordIn,
    PasswordChangeIn,
    ProfileIn,
    ProfileOut,
    RegisteredOut,
    RegisterIn,
    SignedInOut,
    SignInIn,
    StaffAccessOut,
    TokenIn,
)
from quietshop.db import MAX_ROW_ID
from quietshop.errors import Unauthorized
from quietshop.privacy.personal_data import PersonalDataRegistry
from quietshop.web.dependencies import (
    bearer_token,
    count_attempt,
    now,
    settings,
    write_session,
)
from quietshop.web.routing import TOO_MANY, SignedInRoute
from quietshop.web.state import app_state

router = APIRouter(prefix="/api/v1", tags=["account"])
account_router = APIRouter(prefix="/api/v1", tags=["account"], route_class=SignedInRoute)

RESET_ANSWER = "If an account uses this address, we have sent it a link to reset the password."
REGISTERED_ANSWER = (
    "Thank you. We sent a message to this address: open the link in it to confirm the "
    "address. Then sign in; your customer number is in the message and on your account page."
)
AddressId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="An address of yours")]


def _registry(request: Request) -> PersonalDataRegistry:
    return app_state(request).part(PersonalDataRegistry)


@router.post("/auth/register", status_code=202, response_model=RegisteredOut, responses=TOO_MANY)
def register(request: Request, body: RegisterIn) -> RegisteredOut:
    """The same answer whether or not the address already has an account (its owner is
    told by mail instead), so registering reveals nobody."""
    count_attempt(request)
    data = service.Registration(**body.model_dump())
    with write_session(request) as session:
        service.register(session, settings(request), data, now(request))
    return RegisteredOut(message=REGISTERED_ANSWER)


@router.post(
    "/auth/sign-in",
    response_model=SignedInOut,
    responses={**TOO_MANY, 401: {"description": "Wrong address or password, or locked"}},
)
def sign_in(request: Request, body: SignInIn) -> SignedInOut:
    count_attempt(request)
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


@account_router.post(
    "/auth/sign-out",
    status_code=204,
    description=(
        "End the sign-in this token belongs to. A token already ended (or never issued) has "
        "no sign-in left to end: the answer is 204 all the same. Without a token, 401."
    ),
)
def sign_out(request: Request) -> Response:
    token = bearer_token(request)
    with write_session(request) as session:
        tokens.revoke(session, token, now(request))
    return Response(status_code=204)


@account_router.post("/auth/sign-out-everywhere", status_code=204)
def sign_out_everywhere(request: Request) -> Response:
    with signed_in(request, write=True) as (session, customer):
        tokens.revoke_all(session, customer.id, now(request))
    return Response(status_code=204)


@router.post("/auth/claim-guest", response_model=MessageOut, responses=TOO_MANY)
def claim_guest(request: Request, body: ClaimGuestIn) -> MessageOut:
    """A guest sets a password from the link in an order mail, and so has an account."""
    count_attempt(request)
    with write_session(request) as session:
        number = service.claim_guest(session, body.token, body.password, now(request))
    return MessageOut(
        message=f"Your account is ready: sign in with your address and this password. "
        f"Your customer number is {number}."
    )


@router.post("/auth/verify-email", response_model=MessageOut)
def verify_email(request: Request, body: TokenIn) -> MessageOut:
    with write_session(request) as session:
        service.verify_email(session, body.token, now(request))
    return MessageOut(message="Thank you: your email address is confirmed.")


@router.post("/auth/password-reset", status_code=202, response_model=MessageOut, responses=TOO_MANY)
def request_password_reset(request: Request, body: EmailIn) -> MessageOut:
    count_attempt(request)
    with write_session(request) as session:
        service.request_password_reset(session, settings(request), body.email, now(request))
    return MessageOut(message=RESET_ANSWER)


@router.post("/auth/password-reset/confirm", response_model=MessageOut, responses=TOO_MANY)
def reset_password(request: Request, body: NewPasswordIn) -> MessageOut:
    count_attempt(request)
    with write_session(request) as session:
        service.reset_password(session, body.token, body.new_password, now(request))
    return MessageOut(message="Your password is changed. Please sign in with it.")


@router.post("/auth/email-change/confirm", response_model=MessageOut)
def confirm_email_change(request: Request, body: TokenIn) -> MessageOut:
    with write_session(request) as session:
        service.confirm_email_change(session, body.token, now(request))
    return MessageOut(message="Your new email address is confirmed.")


# ---------------------------------------------------------------- the account


def _profile_out(profile: service.Profile) -> ProfileOut:
    return ProfileOut.model_validate(profile, from_attributes=True)


@account_router.get("/account", response_model=ProfileOut)
def profile(request: Request) -> ProfileOut:
    with signed_in(request) as (session, customer):
        return _profile_out(service.profile(session, customer))


@account_router.patch("/account", response_model=ProfileOut)
def update_profile(request: Request, body: ProfileIn) -> ProfileOut:
    with signed_in(request, write=True) as (session, customer):
        service.update_profile(session, customer, body.name, body.phone)
        return _profile_out(service.profile(session, customer))


@account_router.put("/account/mailing", response_model=ProfileOut)
def set_mailing(request: Request, body: MailingIn) -> ProfileOut:
    with signed_in(request, write=True) as (session, customer):
        service.set_mailing_preference(session, customer, body.opted_in, now(request))
        return _profile_out(service.profile(session, customer))


@account_router.post("/account/password", status_code=204, responses=TOO_MANY)
def change_password(request: Request, body: PasswordChangeIn) -> Response:
    count_attempt(request)
    with signed_in(request, write=True) as (session, customer):
        service.change_password(
            session, customer, body.current_password, body.new_password, now(request)
        )
    return Response(status_code=204)


@account_router.post(
    "/account/email", status_code=202, response_model=MessageOut, responses=TOO_MANY
)
def change_email(request: Request, body: NewEmailIn) -> MessageOut:
    count_attempt(request)
    with signed_in(request, write=True) as (session, customer):
        service.request_email_change(session, settings(request), customer, body.email, now(request))
    return MessageOut(message="We sent a link to the new address; it changes once you open it.")


@account_router.post(
    "/account/verification-mail", status_code=202, response_model=MessageOut, responses=TOO_MANY
)
def resend_verification(request: Request) -> MessageOut:
    """Send a new link that confirms the account's address."""
    count_attempt(request)
    with signed_in(request, write=True) as (session, customer):
        service.resend_verification(session, settings(request), customer, now(request))
    return MessageOut(message="We sent a new link to your address; it works for 24 hours.")


@account_router.get("/account/addresses", response_model=list[AddressOut])
def list_addresses(request: Request) -> list[AddressOut]:
    with signed_in(request) as (session, customer):
        return [AddressOut.model_validate(a) for a in addresses.list_for(session, customer.id)]


@account_router.post("/account/addresses", status_code=201, response_model=AddressOut)
def add_address(request: Request, body: AddressIn) -> AddressOut:
    data = addresses.AddressInput(**body.model_dump())
    with signed_in(request, write=True) as (session, customer):
        address = addresses.add(session, customer.id, data, now(request))
        return AddressOut.model_validate(address)


@account_router.put("/account/addresses/{address_id}", response_model=AddressOut)
def update_address(request: Request, address_id: AddressId, body: AddressIn) -> AddressOut:
    data = addresses.AddressInput(**body.model_dump())
    with signed_in(request, write=True) as (session, customer):
        address = addresses.update(session, customer.id, address_id, data)
        return AddressOut.model_validate(address)


@account_router.delete("/account/addresses/{address_id}", status_code=204)
def delete_address(request: Request, address_id: AddressId) -> Response:
    with signed_in(request, write=True) as (session, customer):
        addresses.delete(session, customer.id, address_id)
    return Response(status_code=204)


@account_router.get("/account/staff-access", response_model=list[StaffAccessOut])
def staff_access(request: Request) -> list[StaffAccessOut]:
    """Who at the shop looked at my data: every staff access, newest first (at most 200),
    with the role, the kind of data and the stated purpose; never the person."""
    with signed_in(request) as (session, customer):
        found = service.staff_access(session, customer)
    return [StaffAccessOut.model_validate(access) for access in found]


@account_router.get("/account/export")
def export(request: Request) -> JSONResponse:
    """Everything held about me, in every part of the shop, as a JSON file to keep."""
    with signed_in(request) as (session, customer):
        data = service.export_data(session, customer, _registry(request), now(request))
    return JSONResponse(
        data,
        headers={"content-disposition": f'attachment; filename="quietshop-{customer.number}.json"'},
    )


@account_router.post("/account/close", status_code=204, responses=TOO_MANY)
def close(request: Request, body: CloseIn) -> Response:
    """Close the account for good; the password confirms it is really the customer."""
    count_attempt(request)
    with signed_in(request, write=True) as (session, customer):
        service.close_account(
            session, settings(request), customer, body.password, now(request), _registry(request)
        )
    service.erase_leftovers(settings(request), app_state(request).sessions, customer.email)
    return Response(status_code=204)
