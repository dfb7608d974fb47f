"""The traffic reports for the back office (issue 10): GET /api/v1/staff/analytics/report
and one table of it as CSV, GET /api/v1/staff/analytics/tables/{table}.csv.

For the roles that hold ``Action.VIEW_AGGREGATES`` (owner, marketing, analyst). The
numbers are ``analytics.service``'s, the same the command line prints: counts only, with
any value seen by fewer than ``analytics_min_visitors`` folded (k-anonymity), so there is
no person in an answer and nothing is appended to the audit chain for it (a refusal is).

Reads only: plain ``def`` in a read transaction, in the thread pool.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from quietshop.analytics import service as analytics
from quietshop.staff.access import declares, staff_access
from quietshop.staff.need_to_know import Action
from quietshop.web.dependencies import settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PREFIX = "/api/v1/staff/analytics"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

DEFAULT_DAYS = 30
REFUSED: Responses = {
    403: {"description": "forbidden (your roles do not allow this) or policies_pending"},
    422: {"description": "invalid_period: the period ends before it starts, or is too long"},
}
# The schema names every table, so a client (and the fuzzer) knows them before asking.
TABLE_PATTERN = f"^({'|'.join(analytics.TABLES)})$"


def _period(first: date | None, last: date | None, today: date) -> analytics.Period:
    last = last or today
    return analytics.Period(first or last - timedelta(days=DEFAULT_DAYS - 1), last)


def _report(
    request: Request,
    first: date | None,
    last: date | None,
    by: analytics.Granularity,
    compare: bool,
    limit: int | None,
) -> analytics.Report:
    with staff_access(request, Action.VIEW_AGGREGATES, write=False) as office:
        period = _period(first, last, office.now.date())
        return analytics.report(
            office.session,
            period,
            min_visitors=settings(request).analytics_min_visitors,
            granularity=by,
            compare_to=period.before() if compare else None,
            limit=limit,
        )


@router.get(
    "/report",
    openapi_extra=declares(Action.VIEW_AGGREGATES),
    responses=REFUSED,
)
def traffic_report(
    request: Request,
    first: Annotated[date | None, Query(alias="from", description="First UTC day")] = None,
    last: Annotated[date | None, Query(alias="to", description="Last UTC day")] = None,
    by: Annotated[Literal["hour", "day", "week", "month"], Query()] = "day",
    compare: Annotated[bool, Query(description="Also the period just before")] = False,
) -> dict[str, Any]:
    """The period's traffic (default: the last 30 UTC days): totals, a trend by ``by``,
    the weekday-by-hour heatmap, the funnel, and every breakdown's top values. A count
    below k (``fewer_than``) is null."""
    return analytics.as_json(_report(request, first, last, by, compare, analytics.TOP_ROWS))


@router.get(
    "/tables/{table}.csv",
    openapi_extra=declares(Action.VIEW_AGGREGATES),
    responses={**REFUSED, 200: {"content": {"text/csv": {}}}},
    response_class=Response,
)
def traffic_table(
    request: Request,
    table: Annotated[str, Path(pattern=TABLE_PATTERN, description="Which table")],
    first: Annotated[date | None, Query(alias="from", description="First UTC day")] = None,
    last: Annotated[date | None, Query(alias="to", description="Last UTC day")] = None,
    by: Annotated[Literal["hour", "day", "week", "month"], Query()] = "day",
) -> Response:
    """One table of the report, every row of it (counts below k still folded), as CSV."""
    found = _report(request, first, last, by, False, None)
    name = f"traffic-{table}-{found.period.first}-{found.period.last}.csv"
    return Response(
        analytics.as_csv(found, table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# Beside the staff SITE (routes.py), which keeps /api/v1/staff out of the access log.
SITE = DomainSite(routers=(router,))
