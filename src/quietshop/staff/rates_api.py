"""The rate tables in the back office, under /api/v1/staff/rates (issue 8 item 3, issue 9
item 7): shipping regions and rates, tax rates, discount codes.

Reading the tables needs one of the roles that edit them (an unannounced discount code is
the shop's own business); each write asks for the roles the need-to-know table grants
``edit_shipping_rates``, ``edit_tax_rates`` or ``edit_discounts``, and is recorded in the
audit chain under the role that granted it. The rules are orders/rates.py's, reached
through ``orders.service``; a route parses, calls it once and renders. Plain ``def``
routes, run in the thread pool.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from quietshop.db import MAX_ROW_ID
from quietshop.orders import service as orders
from quietshop.staff.access import declares
from quietshop.staff.auth import SignedInStaff, staff_session
from quietshop.staff.need_to_know import ACTION_ROLES, Action, acting_role
from quietshop.staff.owner_schemas import (
    DiscountCodeIn,
    DiscountCodeOut,
    RateTablesOut,
    RegionIn,
    RegionOut,
    ShippingRateIn,
    ShippingRateOut,
    TaxRateIn,
    TaxRateOut,
)
from quietshop.web.dependencies import now, settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PREFIX = "/api/v1/staff/rates"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)
# Beside the staff SITE (routes.py), which keeps /api/v1/staff out of the access log.
SITE = DomainSite(routers=(router,))

SHIPPING = ACTION_ROLES[Action.EDIT_SHIPPING_RATES]
TAX = ACTION_ROLES[Action.EDIT_TAX_RATES]
DISCOUNTS = ACTION_ROLES[Action.EDIT_DISCOUNTS]
EDITORS = SHIPPING | TAX | DISCOUNTS
WRITES: Responses = {
    403: {"description": "forbidden: your roles do not allow this"},
    409: {"description": "conflict: the row clashes with another (same code, same country)"},
}
RegionCode = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _editor(staff: SignedInStaff, action: Action) -> orders.RateEditor:
    return orders.RateEditor(staff.id, acting_role(staff.roles, action).value, staff.origin)


def _region_out(region: orders.Region) -> RegionOut:
    return RegionOut(
        code=region.code, countries=list(region.countries), rate_count=region.rate_count
    )


def _shipping_out(row: orders.ShippingRateRow) -> ShippingRateOut:
    return ShippingRateOut(id=row.id, currency=row.currency, **asdict(row.rate))


def _tax_out(row: orders.TaxRateRow) -> TaxRateOut:
    return TaxRateOut(id=row.id, **asdict(row.rate))


def _discount_out(row: orders.DiscountCodeRow) -> DiscountCodeOut:
    return DiscountCodeOut(id=row.id, currency=row.currency, uses=row.uses, **asdict(row.code))


# Read by any of the three editing roles; declared under the first (one Action per route).
@router.get(
    "",
    openapi_extra=declares(Action.EDIT_SHIPPING_RATES),
    response_model=RateTablesOut,
    responses=WRITES,
)
def tables(request: Request) -> RateTablesOut:
    """The four tables, and the countries a region or a tax rate may name."""
    with staff_session(request, need=EDITORS) as (session, _):
        found = orders.rate_tables(session)
    return RateTablesOut(
        regions=[_region_out(region) for region in found.regions],
        shipping_rates=[_shipping_out(row) for row in found.shipping_rates],
        tax_rates=[_tax_out(row) for row in found.tax_rates],
        discount_codes=[_discount_out(row) for row in found.discount_codes],
        countries=found.countries,
    )


# ---------------------------------------------------------------- shipping regions


@router.put(
    "/regions/{code}",
    openapi_extra=declares(Action.EDIT_SHIPPING_RATES),
    response_model=RegionOut,
    responses=WRITES,
)
def save_region(request: Request, code: RegionCode, body: RegionIn) -> RegionOut:
    """Make the region ship to exactly these countries (a new code makes a new region)."""
    with staff_session(request, need=SHIPPING, write=True) as (session, staff):
        saved = orders.save_shipping_region(
            session, code, body.countries, _editor(staff, Action.EDIT_SHIPPING_RATES), now(request)
        )
    return _region_out(saved)


@router.delete(
    "/regions/{code}",
    openapi_extra=declares(Action.EDIT_SHIPPING_RATES),
    status_code=204,
    responses=WRITES,
)
def delete_region(request: Request, code: RegionCode) -> Response:
    """Remove a region no shipping rate uses."""
    with staff_session(request, need=SHIPPING, write=True) as (session, staff):
        orders.delete_shipping_region(
            session, code, _editor(staff, Action.EDIT_SHIPPING_RATES), now(request)
        )
    return Response(status_code=204)


# ---------------------------------------------------------------- shipping rates


def _shipping_input(body: ShippingRateIn) -> orders.ShippingRateInput:
    return orders.ShippingRateInput(**body.model_dump())


def _save_shipping(request: Request, rate_id: int | None, body: ShippingRateIn) -> ShippingRateOut:
    with staff_session(request, need=SHIPPING, write=True) as (session, staff):
        saved = orders.save_shipping_rate(
            session, settings(request), rate_id, _shipping_input(body),
            _editor(staff, Action.EDIT_SHIPPING_RATES), now(request),
        )  # fmt: skip
    return _shipping_out(saved)


@router.post(
    "/shipping",
    openapi_extra=declares(Action.EDIT_SHIPPING_RATES),
    status_code=201,
    response_model=ShippingRateOut,
    responses=WRITES,
)
def add_shipping_rate(request: Request, body: ShippingRateIn) -> ShippingRateOut:
    """A shipping method for a region: flat, or a base plus so much per started kilogram."""
    return _save_shipping(request, None, body)


@router.put(
    "/shipping/{rate_id}",
    openapi_extra=declares(Action.EDIT_SHIPPING_RATES),
    response_model=ShippingRateOut,
    responses=WRITES,
)
def change_shipping_rate(request: Request, rate_id: RowId, body: ShippingRateIn) -> ShippingRateOut:
    """Replace a shipping rate's fields; the next quote prices with them."""
    return _save_shipping(request, rate_id, body)


@router.delete(
    "/shipping/{rate_id}",
    openapi_extra=declares(Action.EDIT_SHIPPING_RATES),
    status_code=204,
    responses=WRITES,
)
def delete_shipping_rate(request: Request, rate_id: RowId) -> Response:
    with staff_session(request, need=SHIPPING, write=True) as (session, staff):
        orders.delete_shipping_rate(
            session, rate_id, _editor(staff, Action.EDIT_SHIPPING_RATES), now(request)
        )
    return Response(status_code=204)


# ---------------------------------------------------------------- tax rates


def _save_tax(request: Request, rate_id: int | None, body: TaxRateIn) -> TaxRateOut:
    with staff_session(request, need=TAX, write=True) as (session, staff):
        saved = orders.save_tax_rate(
            session, rate_id, orders.TaxRateInput(**body.model_dump()),
            _editor(staff, Action.EDIT_TAX_RATES), now(request),
        )  # fmt: skip
    return _tax_out(saved)


@router.post(
    "/tax",
    openapi_extra=declares(Action.EDIT_TAX_RATES),
    status_code=201,
    response_model=TaxRateOut,
    responses=WRITES,
)
def add_tax_rate(request: Request, body: TaxRateIn) -> TaxRateOut:
    """A tax rate for one country and tax class (shipping is taxed at ``standard``)."""
    return _save_tax(request, None, body)


@router.put(
    "/tax/{rate_id}",
    openapi_extra=declares(Action.EDIT_TAX_RATES),
    response_model=TaxRateOut,
    responses=WRITES,
)
def change_tax_rate(request: Request, rate_id: RowId, body: TaxRateIn) -> TaxRateOut:
    return _save_tax(request, rate_id, body)


@router.delete(
    "/tax/{rate_id}",
    openapi_extra=declares(Action.EDIT_TAX_RATES),
    status_code=204,
    responses=WRITES,
)
def delete_tax_rate(request: Request, rate_id: RowId) -> Response:
    """Remove a tax rate: that country and class are taxed at 0 % from the next quote."""
    with staff_session(request, need=TAX, write=True) as (session, staff):
        orders.delete_tax_rate(
            session, rate_id, _editor(staff, Action.EDIT_TAX_RATES), now(request)
        )
    return Response(status_code=204)


# ---------------------------------------------------------------- discount codes


def _save_discount(request: Request, code_id: int | None, body: DiscountCodeIn) -> DiscountCodeOut:
    with staff_session(request, need=DISCOUNTS, write=True) as (session, staff):
        saved = orders.save_discount_code(
            session, settings(request), code_id, orders.DiscountCodeInput(**body.model_dump()),
            _editor(staff, Action.EDIT_DISCOUNTS), now(request),
        )  # fmt: skip
    return _discount_out(saved)


@router.post(
    "/discounts",
    openapi_extra=declares(Action.EDIT_DISCOUNTS),
    status_code=201,
    response_model=DiscountCodeOut,
    responses=WRITES,
)
def add_discount_code(request: Request, body: DiscountCodeIn) -> DiscountCodeOut:
    """A percentage or amount code, with its dates, minimum order and limits."""
    return _save_discount(request, None, body)


@router.put(
    "/discounts/{code_id}",
    openapi_extra=declares(Action.EDIT_DISCOUNTS),
    response_model=DiscountCodeOut,
    responses=WRITES,
)
def change_discount_code(request: Request, code_id: RowId, body: DiscountCodeIn) -> DiscountCodeOut:
    """Replace a code's terms (a code already used keeps its letters)."""
    return _save_discount(request, code_id, body)


@router.delete(
    "/discounts/{code_id}",
    openapi_extra=declares(Action.EDIT_DISCOUNTS),
    status_code=204,
    responses=WRITES,
)
def delete_discount_code(request: Request, code_id: RowId) -> Response:
    """Remove a code never used (a used one: set it inactive)."""
    with staff_session(request, need=DISCOUNTS, write=True) as (session, staff):
        orders.delete_discount_code(
            session, code_id, _editor(staff, Action.EDIT_DISCOUNTS), now(request)
        )
    return Response(status_code=204)
