"""The back office's first screen (issue 9): what each person's roles have waiting today,
as counts. GET /api/v1/staff/dashboard.

Every staff member may open it (``Action.VIEW_DASHBOARD``); each section is there only
when one of the person's roles holds that section's own action (``SECTION_ACTIONS``), so
the dashboard shows no more than the screens it links to would. Every section is counts,
dates and the audit chain's head: no row about a person, no name, no order number, so
nothing is appended to the audit chain for it (a refusal is, as every refusal is).

Reads only: plain ``def`` in a read transaction, in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from quietshop.audit import service as audit
from quietshop.catalog import service as catalog
from quietshop.mail import service as mail
from quietshop.orders import service as orders
from quietshop.staff import owner, policies
from quietshop.staff.access import Office, declares, staff_access
from quietshop.staff.need_to_know import Action, may
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PATH = "/api/v1/staff/dashboard"
router = APIRouter(tags=["staff"], route_class=SignedInRoute)

TRAFFIC_DAYS = 14
REFUSED: Responses = {403: {"description": "policies_pending: read the current policies first"}}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BillingOut(Section):
    awaiting_payment: int = Field(description="Orders placed, their payment not yet confirmed")
    payment_problems: int


class FulfilmentOut(Section):
    to_pack: int = Field(description="Paid orders not packed yet")
    to_ship: int = Field(description="Packed orders not shipped yet")


class CustomerServiceOut(Section):
    open_questions: int = Field(description="Questions and quote requests not answered")
    availability_problems: int = Field(description="Orders waiting on the customer's choice")


class CatalogOut(Section):
    out_of_stock: int = Field(description="Variants of products on sale with none left")
    low_stock: int = Field(description="Variants with fewer than low_stock_below left")
    low_stock_below: int


class OwnerOut(Section):
    policies_not_acknowledged: int = Field(
        description="Active staff who have not acknowledged every current policy this quarter"
    )
    access_review_due_at: datetime | None = Field(description="null: never reviewed, due now")
    access_review_due: bool


class AuditOut(Section):
    entries_today: int = Field(description="Entries appended since midnight UTC")
    head_seq: int | None = Field(description="The chain's last seal; null: nothing sealed yet")
    head_hash: str | None
    sealed_through: int | None = Field(description="The entry the last seal seals")
    unsealed: int = Field(description="Entries committed and waiting for their seal")
    last_verified_at: datetime | None = Field(description="null: never verified")


class MarketingOut(Section):
    subscribers: int = Field(description="Opted in with a confirmed address, right now")
    mailings_drafted: int = Field(description="Written and not sent yet")


class DayCount(Section):
    day: date
    orders: int


class OrdersPerDayOut(Section):
    days: list[DayCount] = Field(description=f"The last {TRAFFIC_DAYS} UTC days, oldest first")


class DashboardOut(BaseModel):
    """Only the sections the person's roles hold; a section not held is absent."""

    model_config = ConfigDict(extra="forbid")

    as_of: datetime
    billing: BillingOut | None = None
    fulfilment: FulfilmentOut | None = None
    customer_service: CustomerServiceOut | None = None
    catalog: CatalogOut | None = None
    owner: OwnerOut | None = None
    audit: AuditOut | None = None
    marketing: MarketingOut | None = None
    orders_per_day: OrdersPerDayOut | None = None


def _billing(office: Office) -> BillingOut:
    counts = orders.order_counts_by_status(office.session, ("placed", "payment_problem"))
    return BillingOut(awaiting_payment=counts["placed"], payment_problems=counts["payment_problem"])


def _fulfilment(office: Office) -> FulfilmentOut:
    counts = orders.order_counts_by_status(office.session, ("payment_verified", "packed"))
    return FulfilmentOut(to_pack=counts["payment_verified"], to_ship=counts["packed"])


def _customer_service(office: Office) -> CustomerServiceOut:
    counts = orders.order_counts_by_status(office.session, ("availability_problem",))
    return CustomerServiceOut(
        open_questions=orders.open_question_count(office.session),
        availability_problems=counts["availability_problem"],
    )


def _catalog(office: Office) -> CatalogOut:
    found = catalog.stock_counts(office.session)
    return CatalogOut(
        out_of_stock=found.out_of_stock, low_stock=found.low_stock, low_stock_below=found.below
    )


def _owner(office: Office) -> OwnerOut:
    staff = policies.compliance(office.session, office.now)
    review = owner.access_review(office.session, office.now)
    return OwnerOut(
        policies_not_acknowledged=sum(1 for member in staff if not member.compliant),
        access_review_due_at=review.next_due_at,
        access_review_due=review.due,
    )


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(), tzinfo=moment.tzinfo)


def _audit(office: Office) -> AuditOut:
    head = audit.chain_head(office.session)
    return AuditOut(
        entries_today=audit.entries_since(office.session, _midnight(office.now)),
        head_seq=head.seq if head else None,
        head_hash=head.hash if head else None,
        sealed_through=head.entry_id if head else None,
        unsealed=audit.unsealed(office.session).count,
        last_verified_at=audit.last_verified_at(office.session),
    )


def _marketing(office: Office) -> MarketingOut:
    return MarketingOut(
        subscribers=mail.subscriber_count(office.session),
        mailings_drafted=mail.draft_mailing_count(office.session),
    )


def _orders_per_day(office: Office) -> OrdersPerDayOut:
    first = _midnight(office.now) - timedelta(days=TRAFFIC_DAYS - 1)
    counts = orders.orders_placed_per_day(office.session, first, TRAFFIC_DAYS)
    return OrdersPerDayOut(
        days=[
            DayCount(day=(first + timedelta(days=n)).date(), orders=count)
            for n, count in enumerate(counts)
        ]
    )


# Each section, the action that opens it, and what it counts. The order is the screen's.
SECTIONS: dict[str, tuple[Action, Callable[[Office], Section]]] = {
    "billing": (Action.VERIFY_PAYMENT, _billing),
    "fulfilment": (Action.MARK_PACKED, _fulfilment),
    "customer_service": (Action.ANSWER_QUESTIONS, _customer_service),
    "catalog": (Action.EDIT_STOCK, _catalog),
    "owner": (Action.REVIEW_ACCESS, _owner),
    "audit": (Action.READ_AUDIT, _audit),
    "marketing": (Action.SEND_MAILINGS, _marketing),
    "orders_per_day": (Action.VIEW_AGGREGATES, _orders_per_day),
}
SECTION_ACTIONS: dict[str, Action] = {name: action for name, (action, _) in SECTIONS.items()}


@router.get(
    PATH,
    response_model=DashboardOut,
    response_model_exclude_unset=True,
    openapi_extra=declares(Action.VIEW_DASHBOARD),
    responses=REFUSED,
)
def dashboard(request: Request) -> DashboardOut:
    """What the signed-in person's roles have waiting, as counts: one section per role's
    work, present only for the roles held."""
    with staff_access(request, Action.VIEW_DASHBOARD, write=False) as office:
        held: dict[str, Any] = {
            name: count(office)
            for name, (action, count) in SECTIONS.items()
            if may(office.staff.roles, action)
        }
        return DashboardOut(as_of=office.now, **held)


SITE = DomainSite(routers=(router,))
