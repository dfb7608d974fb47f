"""The owner's staff API under /api/v1/staff (issue 9 items 1 and 7): who works here, with
which roles, and the six-monthly access review.

Every route goes through ``staff_session`` asking for the roles the need-to-know table
grants ``manage_staff`` or ``review_access`` (the owner's): anyone else gets 403 and an
audit ``denied`` entry. Each change is a ``staff_change`` entry naming the owner and what
changed (never a link or a secret); adding someone answers with their one-time enrolment
link, which is never shown again (only its hash is kept). No change may leave the shop
without an active owner: 409 ``last_owner``. Routes are plain ``def`` (they write, or may
touch the session), run in the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from quietshop.db import MAX_ROW_ID
from quietshop.staff import owner, service
from quietshop.staff.access import declares
from quietshop.staff.auth import staff_session
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.owner_schemas import (
    AccessReviewOut,
    AddedStaffOut,
    AddStaffIn,
    ConfirmReviewIn,
    DisableIn,
    ReviewOut,
    RolesIn,
    StaffListOut,
    StaffMemberOut,
)
from quietshop.web.dependencies import now, settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

router = APIRouter(prefix="/api/v1/staff", tags=["staff"], route_class=SignedInRoute)
# Beside the staff SITE (routes.py), which keeps /api/v1/staff out of the access log.
SITE = DomainSite(routers=(router,))

MANAGE = ACTION_ROLES[Action.MANAGE_STAFF]
REVIEW = ACTION_ROLES[Action.REVIEW_ACCESS]
FORBIDDEN: Responses = {403: {"description": "forbidden: your roles do not allow this"}}
CHANGES: Responses = {
    **FORBIDDEN,
    409: {"description": "last_owner: the shop would have no active owner left"},
}
StaffId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _member_out(member: service.StaffSummary) -> StaffMemberOut:
    return StaffMemberOut.model_validate(member, from_attributes=True)


@router.get(
    "/members",
    openapi_extra=declares(Action.MANAGE_STAFF),
    response_model=StaffListOut,
    responses=FORBIDDEN,
)
def list_members(request: Request) -> StaffListOut:
    """Every staff member: name, email, roles, last active, status."""
    with staff_session(request, need=MANAGE) as (session, _):
        found = service.list_staff(session, now(request))
    return StaffListOut(staff=[_member_out(member) for member in found])


@router.post(
    "/members",
    openapi_extra=declares(Action.MANAGE_STAFF),
    status_code=201,
    response_model=AddedStaffOut,
    responses=FORBIDDEN,
)
def add_member(request: Request, body: AddStaffIn) -> AddedStaffOut:
    """Add a staff member; the answer holds their one-time enrolment link, this once."""
    with staff_session(request, need=MANAGE, write=True) as (session, staff):
        added = owner.add_member(
            session, settings(request), body.name, body.email, frozenset(body.roles), staff,
            now(request),
        )  # fmt: skip
    return AddedStaffOut(
        member=_member_out(added.member),
        enrolment_url=added.enrolment.url,
        enrolment_expires_at=added.enrolment.expires_at,
    )


@router.put(
    "/members/{staff_id}/roles",
    openapi_extra=declares(Action.MANAGE_STAFF),
    response_model=StaffMemberOut,
    responses=CHANGES,
)
def set_roles(request: Request, staff_id: StaffId, body: RolesIn) -> StaffMemberOut:
    """Replace the member's roles; their live sessions act under the new ones at once."""
    with staff_session(request, need=MANAGE, write=True) as (session, staff):
        changed = owner.change_roles(session, staff_id, frozenset(body.roles), staff, now(request))
    return _member_out(changed)


@router.post(
    "/members/{staff_id}/disable",
    openapi_extra=declares(Action.MANAGE_STAFF),
    response_model=StaffMemberOut,
    responses=CHANGES,
)
def disable(request: Request, staff_id: StaffId, body: DisableIn) -> StaffMemberOut:
    """Disable the account and end its sessions now."""
    with staff_session(request, need=MANAGE, write=True) as (session, staff):
        changed = owner.disable_member(session, staff_id, body.reason, staff, now(request))
    return _member_out(changed)


@router.post(
    "/members/{staff_id}/enable",
    openapi_extra=declares(Action.MANAGE_STAFF),
    response_model=StaffMemberOut,
    responses=FORBIDDEN,
)
def enable(request: Request, staff_id: StaffId) -> StaffMemberOut:
    """Enable a disabled account again; the person signs in afresh."""
    with staff_session(request, need=MANAGE, write=True) as (session, staff):
        changed = owner.enable_member(session, staff_id, staff, now(request))
    return _member_out(changed)


@router.get(
    "/access-review",
    openapi_extra=declares(Action.REVIEW_ACCESS),
    response_model=AccessReviewOut,
    responses=FORBIDDEN,
)
def access_review(request: Request) -> AccessReviewOut:
    """Who holds which roles and how long since each was active; when the last review was
    confirmed and when the next is due (six months after)."""
    with staff_session(request, need=REVIEW) as (session, _):
        found = owner.access_review(session, now(request))
    return AccessReviewOut.model_validate(found, from_attributes=True)


@router.post(
    "/access-review",
    openapi_extra=declares(Action.REVIEW_ACCESS),
    status_code=201,
    response_model=ReviewOut,
    responses=FORBIDDEN,
)
def confirm_access_review(request: Request, body: ConfirmReviewIn) -> ReviewOut:
    """Confirm that who holds what is right, as the review shows it now."""
    with staff_session(request, need=REVIEW, write=True) as (session, staff):
        confirmed = owner.confirm_access_review(session, staff, body.note, now(request))
    return ReviewOut.model_validate(confirmed, from_attributes=True)
