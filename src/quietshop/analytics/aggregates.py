"""Counting days anew from the node's events, into the shop's database (issue 10).

A day is counted whole each time: its rows of this node in ``analytics_days``,
``analytics_hours`` and ``analytics_cells`` are deleted and written again in one
transaction of the shop's database (with a few other days'), so an ingestion repeated or
resumed never adds a line twice. DuckDB does the counting (windows over a visitor's
pageviews); the shop's database receives only the counts.

Definitions (``docs/analytics.md`` says how they differ from GoAccess's):

- pageview: a person's (not a bot's) GET of a page, answered 2xx or 304; not an asset,
  a health check or an ``/api/`` call;
- visitor: a distinct key on a day (a keyed hash of the day's salt, address and
  User-Agent). Days' visitors are added up for a week or a month: the salt changes
  daily, so nobody can tell one person's two days apart, and nobody should;
- visit: a visitor's run of pageviews (and orders placed) with gaps under 30 minutes,
  within one UTC day; its duration runs from its first request to its last; a bounce is a
  visit of one pageview; a visit counts in the hour it started;
- the funnel: visits that viewed a product, then the cart, then the checkout, then
  placed an order (``POST /api/v1/orders`` answered 200 or 201), each step after the one
  before in the same visit.

The slowest routes: requests whose line gives the seconds they took (the shop's own log
does; nginx's does with ``$request_time`` appended), per route template; ``total`` sums
their milliseconds.

Breakdowns keep each day's first ``CELL_CAP`` values of a dimension by visitors, then
hits; the rest of the day is one row ``OTHER`` whose visitors are the sum over its values
(a person seen on two of them counts twice there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import duckdb
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics.models import TrafficCell, TrafficDay, TrafficHour
from quietshop.db import insert_many, transaction

ORDER_PATH = "/api/v1/orders"
VISIT_GAP = "INTERVAL 30 MINUTE"
CELL_CAP = 1000
OTHER = "(other)"
TRANSITION = " → "
FUNNEL_STEPS = ("1 product", "2 cart", "3 checkout", "4 order placed")
# The breakdowns, in the order the reports show them.
DIMENSIONS = (
    "page",
    "entry",
    "exit",
    "transition",
    "funnel",
    "referrer",
    "browser",
    "os",
    "device",
    "country",
    "status",
    "missing",
    "route",
    "excluded",
    "rejected",
)

# The day's pageviews and orders in visit order, with each one's visit number, the page
# viewed just before in the same visit, and its funnel step as a letter. Two window passes
# over one ordering: a visit starts where the gap to the visitor's previous request is
# 30 minutes or more, so whether the previous request is of the same visit is known from
# the gap alone, before the visits are numbered. ``seq`` is a request's place in its
# visitor's day by time (the order lines were read in only breaks ties), so a visit's
# first and last pages are its first and last in time whatever order files were read in.
_STEPS = f"""
CREATE OR REPLACE TEMP TABLE steps AS
WITH ordered AS (
    SELECT day, "at", visitor, path, referrer, pageview, order_placed,
           row_number() OVER running AS seq,
           lag("at") OVER running AS previous,
           lag(CASE WHEN pageview THEN path END) OVER running AS previous_page
    FROM events
    WHERE day IN (SELECT day FROM counting) AND visitor IS NOT NULL
      AND (pageview OR order_placed)
    WINDOW running AS (PARTITION BY day, visitor ORDER BY "at", rowid)
), starts AS (
    SELECT *, previous IS NULL OR "at" - previous >= {VISIT_GAP} AS starts_visit
    FROM ordered
)
SELECT day, "at", visitor, path, referrer, pageview, order_placed, seq,
       sum(starts_visit::INTEGER) OVER (PARTITION BY day, visitor ORDER BY "at", seq) AS visit,
       CASE WHEN NOT starts_visit THEN previous_page END AS came_from,
       CASE WHEN order_placed THEN 'o'
            WHEN starts_with(path, '/products/') THEN 'p'
            WHEN path = '/cart' THEN 'c'
            WHEN path = '/checkout' THEN 'k' END AS step
FROM starts
"""  # noqa: S608 -- built from this module's constants, no input
# A visit's funnel: its steps' letters in order, matched as product, then cart, then
# checkout, then an order (other pages between them do not matter).
_VISITS = """
CREATE OR REPLACE TEMP TABLE visits AS
WITH walked AS (
    SELECT day, visitor, visit, min("at") AS started, max("at") AS ended,
           count(*) FILTER (pageview) AS views,
           arg_min(path, seq) FILTER (pageview) AS entry,
           arg_max(path, seq) FILTER (pageview) AS exit,
           arg_min(referrer, seq) FILTER (pageview) AS referrer,
           coalesce(string_agg(step, '' ORDER BY "at", seq), '') AS steps
    FROM steps GROUP BY day, visitor, visit HAVING count(*) FILTER (pageview) > 0
)
SELECT day, visitor, visit, started, ended, views, entry, exit, referrer,
       contains(steps, 'p') AS product,
       regexp_matches(steps, 'p.*c') AS cart,
       regexp_matches(steps, 'p.*c.*k') AS checkout,
       regexp_matches(steps, 'p.*c.*k.*o') AS placed
FROM walked
"""
_DAYS = """
WITH p AS (
    SELECT day, count(*) FILTER (pageview) AS pageviews,
           count(DISTINCT visitor) FILTER (pageview) AS visitors,
           count(*) AS requests, count(DISTINCT visitor) AS request_visitors
    FROM events WHERE day IN (SELECT day FROM counting) GROUP BY day
), v AS (
    SELECT day, count(*) AS visits, count(*) FILTER (views = 1) AS bounces,
           sum(epoch(ended) - epoch(started))::BIGINT AS seconds
    FROM visits GROUP BY day
)
SELECT c.day, coalesce(p.pageviews, 0), coalesce(p.visitors, 0), coalesce(v.visits, 0),
       coalesce(v.bounces, 0), coalesce(v.seconds, 0), coalesce(p.requests, 0),
       coalesce(p.request_visitors, 0)
FROM counting c LEFT JOIN p USING (day) LEFT JOIN v USING (day) ORDER BY c.day
"""
_HOURS = """
WITH p AS (
    SELECT date_trunc('hour', "at") AS hour, count(*) AS pageviews,
           count(DISTINCT visitor) AS visitors
    FROM events WHERE day IN (SELECT day FROM counting) AND pageview GROUP BY 1
), v AS (
    SELECT date_trunc('hour', started) AS hour, count(*) AS visits,
           count(*) FILTER (views = 1) AS bounces,
           sum(epoch(ended) - epoch(started))::BIGINT AS seconds
    FROM visits GROUP BY 1
)
SELECT hour, coalesce(p.pageviews, 0), coalesce(p.visitors, 0), coalesce(v.visits, 0),
       coalesce(v.bounces, 0), coalesce(v.seconds, 0)
FROM p FULL JOIN v USING (hour) ORDER BY hour
"""
# Each dimension: (day, value, visitors, hits, visits, total) rows; the cap is applied after.
_EVENTS_OF_DAYS = "FROM events WHERE day IN (SELECT day FROM counting)"
_TIMED_PATHS = f"SELECT DISTINCT path {_EVENTS_OF_DAYS} AND seconds IS NOT NULL"
# Each visitor of the days once (for the browsers, systems, devices and countries).
_TRAITS = f"""
CREATE OR REPLACE TEMP TABLE traits AS
SELECT day, visitor, count(*) FILTER (pageview) AS views,
       coalesce(max(country) FILTER (country <> 'unknown'), 'unknown') AS country,
       max(browser) AS browser, max(os) AS os, max(device) AS device
{_EVENTS_OF_DAYS} AND visitor IS NOT NULL GROUP BY day, visitor
HAVING count(*) FILTER (pageview) > 0
"""
_VISITOR_TRAITS = (
    "SELECT day, {trait} AS value, count(*) AS visitors, sum(views)::BIGINT AS hits, 0, 0 "
    "FROM traits GROUP BY ALL"
)
_FUNNEL = " UNION ALL ".join(
    f"SELECT day, '{step}', count(DISTINCT visitor), 0, count(*), 0 FROM visits "  # noqa: S608
    f"WHERE {flag} GROUP BY day"
    for step, flag in zip(FUNNEL_STEPS, ("product", "cart", "checkout", "placed"), strict=True)
)
_CELLS: dict[str, str] = {
    "page": f"SELECT day, path, count(DISTINCT visitor), count(*), 0, 0 {_EVENTS_OF_DAYS} "
    "AND pageview GROUP BY ALL",
    "entry": "SELECT day, entry, count(DISTINCT visitor), 0, count(*), 0 FROM visits GROUP BY ALL",
    "exit": "SELECT day, exit, count(DISTINCT visitor), 0, count(*), 0 FROM visits GROUP BY ALL",
    "transition": f"SELECT day, came_from || '{TRANSITION}' || path, "  # noqa: S608
    "count(DISTINCT visitor), "
    "count(*), 0, 0 FROM steps WHERE pageview AND came_from IS NOT NULL AND came_from <> path "
    "GROUP BY ALL",
    "funnel": _FUNNEL,
    "referrer": "SELECT day, referrer, count(DISTINCT visitor), 0, count(*), 0 FROM visits "
    "WHERE referrer <> '' GROUP BY ALL",
    "browser": _VISITOR_TRAITS.format(trait="browser"),
    "os": _VISITOR_TRAITS.format(trait="os"),
    "device": _VISITOR_TRAITS.format(trait="device"),
    "country": _VISITOR_TRAITS.format(trait="country"),
    "status": f"SELECT day, CAST(status AS VARCHAR), count(DISTINCT visitor), count(*), 0, 0 "
    f"{_EVENTS_OF_DAYS} GROUP BY ALL",
    "missing": f"SELECT day, path, count(DISTINCT visitor), count(*), 0, 0 {_EVENTS_OF_DAYS} "
    "AND status = 404 GROUP BY ALL",
    "route": "SELECT e.day, r.route, count(DISTINCT e.visitor), count(*), 0, "
    "round(sum(e.seconds) * 1000)::BIGINT FROM events e JOIN routes r USING (path) "
    "WHERE e.day IN (SELECT day FROM counting) AND e.seconds IS NOT NULL GROUP BY ALL",
    "excluded": "SELECT day, kind, 0, sum(requests)::BIGINT, 0, 0 FROM excluded "
    "WHERE day IN (SELECT day FROM counting) GROUP BY ALL",
    "rejected": "SELECT day, reason, 0, sum(lines)::BIGINT, 0, 0 FROM rejected "
    "WHERE day IN (SELECT day FROM counting) GROUP BY ALL",
}
assert tuple(_CELLS) == DIMENSIONS
# Every dimension in one statement (one pass for DuckDB's threads, not one per dimension):
# the first CELL_CAP values of each day, and the rest as one OTHER row; in the order of
# analytics_cells' key, so the shop's database appends to its b-tree instead of inserting
# all over it (170,000 cells: 1.1 s shuffled, 0.55 s in order).
_UNION = " UNION ALL ".join(
    f"SELECT '{dimension}', * FROM ({query})"  # noqa: S608 -- this module's constants
    for dimension, query in _CELLS.items()
)
_CAPPED = f"""
WITH cells (dimension, day, value, visitors, hits, visits, total) AS ({_UNION}),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY dimension, day ORDER BY visitors DESC,
                                 hits DESC, visits DESC, value) AS rank
    FROM cells WHERE value IS NOT NULL
)
SELECT dimension, day,
       CASE WHEN rank <= {CELL_CAP} THEN left(value, 600) ELSE '{OTHER}' END AS value,
       sum(visitors)::BIGINT, sum(hits)::BIGINT, sum(visits)::BIGINT, sum(total)::BIGINT
FROM ranked GROUP BY ALL
ORDER BY dimension, day, value
"""  # noqa: S608 -- built from this module's constants, no input


# Days counted (and written to the shop's database) together: a few at a time bounds
# what is held at once (a day's cells are ~2,000 rows; 90 days at once held ~30 MB more)
# without a statement per day.
DAYS_PER_COUNT = 8


def count_days(
    connection: duckdb.DuckDBPyConnection,
    sessions: sessionmaker[Session],
    node: str,
    days: Sequence[date],
    route_of: Callable[[str], str],
) -> list[date]:
    """Count ``days`` anew from the node's events and replace the node's rows of them in
    the shop's database, DAYS_PER_COUNT days a transaction; then they are no longer dirty
    (a run stopped between two leaves the rest dirty, for the next). Returns the days
    counted. ``route_of`` names each distinct path by its route (once a path, not once a
    line)."""
    ordered = sorted(days)
    for start in range(0, len(ordered), DAYS_PER_COUNT):
        _count_some(connection, sessions, node, ordered[start : start + DAYS_PER_COUNT], route_of)
    return ordered


def _count_some(
    connection: duckdb.DuckDBPyConnection,
    sessions: sessionmaker[Session],
    node: str,
    days: Sequence[date],
    route_of: Callable[[str], str],
) -> None:
    connection.execute("CREATE OR REPLACE TEMP TABLE counting (day DATE PRIMARY KEY)")
    connection.execute("INSERT INTO counting SELECT unnest(?)", [list(days)])
    paths = [row[0] for row in connection.execute(_TIMED_PATHS).fetchall()]
    connection.execute("CREATE OR REPLACE TEMP TABLE routes (path VARCHAR, route VARCHAR)")
    if paths:
        routes = [route_of(path) for path in paths]
        connection.execute("INSERT INTO routes SELECT unnest(?), unnest(?)", [paths, routes])
    connection.execute(_STEPS)
    connection.execute(_VISITS)
    connection.execute(_TRAITS)
    day_rows = connection.execute(_DAYS).fetchall()
    hour_rows = connection.execute(_HOURS).fetchall()
    cells = connection.execute(_CAPPED).fetchall()
    _replace(sessions, node, days, day_rows, hour_rows, cells)
    connection.execute("DELETE FROM dirty_days WHERE day IN (SELECT day FROM counting)")
    connection.execute(
        "DROP TABLE steps; DROP TABLE visits; DROP TABLE traits; DROP TABLE routes; "
        "DROP TABLE counting"
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _replace(
    sessions: sessionmaker[Session],
    node: str,
    days: Sequence[date],
    day_rows: list[Any],
    hour_rows: list[Any],
    cells: list[Any],
) -> None:
    with transaction(sessions) as session:
        connection = session.connection()
        for day in days:
            connection.execute(
                delete(TrafficDay).where(TrafficDay.node == node, TrafficDay.day == day)
            )
            # Every dimension named, for the key that leads with it.
            connection.execute(
                delete(TrafficCell).where(
                    TrafficCell.dimension.in_(DIMENSIONS),
                    TrafficCell.day == day,
                    TrafficCell.node == node,
                )
            )
            connection.execute(
                delete(TrafficHour).where(
                    TrafficHour.node == node,
                    TrafficHour.hour >= _midnight(day),
                    TrafficHour.hour < _midnight(day + timedelta(days=1)),
                )
            )
        insert_many(connection, TrafficDay, _DAY_COLUMNS, ((node, *r) for r in day_rows))
        insert_many(
            connection,
            TrafficHour,
            _HOUR_COLUMNS,
            ((node, hour.replace(tzinfo=UTC), *rest) for hour, *rest in hour_rows),
        )
        insert_many(
            connection,
            TrafficCell,
            _CELL_COLUMNS,
            ((node, day, dimension, *rest) for dimension, day, *rest in cells),
        )


# The columns of the rows _DAYS, _HOURS and _CAPPED give, after the node (and dimension).
_DAY_COLUMNS = (
    *("node", "day", "pageviews", "visitors", "visits", "bounces", "visit_seconds"),
    *("requests", "request_visitors"),
)
_HOUR_COLUMNS = ("node", "hour", "pageviews", "visitors", "visits", "bounces", "visit_seconds")
_CELL_COLUMNS = ("node", "day", "dimension", "value", "visitors", "hits", "visits", "total")
