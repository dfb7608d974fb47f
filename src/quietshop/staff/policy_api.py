"""The staff policy API under /api/v1/staff/policies (P7): what to read and acknowledge,
acknowledging, and for the owner publishing a version and the compliance list.

Every route goes through ``staff_session``; publishing and the compliance list ask for
the roles the need-to-know table grants ``publish_policies`` and ``view_compliance``, so
a refusal is the usual 403 with its audit entry. Routes are plain ``def`` (they write, or
may touch the session), run in the thread pool. A privacy version's customer notices are
queued after the answer, in batches (``policies.queue_customer_notices``); housekeeping
resumes them should the process stop first.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request

from quietshop.db import MAX_ROW_ID
from quietshop.staff import policies
from quietshop.staff.auth import staff_session
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.policy_schemas import (
    AcknowledgementOut,
    ComplianceOut,
    KindStatusOut,
    PendingOut,
    PoliciesOut,
    PolicyHeaderOut,
    PolicyKindOut,
    PolicyOut,
    PublicationOut,
    PublishIn,
    StaffComplianceOut,
)
from quietshop.web.dependencies import now, settings
from quietshop.web.routing import Responses, SignedInRoute
from quietshop.web.state import app_state

PREFIX = "/api/v1/staff/policies"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

FORBIDDEN: Responses = {403: {"description": "forbidden: your roles do not allow this"}}
PolicyId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _policy_out(policy: policies.PolicyVersion) -> PolicyOut:
    return PolicyOut.model_validate(policy, from_attributes=True)


@router.get("", response_model=PoliciesOut)
def current(request: Request) -> PoliciesOut:
    """The current version of every kind, with the list of all its versions."""
    with staff_session(request) as (session, _):
        latest = policies.current_policies(session)
        history = policies.policy_history(session)
    return PoliciesOut(
        policies=[
            PolicyKindOut(
                kind=policy.kind,
                current=_policy_out(policy),
                history=[
                    PolicyHeaderOut.model_validate(header, from_attributes=True)
                    for header in history
                    if header.kind == policy.kind
                ],
            )
            for policy in latest
        ]
    )


@router.get("/pending", response_model=PendingOut)
def pending(request: Request) -> PendingOut:
    """The texts this staff member has to read and acknowledge this quarter (empty: none)."""
    moment = now(request)
    with staff_session(request) as (session, staff):
        found = policies.pending_for(session, staff.id, moment)
    return PendingOut(
        pending=[_policy_out(policy) for policy in found],
        quarter=policies.quarter_label(moment),
        lapses_at=policies.next_quarter_start(moment),
    )


@router.post(
    "/{policy_id}/acknowledge",
    response_model=AcknowledgementOut,
    responses={409: {"description": "policy_superseded: acknowledge the current version"}},
)
def acknowledge(request: Request, policy_id: PolicyId) -> AcknowledgementOut:
    """Say "I have read and understood this", for the current version of its kind only."""
    with staff_session(request, write=True) as (session, staff):
        done = policies.acknowledge(session, staff.id, policy_id, now(request), origin=staff.origin)
    return AcknowledgementOut.model_validate(done, from_attributes=True)


@router.post("", status_code=201, response_model=PublicationOut, responses=FORBIDDEN)
def publish(request: Request, body: PublishIn, background: BackgroundTasks) -> PublicationOut:
    """Publish the next version of a kind (owner). Every active staff member is reminded;
    a privacy version replaces the public page and is told to every customer."""
    need = ACTION_ROLES[Action.PUBLISH_POLICIES]
    with staff_session(request, need=need, write=True) as (session, staff):
        published = policies.publish_policy(
            session,
            settings(request),
            body.kind,
            body.title,
            body.body,
            now(request),
            summary=body.summary,
            by=staff,
        )
    if published.customers_to_notify:
        state = app_state(request)
        background.add_task(
            policies.queue_customer_notices, state.sessions, state.settings, state.clock
        )
    return PublicationOut(
        policy=_policy_out(published.policy),
        staff_reminded=published.staff_reminded,
        customers_to_notify=published.customers_to_notify,
    )


@router.get("/compliance", response_model=ComplianceOut, responses=FORBIDDEN)
def compliance(request: Request) -> ComplianceOut:
    """Who acknowledged which version of each current policy, and when (owner, privacy
    officer)."""
    moment = now(request)
    with staff_session(request, need=ACTION_ROLES[Action.VIEW_COMPLIANCE]) as (session, _):
        found = policies.compliance(session, moment)
    return ComplianceOut(
        quarter=policies.quarter_label(moment),
        quarter_started_at=policies.quarter_start(moment),
        staff=[
            StaffComplianceOut(
                staff_id=member.staff_id,
                name=member.name,
                roles=list(member.roles),
                compliant=member.compliant,
                policies=[
                    KindStatusOut.model_validate(status, from_attributes=True)
                    for status in member.policies
                ],
            )
            for member in found
        ],
    )
