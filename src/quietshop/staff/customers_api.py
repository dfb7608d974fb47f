"""Customer service's API under /api/v1/staff/customers (issue 9 item 7): the lookup by
customer number, email address or name, one customer's record, caller verification, and
edits of contact details and addresses for a verified caller.

Every route goes through ``access.staff_access`` (``callers.customer_desk``) with the one
``Action`` it declares (``x-staff-action`` in the API description): a role without it is
refused with 403 and a ``denied`` entry before any customer is looked up. What is shown is
cut through the need-to-know table, and every customer shown gets a ``read`` entry naming
the fields, which they see in their account. Edits go through the accounts domain's own
rules (the same as the customer's own profile and address book), need a caller verified
in this staff session within the last 15 minutes (``callers``), and append a ``change``
entry naming the fields changed, in the edit's own transaction.

Reads append audit entries, so every route writes: plain ``def``, run in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from quietshop.accounts import service as accounts
from quietshop.db import MAX_ROW_ID
from quietshop.orders import service as orders
from quietshop.staff import callers
from quietshop.staff.access import ACTION_KEY, Listed, declares, table
from quietshop.staff.need_to_know import Action, computed
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PREFIX = "/api/v1/staff/customers"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

Number = Annotated[
    str, Path(min_length=1, max_length=40, description="The customer number, e.g. 2442 7250 94")
]
AddressId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
REFUSED: Responses = {
    403: {"description": "forbidden (your roles do not allow this) or policies_pending"},
    404: {"description": "No open account has this customer number"},
}
EDITED: Responses = {
    **REFUSED,
    403: {
        "description": "forbidden, policies_pending, or caller_not_verified (verify the "
        "caller first: an edit needs a check passed in this session in the last 15 minutes)"
    },
}
# What each customer sees in their account as the purpose of the access.
LOOKUP_REASON = "customer service looked up a customer by {by}"
RECORD_REASON = "customer service opened the customer's record"
EDIT_REASON = "changed by customer service at the verified caller's request"
ADDRESS_FIELDS = tuple(
    f"customer_addresses.{name}"
    for name in ("kind", "name", "line1", "line2", "city", "region", "postcode", "country")
)

F = TypeVar("F", bound=Callable[..., Any])


def _route(method: str, path: str, action: Action, **kwargs: Any) -> Callable[[F], F]:
    """A customer-service route that declares its Action (the route-coverage test reads it)."""
    add = getattr(router, method.lower())
    decorator: Callable[[F], F] = add(
        path, openapi_extra=declares(action), response_model_exclude_unset=True, **kwargs
    )
    return decorator


def _subject(customer_id: int) -> str:
    return f"customer:{customer_id}"


# ---------------------------------------------------------------- bodies


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=1_000)


class Part(BaseModel):
    """A row as the role may see it: a field not granted is absent, never null."""

    model_config = ConfigDict(extra="forbid")


class CustomerOut(Part):
    customer_number: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    email_verified_at: datetime | None = None
    created_at: datetime | None = None
    closed_at: datetime | None = None


class CustomerListOut(BaseModel):
    by: str = Field(description="How q was read: customer_number, email or name")
    customers: list[CustomerOut]
    next_offset: int | None = Field(description="Pass as ?offset= for the next page; null: last")


class CustomerAddressOut(Part):
    id: int | None = None
    kind: str | None = None
    name: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None
    created_at: datetime | None = None


class CustomerOrderOut(Part):
    order_number: str | None = None
    status: str | None = None
    status_label: str | None = None
    placed_at: datetime | None = None
    currency: str | None = None
    total_cents: int | None = None


class CustomerRecordOut(BaseModel):
    customer: CustomerOut
    addresses: list[CustomerAddressOut]
    orders: list[CustomerOrderOut] = Field(description="The newest 50")
    more_orders: bool
    caller_verified_until: datetime | None = Field(
        description="Until when this session's caller check allows edits; null: none passed"
    )


class PostcodeIn(Strict):
    postcode: str = Field(
        min_length=1, max_length=40, description="As the caller says it: case and spaces aside"
    )


class CallerCheckOut(BaseModel):
    verified: bool
    valid_until: datetime | None = Field(description="Edits are allowed until then")
    attempts_left: int = Field(description="Wrong postcodes still allowed within the hour")


class ContactIn(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)


_COUNTRIES: JsonDict = {"enum": [*sorted(accounts.shipping_countries())]}


class CustomerAddressIn(Strict):
    kind: str = Field(pattern="^(shipping|billing)$")
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field("", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field("", max_length=100)
    postcode: str = Field("", max_length=20, description="In the shape the country uses")
    country: str = Field(
        min_length=2,
        max_length=2,
        json_schema_extra=_COUNTRIES,
    )

    def typed(self) -> accounts.AddressInput:
        return accounts.AddressInput(**self.model_dump())


class AddressCreatedOut(BaseModel):
    id: int


# ---------------------------------------------------------------- reading


def _inside(row: dict[str, Any], *names: str) -> dict[str, Any]:
    """The row without the internal ids that stay inside (the number names a customer)."""
    return {key: value for key, value in row.items() if key not in names}


def _listed(rows: Sequence[dict[str, Any]]) -> list[Listed]:
    """The rows to list, each named by its customer."""
    return [Listed(_inside(row, "id"), row["id"], _subject(row["id"])) for row in rows]


@_route(
    "GET",
    "",
    Action.LOOK_UP_CUSTOMER,
    response_model=CustomerListOut,
    responses={
        400: {"description": "q is empty, too short for a name, or not a valid number"},
        403: REFUSED[403],
    },
)
def look_up(
    request: Request,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=accounts.LOOKUP_MAX_QUERY,
            description="A customer number (exact), an email address (exact, any case) or "
            "at least two letters of a name (anywhere in it)",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=accounts.LOOKUP_MAX_RESULTS)] = 20,
    offset: Annotated[int, Query(ge=0, le=accounts.LOOKUP_MAX_OFFSET)] = 0,
) -> CustomerListOut:
    """Open accounts, ordered by name, each cut to what the role reads; every customer in
    the answer gets a ``read`` entry."""
    with callers.customer_desk(request, Action.LOOK_UP_CUSTOMER) as office:
        found = accounts.look_up_customers(office.session, q, limit, offset)
        shown = office.read_list(
            table("customers"),
            _listed(found.rows),
            reason=LOOKUP_REASON.format(by=found.by.replace("_", " ")),
        )
    return CustomerListOut(
        by=found.by,
        customers=[CustomerOut(**row) for row in shown],
        next_offset=offset + limit if found.more else None,
    )


def _order_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    labels = orders.status_labels()
    return [
        {**row, "status_label": computed(labels.get(row["status"], row["status"]), "status")}
        for row in rows
    ]


@_route(
    "GET", "/{number}", Action.LOOK_UP_CUSTOMER, response_model=CustomerRecordOut,
    responses=REFUSED,
)  # fmt: skip
def customer_record(request: Request, number: Number) -> CustomerRecordOut:
    """Contact details, the address book and the newest orders, as the role may see
    them; one ``read`` entry for the record."""
    with callers.customer_desk(request, Action.LOOK_UP_CUSTOMER) as office:
        found = accounts.customer_record(office.session, number)
        order_rows, more = orders.customer_order_rows(office.session, found.id)
        customer, addresses, bought = office.read_record(
            [
                (table("customers"), [_inside(found.customer, "id")]),
                (
                    table("customer_addresses"),
                    [_inside(row, "customer_id") for row in found.addresses],
                ),
                (table("orders"), _order_rows(order_rows)),
            ],
            customer_id=found.id,
            subject=_subject(found.id),
            reason=RECORD_REASON,
        )
        verified_until = callers.verified_until(office, found.id)
    return CustomerRecordOut(
        customer=CustomerOut(**customer[0]),
        # A role that reads none of a part's fields sees no part: not even how many.
        addresses=[CustomerAddressOut(**row) for row in addresses if row],
        orders=[CustomerOrderOut(**row) for row in bought if row],
        more_orders=more and any(bought),
        caller_verified_until=verified_until,
    )


# ---------------------------------------------------------------- the caller


@_route(
    "POST",
    "/{number}/verify-caller",
    Action.VERIFY_CALLER,
    response_model=CallerCheckOut,
    responses={
        **REFUSED,
        429: {"description": "5 wrong postcodes for this customer within the hour"},
    },
)
def verify_caller(request: Request, number: Number, body: PostcodeIn) -> CallerCheckOut:
    """Does the caller know the postcode of an address on file? Either answer is in the
    audit chain (never the postcode typed); a pass allows edits for 15 minutes."""
    with callers.customer_desk(request, Action.VERIFY_CALLER) as office:
        checked = callers.verify(office, number, body.postcode)
    return CallerCheckOut(
        verified=checked.verified,
        valid_until=checked.valid_until,
        attempts_left=checked.attempts_left,
    )


@_route("PATCH", "/{number}/contact", Action.EDIT_CONTACT, status_code=204, responses=EDITED)
def edit_contact(request: Request, number: Number, body: ContactIn) -> Response:
    """Change the name or the phone number (the email address changes only by the link
    the customer confirms from their own account)."""
    with callers.customer_desk(request, Action.EDIT_CONTACT) as office:
        customer_id = callers.verified_customer(office, number)
        changed = accounts.edit_contact(office.session, customer_id, body.name, body.phone)
        if changed:
            office.change(
                customer_id=customer_id, subject=_subject(customer_id), fields=changed,
                kinds=("contact",), reason=EDIT_REASON,
            )  # fmt: skip
    return Response(status_code=204)


@_route(
    "POST", "/{number}/addresses", Action.EDIT_ADDRESS, status_code=201,
    response_model=AddressCreatedOut, responses=EDITED,
)  # fmt: skip
def add_address(request: Request, number: Number, body: CustomerAddressIn) -> AddressCreatedOut:
    with callers.customer_desk(request, Action.EDIT_ADDRESS) as office:
        customer_id = callers.verified_customer(office, number)
        row = accounts.add_customer_address(office.session, customer_id, body.typed(), office.now)
        office.change(
            customer_id=customer_id, subject=_subject(customer_id), fields=ADDRESS_FIELDS,
            kinds=("address",), reason=EDIT_REASON,
        )  # fmt: skip
    return AddressCreatedOut(id=row["id"])


@_route(
    "PUT", "/{number}/addresses/{address_id}", Action.EDIT_ADDRESS, status_code=204,
    responses=EDITED,
)  # fmt: skip
def edit_address(
    request: Request, number: Number, address_id: AddressId, body: CustomerAddressIn
) -> Response:
    with callers.customer_desk(request, Action.EDIT_ADDRESS) as office:
        customer_id = callers.verified_customer(office, number)
        _, changed = accounts.edit_customer_address(
            office.session, customer_id, address_id, body.typed()
        )
        if changed:
            office.change(
                customer_id=customer_id, subject=_subject(customer_id), fields=changed,
                kinds=("address",), reason=EDIT_REASON,
            )  # fmt: skip
    return Response(status_code=204)


@_route(
    "DELETE", "/{number}/addresses/{address_id}", Action.EDIT_ADDRESS, status_code=204,
    responses=EDITED,
)  # fmt: skip
def delete_address(request: Request, number: Number, address_id: AddressId) -> Response:
    with callers.customer_desk(request, Action.EDIT_ADDRESS) as office:
        customer_id = callers.verified_customer(office, number)
        accounts.delete_customer_address(office.session, customer_id, address_id)
        office.change(
            customer_id=customer_id, subject=_subject(customer_id), fields=ADDRESS_FIELDS,
            kinds=("address",), reason=EDIT_REASON,
        )  # fmt: skip
    return Response(status_code=204)


# (method, path) -> the Action each route asks for: what the API description says.
STAFF_ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    (method, route.path): Action(route.openapi_extra[ACTION_KEY])
    for route in router.routes
    if isinstance(route, SignedInRoute) and route.openapi_extra
    for method in sorted(route.methods or ())
}

SITE = DomainSite(routers=(router,))
