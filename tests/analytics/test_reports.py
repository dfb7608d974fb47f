"""Issue 10, items 4 and 5: ``analytics/reports.py`` (and ``presenting.py``'s JSON and CSV
forms) on small logs whose right answers are worked out by hand in each test.

Each log is ingested for real (``ingest.py``, DuckDB) into a fresh SQLite shop, so the
definitions are checked end to end: a visitor is an address and a User-Agent on a UTC
day, a visit a visitor's run of pageviews with gaps under 30 minutes. The definitions'
tests report with k = 1 so that every count shows; k has tests of its own (5, the
default, and 3), among them a property over random logs: no count of people shown in any
breakdown, heatmap cell or funnel step lies in 1..k-1.

The ranking and folding statements are also run on rows written by hand, on SQLite and
PostgreSQL (the ``db`` fixture), since they are the only SQL here written per dialect.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from quietshop.analytics import presenting, reports
from quietshop.analytics.aggregates import OTHER
from quietshop.analytics.models import TrafficCell, TrafficDay, TrafficHour
from quietshop.analytics.reports import (
    MAX_DAYS,
    MAX_HOURLY_DAYS,
    REQUEST_DIMENSIONS,
    Granularity,
    Period,
    PeriodError,
    Report,
    Row,
    Totals,
)
from quietshop.db import make_engine, make_session_factory
from tests.analytics.test_ingest import NOW, TODAY, UA, Shop

# TODAY is Wednesday 2026-11-25; the hand-made logs happen in its morning, before NOW (noon).
WEDNESDAY = TODAY
GB, US, IE, AU = "81.2.69.142", "8.8.8.8", "2a00:1450:4001:81b::200e", "1.1.1.1"
PRIVATE = "10.0.0.1"  # no country: unknown
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
BOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"


def at(hour: int, minute: int = 0, second: int = 0, day: date = WEDNESDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Visitor:
    """An address and a User-Agent: one visitor a day."""

    host: str = GB
    agent: str = UA

    def at(
        self,
        when: datetime,
        path: str = "/",
        *,
        status: int = 200,
        method: str = "GET",
        referrer: str = "-",
        seconds: str | None = None,
    ) -> str:
        """One line of the shop's log format (with the request's seconds, if given)."""
        stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        took = "" if seconds is None else f" {seconds}"
        return (
            f'{self.host} - - [{stamp}] "{method} {path} HTTP/1.1" {status} 512 '
            f'"{referrer}" "{self.agent}"{took}\n'
        )


_people = count()


def people(n: int, host: str = GB, agent: str = UA) -> list[Visitor]:
    """``n`` visitors none of whom is any other visitor of the module: one address, each
    a User-Agent of its own (ua-parser reads them all as the same browser)."""
    return [Visitor(host, f"{agent} p{next(_people)}") for _ in range(n)]


def views(visitors: list[Visitor], when: datetime, *paths: str) -> list[str]:
    """Each visitor views ``paths`` in order, a minute apart, from ``when``."""
    return [
        visitor.at(when + timedelta(minutes=n), path)
        for visitor in visitors
        for n, path in enumerate(paths)
    ]


@dataclass
class Traffic:
    """A fresh shop whose aggregates come from the lines given to ``add``."""

    shop: Shop
    folder: Path
    files: int = 0

    def add(self, *lines: str | list[str], now: datetime = NOW) -> None:
        text = "".join(part if isinstance(part, str) else "".join(part) for part in lines)
        self.files += 1
        log = self.folder / f"access-{self.files}.log"
        log.write_text(text)
        (found,) = self.shop.ingest(log, now=now).files
        assert found.error is None and found.rejected == {}, found

    def report(
        self,
        first: date = WEDNESDAY,
        last: date | None = None,
        *,
        k: int = 1,
        by: Granularity = "day",
        compare: bool = False,
        limit: int | None = reports.TOP_ROWS,
    ) -> Report:
        period = Period(first, last or first)
        with self.shop.sessions() as session:
            return reports.report(
                session,
                period,
                min_visitors=k,
                granularity=by,
                compare_to=period.before() if compare else None,
                limit=limit,
            )


@contextmanager
def new_traffic(migrated: Path) -> Iterator[Traffic]:
    """A shop copied from the migrated one, in a folder of its own (hypothesis makes many)."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        shutil.copyfile(migrated, folder / "shop.db")
        engine = make_engine(f"sqlite:///{folder / 'shop.db'}")
        try:
            yield Traffic(Shop(make_session_factory(engine), folder / "store"), folder)
        finally:
            engine.dispose()


@pytest.fixture
def traffic(migrated: Path) -> Iterator[Traffic]:
    with new_traffic(migrated) as found:
        yield found


def rows(report: Report, dimension: str) -> list[tuple[str, int | None, int | None, int | None]]:
    """A breakdown's listed rows as (value, visitors, hits, visits)."""
    return [(r.value, r.visitors, r.hits, r.visits) for r in report.breakdowns[dimension].rows]


def listed(report: Report, dimension: str) -> dict[str, int | None]:
    """A breakdown's listed values and their visitors."""
    return {row.value: row.visitors for row in report.breakdowns[dimension].rows}


def hidden(value: str = OTHER) -> Row:
    return Row(value, None, None, None, None)


# ---------------------------------------------------------------- the definitions


def test_a_visitor_is_an_address_and_a_browser_and_only_pages_are_pageviews(
    traffic: Traffic,
) -> None:
    """Two User-Agents behind one address are two visitors; one of them twice is one.
    A bot, an asset, a health check, an API call, a POST, a 404 and a 500 are no
    pageview, yet requests (bots, assets and health checks are not even that)."""
    firefox, android = Visitor(GB, UA), Visitor(GB, ANDROID)
    traffic.add(
        firefox.at(at(9), "/"),
        firefox.at(at(9, 1), "/products/cable"),
        android.at(at(9, 2), "/"),
        android.at(at(9, 3), "/products/cable", status=304),  # a 304 is a pageview
        Visitor(US, BOT).at(at(9, 4), "/"),
        firefox.at(at(9, 5), "/static/site.css"),
        firefox.at(at(9, 5), "/healthz"),
        firefox.at(at(9, 6), "/api/v1/cart"),
        firefox.at(at(9, 6), "/search", method="POST"),
        firefox.at(at(9, 7), "/nope", status=404),
        firefox.at(at(9, 7), "/broken", status=500),
    )
    found = traffic.report()
    assert (found.totals.pageviews, found.totals.visitors) == (4, 2)
    assert found.requests == 8  # the four pageviews, the API call, the POST, 404 and 500
    assert rows(found, "excluded") == [
        ("asset", 0, 1, 0),
        ("bot", 0, 1, 0),
        ("health check", 0, 1, 0),
    ]
    assert rows(found, "page") == [("/", 2, 2, 0), ("/products/cable", 2, 2, 0)]


def test_a_gap_of_30_minutes_starts_a_new_visit_and_one_second_less_does_not(
    traffic: Traffic,
) -> None:
    """09:00, 09:29:59 (29:59 later: the same visit), 09:59:59 (30:00 later: a new one).
    Two visits, 1799 s and 0 s long; the second is a bounce."""
    one = Visitor()
    traffic.add(one.at(at(9)), one.at(at(9, 29, 59), "/a"), one.at(at(9, 59, 59), "/b"))
    totals = traffic.report().totals
    assert totals == Totals(pageviews=3, visitors=1, visits=2, bounces=1, visit_seconds=1799)
    assert (totals.views_per_visit, totals.bounce_rate, totals.mean_visit_seconds) == (
        1.5,
        0.5,
        899.5,
    )
    assert rows(traffic.report(), "entry") == [("/", 1, 0, 1), ("/b", 1, 0, 1)]


def test_a_visit_lasts_from_its_first_request_to_its_last_an_order_included(
    traffic: Traffic,
) -> None:
    """The order is placed 10 minutes after the last pageview: it is part of the visit
    (and of its duration), but not a pageview, so 2 views and no bounce."""
    one = Visitor()
    traffic.add(
        one.at(at(10), "/products/cable"),
        one.at(at(10, 5), "/checkout"),
        one.at(at(10, 15), "/api/v1/orders", method="POST", status=201),
    )
    assert traffic.report().totals == Totals(2, 1, 1, 0, 15 * 60)


def test_a_visit_is_cut_at_midnight_and_days_add_their_visitors(traffic: Traffic) -> None:
    """23:50 and 00:05 the next day, 15 minutes apart: two UTC days, so two visits (each a
    bounce) and, over the two days, two visitors (the salt changes daily, by design)."""
    one, tuesday = Visitor(), WEDNESDAY - timedelta(days=1)
    traffic.add(one.at(at(23, 50, day=tuesday)), one.at(at(0, 5)))
    assert traffic.report(tuesday, WEDNESDAY).totals == Totals(2, 2, 2, 2, 0)
    assert traffic.report(WEDNESDAY).totals == Totals(1, 1, 1, 1, 0)


def test_entry_and_exit_pages_and_transitions_of_visits(traffic: Traffic) -> None:
    """A: / → /a → /a (a reload, no transition) → /b. B: / → /a. C: /b only."""
    a, b, c = people(3)
    traffic.add(
        views([a], at(9), "/", "/a", "/a", "/b"),
        views([b], at(9, 30), "/", "/a"),
        views([c], at(10), "/b"),
    )
    found = traffic.report()
    assert found.totals == Totals(7, 3, 3, 1, 3 * 60 + 60)
    assert rows(found, "entry") == [("/", 2, 0, 2), ("/b", 1, 0, 1)]
    assert rows(found, "exit") == [("/b", 2, 0, 2), ("/a", 1, 0, 1)]
    assert rows(found, "transition") == [("/ → /a", 2, 2, 0), ("/a → /b", 1, 1, 0)]
    assert rows(found, "page") == [("/a", 2, 3, 0), ("/", 2, 2, 0), ("/b", 2, 2, 0)]


def test_the_funnel_counts_visits_that_took_each_step_after_the_one_before(
    traffic: Traffic,
) -> None:
    """Six visitors, one visit each unless said:
    1 product, cart, checkout, order placed (201): all four steps;
    2 product, cart: two;
    3 cart, then product: product only (the cart came first);
    4 product, checkout: product only (no cart between);
    5 product, cart, checkout, an order refused (500): three;
    6 product at 09:00, cart at 10:00 (another visit): product only.
    Visits: product 6, cart 3, checkout 2, placed 1."""
    one, two, three, four, five, six = people(6)
    order = "/api/v1/orders"
    traffic.add(
        views([one], at(9), "/products/cable", "/cart", "/checkout"),
        one.at(at(9, 5), order, method="POST", status=201),
        views([two], at(9), "/products/cable", "/cart"),
        views([three], at(9), "/cart", "/products/cable"),
        views([four], at(9), "/products/cable", "/checkout"),
        views([five], at(9), "/products/lamp", "/about", "/cart", "/checkout"),
        five.at(at(9, 6), order, method="POST", status=500),
        six.at(at(9), "/products/cable"),
        six.at(at(10), "/cart"),
    )
    steps = [(s.step, s.visitors, s.visits, s.of_previous) for s in traffic.report().funnel]
    assert steps == [
        ("product", 6, 6, None),
        ("cart", 3, 3, 0.5),
        ("checkout", 2, 2, 0.6667),
        ("order placed", 1, 1, 0.5),
    ]


def test_browsers_systems_devices_and_countries_are_of_visitors(traffic: Traffic) -> None:
    """Each row counts visitors and their pageviews; an address no registry places (a
    private one) is ``unknown``; IPv6 is placed too."""
    traffic.add(
        views([Visitor(GB, UA)], at(9), "/", "/a"),
        views([Visitor(US, ANDROID)], at(9), "/"),
        views([Visitor(IE, IPAD)], at(9), "/", "/a", "/b"),
        views([Visitor(PRIVATE, UA)], at(9), "/"),
    )
    found = traffic.report()
    # Ranked by visitors, then pageviews, then name.
    assert rows(found, "browser") == [
        ("Firefox", 2, 3, 0),
        ("Mobile Safari", 1, 3, 0),
        ("Chrome Mobile", 1, 1, 0),
    ]
    assert rows(found, "os") == [("Linux", 2, 3, 0), ("iOS", 1, 3, 0), ("Android", 1, 1, 0)]
    assert rows(found, "device") == [("desktop", 2, 3, 0), ("tablet", 1, 3, 0), ("mobile", 1, 1, 0)]
    assert rows(found, "country") == [
        ("IE", 1, 3, 0),
        ("GB", 1, 2, 0),
        ("US", 1, 1, 0),
        ("unknown", 1, 1, 0),
    ]


def test_referrers_are_the_domains_visits_came_from(traffic: Traffic) -> None:
    """A visit's referrer is its first pageview's, as a domain without ``www.``; the shop's
    own pages, no referrer and a non-web one count as none."""
    a, b, c, d, e = people(5)
    traffic.add(
        a.at(at(9), "/", referrer="https://www.Example.org/post?id=1"),
        a.at(at(9, 1), "/a", referrer="https://other.example/"),  # not the visit's first
        b.at(at(9), "/", referrer="http://example.org:8080/x"),
        c.at(at(9), "/", referrer="https://quietshop.example/products/cable"),  # our own
        d.at(at(9), "/", referrer="android-app://com.google.android.gm/"),
        e.at(at(9), "/"),
    )
    assert rows(traffic.report(), "referrer") == [("example.org", 2, 0, 2)]


def test_status_codes_and_missing_pages_count_every_request_but_bots_and_assets(
    traffic: Traffic,
) -> None:
    a, b = people(2)
    traffic.add(
        views([a, b], at(9), "/"),
        a.at(at(9, 5), "/nope?from=mail", status=404),  # the query is not part of the path
        b.at(at(9, 5), "/nope", status=404),
        b.at(at(9, 6), "/nope", status=404),
        a.at(at(9, 7), "/wp-login.php", status=404),
        a.at(at(9, 8), "/api/v1/orders", method="POST", status=500),
        Visitor(US, BOT).at(at(9, 9), "/gone", status=404),
        a.at(at(9, 9), "/static/missing.css", status=404),
    )
    found = traffic.report()
    assert rows(found, "status") == [("404", 2, 4, 0), ("200", 2, 2, 0), ("500", 1, 1, 0)]
    assert rows(found, "missing") == [("/nope", 2, 3, 0), ("/wp-login.php", 1, 1, 0)]


def test_the_slowest_routes_by_mean_milliseconds_of_timed_requests(traffic: Traffic) -> None:
    """Only lines that give their seconds are timed; paths are named by route, a number
    as ``{id}``: /products/123 and /products/456 are one route, 250 and 350 ms, 300 mean."""
    a, b = people(2)
    traffic.add(
        a.at(at(9), "/products/123", seconds="0.250"),
        b.at(at(9), "/products/456", seconds="0.350"),
        a.at(at(9, 1), "/cart", seconds="0.020"),
        b.at(at(9, 1), "/api/v1/orders", method="POST", status=201, seconds="1.5"),
        a.at(at(9, 2), "/about"),  # not timed
    )
    found = traffic.report().breakdowns["route"]
    assert [(r.value, r.visitors, r.hits, r.mean_ms) for r in found.rows] == [
        ("/api/v1/orders", 1, 1, 1500.0),
        ("/products/{id}", 2, 2, 300.0),
        ("/cart", 1, 1, 20.0),
    ]


# ---------------------------------------------------------------- granularities

# Sunday 29 November to Tuesday 1 December 2026: a week ends on the Sunday, November on
# the Monday. One visitor a day (2 pageviews), and on Tuesday 8 December one more.
SUNDAY, MONDAY, TUESDAY = date(2026, 11, 29), date(2026, 11, 30), date(2026, 12, 1)
LATER = datetime(2026, 12, 9, 12, tzinfo=UTC)


@pytest.fixture
def three_weeks(traffic: Traffic) -> Traffic:
    for day in (SUNDAY, MONDAY, TUESDAY, date(2026, 12, 8)):
        traffic.add(views(people(1), at(23, 30, day=day), "/", "/a"), now=LATER)
    return traffic


def trend(found: Report) -> list[tuple[str, int, int]]:
    return [
        (p.start.date().isoformat(), p.totals.pageviews, p.totals.visitors) for p in found.trend
    ]


def test_a_daily_trend_has_every_day_of_the_period_empty_ones_too(three_weeks: Traffic) -> None:
    found = three_weeks.report(date(2026, 11, 28), date(2026, 12, 2))
    assert trend(found) == [
        ("2026-11-28", 0, 0),
        ("2026-11-29", 2, 1),
        ("2026-11-30", 2, 1),
        ("2026-12-01", 2, 1),
        ("2026-12-02", 0, 0),
    ]
    assert all(p.start.tzinfo is UTC for p in found.trend)


def test_weeks_start_on_monday_and_a_period_crossing_them_is_cut_into_its_weeks(
    three_weeks: Traffic,
) -> None:
    """Wednesday 25 November to Tuesday 8 December: its first week's point starts on the
    Monday before the period (23 November) and holds only the period's days of it."""
    found = three_weeks.report(date(2026, 11, 25), date(2026, 12, 8), by="week")
    assert trend(found) == [("2026-11-23", 2, 1), ("2026-11-30", 4, 2), ("2026-12-07", 2, 1)]
    assert found.totals.pageviews == sum(p.totals.pageviews for p in found.trend) == 8


def test_months_cut_at_the_first_of_the_month(three_weeks: Traffic) -> None:
    found = three_weeks.report(date(2026, 11, 29), date(2026, 12, 8), by="month")
    assert trend(found) == [("2026-11-01", 4, 2), ("2026-12-01", 4, 2)]


def test_an_hourly_trend_has_24_points_a_day_and_its_visits_in_the_hour_they_began(
    three_weeks: Traffic,
) -> None:
    found = three_weeks.report(SUNDAY, MONDAY, by="hour")
    assert len(found.trend) == 48
    assert found.trend[0].start == at(0, day=SUNDAY)
    assert found.trend[-1].start == at(23, day=MONDAY)
    busy = {
        p.start: (p.totals.pageviews, p.totals.visits) for p in found.trend if p.totals.pageviews
    }
    assert busy == {at(23, day=SUNDAY): (2, 1), at(23, day=MONDAY): (2, 1)}
    assert not any(p.hidden for p in found.trend)


def test_an_hourly_trend_is_at_most_31_days(traffic: Traffic) -> None:
    first = WEDNESDAY - timedelta(days=MAX_HOURLY_DAYS - 1)
    assert len(traffic.report(first, WEDNESDAY, by="hour").trend) == MAX_HOURLY_DAYS * 24
    with pytest.raises(PeriodError, match="at most 31 days"):
        traffic.report(first - timedelta(days=1), WEDNESDAY, by="hour")


# ---------------------------------------------------------------- periods


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(PeriodError, match=r"ends \(2026-11-24\) before it starts \(2026-11-25\)"):
        Period(WEDNESDAY, WEDNESDAY - timedelta(days=1))
    assert PeriodError.status_code == 422 and PeriodError.code == "invalid_period"


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2026, 1, 1), date(2026, 1, 1) + timedelta(days=MAX_DAYS)),  # one day too many
        (date.min, date.max),  # absurd
        (date(1, 1, 1), date(2026, 11, 25)),
    ],
    ids=["max-plus-one", "min-to-max", "year-one"],
)
def test_a_period_too_long_is_refused(first: date, last: date) -> None:
    with pytest.raises(PeriodError, match=f"at most {MAX_DAYS} days"):
        Period(first, last)


def test_the_longest_period_and_a_single_day_are_allowed() -> None:
    assert (
        Period(date(2026, 1, 1), date(2026, 1, 1) + timedelta(days=MAX_DAYS - 1)).days == MAX_DAYS
    )
    one = Period(WEDNESDAY, WEDNESDAY)
    assert (one.days, one.start, one.end) == (1, at(0), at(0) + timedelta(days=1))
    assert one.before() == Period(WEDNESDAY - timedelta(days=1), WEDNESDAY - timedelta(days=1))


def test_a_period_at_the_end_of_the_calendar_is_a_period_error(traffic: Traffic) -> None:
    with pytest.raises(PeriodError):
        traffic.report(date.max, date.max)


def test_the_period_before_one_at_the_start_of_the_calendar_is_a_period_error() -> None:
    with pytest.raises(PeriodError):
        Period(date.min, date.min + timedelta(days=4)).before()


def test_an_empty_period_is_zeros_not_errors(traffic: Traffic) -> None:
    """No line at all (and, below, a period without lines after others were counted)."""
    for found in (traffic.report(k=5, by="hour"), traffic.report(k=5, by="month")):
        assert found.totals == Totals() and found.requests == 0
        t = found.totals
        assert (t.views_per_visit, t.bounce_rate, t.mean_visit_seconds) == (None, None, None)
        assert all(p.totals == Totals() and not p.hidden for p in found.trend)
        assert {(c.pageviews, c.visitors) for c in found.heatmap} == {(0, 0)}
        assert [(s.visitors, s.visits, s.of_previous) for s in found.funnel] == [(0, 0, None)] * 4
        for name, breakdown in found.breakdowns.items():
            assert (breakdown.rows, breakdown.other, breakdown.values) == ([], None, 0), name
        json = presenting.as_json(found)
        assert json["totals"]["views_per_visit"] is None
        for table in presenting.table_names(found):
            assert list(presenting.table_rows(found, table))  # at least the header
    traffic.add(views(people(1), at(9), "/"))
    assert traffic.report(WEDNESDAY - timedelta(days=7)).totals == Totals()


# ---------------------------------------------------------------- the heatmap


def test_the_heatmap_is_every_weekday_and_hour_and_adds_up_the_weeks(traffic: Traffic) -> None:
    """Wednesday 18 and 25 November at 09h (one visitor each, 2 and 1 pageviews), and
    Sunday 22 November at 23h: cells (2, 9) and (6, 23); weekdays from Monday (0)."""
    week_ago = WEDNESDAY - timedelta(days=7)
    traffic.add(
        views(people(1), at(9, 10, day=week_ago), "/", "/a"),
        views(people(1), at(23, 59, day=date(2026, 11, 22)), "/"),
        views(people(1), at(9, 59), "/"),
    )
    found = traffic.report(week_ago, WEDNESDAY)
    assert [(c.weekday, c.hour) for c in found.heatmap] == [
        (day, hour) for day in range(7) for hour in range(24)
    ]
    busy = {(c.weekday, c.hour): (c.pageviews, c.visitors) for c in found.heatmap if c.pageviews}
    assert busy == {(2, 9): (3, 2), (6, 23): (1, 1)}
    csv = list(presenting.table_rows(found, "heatmap"))
    assert csv[0] == ["weekday", "hour", "pageviews", "visitors"]
    assert csv[1 + 2 * 24 + 9] == ["Wed", "9", "3", "2"]


# ---------------------------------------------------------------- k-anonymity

KS = pytest.mark.parametrize("k", [5, 3], ids=["k=5", "k=3"])


@KS
def test_a_page_of_fewer_than_k_visitors_is_folded_into_other_and_not_shown(
    traffic: Traffic, k: int
) -> None:
    """k visitors view /popular, k - 1 view /rare, one views /secret: only /popular is
    listed; (other)'s most visitors (k - 1) is below k, so it shows nothing at all."""
    traffic.add(
        views(people(k), at(9), "/popular"),
        views(people(k - 1), at(9), "/rare"),
        views(people(1), at(9), "/secret"),
    )
    found = traffic.report(k=k)
    page = found.breakdowns["page"]
    assert rows(found, "page") == [("/popular", k, k, 0)]
    assert page.other == hidden()
    assert (page.values, page.folded) == (3, 2)
    text = [row for row in presenting.table_rows(found, "page")]
    assert text[-1] == [OTHER, f"fewer than {k}", f"fewer than {k}", f"fewer than {k}"]
    assert "/rare" not in presenting.as_csv(found, "page")
    assert "/secret" not in str(presenting.as_json(found))
    # One more visitor of /rare makes it k: listed; /secret stays folded.
    traffic.add(views(people(1), at(10), "/rare"))
    again = traffic.report(k=k)
    assert listed(again, "page") == {"/popular": k, "/rare": k}
    assert again.breakdowns["page"].other == hidden()


@KS
def test_other_shows_the_most_visitors_any_of_its_values_had_once_that_reaches_k(
    traffic: Traffic, k: int
) -> None:
    """Three pages of k + 2, k + 1 and k visitors, and one of a single visitor, with two
    rows listed: (other) holds /c (k) and /d (1): at least k visitors, for sure, and
    their pageviews and visits added up (k + 1 pageviews)."""
    traffic.add(
        views(people(k + 2), at(9), "/a"),
        views(people(k + 1), at(9), "/b"),
        views(people(k), at(9), "/c"),
        views(people(1), at(9), "/d"),
    )
    found = traffic.report(k=k, limit=2)
    page = found.breakdowns["page"]
    assert listed(found, "page") == {"/a": k + 2, "/b": k + 1}
    assert page.other == Row(OTHER, k, k + 1, 0, 0)
    assert (page.values, page.folded) == (4, 2)
    assert sum(r.hits or 0 for r in page.rows) + (page.other.hits or 0) == found.totals.pageviews
    # The same for visits (entry pages) and a breakdown of visitors (countries: all GB).
    assert found.breakdowns["entry"].other == Row(OTHER, k, 0, k + 1, 0)


@KS
def test_countries_hours_and_funnel_steps_of_fewer_than_k_visitors_are_hidden(
    traffic: Traffic, k: int
) -> None:
    """k visitors from GB at 09h view a product and the cart; k - 1 from the US at 10h a
    product; k - 1 from Australia at 11h a product, the cart and the checkout. The US and
    Australia are folded, 10h and 11h are hidden in the heatmap and the hourly trend, and
    the checkout step (k - 1 visitors) is hidden; a step of no one shows 0."""
    traffic.add(
        views(people(k), at(9), "/products/cable", "/cart"),
        views(people(k - 1, US), at(10), "/products/cable"),
        views(people(k - 1, AU), at(11), "/products/lamp", "/cart", "/checkout"),
    )
    found = traffic.report(k=k, by="hour")
    assert listed(found, "country") == {"GB": k}
    assert found.breakdowns["country"].other == hidden()
    cells = {(c.weekday, c.hour): (c.pageviews, c.visitors) for c in found.heatmap}
    assert cells[(2, 9)] == (2 * k, k)
    assert cells[(2, 10)] == cells[(2, 11)] == (None, None)
    points = {p.start.hour: p for p in found.trend}
    assert points[9].totals.visitors == k and not points[9].hidden
    assert points[10].hidden and points[10].totals == Totals()
    assert points[11].hidden and points[11].totals == Totals()
    steps = {s.step: (s.visitors, s.visits) for s in found.funnel}
    assert steps["product"] == (3 * k - 2, 3 * k - 2)
    assert steps["cart"] == (2 * k - 1, 2 * k - 1)
    assert steps["checkout"] == (None, None)  # k - 1 visitors
    assert steps["order placed"] == (0, 0)  # none: zero is no one, shown
    funnel = list(presenting.table_rows(found, "funnel"))
    assert funnel[3] == ["checkout", f"fewer than {k}", f"fewer than {k}", f"fewer than {k}"]
    trend = list(presenting.table_rows(found, "trend"))
    assert trend[1 + 10][1:] == [f"fewer than {k}"] * 6


def test_requests_are_not_people_and_are_shown_as_counted(traffic: Traffic) -> None:
    """One bot's request and one rejected line: no visitor is in them, k does not apply."""
    traffic.add(Visitor(US, BOT).at(at(9), "/"))
    (traffic.folder / "junk.log").write_text("junk\n")
    traffic.shop.ingest(traffic.folder / "junk.log")
    found = traffic.report(k=5)
    assert rows(found, "excluded") == [("bot", 0, 1, 0)]
    assert rows(found, "rejected") == [("not combined log format", 0, 1, 0)]
    assert {"excluded", "rejected"} == REQUEST_DIMENSIONS


def test_one_person_seen_on_k_days_is_not_k_visitors_of_a_value(traffic: Traffic) -> None:
    one = Visitor(AU, UA)
    for days_ago in range(5):
        traffic.add(one.at(at(9, day=WEDNESDAY - timedelta(days=days_ago)), "/secret"))
    found = traffic.report(WEDNESDAY - timedelta(days=4), WEDNESDAY, k=5)
    assert "/secret" not in listed(found, "page")
    assert "AU" not in listed(found, "country")


def test_a_day_of_fewer_than_k_visitors_is_hidden_in_the_daily_trend(traffic: Traffic) -> None:
    traffic.add(views(people(1), at(9), "/"))
    (point,) = traffic.report(k=5).trend
    assert point.hidden and point.totals.visitors != 1


def test_an_hour_shows_no_count_of_fewer_than_k_visits(traffic: Traffic) -> None:
    """Four visitors start at 09:50 and go on into 10h; a fifth starts at 10:10 and leaves:
    the 10h point has 5 visitors but 1 visit begun in it (one person's), so it is hidden."""
    four = people(4)
    traffic.add(
        [v.at(at(9, 50)) for v in four],
        [v.at(at(10, 5), "/a") for v in four],
        views(people(1), at(10, 10), "/"),
    )
    found = traffic.report(k=5, by="hour")
    ten = next(p for p in found.trend if p.start == at(10))
    assert ten.hidden
    assert ten.totals == Totals()
    nine = next(p for p in found.trend if p.start == at(9))
    assert nine.hidden  # 4 visitors, 4 visits


def test_a_hidden_trend_point_is_null_in_json(traffic: Traffic) -> None:
    traffic.add(views(people(1), at(9), "/"))
    point = presenting.as_json(traffic.report(k=5, by="hour"))["trend"][9]
    assert point["hidden"] is True
    assert point["visitors"] is None and point["pageviews"] is None


def test_the_folded_routes_show_their_mean_duration(traffic: Traffic) -> None:
    traffic.add(
        [v.at(at(9), "/products/cable", seconds="0.100") for v in people(3)],
        [v.at(at(9), "/cart", seconds="0.300") for v in people(3)],
    )
    other = traffic.report(k=3, limit=1).breakdowns["route"].other
    assert other is not None and other.visitors == 3
    assert other.mean_ms == 100.0


# ---------------------------------------------------------------- k over random logs

PATHS = ("/", "/a", "/b", "/products/cable", "/cart", "/checkout", "/nope")
HOSTS = (GB, US, IE, PRIVATE)
AGENTS = (UA, ANDROID, IPAD)
REFERRERS = ("-", "https://example.org/", "https://www.other.example/x")

a_line = st.tuples(
    st.integers(0, 7),  # who: an address and a browser, by number
    st.integers(0, 179),  # minute from 09:00
    st.sampled_from(PATHS),
    st.sampled_from((200, 200, 200, 404, 500)),
    st.sampled_from(REFERRERS),
)


def hypothesis_line(who: int, minute: int, path: str, status: int, referrer: str) -> str:
    visitor = Visitor(HOSTS[who % 4], f"{AGENTS[who % 3]} w{who}")
    when = at(9) + timedelta(minutes=minute)
    if path == "/nope":
        status = 404
    return visitor.at(when, path, status=status, referrer=referrer, seconds="0.010")


def shown_counts(found: Report) -> list[tuple[str, int]]:
    """Every count of people shown in a breakdown, the heatmap or the funnel, by where."""
    shown: list[tuple[str, int]] = []
    for name, breakdown in found.breakdowns.items():
        if name in REQUEST_DIMENSIONS:
            continue
        for row in [*breakdown.rows, *([breakdown.other] if breakdown.other else [])]:
            for what in ("visitors", "hits", "visits"):
                value = getattr(row, what)
                if value is not None:
                    shown.append((f"{name} {row.value} {what}", value))
    for cell in found.heatmap:
        for what in ("pageviews", "visitors"):
            value = getattr(cell, what)
            if value is not None:
                shown.append((f"heatmap {cell.weekday} {cell.hour} {what}", value))
    for step in found.funnel:
        for what in ("visitors", "visits"):
            value = getattr(step, what)
            if value is not None:
                shown.append((f"funnel {step.step} {what}", value))
    return shown


def csv_counts(found: Report) -> list[str]:
    """Every cell of a people-counting CSV table but the labels and the shares."""
    cells = []
    for table in presenting.table_names(found):
        if table in REQUEST_DIMENSIONS or table == "trend":
            continue
        # After the labels: visitors, hits, visits (a route's mean_ms and a funnel step's
        # share of the step before are no counts).
        first = 2 if table == "heatmap" else 1
        last = 3 if table == "funnel" else 4
        for row in list(presenting.table_rows(found, table))[1:]:
            cells += row[first:last]
    return cells


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    lines=st.lists(a_line, max_size=40),
    k=st.sampled_from([2, 3, 5]),
    limit=st.sampled_from([None, 1, 3, 20]),
)
def test_no_count_below_k_is_shown_anywhere_and_folding_keeps_the_totals(
    migrated: Path, lines: list[tuple[int, int, str, int, str]], k: int, limit: int | None
) -> None:
    with new_traffic(migrated) as traffic:
        if lines:
            traffic.add([hypothesis_line(*found) for found in lines])
        found = traffic.report(k=k, limit=limit)
        small = [(where, n) for where, n in shown_counts(found) if 0 < n < k]
        assert small == []
        for cell in csv_counts(found):
            assert cell == f"fewer than {k}" or not 0 < float(cell) < k, cell
        totals = found.totals
        # Folding loses nothing wherever (other) is shown; a hidden (other) only hides.
        for name, total in [
            *((name, totals.pageviews) for name in ("page", "browser", "os", "device")),
            ("country", totals.pageviews),
            ("status", found.requests),
        ]:
            breakdown = found.breakdowns[name]
            shown = sum(row.hits or 0 for row in breakdown.rows)
            if breakdown.other is None or breakdown.other.hits is not None:
                shown += breakdown.other.hits or 0 if breakdown.other else 0
                assert shown == total, name
            else:
                assert shown <= total, name
        for name in ("entry", "exit"):
            breakdown = found.breakdowns[name]
            shown = sum(row.visits or 0 for row in breakdown.rows)
            if breakdown.other is None or breakdown.other.visits is not None:
                shown += breakdown.other.visits or 0 if breakdown.other else 0
                assert shown == totals.visits, name
            else:
                assert shown <= totals.visits, name
        for breakdown in found.breakdowns.values():
            assert breakdown.values == len(breakdown.rows) + breakdown.folded
            assert (breakdown.other is None) == (breakdown.folded == 0)


# ---------------------------------------------------------------- rows written by hand


def cell(
    dimension: str, value: str, visitors: int, hits: int, day: date = WEDNESDAY
) -> TrafficCell:
    return TrafficCell(
        node="node-a",
        day=day,
        dimension=dimension,
        value=value,
        visitors=visitors,
        hits=hits,
        visits=0,
        total=0,
    )


def test_ranking_limit_and_folding_on_each_database(db: Session) -> None:
    """Values ranked by visitors, then hits, then name; two days and two nodes add up, but
    k is checked against the most visitors of one node's day (two nodes' 3 and 3 could be
    the same 3 people); a day's stored (other) (its values past the per-day cap) is never
    listed, folds into (other) and is not counted among the folded values."""
    db.add_all(
        [
            cell("page", "/b", 3, 9),
            TrafficCell(
                node="node-b",
                day=WEDNESDAY,
                dimension="page",
                value="/b",
                visitors=3,
                hits=1,
                visits=0,
                total=0,
            ),
            cell("page", "/a", 6, 10, WEDNESDAY - timedelta(days=1)),
            cell("page", "/c", 6, 7),
            cell("page", "/d", 6, 7),
            cell("page", "/e", 2, 2),
            cell("page", OTHER, 40, 80),
        ]
    )
    db.flush()
    period = Period(WEDNESDAY - timedelta(days=1), WEDNESDAY)
    found = reports.breakdown(db, period, "page", min_visitors=5, limit=3)
    # /b (3 and 3 on two nodes) reaches k nowhere: folded. /c and /d tie: by name.
    assert [(r.value, r.visitors, r.hits) for r in found.rows] == [
        ("/a", 6, 10),
        ("/c", 6, 7),
        ("/d", 6, 7),
    ]
    assert found.other == Row(OTHER, 40, 10 + 2 + 80, 0, 0)
    assert (found.values, found.folded) == (6, 2)
    everything = reports.breakdown(db, period, "page", min_visitors=5, limit=None)
    assert [r.value for r in everything.rows] == ["/a", "/c", "/d"]
    assert reports.breakdown(db, period, "page", min_visitors=3, limit=None).rows[1].value == "/b"
    with pytest.raises(ValueError, match="no such breakdown"):
        reports.breakdown(db, period, "visitor", min_visitors=5)


def test_huge_counts_and_long_values_come_back_whole(db: Session) -> None:
    long_value = "/" + "x" * 599
    db.add_all([cell("page", long_value, 10**12, 10**15), cell("page", "/small", 4, 4)])
    db.add(
        TrafficDay(
            node="node-a",
            day=WEDNESDAY,
            pageviews=10**15,
            visitors=10**12,
            visits=10**13,
            bounces=10**12,
            visit_seconds=10**16,
            requests=10**15,
            request_visitors=10**12,
        )
    )
    db.add(
        TrafficHour(
            node="node-a",
            hour=at(3),
            pageviews=10**15,
            visitors=10**12,
            visits=10**13,
            bounces=10**12,
            visit_seconds=10**16,
        )
    )
    db.flush()
    found = reports.report(db, Period(WEDNESDAY, WEDNESDAY), min_visitors=5)
    assert [(r.value, r.visitors) for r in found.breakdowns["page"].rows] == [(long_value, 10**12)]
    assert found.breakdowns["page"].other == hidden()
    assert found.totals.views_per_visit == 100.0 and found.totals.bounce_rate == 0.1
    assert found.heatmap[2 * 24 + 3].visitors == 10**12


def test_the_k_anonymity_holds_for_hand_written_rows_too(db: Session) -> None:
    """Rows a per-day cap made, or another node wrote, are folded by the same rule."""
    db.add_all([cell("country", "GB", 4, 4), cell("country", "IS", 1, 1)])
    db.add(
        TrafficHour(
            node="node-a",
            hour=at(3),
            pageviews=9,
            visitors=4,
            visits=4,
            bounces=1,
            visit_seconds=1,
        )
    )
    db.flush()
    found = reports.report(db, Period(WEDNESDAY, WEDNESDAY), min_visitors=5, granularity="hour")
    assert found.breakdowns["country"].rows == []
    assert found.breakdowns["country"].other == hidden()
    assert found.heatmap[2 * 24 + 3].visitors is None
    assert found.trend[3].hidden


# ---------------------------------------------------------------- comparing periods


def test_a_period_compared_with_the_one_just_before(traffic: Traffic) -> None:
    """This week (2 pageviews of 1 visitor, then 4 of 2) against the week before (2 of 1)."""
    week_ago = WEDNESDAY - timedelta(days=7)
    traffic.add(
        views(people(1), at(9, day=week_ago), "/", "/a"),
        views(people(2), at(9), "/", "/a"),
    )
    found = traffic.report(WEDNESDAY - timedelta(days=6), WEDNESDAY, compare=True)
    assert found.compared is not None and found.compared.compared is None
    assert found.compared.period == Period(week_ago - timedelta(days=6), week_ago)
    assert (found.totals.pageviews, found.compared.totals.pageviews) == (4, 2)
    assert len(found.compared.trend) == 7
    json = presenting.as_json(found)
    assert json["compared"]["from"] == "2026-11-12" and json["compared"]["to"] == "2026-11-18"
    assert json["compared"]["change"]["pageviews"] == 1.0
    assert json["compared"]["change"]["visitors"] == 1.0
    assert json["compared"]["change"]["views_per_visit"] == 0.0
    # Against an empty period, a change is no number (not infinity, not an error).
    empty = traffic.report(week_ago - timedelta(days=7), week_ago, compare=True)
    assert presenting.as_json(empty)["compared"]["change"]["pageviews"] is None
    assert "compared" not in presenting.as_json(traffic.report())


def test_a_compared_period_follows_the_same_k(traffic: Traffic) -> None:
    week_ago = WEDNESDAY - timedelta(days=7)
    traffic.add(views(people(2), at(9, day=week_ago), "/secret"), views(people(5), at(9), "/"))
    found = traffic.report(WEDNESDAY - timedelta(days=6), WEDNESDAY, compare=True, k=5)
    assert found.compared is not None
    before = traffic.report(week_ago - timedelta(days=6), week_ago, k=5)
    assert found.compared.breakdowns == before.breakdowns
    assert found.compared.breakdowns["page"].other == hidden()


def test_two_nodes_visitors_of_one_day_are_not_added_up_for_k(db: Session) -> None:
    """Two nodes each saw 3 visitors on Wednesday at 09h (perhaps the same 3 people): the
    day, its week and its heatmap cell are below k = 5, though their sums say 6."""
    for node in ("node-a", "node-b"):
        db.add(TrafficDay(node=node, day=WEDNESDAY, pageviews=6, visitors=3, visits=3,
                          bounces=0, visit_seconds=60, requests=6, request_visitors=3))  # fmt: skip
        db.add(TrafficHour(node=node, hour=at(9), pageviews=6, visitors=3, visits=3,
                           bounces=0, visit_seconds=60))  # fmt: skip
    db.flush()
    period = Period(WEDNESDAY, WEDNESDAY)
    for granularity in ("hour", "day", "week"):
        points = reports.trend(db, period, granularity, min_visitors=5)
        assert [p for p in points if not p.hidden and p.totals.visitors] == [], granularity
    wednesday_nine = next(
        cell for cell in reports.heatmap(db, period, 5) if (cell.weekday, cell.hour) == (2, 9)
    )
    assert (wednesday_nine.visitors, wednesday_nine.pageviews) == (None, None)
    (day,) = reports.trend(db, period, "day", min_visitors=3)
    assert not day.hidden and day.totals.visitors == 6  # at k = 3 shown, with the sum
    assert reports.totals(db, period)[0].visitors == 6  # totals are shown whole
