"""The traffic reports (issue 10, items 4 and 5): one ``Report`` that the JSON API, the
back office and ``quietshop analytics report`` all show, read from the aggregates of
every node.

Nothing a report shows can single anyone out:

- who is "k visitors": over more than a day, a value's visitors are its days' visitors
  added up (the salt changes daily, so nobody can tell one person's two days apart), and
  one person seen on five days would be five. So a value is shown only where it reaches k
  on one day, where k visitors are k people: its *most visitors on one day*. That is the
  count every rule below is checked against, while the visitors shown stay the sum;
- a breakdown's value that reaches k on no day of the period is not listed: it is folded
  into ``(other)``. ``(other)`` cannot count its distinct visitors (the cells hold each
  value's), so it shows the most that any one of its values had on one day, a number it
  surely reaches; when that is below k, nothing of it is shown (``visitors``, ``hits``
  and ``visits`` are None, "fewer than k"), since a sum of small values could still be
  one person;
- the same holds for each point of the trend (an hour, a day; a week or a month by its
  busiest day) and each cell of the heatmap (by its busiest hour) and funnel step: below
  k, nothing of it is shown. A point also hides when fewer than k visits began in it
  (visits count in the hour they began: 1 visit in an hour of 5 visitors is one person's);
- the period's totals are shown whole: they say how many came, not who or how;
- bots, assets, health checks and rejected lines are requests, not people: shown as counted.

Weeks start on Monday; days, hours and weeks are UTC, as the log's visitor salts are.
Over more than a day, visitors are days' visitors added up (``aggregates.py``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import Select, and_, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from quietshop.analytics.aggregates import DIMENSIONS, FUNNEL_STEPS, OTHER
from quietshop.analytics.models import TrafficCell, TrafficDay, TrafficHour
from quietshop.errors import QuietshopError

Granularity = Literal["hour", "day", "week", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("hour", "day", "week", "month")
# Requests, not people: no visitor is counted in them, so k does not apply.
REQUEST_DIMENSIONS = frozenset({"excluded", "rejected"})
SLOWEST = "route"  # sorted by mean duration, slowest first
# A report's ranges: no more than this many days, and an hourly trend no more than 31.
MAX_DAYS = 3 * 366
MAX_HOURLY_DAYS = 31
TOP_ROWS = 20


class PeriodError(QuietshopError):
    """A period that cannot be reported: reversed, or too long."""

    status_code = 422
    code = "invalid_period"


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # included

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise PeriodError(f"the period ends ({self.last}) before it starts ({self.first})")
        if self.days > MAX_DAYS:
            raise PeriodError(f"a period is at most {MAX_DAYS} days, not {self.days}")
        if self.last >= date.max:
            raise PeriodError(f"a period ends before {date.max}")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The moment after the period (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=UTC)

    def before(self) -> Period:
        """The period of the same length just before this one."""
        try:
            first = self.first - timedelta(days=self.days)
        except OverflowError:
            raise PeriodError(f"no period of {self.days} days before {self.first}") from None
        return Period(first, self.first - timedelta(days=1))


DEFAULT_DAYS = 30  # a report without its first day covers this many days


def period_of(first: date | None, last: date | None, today: date) -> Period:
    """The period a report is asked for: ``last`` defaults to today, ``first`` to the
    DEFAULT_DAYS days that end with ``last`` (the API and the command alike)."""
    last = last or today
    if first is not None:
        return Period(first, last)
    try:
        return Period(last - timedelta(days=DEFAULT_DAYS - 1), last)
    except OverflowError:
        raise PeriodError(f"no period of {DEFAULT_DAYS} days ends on {last}") from None


@dataclass(frozen=True)
class Totals:
    pageviews: int = 0
    visitors: int = 0
    visits: int = 0
    bounces: int = 0
    visit_seconds: int = 0

    @property
    def views_per_visit(self) -> float | None:
        return round(self.pageviews / self.visits, 2) if self.visits else None

    @property
    def bounce_rate(self) -> float | None:
        return round(self.bounces / self.visits, 4) if self.visits else None

    @property
    def mean_visit_seconds(self) -> float | None:
        return round(self.visit_seconds / self.visits, 1) if self.visits else None

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.pageviews + other.pageviews,
            self.visitors + other.visitors,
            self.visits + other.visits,
            self.bounces + other.bounces,
            self.visit_seconds + other.visit_seconds,
        )


@dataclass(frozen=True)
class TrendPoint:
    start: datetime
    totals: Totals
    hidden: bool = False  # below k (see the module's docstring): nothing of it is shown


@dataclass(frozen=True)
class Row:
    """One value of a breakdown. None in all three: fewer than k visitors (only ever the
    ``(other)`` row), whose hits and visits would tell as much as their number."""

    value: str
    visitors: int | None
    hits: int | None
    visits: int | None
    total: int | None = 0  # the routes' milliseconds; 0 elsewhere
    # The most visitors the value had on one day (see the module's docstring); not shown.
    most: int | None = field(default=None, compare=False, repr=False)

    @property
    def mean_ms(self) -> float | None:
        """A route's mean duration (``total`` over ``hits``)."""
        if self.total is None or not self.hits:
            return None
        return round(self.total / self.hits, 1)


@dataclass(frozen=True)
class Breakdown:
    dimension: str
    rows: list[Row]
    other: Row | None
    # Values seen, those listed (k and more visitors), and those folded into other.
    values: int = 0
    folded: int = 0


@dataclass(frozen=True)
class HeatCell:
    weekday: int  # 0 Monday
    hour: int
    pageviews: int | None
    visitors: int | None  # None (both): fewer than k visitors


@dataclass(frozen=True)
class FunnelStep:
    step: str
    visitors: int | None  # None (and visits, and the share): fewer than k visitors
    visits: int | None
    of_previous: float | None  # the share of the previous step's visits that went on


@dataclass(frozen=True)
class Report:
    period: Period
    min_visitors: int
    granularity: Granularity
    totals: Totals
    requests: int
    trend: list[TrendPoint]
    heatmap: list[HeatCell]
    funnel: list[FunnelStep]
    breakdowns: dict[str, Breakdown] = field(default_factory=dict)
    compared: Report | None = None


# ---------------------------------------------------------------- queries


def totals(session: Session, period: Period) -> tuple[Totals, int]:
    """The period's totals and its counted requests."""
    row = session.execute(
        select(
            func.coalesce(func.sum(TrafficDay.pageviews), 0),
            func.coalesce(func.sum(TrafficDay.visitors), 0),
            func.coalesce(func.sum(TrafficDay.visits), 0),
            func.coalesce(func.sum(TrafficDay.bounces), 0),
            func.coalesce(func.sum(TrafficDay.visit_seconds), 0),
            func.coalesce(func.sum(TrafficDay.requests), 0),
        ).where(TrafficDay.day >= period.first, TrafficDay.day <= period.last)
    ).one()
    return Totals(*(int(value) for value in row[:5])), int(row[5])


# Each day's or hour's totals over the nodes, and the most visitors one node had in it
# (two nodes' 3 and 3 may be the same 3 people: k is checked against the 3).
def _day_totals(session: Session, period: Period) -> dict[date, tuple[Totals, int]]:
    rows = session.execute(
        select(
            TrafficDay.day,
            func.sum(TrafficDay.pageviews),
            func.sum(TrafficDay.visitors),
            func.sum(TrafficDay.visits),
            func.sum(TrafficDay.bounces),
            func.sum(TrafficDay.visit_seconds),
            func.max(TrafficDay.visitors),
        )
        .where(TrafficDay.day >= period.first, TrafficDay.day <= period.last)
        .group_by(TrafficDay.day)
    )
    return {row[0]: (Totals(*(int(n) for n in row[1:6])), int(row[6])) for row in rows}


def _hour_totals(
    session: Session, start: datetime, end: datetime
) -> dict[datetime, tuple[Totals, int]]:
    rows = session.execute(
        select(
            TrafficHour.hour,
            func.sum(TrafficHour.pageviews),
            func.sum(TrafficHour.visitors),
            func.sum(TrafficHour.visits),
            func.sum(TrafficHour.bounces),
            func.sum(TrafficHour.visit_seconds),
            func.max(TrafficHour.visitors),
        )
        .where(TrafficHour.hour >= start, TrafficHour.hour < end)
        .group_by(TrafficHour.hour)
    )
    return {row[0]: (Totals(*(int(n) for n in row[1:6])), int(row[6])) for row in rows}


def _bucket(day: date, granularity: Granularity) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def _below(most: int, visits: int, min_visitors: int) -> bool:
    """Whether a point of ``most`` visitors (on its busiest day or hour) and ``visits``
    visits begun in it is below k: hidden."""
    return 0 < most < min_visitors or 0 < visits < min_visitors


def trend(
    session: Session, period: Period, granularity: Granularity, min_visitors: int
) -> list[TrendPoint]:
    """One point per hour, day, week or month of the period, empty ones included."""
    if granularity == "hour":
        if period.days > MAX_HOURLY_DAYS:
            raise PeriodError(f"an hourly trend covers at most {MAX_HOURLY_DAYS} days")
        hours = _hour_totals(session, period.start, period.end)
        points = []
        for n in range(period.days * 24):
            moment = period.start + timedelta(hours=n)
            found, most = hours.get(moment, (Totals(), 0))
            hidden = _below(most, found.visits, min_visitors)
            points.append(TrendPoint(moment, Totals() if hidden else found, hidden))
        return points
    buckets: dict[date, Totals] = {}
    busiest: dict[date, int] = defaultdict(int)  # the most visitors of one of its days
    for n in range(period.days):
        buckets.setdefault(_bucket(period.first + timedelta(days=n), granularity), Totals())
    for day, (found, most) in _day_totals(session, period).items():
        key = _bucket(day, granularity)
        buckets[key] = buckets[key] + found
        busiest[key] = max(busiest[key], most)
    points = []
    for day, found in sorted(buckets.items()):
        hidden = _below(busiest[day], found.visits, min_visitors)
        start = datetime.combine(day, time(), tzinfo=UTC)
        points.append(TrendPoint(start, Totals() if hidden else found, hidden))
    return points


def heatmap(session: Session, period: Period, min_visitors: int) -> list[HeatCell]:
    """Time of day (UTC) by day of the week, every one of the 168 cells; a cell below k
    visitors in its busiest hour is hidden."""
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for moment, (found, most) in _hour_totals(session, period.start, period.end).items():
        cell = sums[(moment.weekday(), moment.hour)]
        cell[0] += found.pageviews
        cell[1] += found.visitors
        cell[2] = max(cell[2], most)
    cells = []
    for weekday in range(7):
        for hour in range(24):
            pageviews, visitors, most = sums.get((weekday, hour), (0, 0, 0))
            shown = not 0 < most < min_visitors
            cells.append(
                HeatCell(weekday, hour, pageviews if shown else None, visitors if shown else None)
            )
    return cells


def _cells(dimension: str, period: Period) -> Select[str, int, int, int, int, int]:
    """Each value's sums over the period, and ``most``: its most visitors on one day."""
    return (
        select(
            TrafficCell.value,
            func.sum(TrafficCell.visitors).label("visitors"),
            func.sum(TrafficCell.hits).label("hits"),
            func.sum(TrafficCell.visits).label("visits"),
            func.sum(TrafficCell.total).label("total"),
            func.max(TrafficCell.visitors).label("most"),
        )
        .where(
            TrafficCell.dimension == dimension,
            TrafficCell.day >= period.first,
            TrafficCell.day <= period.last,
        )
        .group_by(TrafficCell.value)
    )


def breakdown(
    session: Session,
    period: Period,
    dimension: str,
    min_visitors: int,
    limit: int | None = TOP_ROWS,
) -> Breakdown:
    """The dimension's values by visitors (then hits; routes by their mean duration), the
    first ``limit`` of those seen by at least ``min_visitors``; the rest folded into
    ``(other)``."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"no such breakdown: {dimension!r}")
    if dimension == SLOWEST or dimension in REQUEST_DIMENSIONS:
        return _small_breakdown(session, period, dimension, min_visitors, limit)
    return _ranked_breakdown(session, period, dimension, min_visitors, limit)


def _small_breakdown(
    session: Session, period: Period, dimension: str, min_visitors: int, limit: int | None
) -> Breakdown:
    """Routes and the left-out requests: a few dozen values, sorted here."""
    found = [
        Row(value, int(visitors), int(hits), int(visits), int(total), int(most))
        for value, visitors, hits, visits, total, most in session.execute(_cells(dimension, period))
    ]
    if dimension == SLOWEST:
        found.sort(key=lambda row: (-(row.mean_ms or 0), row.value))
    else:
        found.sort(key=lambda row: (-(row.visitors or 0), -(row.hits or 0), row.value))
    counts_people = dimension not in REQUEST_DIMENSIONS
    listed: list[Row] = []
    folded: list[Row] = []
    for row in found:
        small = counts_people and (row.most or 0) < min_visitors
        if row.value == OTHER or small or (limit is not None and len(listed) >= limit):
            folded.append(row)
        else:
            listed.append(row)
    return Breakdown(
        dimension,
        listed,
        _other(folded, min_visitors, counts_people),
        values=len(found),
        folded=sum(1 for row in folded if row.value != OTHER),
    )


def _ranked_breakdown(
    session: Session, period: Period, dimension: str, min_visitors: int, limit: int | None
) -> Breakdown:
    """Pages, transitions, referrers...: tens of thousands of values over 90 days, so the
    database ranks them and adds them all up in one statement, and only the listed rows
    and one sum come back (sorting 37,000 transitions here took 400 ms). The folded ones
    are the sum less the listed; their most visitors, the larger of the unlisted values'
    and the first listable value past ``limit``'s."""
    grouped = _cells(dimension, period).cte("grouped")
    listable = and_(grouped.c.value != OTHER, grouped.c.most >= min_visitors)
    order = (grouped.c.visitors.desc(), grouped.c.hits.desc(), grouped.c.value)
    top = select(
        literal(1).label("listable"), grouped.c.value, grouped.c.visitors, grouped.c.hits,
        grouped.c.visits, grouped.c.most, literal(1).label("values"), literal(0).label("others"),
    ).where(listable).order_by(*order)  # fmt: skip
    if limit is not None:
        top = top.limit(limit + 1)
    everything = select(
        literal(0), literal(OTHER), literal(0), func.sum(grouped.c.hits),
        func.sum(grouped.c.visits), func.max(case((~listable, grouped.c.most))), func.count(),
        func.sum(case((grouped.c.value == OTHER, 1), else_=0)),
    )  # fmt: skip
    found = session.execute(union_all(top.subquery().select(), everything)).all()
    rows = [
        Row(value, int(v), int(h), int(n), 0, int(m))
        for first, value, v, h, n, m, _, _ in found
        if first
    ]
    _, _, _, hits, visits, unlisted_most, values, others = next(r for r in found if not r[0])
    if limit is not None and len(rows) > limit:
        unlisted_most = max(unlisted_most or 0, rows[limit].most or 0)
        rows = rows[:limit]
    folded = int(values) - len(rows)
    other = None
    if folded:
        other = _folded_row(
            int(unlisted_most or 0),
            int(hits or 0) - sum(row.hits or 0 for row in rows),
            int(visits or 0) - sum(row.visits or 0 for row in rows),
            0,
            min_visitors,
        )
    return Breakdown(dimension, rows, other, values=int(values), folded=folded - int(others or 0))


def _folded_row(at_least: int, hits: int, visits: int, total: int, min_visitors: int) -> Row:
    if at_least < min_visitors:
        return Row(OTHER, None, None, None, None)
    return Row(OTHER, at_least, hits, visits, total, at_least)


def _other(folded: list[Row], min_visitors: int, counts_people: bool) -> Row | None:
    """The folded values as one row. Its hits, visits and milliseconds add up; its
    visitors do not (one person seen on three rare pages is one visitor, not three), so
    it shows the most any one of its values had on one day: a count it surely reaches.
    Below k, nothing of it is shown: a sum of small values could still be one person."""
    if not folded:
        return None
    if not counts_people:
        return Row(OTHER, 0, sum(row.hits or 0 for row in folded), 0, 0)
    return _folded_row(
        max(row.most or 0 for row in folded),
        sum(row.hits or 0 for row in folded),
        sum(row.visits or 0 for row in folded),
        sum(row.total or 0 for row in folded),
        min_visitors,
    )


def funnel(session: Session, period: Period, min_visitors: int) -> list[FunnelStep]:
    """Product, cart, checkout, order placed: the visits that reached each step in order,
    and the share of the step before that went on."""
    cells = session.execute(_cells("funnel", period))
    found = {
        value: (int(visitors), int(visits), int(most))
        for value, visitors, _, visits, _, most in cells
    }
    steps = []
    previous: int | None = None
    for step in FUNNEL_STEPS:
        visitors, visits, most = found.get(step, (0, 0, 0))
        if _below(most, visits, min_visitors):
            steps.append(FunnelStep(step[2:], None, None, None))
        else:
            share = round(visits / previous, 4) if previous else None
            steps.append(FunnelStep(step[2:], visitors, visits, share))
        previous = visits
    return steps


def report(
    session: Session,
    period: Period,
    *,
    min_visitors: int,
    granularity: Granularity = "day",
    compare_to: Period | None = None,
    limit: int | None = TOP_ROWS,
) -> Report:
    """Everything the traffic screen shows for ``period`` (and, if asked, the same for
    ``compare_to``, without its own comparison)."""
    found, requests = totals(session, period)
    compared = None
    if compare_to is not None:
        compared = report(
            session, compare_to, min_visitors=min_visitors, granularity=granularity, limit=limit
        )
    return Report(
        period=period,
        min_visitors=min_visitors,
        granularity=granularity,
        totals=found,
        requests=requests,
        trend=trend(session, period, granularity, min_visitors),
        heatmap=heatmap(session, period, min_visitors),
        funnel=funnel(session, period, min_visitors),
        breakdowns={
            dimension: breakdown(session, period, dimension, min_visitors, limit)
            for dimension in DIMENSIONS
            if dimension != "funnel"
        },
        compared=compared,
    )
