"""The staff API under /api/v1/staff: enrolment, sign-in, the session (me, lock, unlock,
sign-out). Routes are plain ``def``: they hash passwords or write, so FastAPI runs them in
its thread pool.

Sign-in, unlock and enrolment's second step cost an argon2id hash and count against the
per-address limit first (``count_attempt``). The session's routes are ``SignedInRoute``s:
without a token the answer is 401 before the body is read. ``me`` and ``lock`` go through
``staff_session``; unlock and sign-out take a locked session too, so they find it by their
own road in ``signin.unlock`` and ``sessions.end``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from quietshop.settings import Settings
from quietshop.staff import service, sessions, signin
from quietshop.staff.auth import staff_session
from quietshop.staff.schemas import (
    EnrolmentCompleteIn,
    EnrolmentIn,
    EnrolmentOut,
    MeOut,
    MessageOut,
    SignInIn,
    SignInWithCode,
    StaffSignedInOut,
    UnlockIn,
)
from quietshop.staff.second_factor import (
    PasskeyAssertion,
    SecondFactorProof,
    TotpCode,
    relying_party,
)
from quietshop.web.dependencies import (
    bearer_token,
    client_address,
    count_attempt,
    now,
    settings,
    write_session,
)
from quietshop.web.routing import TOO_MANY, Responses, SignedInRoute
from quietshop.web.state import app_state

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
staff_router = APIRouter(prefix="/api/v1/staff", tags=["staff"], route_class=SignedInRoute)

SIGN_IN_FAILED: Responses = {
    401: {"description": "sign_in_failed: one answer for every failure (no enumeration)"}
}
LOCKED: Responses = {
    401: {"description": "locked (enter the password), signed_out, or no valid sign-in"}
}


def _keys(request: Request) -> service.StaffKeys:
    return app_state(request).part(service.StaffKeys)


@router.post("/enrolment", response_model=EnrolmentOut, responses=TOO_MANY)
def start_enrolment(request: Request, body: EnrolmentIn) -> EnrolmentOut:
    """Step 1 of enrolment, with the token from the link's ``#token=``: a fresh TOTP
    secret, its otpauth:// URI and QR code. Asking again replaces the secret."""
    count_attempt(request)
    with write_session(request) as session:
        started = service.start_enrolment(
            session, settings(request), _keys(request), body.token, now(request)
        )
    return EnrolmentOut.model_validate(started, from_attributes=True)


@router.post("/enrolment/complete", response_model=MessageOut, responses=TOO_MANY)
def complete_enrolment(request: Request, body: EnrolmentCompleteIn) -> MessageOut:
    """Step 2: the password (at least 12 characters, letters and digits) and a current
    code from the app; the link is spent."""
    count_attempt(request)
    with write_session(request) as session:
        service.finish_enrolment(
            session, _keys(request), body.token, body.password, body.code, now(request)
        )
    return MessageOut(message="You are enrolled. Sign in with your password and a new code.")


def _proof(body: SignInIn, config: Settings) -> SecondFactorProof:
    if isinstance(body, SignInWithCode):
        return TotpCode(body.code)
    passkey = body.passkey
    return PasskeyAssertion(
        passkey.challenge_id, passkey.credential.as_json(), relying_party(config)
    )


@router.post("/sign-in", response_model=StaffSignedInOut, responses={**TOO_MANY, **SIGN_IN_FAILED})
def sign_in(request: Request, body: SignInIn) -> StaffSignedInOut:
    """The password and exactly one second factor: ``code`` (the app's), or ``passkey``
    (an assertion for a challenge from POST /api/v1/staff/sign-in/passkey-options)."""
    count_attempt(request)
    config = settings(request)
    attempt = signin.SignInAttempt(
        body.email, body.password, _proof(body, config), client_address(request)
    )
    signed_in = signin.sign_in(
        app_state(request).sessions, config, _keys(request), attempt, now(request)
    )
    return StaffSignedInOut(
        token=signed_in.token,
        expires_at=signed_in.expires_at,
        idle_lock_minutes=config.staff_idle_lock_minutes,
        roles=sorted(signed_in.roles),
    )


@staff_router.get("/me", response_model=MeOut, responses=LOCKED)
def me(request: Request) -> MeOut:
    with staff_session(request) as (_, staff):
        found = service.me(staff, settings(request))
    return MeOut.model_validate(found, from_attributes=True)


@staff_router.post("/lock", status_code=204, responses=LOCKED)
def lock(request: Request) -> Response:
    """Lock this session now (the screen's "Lock now" and its own idle timer)."""
    with staff_session(request, write=True) as (session, staff):
        sessions.lock(session, staff, now(request), "locked by the staff member")
    return Response(status_code=204)


@staff_router.post(
    "/unlock",
    status_code=204,
    responses={
        **TOO_MANY,
        401: {
            "description": "unlock_failed (wrong password), account_locked (10 failures), "
            "signed_out, or no valid sign-in"
        },
    },
)
def unlock(request: Request, body: UnlockIn) -> Response:
    """Open a locked session with the password only."""
    count_attempt(request)
    signin.unlock(
        app_state(request).sessions,
        settings(request),
        bearer_token(request),
        body.password,
        now(request),
    )
    return Response(status_code=204)


@staff_router.post("/sign-out", status_code=204)
def sign_out(request: Request) -> Response:
    """End this session, locked or not. One that has ended already: 204 all the same."""
    with write_session(request) as session:
        sessions.end(session, bearer_token(request), now(request))
    return Response(status_code=204)
