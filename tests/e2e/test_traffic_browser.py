"""The back office's Traffic screen in a real browser (issue 10, item 4; P1, P2, P5).

The owner reads a seeded week: the totals against the week before, the trend as SVG with
one mark per day (and per hour), the weekday-by-hour heatmap with a "fewer than 5" cell,
the funnel with its drop-off, the breakdowns with values below k folded into a hidden
"(other)", and a table saved as CSV (fetched with the token in a header, saved from a
blob: URL). A reversed period shows the API's message; a network failure and a role
without view_aggregates (fulfilment) a clear message, and that role has no Traffic link.

The aggregates are written straight into the demo's database under a node of their own,
on days of 2024 that the demo's own log can never count (it ingests only today's lines),
so the numbers do not depend on the day the test runs. Throughout: no cookie (P1),
nothing from another origin but the shop's own blob: URLs (P2), no script error and no
CSP violation beyond the refused requests the browser itself logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import delete

from quietshop.analytics.models import VALUE_CHARS, TrafficCell, TrafficDay, TrafficHour
from quietshop.db import make_engine, make_session_factory, transaction
from quietshop.staff.roles import Role
from tests.e2e.conftest import RunningShop
from tests.e2e.shopping import Watch
from tests.e2e.test_staff_audit_browser import _no_sideways_scroll, _shot
from tests.e2e.test_staff_desk_browser import _sign_in

pytestmark = pytest.mark.browser

# Roles no other browser test signs in as: each TOTP code is accepted once only.
OWNER, FULFILMENT = Role.OWNER, Role.FULFILMENT
NODE = "e2e-traffic"
FIRST = date(2024, 3, 4)  # a Monday; the seeded week runs to Sunday
LAST = FIRST + timedelta(days=6)
BEFORE = FIRST - timedelta(days=3)  # a day of the week before, for the comparison
K = 5  # analytics_min_visitors, the demo's default
HOSTILE_PATH = "/<img src=x onerror=alert(1)>"
LONG_PATH = "/" + "a" * (VALUE_CHARS - 1)


def _day(n: int) -> TrafficDay:
    return TrafficDay(
        node=NODE, day=FIRST + timedelta(days=n), pageviews=40 + 5 * n, visitors=12 + n,
        visits=15 + n, bounces=5, visit_seconds=900, requests=100, request_visitors=20,
    )  # fmt: skip


def _hour(day: date, hour: int, visitors: int) -> TrafficHour:
    return TrafficHour(
        node=NODE, hour=datetime.combine(day, time(hour), tzinfo=UTC), pageviews=3 * visitors,
        visitors=visitors, visits=visitors, bounces=0, visit_seconds=60,
    )  # fmt: skip


def _cell(dimension: str, value: str, visitors: int, hits: int, visits: int = 0) -> TrafficCell:
    return TrafficCell(
        node=NODE, day=FIRST, dimension=dimension, value=value, visitors=visitors, hits=hits,
        visits=visits, total=0,
    )  # fmt: skip


def _seed() -> list[TrafficDay | TrafficHour | TrafficCell]:
    rows: list[TrafficDay | TrafficHour | TrafficCell] = [_day(n) for n in range(7)]
    # Visitors 105, visits 126, pageviews 385 over the week; the week before: 70 visitors.
    rows.append(TrafficDay(
        node=NODE, day=BEFORE, pageviews=200, visitors=70, visits=90, bounces=30,
        visit_seconds=5400, requests=300, request_visitors=80,
    ))  # fmt: skip
    rows += [_hour(FIRST + timedelta(days=n), 10, 8) for n in range(7)]
    rows.append(_hour(FIRST, 3, 2))  # Monday 03:00: two visitors, below k
    rows += [
        _cell("page", "/", 30, 80),
        _cell("page", "/products/linen-shirt", 9, 20),
        _cell("page", LONG_PATH, 7, 7),  # as long as a logged value can be
        _cell("page", HOSTILE_PATH, 6, 6),  # a path is text, never markup
        _cell("page", "/products/rare", 2, 3),  # below k: folded, "(other)" hidden
        _cell("country", "NL", 25, 90),
        _cell("country", "IS", 1, 4),
        _cell("funnel", "1 product", 20, 0, 22),
        _cell("funnel", "2 cart", 10, 0, 11),
        _cell("funnel", "3 checkout", 6, 0, 6),
        _cell("funnel", "4 order placed", 3, 0, 3),  # below k
        _cell("status", "200", 30, 95),
        _cell("status", "404", 6, 7),
    ]
    return rows


@pytest.fixture(scope="module")
def seeded(running_shop: RunningShop) -> Iterator[None]:
    """The week's aggregates in the demo's database (SQLite in its data directory)."""
    engine = make_engine(f"sqlite:///{running_shop.data_dir / 'quietshop.db'}")
    sessions = make_session_factory(engine)

    def clear() -> None:
        with transaction(sessions) as session:
            for model in (TrafficDay, TrafficHour, TrafficCell):
                session.execute(delete(model).where(model.node == NODE))

    clear()
    with transaction(sessions) as session:
        session.add_all(_seed())
    yield
    clear()
    engine.dispose()


def _show(screen: Locator, first: date, last: date, by: str = "Day", compare: bool = False) -> None:
    form = screen.locator("[data-traffic-form]")
    form.locator("#traffic-from").fill(first.isoformat())
    form.locator("#traffic-to").fill(last.isoformat())
    form.get_by_label("Trend by").select_option(label=by)
    form.get_by_label("Compare with the period before").set_checked(compare)
    form.get_by_role("button", name="Show traffic").click()


def _promises(watch: Watch, page: Page) -> None:
    watch.check_no_cookie(page)
    watch.check_same_origin(blobs=True)
    assert watch.problems == []


def _refused_loads(watch: Watch, *statuses: int) -> None:
    """The browser logs each refused request itself: exactly these, then forget them."""
    expected = [
        f"Failed to load resource: the server responded with a status of {status} ()"
        for status in statuses
    ]
    assert watch.console_errors == expected
    watch.console_errors.clear()


@pytest.mark.usefixtures("seeded")
def test_the_owner_reads_the_week_its_charts_and_saves_a_table(
    watch: Watch, running_shop: RunningShop
) -> None:
    page = _sign_in(watch, running_shop, OWNER)
    page.locator('[data-nav="traffic"]').get_by_role("link", name="Traffic").click()
    screen = page.locator("[data-traffic-screen]")
    expect(screen.get_by_role("heading", name="Traffic", exact=True)).to_be_visible()
    message = screen.locator("[data-traffic-message]")
    expect(message).to_contain_text("Showing")  # the last 30 days, whatever they hold

    # The seeded week against the week before
    _show(screen, FIRST, LAST, compare=True)
    expect(message).to_have_text("Showing March 4, 2024 to March 10, 2024.")
    totals = screen.locator("[data-traffic-totals]")
    expect(totals.locator('[data-total="visitors"] .traffic-value')).to_have_text("105")
    expect(totals.locator('[data-total="visitors"] .traffic-change')).to_have_text(
        "+50% (before: 70)"
    )
    expect(totals.locator('[data-total="visits"] .traffic-value')).to_have_text("126")
    expect(totals.locator('[data-total="pageviews"] .traffic-value')).to_have_text("385")
    expect(totals.locator('[data-total="views_per_visit"] .traffic-value')).to_have_text("3.06")
    expect(totals.locator('[data-total="bounce_rate"] .traffic-value')).to_have_text("27.8%")
    expect(totals.locator('[data-total="mean_visit_seconds"] .traffic-value')).to_have_text("50 s")

    # The trend: one bar per day, each with its numbers in a <title> and in the table
    trend = screen.locator("[data-traffic-trend]")
    marks = trend.locator("svg rect.trend-mark")
    expect(marks).to_have_count(7)
    expect(marks.first.locator("title")).to_have_text(
        "Mon, Mar 4: 12 visitors, 15 visits, 40 pageviews"
    )
    heights = [float(mark.get_attribute("height") or 0) for mark in marks.all()]
    assert heights == sorted(heights) and heights[0] < heights[-1]  # visitors grow daily
    assert trend.locator("table tbody tr").count() == 7

    # The heatmap: 168 cells; Monday 03:00 had two visitors, shown as "fewer than 5"
    heat = screen.locator("[data-traffic-heatmap] svg rect[data-weekday]")
    expect(heat).to_have_count(168)
    hidden = screen.locator('[data-traffic-heatmap] rect[data-weekday="0"][data-hour="3"]')
    expect(hidden).to_have_class("heat-cell heat-fewer")
    expect(hidden.locator("title")).to_have_text(
        f"Monday 03:00 to 04:00 UTC: fewer than {K} visitors"
    )
    shown = screen.locator('[data-traffic-heatmap] rect[data-weekday="2"][data-hour="10"]')
    expect(shown.locator("title")).to_have_text(
        "Wednesday 10:00 to 11:00 UTC: 24 pageviews, 8 visitors"
    )
    assert screen.locator("[data-traffic-heatmap] .heat-fewer[data-weekday]").count() == 1

    # The funnel: each step, the share that went on and the drop-off; the last is below k
    funnel = screen.locator("[data-traffic-funnel] table tbody tr")
    expect(funnel).to_have_count(4)
    expect(funnel.nth(1)).to_have_text("Opened the cart111050%50%")
    expect(funnel.nth(3)).to_contain_text(f"fewer than {K}")
    assert screen.locator("[data-traffic-funnel] svg rect.funnel-mark").count() == 4

    # A breakdown: the rare page and the small country are folded, their "(other)" hidden
    pages = screen.locator('[data-traffic-table="page"]')
    rows = pages.locator("tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.first).to_have_text("/3080")
    expect(rows.nth(2).locator("th")).to_have_text(LONG_PATH)
    expect(rows.nth(3).locator("th")).to_have_text(HOSTILE_PATH)  # as text: no <img> made
    assert screen.locator("img").count() == 0
    expect(pages.locator("tr.traffic-other")).to_have_text(f"(other)fewer than {K}fewer than {K}")
    expect(pages.locator("caption")).to_have_text("Top pages: 4 of 5 shown, 1 more in (other)")
    # A breakdown with nothing in it says so
    expect(screen.locator('[data-traffic-table="entry"] tbody')).to_have_text(
        "Nothing counted in this period."
    )
    countries = screen.locator('[data-traffic-table="country"] tbody')
    expect(countries).to_contain_text("NL")
    expect(countries).not_to_contain_text("IS")

    # At 1280 px and on a tablet the page does not scroll sideways, the long path included
    _shot(page, "traffic-1280")
    page.set_viewport_size({"width": 768, "height": 1024})
    _no_sideways_scroll(page)
    _shot(page, "traffic-tablet")
    page.set_viewport_size({"width": 1280, "height": 720})
    _no_sideways_scroll(page)

    # A table as CSV: its header first, the hidden count as words
    with page.expect_download() as saved:
        pages.get_by_role("button", name="Download CSV").click()
    assert saved.value.suggested_filename == "traffic-page-2024-03-04-2024-03-10.csv"
    lines = Path(saved.value.path()).read_text().splitlines()
    assert lines[0] == "value,visitors,hits,visits"
    hidden_row = ",".join(["(other)", *[f"fewer than {K}"] * 3])
    listed = ["/,30,80,0", "/products/linen-shirt,9,20,0", f"{LONG_PATH},7,7,0"]
    assert lines[1:] == [*listed, f"{HOSTILE_PATH},6,6,0", hidden_row]
    _promises(watch, page)

    # By hour: one mark per hour of the week, the quiet one hidden whole
    _show(screen, FIRST, LAST, by="Hour")
    expect(trend.locator("svg rect.trend-mark")).to_have_count(7 * 24)
    expect(trend.locator("svg rect.trend-fewer")).to_have_count(1)

    # A reversed period: the API's message, beside the form; no numbers left showing
    _show(screen, LAST, FIRST)
    form_message = screen.locator("[data-traffic-form] [data-form-message]")
    expect(form_message).to_have_text("The period ends (2024-03-04) before it starts (2024-03-10).")
    expect(screen.locator("#traffic-from")).to_have_attribute("aria-invalid", "true")
    expect(screen.locator("[data-traffic-report]")).to_be_hidden()
    _refused_loads(watch, 422)

    # The network gone: said so, nothing breaks; back again, the week shows
    page.route("**/api/v1/staff/analytics/report?*", lambda route: route.abort())
    _show(screen, FIRST, LAST)
    expect(form_message).to_have_text(
        "We could not reach the shop. Check your connection and try again."
    )
    page.unroute("**/api/v1/staff/analytics/report?*")
    assert all("net::ERR_FAILED" in text for text in watch.console_errors)
    watch.console_errors.clear()
    _show(screen, FIRST, LAST)
    expect(totals.locator('[data-total="visitors"] .traffic-value')).to_have_text("105")
    _promises(watch, page)


@pytest.mark.usefixtures("seeded")
def test_a_role_without_aggregates_has_no_link_and_is_refused(
    watch: Watch, running_shop: RunningShop
) -> None:
    page = _sign_in(watch, running_shop, FULFILMENT)
    expect(page.locator('[data-nav="orders"]')).to_be_visible()  # the menu is up
    expect(page.locator('[data-nav="traffic"]')).to_be_hidden()

    page.evaluate("window.location.hash = 'traffic'")
    screen = page.locator("[data-traffic-screen]")
    expect(screen.locator("[data-traffic-message]")).to_have_text(
        "Your roles do not allow this (view_aggregates). "
        "Traffic is for the owner, marketing and analysts."
    )
    expect(screen.locator("[data-traffic-form]")).to_be_hidden()
    expect(screen.locator("[data-traffic-report]")).to_be_hidden()
    assert screen.locator("svg").count() == 0
    _refused_loads(watch, 403)
    _promises(watch, page)
