"""Issue 10, item 7: our counts equal GoAccess's on the same log, where the definitions agree.

A generated nginx-style log (``bench/make_access_log.py``: 50,000 lines over 30 UTC days,
IPv4 and IPv6 browsers, real crawlers' and scripts' User-Agents, assets, the API, 404s,
401s, 5xx) is ingested into a fresh SQLite shop database and read by GoAccess with the
options that make its counting ours (``AGREED``, explained in docs/analytics.md). Then,
exactly, not within a tolerance:

- counted requests per day = GoAccess's hits per day;
- our ``request_visitors`` per day (distinct address + User-Agent that day) = GoAccess's
  unique visitors per day;
- hits per status code; 404s per path;
- pageviews (and visitors) per page = GoAccess's GET hits per path outside ``/api/`` once
  every status that is no pageview's is ignored (a second GoAccess run);
- what both leave out (bots, assets) adds up to GoAccess's total less its valid requests.

The second part pins each documented difference to one line of a small log, with what
each side does with it, so the documentation cannot drift from either program.

Runs alone with ``-m goaccess``; skipped when goaccess is not installed, unless
QUIETSHOP_REQUIRE_GOACCESS=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics.classify import STATIC_EXTENSIONS
from quietshop.analytics.ingest import FileResult, Ingestion, ingest
from quietshop.analytics.models import TrafficCell, TrafficDay
from quietshop.analytics.visitors import salt_of_day, visitor_hash
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from tests.analytics.test_log_generator import generator

pytestmark = pytest.mark.goaccess

REQUIRE_GOACCESS = os.environ.get("QUIETSHOP_REQUIRE_GOACCESS") == "1"
LINES, DAYS, END, SEED = 50_000, 30, date(2026, 11, 30), 7
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)  # the morning after the log's last day
RETENTION_DAYS = 90  # no day of the log is sealed
# GoAccess counting as we count (docs/analytics.md, "GoAccess"): crawlers and unknown
# agents out (crawlerdetect's bots), our asset extensions and only them, with or without a
# query string, out of every panel; 4xx visitors counted; paths without their query.
AGREED = (
    "--no-global-config",
    "--ignore-crawlers",
    "--unknowns-as-crawlers",
    "--ignore-statics=panel",
    "--all-static-files",
    *(f"--static-file=.{extension}" for extension in STATIC_EXTENSIONS),
    "--4xx-to-unique-count",
    "--no-query-string",
    "--max-items=1000000",  # every path, not the first 366
    "--no-progress",
)
PAGE_STATUSES = (*range(200, 300), 304)
REPORT_NUMBERS = count()


def goaccess_path() -> str:
    found = shutil.which("goaccess")
    if found is None:
        message = "goaccess is not installed (Debian: apt-get install goaccess)"
        if REQUIRE_GOACCESS:
            pytest.fail(message + " and QUIETSHOP_REQUIRE_GOACCESS=1")
        pytest.skip(message + "; the GoAccess cross-check is skipped")
    return found


def goaccess_report(log: Path, *extra: str, log_format: str = "COMBINED") -> dict[str, Any]:
    """GoAccess's JSON report of ``log`` with the agreed options and ``extra`` ones."""
    out = log.with_name(f"{log.stem}-{next(REPORT_NUMBERS)}.json")
    command = [goaccess_path(), str(log), f"--log-format={log_format}", *AGREED, *extra]
    done = subprocess.run([*command, "-o", str(out)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def fresh_shop_database(folder: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{folder / 'shop.db'}")
    upgrade_to_head(engine)
    return make_session_factory(engine)


def ingest_one(
    sessions: sessionmaker[Session], folder: Path, log: Path, now: datetime
) -> FileResult:
    ingestion = Ingestion(sessions, folder / "store", "node-a", RETENTION_DAYS, "quietshop.example")
    return ingest(ingestion, [log], now=now).files[0]


def per_day(report: dict[str, Any], metric: str) -> dict[date, int]:
    """A GoAccess visitors-panel metric by day (its dates are ``YYYYMMDD``)."""
    return {
        datetime.strptime(item["data"], "%Y%m%d").date(): item[metric]["count"]
        for item in report["visitors"]["data"]
    }


def by_path(
    items: list[dict[str, Any]], metric: str = "hits", method: str | None = None
) -> Counter[str]:
    """A GoAccess request panel's metric by path, over every method (or only ``method``)."""
    found: Counter[str] = Counter()
    for item in items:
        if method is None or item["method"] == method:
            found[item["data"]] += item[metric]["count"]
    return found


def status_hits(report: dict[str, Any]) -> Counter[str]:
    """GoAccess's hits per status code (its items read "404 - Not Found: ...")."""
    return Counter(
        {
            code["data"][:3]: code["hits"]["count"]
            for family in report["status_codes"]["data"]
            for code in family["items"]
        }
    )


@dataclass(frozen=True)
class Ours:
    days: dict[date, TrafficDay]
    cells: dict[str, dict[str, tuple[int, int]]]  # dimension -> value -> (hits, visitors)

    def cell_hits(self, dimension: str) -> Counter[str]:
        return Counter({value: hits for value, (hits, _) in self.cells[dimension].items()})


def read_ours(sessions: sessionmaker[Session]) -> Ours:
    """The aggregates as written; a cell's visitors are its days' visitors added up, as
    GoAccess's are (its visitor key holds the day)."""
    with sessions() as session:
        days = {row.day: row for row in session.execute(select(TrafficDay)).scalars()}
        cells: dict[str, dict[str, tuple[int, int]]] = {}
        for cell in session.execute(select(TrafficCell)).scalars():
            values = cells.setdefault(cell.dimension, {})
            hits, seen = values.get(cell.value, (0, 0))
            values[cell.value] = (hits + cell.hits, seen + cell.visitors)
    return Ours(days, cells)


@dataclass(frozen=True)
class Crosscheck:
    lines: int
    ingested: FileResult
    ours: Ours
    theirs: dict[str, Any]  # GoAccess, the agreed options
    pages: dict[str, Any]  # GoAccess, also ignoring every status that is no pageview's


@pytest.fixture(scope="module")
def crosscheck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crosscheck]:
    goaccess_path()
    folder = tmp_path_factory.mktemp("goaccess")
    make_access_log = generator()
    options = make_access_log.Options(LINES, DAYS, END, SEED, "nginx", 0)
    log = make_access_log.write_log(folder / "access.log", options, False)
    sessions = fresh_shop_database(folder)
    ingested = ingest_one(sessions, folder, log, NOW)
    theirs = goaccess_report(log)
    no_page = sorted(set(status_hits(theirs)) - {str(code) for code in PAGE_STATUSES})
    pages = goaccess_report(log, *(f"--ignore-status={code}" for code in no_page))
    yield Crosscheck(LINES, ingested, read_ours(sessions), theirs, pages)


def test_the_log_holds_what_makes_the_comparison_worth_something(crosscheck: Crosscheck) -> None:
    """Thirty days; bots and assets left out by thousands; several statuses and 404s; the
    comparisons below would pass vacuously on an empty or bot-only log."""
    assert len(crosscheck.ours.days) == DAYS
    assert crosscheck.ingested.rejected == {}
    assert crosscheck.ingested.excluded["bot"] > 1000
    assert crosscheck.ingested.excluded["asset"] > 10_000
    assert crosscheck.ingested.events > 10_000
    statuses = crosscheck.ours.cell_hits("status")
    assert {"200", "201", "401", "404", "500"} <= set(statuses)
    assert len(crosscheck.ours.cell_hits("page")) > 100


def test_counted_requests_per_day_equal_goaccess_hits_per_day(crosscheck: Crosscheck) -> None:
    ours = {day: row.requests for day, row in crosscheck.ours.days.items()}
    assert ours == per_day(crosscheck.theirs, "hits")
    assert sum(ours.values()) == crosscheck.theirs["general"]["valid_requests"]


def test_unique_visitors_per_day_equal_goaccess_unique_visitors(crosscheck: Crosscheck) -> None:
    """(address, day, User-Agent) on both sides: a keyed hash of it here, the string there."""
    ours = {day: row.request_visitors for day, row in crosscheck.ours.days.items()}
    assert ours == per_day(crosscheck.theirs, "visitors")
    assert sum(ours.values()) == crosscheck.theirs["general"]["unique_visitors"]


def test_hits_per_status_code_equal(crosscheck: Crosscheck) -> None:
    assert crosscheck.ours.cell_hits("status") == status_hits(crosscheck.theirs)


def test_404s_per_path_equal(crosscheck: Crosscheck) -> None:
    theirs = crosscheck.theirs["not_found"]["data"]
    assert crosscheck.ours.cell_hits("missing") == by_path(theirs)


def test_pageviews_per_page_equal_goaccess_get_hits_with_page_statuses_only(
    crosscheck: Crosscheck,
) -> None:
    """A pageview is a GET answered 2xx or 304 outside /api/: GoAccess ignoring every other
    status, its GET items outside /api/ are exactly our pages. Hits only: GoAccess's
    visitors of one path are no distinct count (docs/analytics.md), ours are."""
    items = [
        item
        for item in crosscheck.pages["requests"]["data"]
        if not item["data"].startswith("/api/")
    ]
    assert crosscheck.ours.cell_hits("page") == by_path(items, "hits", "GET")
    pageviews = sum(row.pageviews for row in crosscheck.ours.days.values())
    assert pageviews == sum(by_path(items, "hits", "GET").values())


def test_what_both_leave_out_adds_up(crosscheck: Crosscheck) -> None:
    """GoAccess's total less its valid requests is every line we left out: bots (its
    crawlers and unknown agents), assets, and requests that were none."""
    general = crosscheck.theirs["general"]
    assert general["total_requests"] == crosscheck.lines
    assert general["failed_requests"] == 0
    left_out = sum(crosscheck.ingested.excluded.values())
    assert general["total_requests"] - general["valid_requests"] == left_out


# ---------------------------------------------------------------- the differences

SHOP_DAY = date(2026, 11, 30)
DAY_NOW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # the day is open: its salt lives
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)
CUSTOMER = "198.51.100.40"


def line(host: str, target: str, status: int = 200, agent: str = FIREFOX, when: str = "") -> str:
    stamp = when or "30/Nov/2026:10:00:00 +0000"
    return f'{host} - - [{stamp}] "GET {target} HTTP/1.1" {status} 100 "-" "{agent}"\n'


@dataclass(frozen=True)
class Differences:
    ours: Ours
    theirs: dict[str, Any]
    utc_days: dict[str, Any]  # GoAccess reading the time with its offset, days in UTC
    ip_unchecked: dict[str, Any]  # GoAccess taking any host, a visitor hash too


@pytest.fixture(scope="module")
def differences(tmp_path_factory: pytest.TempPathFactory) -> Differences:
    """One line (or two) per documented difference, plus one both count alike."""
    goaccess_path()
    folder = tmp_path_factory.mktemp("differences")
    sessions = fresh_shop_database(folder)
    with transaction(sessions) as session:
        salt = salt_of_day(session, SHOP_DAY, DAY_NOW)
    assert salt is not None
    private = visitor_hash(salt, CUSTOMER, FIREFOX)  # the shop's own log's private line
    log = folder / "crafted.log"
    log.write_text(
        line("198.51.100.1", "/")  # alike: one request, one visitor, one pageview
        + line("198.51.100.2", "/healthz")  # a health check: not ours, GoAccess's
        + line("198.51.100.3", "/static/fonts/inter")  # an asset by its folder: ditto
        + line("198.51.100.4", "/h", agent=HEADLESS)  # crawlerdetect's bot, GoAccess's Chrome
        + line("198.51.100.5", "/late", when="30/Nov/2026:23:30:00 -0500")  # 1 Dec in UTC
        + line("198.51.100.6", "/caf%C3%A9")  # kept escaped here, decoded there
        + line(CUSTOMER, "/cart")  # a customer's public line, then a private one:
        + line(private, "/account")  # one visitor here, two there (no IP check)
        + line("198.51.100.7", "/gone", status=404)  # a 4xx-only visitor, GoAccess's too
    )
    ingest_one(sessions, folder, log, DAY_NOW)
    utc = ("--datetime-format=%d/%b/%Y:%H:%M:%S %z", "--tz=UTC")
    combined_by_parts = '%h %^[%x] "%r" %s %b "%R" "%u"'  # COMBINED with %x, as --tz needs
    return Differences(
        read_ours(sessions),
        goaccess_report(log),
        goaccess_report(log, *utc, log_format=combined_by_parts),
        goaccess_report(log, "--no-ip-validation"),
    )


def test_each_documented_difference_is_what_each_side_does(differences: Differences) -> None:
    ours = differences.ours.cell_hits("status")
    ours_paths = differences.ours.cell_hits("page") + differences.ours.cell_hits("missing")
    theirs_paths = by_path(differences.theirs["requests"]["data"]) + by_path(
        differences.theirs["not_found"]["data"]
    )
    # Health checks, assets known by their folder, crawlerdetect's bots: ours leave them out.
    assert {"/healthz", "/static/fonts/inter", "/h"} <= set(theirs_paths) - set(ours_paths)
    # A visitor hash in place of the address: GoAccess rejects the line as no address...
    assert "/account" in ours_paths and "/account" not in theirs_paths
    # ...and a path's escapes: GoAccess decodes them, we keep the path as logged.
    assert "/caf%C3%A9" in ours_paths and "/café" in theirs_paths
    assert sum(ours.values()) == differences.theirs["general"]["valid_requests"] - 3 + 1


def test_days_agree_when_goaccess_reads_the_offset_and_reports_in_utc(
    differences: Differences,
) -> None:
    """23:30 -0500 on 30 Nov is 04:30 UTC on 1 Dec: our day. GoAccess's COMBINED format
    counts it on the log's local day; with --datetime-format and --tz=UTC it agrees."""
    ours = {day: row.requests for day, row in differences.ours.days.items()}
    assert ours[date(2026, 12, 1)] == 1
    assert date(2026, 12, 1) not in per_day(differences.theirs, "hits")
    assert per_day(differences.utc_days, "hits")[date(2026, 12, 1)] == 1


def test_a_customers_private_line_is_one_visitor_with_their_public_ones(
    differences: Differences,
) -> None:
    """The shop's own log hashes a private route's address with the day's salt; ingestion
    keys the same customer's public lines with the same hash, so they are one visitor.
    GoAccess, told to take any host, sees the hash as a second visitor."""
    ours = differences.ours.days[SHOP_DAY].request_visitors
    theirs = per_day(differences.ip_unchecked, "visitors")[SHOP_DAY]
    # Ours leaves out the health check, the asset and the headless browser (3 visitors);
    # GoAccess counts the customer twice (1 more) and the -0500 line on 30 Nov (1 more).
    assert theirs == ours + 3 + 1 + 1
