"""The passkey routes of the staff API: a signed-in staff member's own passkeys (options,
add, list, remove) under /api/v1/staff/passkeys, and the options of a passkey sign-in.

The sign-in itself stays POST /api/v1/staff/sign-in (api.py), with ``passkey`` in place of
``code``. The options of a sign-in need no sign-in and name no one, so they count against
the per-address limit like the sign-in they start. Removing a passkey asks for the password
and costs a hash: counted too. Routes are plain ``def``: they write or hash.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, Response

from quietshop.db import MAX_ROW_ID
from quietshop.staff import passkeys
from quietshop.staff.auth import staff_session
from quietshop.staff.schemas import (
    PasskeyAddIn,
    PasskeyListOut,
    PasskeyOptionsIn,
    PasskeyOptionsOut,
    PasskeyOut,
    PasskeyRemoveIn,
)
from quietshop.staff.second_factor import relying_party
from quietshop.web.dependencies import count_attempt, now, settings, write_session
from quietshop.web.routing import TOO_MANY, DomainSite, Responses, SignedInRoute
from quietshop.web.state import app_state

PREFIX = "/api/v1/staff/passkeys"

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
staff_router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

LOCKED: Responses = {
    401: {"description": "locked (enter the password), signed_out, or no valid sign-in"}
}


@router.post("/sign-in/passkey-options", response_model=PasskeyOptionsOut, responses=TOO_MANY)
def sign_in_options(request: Request, body: PasskeyOptionsIn | None = None) -> PasskeyOptionsOut:
    """Options for ``navigator.credentials.get``: a fresh challenge (five minutes, once)
    and an empty ``allowCredentials``, the same for everyone."""
    count_attempt(request)
    with write_session(request) as session:
        ceremony = passkeys.sign_in_options(session, relying_party(settings(request)), now(request))
    return PasskeyOptionsOut(challenge_id=ceremony.challenge_id, options=ceremony.options)


@staff_router.post("/options", response_model=PasskeyOptionsOut, responses=LOCKED)
def registration_options(
    request: Request, body: PasskeyOptionsIn | None = None
) -> PasskeyOptionsOut:
    """Options for ``navigator.credentials.create``: a new passkey of the signed-in staff
    member (a discoverable credential, the user verified), excluding the ones they hold."""
    rp = relying_party(settings(request))
    with staff_session(request, write=True) as (session, staff):
        ceremony = passkeys.registration_options(session, rp, staff, now(request))
    return PasskeyOptionsOut(challenge_id=ceremony.challenge_id, options=ceremony.options)


@staff_router.post("", status_code=201, response_model=PasskeyOut, responses=LOCKED)
def add(request: Request, body: PasskeyAddIn) -> PasskeyOut:
    """Keep the passkey the browser made for the options' challenge."""
    rp = relying_party(settings(request))
    with staff_session(request, write=True) as (session, staff):
        added = passkeys.register(
            session,
            rp,
            staff,
            body.challenge_id,
            body.credential.as_json(),
            body.name,
            now(request),
        )
    return PasskeyOut.model_validate(added, from_attributes=True)


@staff_router.get("", response_model=PasskeyListOut, responses=LOCKED)
def list_own(request: Request) -> PasskeyListOut:
    """The signed-in staff member's passkeys: name, when added, when last used."""
    with staff_session(request) as (session, staff):
        found = passkeys.list_passkeys(session, staff.id)
    return PasskeyListOut.model_validate({"passkeys": found}, from_attributes=True)


@staff_router.delete(
    # Digits only, so that "options" is no passkey id: DELETE .../passkeys/options is 405.
    "/{passkey_id:int}",
    status_code=204,
    responses={**TOO_MANY, **LOCKED, 404: {"description": "No such passkey of yours"}},
)
def remove(
    request: Request,
    body: PasskeyRemoveIn,
    passkey_id: int = Path(ge=1, le=MAX_ROW_ID),
) -> Response:
    """Remove one of your passkeys; the password confirms it (a wrong one is 400 on
    ``password`` and counts toward the ten failures that lock the account)."""
    count_attempt(request)
    with staff_session(request) as (_, staff):
        pass  # the door: a live, unlocked session; the removal has its own transaction
    passkeys.remove_passkey(
        app_state(request).sessions, staff, passkey_id, body.password, now(request)
    )
    return Response(status_code=204)


# Beside the staff SITE (routes.py): the staff prefixes are private there already.
SITE = DomainSite(routers=(router, staff_router))
