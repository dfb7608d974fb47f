"""Legal disclosure under /api/v1/staff (design.md P2: "a recorded workflow").

- ``POST /customers/{number}/legal-disclosure`` with the legal basis (authority and
  reference): the customer's data, exactly as their own "download my data" builds it, a
  ``legal_disclosure`` entry in the audit chain and a row of ``legal_disclosures``
  (``staff/disclosures.py`` holds the rules).
- ``GET /legal-disclosures``: the past disclosures, newest first, cut through the
  need-to-know table. Each customer named on the page is an ``audit_read`` entry: the
  chain records who looked at whose disclosures, and, like the disclosure itself, the
  customer is not shown it (audit.CUSTOMER_VISIBLE_ACTIONS; docs/promises.md P2).

Both declare ``Action.LEGAL_DISCLOSURE``, the privacy officer's alone: anyone else is
refused with 403 and a ``denied`` entry before any customer is looked up. Plain ``def``
routes (they write), run in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request

from quietshop.db import MAX_ROW_ID
from quietshop.privacy.personal_data import PersonalDataRegistry
from quietshop.staff import disclosures
from quietshop.staff.access import ACTION_KEY, Office, declares, staff_access, table
from quietshop.staff.audit_schemas import (
    DisclosedOut,
    DisclosureOut,
    DisclosuresOut,
    LegalBasisIn,
)
from quietshop.staff.need_to_know import Action, computed, serialise
from quietshop.web.routing import DomainSite, Responses, SignedInRoute
from quietshop.web.state import app_state

router = APIRouter(prefix="/api/v1/staff", tags=["staff"], route_class=SignedInRoute)

Number = Annotated[
    str, Path(min_length=1, max_length=40, description="The customer number, e.g. 2442 7250 94")
]
REFUSED: Responses = {
    403: {"description": "forbidden (only the privacy officer discloses) or policies_pending"},
}
DISCLOSED: Responses = {
    **REFUSED,
    400: {"description": "invalid_parameter: not a customer number, or a basis too long"},
    404: {"description": "No open account has this customer number"},
    422: {"description": "invalid_basis: empty, hostile characters, or naming the customer"},
}
LIST_REASON = "the privacy officer listed past legal disclosures"

F = TypeVar("F", bound=Callable[..., Any])


def _route(method: str, path: str, **kwargs: Any) -> Callable[[F], F]:
    """A disclosure route: each declares LEGAL_DISCLOSURE (the route-coverage test reads it)."""
    add = getattr(router, method.lower())
    decorator: Callable[[F], F] = add(
        path,
        openapi_extra=declares(Action.LEGAL_DISCLOSURE),
        response_model_exclude_unset=True,
        **kwargs,
    )
    return decorator


def _shown(office: Office, row: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """A disclosure as the role may see it, the staff member's name beside it; an
    ``audit_read`` entry for the customer it names."""
    cut = serialise(office.staff.roles, table("legal_disclosures"), row)
    values = dict(cut.values)
    if row["staff_id"] in names:
        name = serialise(
            office.staff.roles,
            table("staff_members"),
            {"staff_name": computed(names[row["staff_id"]], "name")},
        )
        values.update(name.values)
    if cut.personal_fields:
        office.change(
            customer_id=row["customer_id"],
            subject=f"legal_disclosure:{row['id']}",
            fields=cut.personal_fields,
            kinds=cut.kinds,
            reason=LIST_REASON,
            entry="audit_read",
        )
    return values


@_route(
    "POST", "/customers/{number}/legal-disclosure", response_model=DisclosedOut,
    status_code=201, responses=DISCLOSED,
)  # fmt: skip
def disclose(request: Request, number: Number, body: LegalBasisIn) -> DisclosedOut:
    """Hand over the customer's data under the stated legal basis: the answer is what to
    give the authority. Recorded in the audit chain and in the list of disclosures."""
    registry = app_state(request).part(PersonalDataRegistry)
    with staff_access(request, Action.LEGAL_DISCLOSURE) as office:
        basis = disclosures.legal_basis(body.authority, body.reference)
        done = disclosures.disclose(
            office.session, office.staff, registry, number, basis, office.now
        )
        shown = DisclosureOut(
            id=done.id,
            disclosed_at=done.disclosed_at,
            staff_id=office.staff.id,
            customer_number=done.customer_number,
            authority=done.basis.authority,
            reference=done.basis.reference,
            kinds=list(done.kinds),
        )
    return DisclosedOut(disclosure=shown, data=done.document)


@_route("GET", "/legal-disclosures", response_model=DisclosuresOut, responses=REFUSED)
def past(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=disclosures.MAX_PAGE)] = 25,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> DisclosuresOut:
    """Past disclosures, newest first: when, by whom, whose data, the basis, the kinds."""
    with staff_access(request, Action.LEGAL_DISCLOSURE) as office:
        found = disclosures.past_disclosures(office.session, limit, before)
        shown = [_shown(office, row, found.staff_names) for row in found.rows]
    return DisclosuresOut(
        disclosures=[DisclosureOut(**row) for row in shown], next_before=found.next_before
    )


# (method, path) -> the Action each route asks for: what the API description says.
STAFF_ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    (method, route.path): Action(route.openapi_extra[ACTION_KEY])
    for route in router.routes
    if isinstance(route, SignedInRoute) and route.openapi_extra
    for method in sorted(route.methods or ())
}

# Beside the staff SITE (routes.py), which keeps /api/v1/staff out of the access log.
SITE = DomainSite(routers=(router,))
