"""The traffic reports for the back office (issue 10): GET /api/v1/staff/analytics/report
and one table of it as CSV, GET /api/v1/staff/analytics/tables/{table}.csv.

For the roles that hold ``Action.VIEW_AGGREGATES`` (owner, marketing, analyst). The
numbers are ``analytics.service``'s, the same the command line prints: counts only, with
any value seen by fewer than ``analytics_min_visitors`` folded (k-anonymity), so there is
no person in an answer and nothing is appended to the audit chain for it (a refusal is).

Reads only: plain ``def`` in a read transaction, in the thread pool. The days are read
inside ``staff_access``, not by FastAPI before it: a request of a role without the right
is refused (and recorded) whatever its parameters; and a day is only ``YYYY-MM-DD``
(pydantic would read ``0`` as 1970-01-01).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from quietshop.analytics import service as analytics
from quietshop.errors import InvalidInput
from quietshop.staff.access import declares, staff_access
from quietshop.staff.need_to_know import Action
from quietshop.web.dependencies import settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PREFIX = "/api/v1/staff/analytics"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

REFUSED: Responses = {
    403: {"description": "forbidden (your roles do not allow this) or policies_pending"},
    422: {"description": "invalid_period: the period ends before it starts, or is too long"},
}
# The schema names every table, so a client (and the fuzzer) knows them before asking.
TABLE_PATTERN = f"^({'|'.join(analytics.TABLES)})$"


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A day in the schema: what _day accepts, declared, not checked before staff_access.
_DAY_SCHEMA = {"format": "date", "pattern": f"^{_DAY.pattern}$"}


def _day(name: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(name, f"a day as YYYY-MM-DD, not {text[:40]!r}")


def _period(first: str | None, last: str | None, today: date) -> analytics.Period:
    return analytics.period_of(_day("from", first), _day("to", last), today)


def _report(
    request: Request,
    first: str | None,
    last: str | None,
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


_FIRST: dict[str, Any] = {"description": "First UTC day", "json_schema_extra": _DAY_SCHEMA}
_LAST: dict[str, Any] = {"description": "Last UTC day", "json_schema_extra": _DAY_SCHEMA}


@router.get(
    "/report",
    openapi_extra=declares(Action.VIEW_AGGREGATES),
    responses=REFUSED,
)
def traffic_report(
    request: Request,
    first: Annotated[str | None, Query(alias="from", **_FIRST)] = None,
    last: Annotated[str | None, Query(alias="to", **_LAST)] = None,
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
    first: Annotated[str | None, Query(alias="from", **_FIRST)] = None,
    last: Annotated[str | None, Query(alias="to", **_LAST)] = None,
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
