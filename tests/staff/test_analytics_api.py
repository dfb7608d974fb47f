"""The staff traffic API (issue 10, items 4 and 5; P1, P5, P6, P7):
GET /api/v1/staff/analytics/report and GET /api/v1/staff/analytics/tables/{table}.csv.

- the roles holding ``view_aggregates`` get the numbers ``analytics.service`` and
  ``quietshop analytics report --format json`` give for the same period; every other role
  gets 403 and the refusal is in the audit chain; nobody signed in gets 401; a member who
  has not acknowledged the current policies gets 403 ``policies_pending``;
- every table of ``analytics.TABLES`` as CSV: its header, the JSON's rows, every row;
- the period: its defaults, reversed, malformed, too long or off the calendar;
- no answer sets a cookie, and none holds an address, a visitor hash, an email or a
  customer number, though the log ingested held all of them (P1, P5);
- k-anonymity as a client sees it: a value of fewer than k visitors is not shown.

Real staff (enrolled, signed in through the API) on SQLite and PostgreSQL. The traffic is
a log of yesterday and today ingested as ``serve`` ingests it (``analytics.ingest``) into
the test's database; the exact boundaries of k are aggregate rows written straight in, as
the browser test of the Traffic screen seeds its week.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from quietshop.accounts.numbers import format_customer_number, new_customer_number
from quietshop.analytics import reports
from quietshop.analytics import service as analytics
from quietshop.analytics.ingest import Ingestion, ingest
from quietshop.analytics.models import TrafficCell, TrafficDay, TrafficHour
from quietshop.analytics.presenting import WEEKDAYS
from quietshop.analytics.visitors import salt_of_day, visitor_hash
from quietshop.app import AssembledApp, build_app
from quietshop.cli import app as cli
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import policies
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.roles import Role
from tests.accounts.factories import make_customer, token_for
from tests.clock import T0, MovableClock
from tests.staff.conftest import signed_in
from tests.staff.desk import Clerk, cheap_customer_hashes, clerk
from tests.staff.factories import audit_entries

__all__ = ["cheap_customer_hashes", "clerk"]

REPORT = "/api/v1/staff/analytics/report"
TABLE_ROUTE = "/api/v1/staff/analytics/tables/{table}.csv"
VIEWERS = tuple(role for role in Role if role in ACTION_ROLES[Action.VIEW_AGGREGATES])
NOT_VIEWERS = tuple(role for role in Role if role not in VIEWERS)
K = 5  # analytics_min_visitors, by default
TODAY = T0.date()  # 2026-11-25, a Wednesday
YESTERDAY = TODAY - timedelta(days=1)
DEFAULT_FIRST = TODAY - timedelta(days=reports.DEFAULT_DAYS - 1)  # 2026-10-27
FEWER = f"fewer than {K}"

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
NETBSD = "Mozilla/5.0 (X11; NetBSD amd64; rv:128.0) Gecko/20100101 Firefox/128.0"
GOOGLEBOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"
# Six people in Great Britain, one of them on IPv6: enough for k. Four more, each of whom
# looks at one page: not enough. And one in Iceland at 3 a.m. on a rare system.
REGULARS = (
    ("81.2.69.160", FIREFOX),
    ("81.2.69.161", FIREFOX),
    ("81.2.69.162", CHROME),
    ("81.2.69.163", CHROME),
    ("2a02:c7f:1::7", FIREFOX),
    ("81.2.69.164", FIREFOX),
)
FEW = tuple((f"81.2.69.{170 + n}", CHROME) for n in range(K - 1))
RARE = ("130.208.0.1", NETBSD)
BOT = ("66.249.66.1", GOOGLEBOT)
# What a log holds that no answer may: an email in a query string and in a referrer's, a
# customer number in a query string, and a private route's line with someone's hash.
EMAIL = "ann.smith@example.org"
CUSTOMER_NUMBER = new_customer_number(random.Random(10))
STRAY_HASH = "v-0123456789abcdef"
MAIL_REFERRER = f"https://mail.example.net/inbox?to={EMAIL}"
IPV4 = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
VISITOR_HASH = re.compile(r"v-[0-9a-f]{16}")


def table_path(table: str) -> str:
    return TABLE_ROUTE.format(table=table)


# ---------------------------------------------------------------- traffic


def log_line(
    host: str,
    when: datetime,
    path: str,
    *,
    agent: str = FIREFOX,
    method: str = "GET",
    status: int = 200,
    referrer: str = "-",
    seconds: float = 0.012,
) -> str:
    """One line as the shop's own access log writes it (Combined, then the seconds)."""
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    request = f'"{method} {path} HTTP/1.1" {status} 512'
    return f'{host} - - [{stamp}] {request} "{referrer}" "{agent}" {seconds:.3f}\n'


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def regular_visit(start: datetime, ip: str, agent: str, hashed: str) -> list[str]:
    """A regular's visit: in from a webmail link, a product, a search, the cart, then
    the private routes (checkout, the order placed, the order page) under their hash."""
    public = [
        (0, "/", {"referrer": MAIL_REFERRER}),
        (1, f"/products/cable?customer={CUSTOMER_NUMBER}", {}),
        (1, "/static/site.css", {}),  # an asset: left out
        (2, f"/search?q={EMAIL}", {}),
        (3, "/cart", {}),
    ]
    private = [
        (4, "/checkout", {}),
        (5, "/api/v1/orders", {"method": "POST", "status": 201, "seconds": 0.250}),
        (6, "/account/orders/{number}", {}),
    ]
    return [
        log_line(host, start + timedelta(minutes=minute), path, agent=agent, **more)
        for host, steps in ((ip, public), (hashed, private))
        for minute, path, more in steps
    ]


def shop_log(salt: bytes) -> str:
    """Yesterday and today until T0, as the shop's log has them: public lines with the
    address, private ones (checkout, orders, account) with the day's visitor hash."""
    lines = []
    for n, (ip, agent) in enumerate(REGULARS):
        lines += regular_visit(at(TODAY, 9, 5 * n), ip, agent, visitor_hash(salt, ip, agent))
        if n < K:  # five of them came yesterday too
            when = at(YESTERDAY, 15, n)
            lines += [
                log_line(ip, when, "/", agent=agent),
                log_line(ip, when, "/about", agent=agent),
            ]
    for n, (ip, agent) in enumerate(FEW):
        lines.append(log_line(ip, at(TODAY, 10, n), "/products/linen-shirt", agent=agent))
    ip, agent = RARE
    lines += [
        log_line(ip, at(TODAY, 3, 10), "/products/rare", agent=agent),
        log_line(ip, at(TODAY, 3, 11), "/wp-login.php", agent=agent, status=404),
    ]
    lines.append(log_line(BOT[0], at(TODAY, 8), "/", agent=BOT[1]))
    lines.append(log_line(STRAY_HASH, at(TODAY, 11), "/account"))
    return "".join(sorted(lines, key=lambda text: text.split("[", 1)[1]))


@dataclass(frozen=True)
class Traffic:
    """What was ingested: the log's text, every string in it no answer may show, and the
    aggregate rows the ingestion wrote."""

    log: str
    secrets: dict[str, str]
    rows: dict[type[TrafficDay | TrafficHour | TrafficCell], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    """The shop's log of yesterday and today, ingested at T0 as serve does, once: into a
    shop database of its own (with the day's salt the log's private lines were hashed
    with), whose aggregate rows each test then copies into its own database."""
    folder = tmp_path_factory.mktemp("ingested")
    engine = make_engine(f"sqlite:///{folder / 'shop.db'}")
    try:
        upgrade_to_head(engine)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            salt = salt_of_day(session, TODAY, T0)
        assert salt is not None
        text = shop_log(salt)
        log = folder / "access.log"
        log.write_text(text)
        ingestion = Ingestion(sessions, folder / "store", "node-a", 30, "shop.test")
        result = ingest(ingestion, [log], now=T0)
        assert result.files[0].error is None
        assert result.files[0].excluded == {"asset": len(REGULARS), "bot": 1}
        with sessions() as session:
            rows = {
                model: _rows_of(session, model) for model in (TrafficDay, TrafficHour, TrafficCell)
            }
    finally:
        engine.dispose()
    hashes = {f"hash of {ip}": visitor_hash(salt, ip, agent) for ip, agent in REGULARS}
    addresses = {f"address {ip}": ip for ip, _ in (*REGULARS, *FEW, RARE, BOT)}
    secrets = {
        **addresses,
        **hashes,
        "a private line's hash": STRAY_HASH,
        "email": EMAIL,
        "email's local part": EMAIL.split("@")[0],
        "customer number": CUSTOMER_NUMBER,
        "customer number, as shown": format_customer_number(CUSTOMER_NUMBER),
        "User-Agent": FIREFOX,
        "referrer's path": "/inbox",
    }
    return Traffic(text, secrets, rows)


def _rows_of(session: Session, model: Any) -> list[dict[str, Any]]:
    names = [column.key for column in model.__table__.columns]
    return [{name: getattr(row, name) for name in names} for row in session.scalars(select(model))]


@pytest.fixture
def traffic(db: Session, ingested: Traffic) -> Traffic:
    """The ingested day's aggregates in the test's database."""
    for model, rows in ingested.rows.items():
        assert rows, model
        db.execute(insert(model), rows)
    db.commit()
    return ingested


SEEDED = "seeded"
SEED_DAY = date(2026, 11, 18)  # a Wednesday of the default period


def seed_day(day: date, visitors: int, pageviews: int) -> TrafficDay:
    return TrafficDay(
        node=SEEDED, day=day, pageviews=pageviews, visitors=visitors, visits=visitors,
        bounces=0, visit_seconds=60 * visitors, requests=pageviews, request_visitors=visitors,
    )  # fmt: skip


def seed_hour(moment: datetime, visitors: int) -> TrafficHour:
    return TrafficHour(
        node=SEEDED, hour=moment, pageviews=3 * visitors, visitors=visitors, visits=visitors,
        bounces=0, visit_seconds=60 * visitors,
    )  # fmt: skip


def seed_cell(
    dimension: str, value: str, visitors: int, hits: int, visits: int = 0, day: date = SEED_DAY
) -> TrafficCell:
    return TrafficCell(
        node=SEEDED, day=day, dimension=dimension, value=value, visitors=visitors, hits=hits,
        visits=visits, total=0,
    )  # fmt: skip


def seed(db: Session, *rows: TrafficDay | TrafficHour | TrafficCell) -> None:
    db.add_all(rows)
    db.commit()


# ---------------------------------------------------------------- asking


def get(api: TestClient, who: Clerk, path: str = REPORT, **params: Any) -> Response:
    return api.get(path, params=params, headers=who.headers)


def service_json(db: Session, first: date, last: date, **options: Any) -> dict[str, Any]:
    """What analytics.service answers for the period, as the API shows it."""
    period = analytics.Period(first, last)
    found = analytics.report(db, period, min_visitors=K, limit=analytics.TOP_ROWS, **options)
    return analytics.as_json(found)


def csv_rows(answer: Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    return list(csv.reader(io.StringIO(answer.text)))


def breakdown(answer: Response, name: str) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["breakdowns"][name]
    return found


def listed(answer: Response, name: str) -> dict[str, int | None]:
    """A breakdown's listed values and their visitors."""
    return {row["value"]: row["visitors"] for row in breakdown(answer, name)["rows"]}


def refused(answer: Response, status: int, error: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error
    detail: Any = answer.json()["detail"]
    return detail if isinstance(detail, str) else detail[0]["field"]


def json_table(found: dict[str, Any], table: str) -> list[list[str]]:
    """The rows a CSV of ``table`` must hold, read from the JSON report ``found``: a count
    hidden by k is "fewer than k"; a cell a spreadsheet would run as a formula is text."""
    k = found["fewer_than"]

    def shown(value: object) -> str:
        return f"fewer than {k}" if value is None else str(value)

    def safe(text: str) -> str:
        return "'" + text if text[:1] in ("=", "+", "-", "@") else text

    if table == "trend":
        names = ["pageviews", "visitors", "visits", "views_per_visit", "bounce_rate",
                 "mean_visit_seconds"]  # fmt: skip
        rows = [["start", *names]]
        for point in found["trend"]:
            values = [
                f"fewer than {k}" if point["hidden"] else "" if point[n] is None else str(point[n])
                for n in names
            ]
            rows.append([point["start"], *values])
        return rows
    if table == "heatmap":
        return [["weekday", "hour", "pageviews", "visitors"]] + [
            [WEEKDAYS[c["weekday"]], str(c["hour"]), shown(c["pageviews"]), shown(c["visitors"])]
            for c in found["heatmap"]
        ]
    if table == "funnel":
        return [["step", "visitors", "visits", "of_previous"]] + [
            [s["step"], shown(s["visitors"]), shown(s["visits"]),
             shown(None) if s["visitors"] is None else "" if s["of_previous"] is None
             else str(s["of_previous"])]
            for s in found["funnel"]
        ]  # fmt: skip
    part = found["breakdowns"][table]
    timed = table == "route"
    rows = [["value", "visitors", "hits", "visits", *(["mean_ms"] if timed else [])]]
    for row in [*part["rows"], *([part["other"]] if part["other"] else [])]:
        counts = [shown(row["visitors"]), shown(row["hits"]), shown(row["visits"])]
        rows.append([safe(row["value"]), *counts, *([shown(row["mean_ms"])] if timed else [])])
    return rows


@pytest.fixture
def analyst(clerk: Callable[..., Clerk]) -> Clerk:
    return clerk(Role.ANALYST)


# ---------------------------------------------------------------- who may read


def test_the_owner_marketing_and_analysts_hold_view_aggregates_and_no_one_else() -> None:
    # The module's promise, pinned: another role seeing traffic must be a decision
    assert set(VIEWERS) == {Role.OWNER, Role.MARKETING, Role.ANALYST}


def test_each_role_with_view_aggregates_gets_the_services_numbers(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, traffic: Traffic
) -> None:
    expected = service_json(db, DEFAULT_FIRST, TODAY)
    for role in VIEWERS:
        who = clerk(role)
        before = len(audit_entries(db))
        report = get(api, who)
        table = get(api, who, table_path("page"))
        assert report.status_code == 200, (role, report.text)
        assert report.json() == expected, role
        assert csv_rows(table) == json_table(expected, "page"), role
        # Counts name nobody: nothing is appended to the chain for reading them
        assert len(audit_entries(db)) == before, role


def test_the_numbers_are_the_logs(api: TestClient, analyst: Clerk, traffic: Traffic) -> None:
    """Not only equal to the service's: what the log holds, counted as docs/analytics.md
    says (today 12 people with a pageview, yesterday 5; the bot and the assets left out)."""
    found = get(api, analyst).json()
    days = {point["start"][:10]: point for point in found["trend"]}
    assert (days[str(YESTERDAY)]["visitors"], days[str(YESTERDAY)]["pageviews"]) == (5, 10)
    # Today: six regulars with six pageviews each (the asset is left out, and placing the
    # order is no pageview), four on the linen shirt, the Icelander and the stray hash
    assert (days[str(TODAY)]["visitors"], days[str(TODAY)]["pageviews"]) == (12, 36 + 4 + 1 + 1)
    assert found["totals"]["visitors"] == 17
    assert [(s["step"], s["visits"]) for s in found["funnel"]] == [
        ("product", 11), ("cart", 6), ("checkout", 6), ("order placed", 6),
    ]  # fmt: skip
    excluded = {row["value"]: row["hits"] for row in found["breakdowns"]["excluded"]["rows"]}
    assert excluded == {"asset": len(REGULARS), "bot": 1}
    # The private lines are the same people as their public ones: one visitor, one visit
    exits = {row["value"]: row["visitors"] for row in found["breakdowns"]["exit"]["rows"]}
    assert exits == {"/account/orders/{number}": 6, "/about": 5}


def test_every_granularity_and_the_comparison_are_the_services(
    api: TestClient, analyst: Clerk, db: Session, traffic: Traffic
) -> None:
    first = date(2026, 11, 1)
    period = analytics.Period(first, TODAY)
    # Weeks start on Monday: Nov 1 is a Sunday, so five weeks touch the period
    points = {"hour": 25 * 24, "day": 25, "week": 5, "month": 1}
    assert set(points) == set(reports.GRANULARITIES)
    for by, count in points.items():
        answer = get(api, analyst, **{"from": str(first), "to": str(TODAY)}, by=by,
                     compare="true")  # fmt: skip
        assert answer.status_code == 200, (by, answer.text)
        expected = service_json(db, first, TODAY, granularity=by, compare_to=period.before())
        assert answer.json() == expected, by
        compared = answer.json()["compared"]
        assert (compared["from"], compared["to"]) == ("2026-10-07", "2026-10-31")  # 25 days
        assert len(answer.json()["trend"]) == count, by


@pytest.fixture
def report_command(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, sessions: sessionmaker[Session]
) -> Callable[..., str]:
    """`quietshop analytics report` on the test's database, at T0: what it prints."""
    commands = "quietshop.analytics.commands"
    monkeypatch.setattr(f"{commands}.load_settings", lambda: settings)
    monkeypatch.setattr(f"{commands}.open_database", lambda url: None)
    monkeypatch.setattr(f"{commands}.make_session_factory", lambda engine: sessions)
    monkeypatch.setattr(f"{commands}.system_clock", lambda: T0)

    def run(*options: str) -> str:
        result = CliRunner().invoke(cli, ["analytics", "report", *options])
        assert result.exit_code == 0, result.output
        return result.stdout_bytes.decode()  # as printed: the CSV's line ends are \r\n

    return run


def test_the_api_and_the_report_command_show_the_same_numbers(
    api: TestClient, analyst: Clerk, traffic: Traffic, report_command: Callable[..., str]
) -> None:
    # The default period of both is the last 30 days to today
    assert json.loads(report_command("--format", "json")) == get(api, analyst).json()
    period = {"from": "2026-11-20", "to": "2026-11-25"}
    command = report_command("--format", "json", "--from", period["from"], "--to", period["to"],
                             "--by", "hour", "--compare")  # fmt: skip
    assert json.loads(command) == get(api, analyst, **period, by="hour", compare="true").json()
    # And a table: the command's CSV is the API's, byte for byte
    for table in ("page", "heatmap", "route"):
        printed = report_command("--format", "csv", "--table", table)
        assert printed == get(api, analyst, table_path(table)).text, table


def test_every_role_without_view_aggregates_is_refused_and_the_refusal_recorded(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, traffic: Traffic
) -> None:
    assert NOT_VIEWERS
    for role in NOT_VIEWERS:
        who = clerk(role)
        answers = [get(api, who), get(api, who, table_path("page")), get(api, who, by="hour")]
        assert [refused(a, 403, "forbidden") for a in answers] == [
            "Your roles do not allow this (view_aggregates)."
        ] * 3, role
        # Nothing of the traffic comes with a refusal
        assert not [a for a in answers if b"mail.example.net" in a.content or b"/cart" in a.content]
        # Each refusal is in the chain: the route, the action, the roles held, the origin
        denied = audit_entries(db, action="denied", staff_id=who.staff.id)
        why = f"(view_aggregates): view_aggregates not granted; holds {role.value}"
        assert [entry.reason for entry in denied] == [
            f"GET {REPORT} {why}",
            f"GET {TABLE_ROUTE} {why}",
            f"GET {REPORT} {why}",
        ], role
        assert {entry.origin for entry in denied} == {"testclient"}


def test_a_role_without_view_aggregates_is_refused_even_with_malformed_parameters(
    api: TestClient, clerk: Callable[..., Clerk], db: Session
) -> None:
    who = clerk(Role.FULFILMENT)
    answer = get(api, who, **{"from": "not a day"})
    assert refused(answer, 403, "forbidden")
    assert len(audit_entries(db, action="denied", staff_id=who.staff.id)) == 1


def test_someone_holding_another_role_as_well_sees_aggregates(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, traffic: Traffic
) -> None:
    both = clerk(Role.FULFILMENT, Role.ANALYST)
    answer = get(api, both)
    assert answer.status_code == 200, answer.text
    assert answer.json() == service_json(db, DEFAULT_FIRST, TODAY)
    assert audit_entries(db, action="denied", staff_id=both.staff.id) == []


def test_before_the_current_policies_are_acknowledged_it_is_refused_and_recorded(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, settings: Settings, traffic: Traffic
) -> None:
    policies.publish_policy(db, settings, "security", "Security", "Lock your screen.", T0)
    db.commit()
    late = clerk(Role.ANALYST, acknowledged=False)
    answers = [get(api, late), get(api, late, table_path("trend"))]
    assert [a.status_code for a in answers] == [403, 403]
    assert {a.json()["error"] for a in answers} == {"policies_pending"}
    assert not [a for a in answers if b"mail.example.net" in a.content]
    denied = audit_entries(db, action="denied", staff_id=late.staff.id)
    assert [entry.reason.split(": ", 1)[0] for entry in denied] == [
        f"GET {REPORT} (view_aggregates)",
        f"GET {TABLE_ROUTE} (view_aggregates)",
    ]
    assert all("policies not acknowledged (" in entry.reason for entry in denied)
    assert all("security v" in entry.reason for entry in denied)
    # Once acknowledged (by the service, as the policy screen does), the numbers come
    for policy in policies.current_policies(db):
        policies.acknowledge(db, late.staff.id, policy.id, T0)
    db.commit()
    assert get(api, late).status_code == 200


def test_without_a_live_sign_in_nothing_is_answered(
    api: TestClient, analyst: Clerk, db: Session, settings: Settings, clock: MovableClock
) -> None:
    token = analyst.headers["Authorization"].removeprefix("Bearer ")
    customer = token_for(db, settings, make_customer(db, settings))
    db.commit()
    attempts = {
        "no token": {},
        "a forged token": {"Authorization": "Bearer qs_staff_forged"},
        "a customer's token": {"Authorization": f"Bearer {customer}"},
        "the token in a cookie (P1: cookies are ignored)": {"Cookie": f"token={token}"},
        "not a bearer": {"Authorization": f"Basic {token}"},
    }
    for what, headers in attempts.items():
        for path in (REPORT, table_path("page")):
            answer = api.get(path, headers=headers)
            assert answer.status_code == 401, (what, path, answer.text)
            assert answer.json()["error"] == "unauthorized", what
    # Without any token it is refused before the parameters are read, even malformed ones
    # (a token that is not live is found out later: with a malformed day, 400)
    assert refused(api.get(REPORT, params={"from": "garbage"}), 401, "unauthorized")
    assert api.get(REPORT, params={"token": token}).status_code == 401  # never in a URL
    # Idle for 16 minutes, the session is locked (P7): 401 "locked", nothing shown
    clock.advance(minutes=16)
    assert refused(get(api, analyst), 401, "locked")


def test_other_methods_are_not_allowed(api: TestClient, analyst: Clerk) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = api.request(method, REPORT, headers=analyst.headers)
        assert answer.status_code == 405, method
        assert "GET" in answer.headers["allow"]
    assert api.post(table_path("page"), headers=analyst.headers).status_code == 405


# ---------------------------------------------------------------- tables as CSV


def test_every_table_as_csv_is_its_json_table(
    api: TestClient, analyst: Clerk, traffic: Traffic
) -> None:
    report = get(api, analyst).json()
    assert set(analytics.TABLES) == {"trend", "heatmap", "funnel", *report["breakdowns"]}
    for table in analytics.TABLES:
        answer = get(api, analyst, table_path(table))
        assert answer.status_code == 200, (table, answer.text)
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="traffic-{table}-{DEFAULT_FIRST}-{TODAY}.csv"'
        )
        assert answer.text.endswith("\r\n")
        assert csv_rows(answer) == json_table(report, table), table
    # The tables are not empty here: the comparison above compared something
    assert len(csv_rows(get(api, analyst, table_path("heatmap")))) == 1 + 7 * 24
    assert len(csv_rows(get(api, analyst, table_path("route")))) > 1


def test_a_table_takes_the_reports_period(
    api: TestClient, analyst: Clerk, traffic: Traffic
) -> None:
    day = {"from": str(TODAY), "to": str(TODAY)}
    hourly = get(api, analyst, table_path("trend"), **day, by="hour")
    assert hourly.headers["content-disposition"].endswith(f'"traffic-trend-{TODAY}-{TODAY}.csv"')
    rows = csv_rows(hourly)
    assert len(rows) == 1 + 24
    assert rows[1 : 1 + 4] == [
        [
            f"{TODAY}T0{hour}:00:00+00:00",
            *([FEWER] * 6 if hour == 3 else ["0", "0", "0", "", "", ""]),
        ]
        for hour in range(4)
    ]  # the Icelander's hour is one visitor: hidden whole
    report = get(api, analyst, **day, by="hour").json()
    assert rows == json_table(report, "trend")


def test_a_table_holds_every_row_where_the_report_holds_the_top_ones(
    api: TestClient, analyst: Clerk, db: Session
) -> None:
    # Given 25 pages, every one of at least k visitors
    seed(db, *(seed_cell("page", f"/page-{n:02}", 30 - n, 2 * (30 - n)) for n in range(25)))
    report = get(api, analyst)
    page = breakdown(report, "page")
    # The report lists the first 20; the other five are one row that shows the most any
    # of them had (a count it surely reaches) and their hits added up
    assert [row["value"] for row in page["rows"]] == [f"/page-{n:02}" for n in range(20)]
    assert page["other"] == {"value": "(other)", "visitors": 10, "hits": 2 * (10 + 9 + 8 + 7 + 6),
                             "visits": 0, "mean_ms": None}  # fmt: skip
    assert (page["values"], page["folded"]) == (25, 5)
    # The CSV has all 25, and no "(other)": nothing in it is below k
    rows = csv_rows(get(api, analyst, table_path("page")))
    assert rows[1:] == [[f"/page-{n:02}", str(30 - n), str(60 - 2 * n), "0"] for n in range(25)]


def test_cells_a_spreadsheet_would_run_are_text(
    api: TestClient, analyst: Clerk, db: Session
) -> None:
    # A referrer's domain is whatever a client sent: here, one that is a formula
    formula = '=HYPERLINK("http://evil.example","x")'
    values = {formula: 9, "+1": 8, "@SUM(A1)": 7, "-2": 6}
    seed(db, *(seed_cell("referrer", value, seen, 0, seen) for value, seen in values.items()))
    assert set(listed(get(api, analyst), "referrer")) == {formula, "+1", "@SUM(A1)", "-2"}
    rows = csv_rows(get(api, analyst, table_path("referrer")))
    assert [row[0] for row in rows[1:]] == ["'" + formula, "'+1", "'@SUM(A1)", "'-2"]


def test_an_unknown_table_is_refused_as_the_schema_says(
    api: TestClient, analyst: Clerk, db: Session
) -> None:
    # The schema names every table (a pattern), and answers a parameter that misses it 400
    document = api.get("/api/openapi.json").json()
    operation = document["paths"][TABLE_ROUTE]["get"]
    (table,) = [p for p in operation["parameters"] if p["name"] == "table"]
    assert table["schema"]["pattern"] == f"^({'|'.join(analytics.TABLES)})$"
    assert {"400", "401", "403", "404", "422"} <= set(operation["responses"])
    before = len(audit_entries(db))
    for name in ("nope", "TREND", "page.csv", ".csv", "trend;drop", "page%00", "x" * 5000,
                 "totals", "compared", "..%2F..%2Fetc%2Fpasswd", "%2e%2e"):  # fmt: skip
        answer = api.get(table_path(name), headers=analyst.headers)
        assert answer.status_code in (400, 404), (name, answer.text)
        if answer.status_code == 400:
            assert refused(answer, 400, "invalid_parameter") == "table", name
        assert answer.headers["content-type"] == "application/json"
    # Without ".csv", or with no name at all, there is no such route
    for path in ("/api/v1/staff/analytics/tables/page", "/api/v1/staff/analytics/tables/.csv"):
        assert refused(api.get(path, headers=analyst.headers), 404, "not_found")
    assert len(audit_entries(db)) == before


# ---------------------------------------------------------------- the period


def test_by_default_the_period_is_the_last_30_days_to_today(
    api: TestClient, analyst: Clerk, traffic: Traffic
) -> None:
    found = get(api, analyst).json()
    assert (found["from"], found["to"]) == (str(DEFAULT_FIRST), str(TODAY))
    assert (found["granularity"], found["fewer_than"]) == ("day", K)
    assert [p["start"][:10] for p in found["trend"]] == [
        str(DEFAULT_FIRST + timedelta(days=n)) for n in range(30)
    ]
    assert "compared" not in found
    # Only the end given: the 30 days to it; only the start: from it to today
    only_to = get(api, analyst, to="2026-11-10").json()
    assert (only_to["from"], only_to["to"]) == ("2026-10-12", "2026-11-10")
    assert only_to["totals"]["pageviews"] == 0  # the traffic came later
    only_from = get(api, analyst, **{"from": "2026-11-24"}).json()
    assert (only_from["from"], only_from["to"]) == ("2026-11-24", str(TODAY))
    assert only_from["totals"]["visitors"] == 17
    one_day = get(api, analyst, **{"from": str(TODAY), "to": str(TODAY)}).json()
    assert len(one_day["trend"]) == 1 and one_day["totals"]["visitors"] == 12


def test_today_follows_the_clock(
    api: TestClient, clerk: Callable[..., Clerk], clock: MovableClock
) -> None:
    # Just before midnight (signed in again then), the default period ends today;
    # two minutes later it ends tomorrow: the shop's clock, not the wall clock
    analyst = clerk(Role.ANALYST).staff
    clock.now = at(TODAY, 23, 59)
    headers = signed_in(api, analyst, clock.now)
    found = api.get(REPORT, headers=headers).json()
    assert (found["from"], found["to"]) == (str(DEFAULT_FIRST), str(TODAY))
    clock.advance(minutes=2)
    found = api.get(REPORT, headers=headers).json()
    assert (found["from"], found["to"]) == (str(DEFAULT_FIRST + timedelta(days=1)), "2026-11-26")


# Days that parse but make no period: 422 invalid_period, saying why.
UNREPORTABLE = [
    ({"from": "2026-11-25", "to": "2026-11-01"},
     "the period ends (2026-11-01) before it starts (2026-11-25)"),
    ({"from": "2026-11-25", "to": "2026-11-24", "compare": "true"},
     "the period ends (2026-11-24) before it starts (2026-11-25)"),
    ({"from": "2026-11-02", "to": "2026-11-01", "by": "hour"},
     "the period ends (2026-11-01) before it starts (2026-11-02)"),
    ({"from": "2026-11-26"},  # tomorrow, and "to" is today by default
     "the period ends (2026-11-25) before it starts (2026-11-26)"),
    ({"from": "0001-01-01", "to": "9999-12-31"},
     f"a period is at most {reports.MAX_DAYS} days, not 3652059"),
    ({"from": str(TODAY - timedelta(days=reports.MAX_DAYS)), "to": str(TODAY)},
     f"a period is at most {reports.MAX_DAYS} days, not {reports.MAX_DAYS + 1}"),
    ({"from": "2026-10-25", "to": "2026-11-25", "by": "hour"},
     f"an hourly trend covers at most {reports.MAX_HOURLY_DAYS} days"),
]  # fmt: skip


def test_a_period_that_cannot_be_reported_is_refused_and_nothing_happens(
    api: TestClient, analyst: Clerk, db: Session, traffic: Traffic
) -> None:
    def state() -> tuple[int, int | None]:
        db.expire_all()
        cells = db.scalar(select(func.count()).select_from(TrafficCell))
        return len(audit_entries(db)), cells

    before = state()
    for params, detail in UNREPORTABLE:
        for path in (REPORT, table_path("trend")):
            answer = get(api, analyst, path, **params)
            assert refused(answer, 422, "invalid_period") == detail, (path, params)
            assert b"mail.example.net" not in answer.content
    assert state() == before


def test_the_longest_periods_are_answered(api: TestClient, analyst: Clerk) -> None:
    longest = {"from": str(TODAY - timedelta(days=reports.MAX_DAYS - 1)), "to": str(TODAY)}
    answer = get(api, analyst, **longest)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["trend"]) == reports.MAX_DAYS
    hourly = {"from": str(TODAY - timedelta(days=reports.MAX_HOURLY_DAYS - 1)), "to": str(TODAY)}
    answer = get(api, analyst, **hourly, by="hour")
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["trend"]) == reports.MAX_HOURLY_DAYS * 24


MALFORMED_DAYS = [
    "2026-13-01", "2026-02-30", "yesterday", "", "2026/11/25", "25.11.2026", " 2026-11-25",
    "2026-11-25T10:00:00", "\uff12\uff10\uff12\uff16-11-25", "2026-11-25\x00", "-1", "1e3",
    "9" * 10_000, "'; DROP TABLE analytics_days; --",
]  # fmt: skip


def test_a_malformed_day_is_refused_naming_its_parameter(
    api: TestClient, analyst: Clerk, db: Session
) -> None:
    # A malformed parameter is 400 invalid_parameter across the API (app.py), as the
    # schema's 400 says; 422 invalid_period is for days that parse but make no period.
    before = len(audit_entries(db))
    for name in ("from", "to"):
        for value in MALFORMED_DAYS:
            for path in (REPORT, table_path("page")):
                answer = get(api, analyst, path, **{name: value})
                assert refused(answer, 400, "invalid_parameter") == name, (path, value)
                assert len(answer.content) < 1000  # the huge value is not echoed back
    assert len(audit_entries(db)) == before


def test_a_malformed_trend_or_comparison_is_refused_naming_its_parameter(
    api: TestClient, analyst: Clerk
) -> None:
    for params in ({"by": "minute"}, {"by": "DAY"}, {"by": ""}, {"compare": "perhaps"},
                   {"by": "hour" * 1000}):  # fmt: skip
        (name,) = params
        assert refused(get(api, analyst, **params), 400, "invalid_parameter") == name, params
    assert refused(get(api, analyst, table_path("page"), by="year"), 400, "invalid_parameter")
    # Parameters the API does not take change nothing
    plain = get(api, analyst).json()
    assert get(api, analyst, limit="100000", min_visitors="1", role="owner").json() == plain


def test_a_number_is_not_a_day(api: TestClient, analyst: Clerk) -> None:
    assert refused(get(api, analyst, **{"from": "0", "to": "0"}), 400, "invalid_parameter")


# The period's days are computed (the 30 days before "to", the day after "to", the period
# before for a comparison) without a bound at the calendar's ends: date arithmetic past
# year 1 or 9999 raises OverflowError, which the app answers 500.
OFF_THE_CALENDAR = [
    {"to": "0001-01-05"},  # the default start, 29 days before, is before year 1
    {"from": "9999-12-31", "to": "9999-12-31"},  # the period's end is the day after
    {"from": "0001-01-01", "to": "0001-01-03", "compare": "true"},  # the period before it
]


@pytest.fixture
def lenient(assembled: AssembledApp, keyring: Keyring) -> Iterator[TestClient]:
    """The API as a client sees it when the server fails: a 500, not a raised error."""
    with TestClient(
        assembled, base_url="https://testserver", raise_server_exceptions=False
    ) as client:
        yield client


@pytest.mark.parametrize("params", OFF_THE_CALENDAR)
def test_a_period_off_the_calendar_is_refused(
    lenient: TestClient, analyst: Clerk, params: dict[str, str]
) -> None:
    assert refused(get(lenient, analyst, **params), 422, "invalid_period")


# ---------------------------------------------------------------- P1 and P5 in every answer


def every_answer(api: TestClient, who: Clerk, other: Clerk) -> list[Response]:
    """An answer of every kind: reports, every table, and each refusal."""
    found = [
        get(api, who),
        get(api, who, by="hour"),
        get(api, who, **{"from": str(YESTERDAY), "to": str(TODAY)}, compare="true", by="week"),
        *(get(api, who, table_path(table)) for table in analytics.TABLES),
        *(get(api, who, table_path(table), by="hour") for table in ("trend", "heatmap")),
        get(api, who, **{"from": "2026-11-25", "to": "2026-11-01"}),  # 422
        get(api, who, **{"from": "garbage"}),  # 400
        get(api, who, table_path("nope")),  # 400
        get(api, other),  # 403
        api.get(REPORT),  # 401
        api.post(REPORT, headers=who.headers),  # 405
    ]
    assert {answer.status_code for answer in found} == {200, 400, 401, 403, 405, 422}
    return found


def test_no_answer_sets_a_cookie_or_holds_an_address_a_hash_an_email_or_a_customer_number(
    api: TestClient, analyst: Clerk, clerk: Callable[..., Clerk], traffic: Traffic
) -> None:
    # The log really held them all (the customer number as digits, as typed in a URL)
    missing = [what for what, secret in traffic.secrets.items() if secret not in traffic.log]
    assert missing == ["customer number, as shown"]
    answers = every_answer(api, analyst, clerk(Role.CATALOG))
    # P1: no answer of any kind sets a cookie, and none may be kept by anything between
    assert [str(a.request.url) for a in answers if "set-cookie" in a.headers] == []
    assert {a.headers["cache-control"] for a in answers} == {"no-store"}
    assert not api.cookies
    # P5: nothing that could name a person, in any body
    leaks = [
        (str(answer.request.url), what)
        for answer in answers
        for what, secret in traffic.secrets.items()
        if secret in answer.text or json.dumps(secret)[1:-1] in answer.text
    ]
    assert leaks == []
    patterns = [(str(a.request.url), p.pattern) for a in answers for p in (IPV4, VISITOR_HASH)
                if p.search(a.text)]  # fmt: skip
    assert patterns == []
    assert [str(a.request.url) for a in answers if "@" in a.text] == []
    # What the lines say is still there, without who: the page without its query string,
    # the referrer as a domain, the private route by its template
    report = answers[0]
    assert {"/search", "/products/cable", "/account/orders/{number}"} <= set(listed(report, "page"))
    assert listed(report, "referrer") == {"mail.example.net": len(REGULARS)}


def test_a_referrers_user_name_is_not_its_domain(
    api: TestClient, analyst: Clerk, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    # Browsers drop a referrer's userinfo; a script or a proxy's log need not. Five
    # visitors each, so k does not hide them.
    referrers = ("https://ann.smith@example.org/", "https://user:secret@mail.example.net/")
    lines = [
        log_line(f"81.2.69.{10 * r + n}", at(TODAY, 9, n), "/", referrer=referrer)
        for r, referrer in enumerate(referrers)
        for n in range(K)
    ]
    log = tmp_path / "access.log"
    log.write_text("".join(lines))
    ingest(Ingestion(sessions, tmp_path / "store", "node-a", 30, "shop.test"), [log], now=T0)
    report = get(api, analyst)
    assert listed(report, "referrer") == {"example.org": K, "mail.example.net": K}
    assert "@" not in report.text and "user" not in str(listed(report, "referrer"))


# ---------------------------------------------------------------- k-anonymity


def test_a_value_seen_by_fewer_than_k_visitors_is_not_shown(
    api: TestClient, analyst: Clerk, traffic: Traffic
) -> None:
    """ "One visitor from a small country at 3 a.m. on a rare browser" is never shown."""
    report = get(api, analyst)
    found = report.json()
    shown = [report.text, *(get(api, analyst, table_path(t)).text for t in analytics.TABLES)]
    # The Icelander on NetBSD: their page, their missing page, their country, their system
    # and their hour are in no answer; nor the linen shirt that four people looked at
    for hidden in ("/products/rare", "/wp-login.php", '"IS"', "NetBSD", "/products/linen-shirt"):
        assert [text for text in shown if hidden in text] == [], hidden
    assert listed(report, "country") == {"GB": 15}
    assert listed(report, "os") == {"Linux": 8, "Windows": 8}
    assert breakdown(report, "missing")["rows"] == []
    # Folded into "(other)", whose counts are hidden too: it could still be one person
    hidden_other = {"value": "(other)", "visitors": None, "hits": None, "visits": None,
                    "mean_ms": None}  # fmt: skip
    for name in ("page", "country", "os", "missing"):
        assert breakdown(report, name)["other"] == hidden_other, name
    assert breakdown(report, "page")["folded"] == 3  # the rare page, the shirt, /account
    # Wednesday 03:00 (one visitor) and 10:00 (four) are hidden; 09:00 (six) is shown
    heat = {(c["weekday"], c["hour"]): (c["visitors"], c["pageviews"]) for c in found["heatmap"]}
    assert heat[(2, 3)] == heat[(2, 10)] == (None, None)
    assert heat[(2, 9)] == (len(REGULARS), 6 * len(REGULARS))
    assert heat[(1, 15)] == (K, 2 * K)  # yesterday's five: exactly k, shown
    assert heat[(0, 0)] == (0, 0)  # nobody is not "fewer than k"
    hourly = {p["start"]: p for p in get(api, analyst, by="hour").json()["trend"]}
    assert hourly[f"{TODAY}T03:00:00+00:00"]["hidden"] is True
    assert hourly[f"{TODAY}T03:00:00+00:00"]["visitors"] is None  # no count rides along
    assert hourly[f"{TODAY}T09:00:00+00:00"]["visitors"] == len(REGULARS)


def test_exactly_k_visitors_are_shown_and_k_minus_one_are_not(
    api: TestClient, analyst: Clerk, db: Session
) -> None:
    seed(
        db,
        seed_day(SEED_DAY, 40, 100),
        seed_hour(at(SEED_DAY, 10), K),
        seed_hour(at(SEED_DAY, 3), K - 1),
        seed_cell("page", "/exactly-k", K, 9),
        seed_cell("page", "/k-minus-one", K - 1, 9),
        seed_cell("page", "/one-person", 1, 30),
        seed_cell("funnel", "1 product", 10, 0, 12),
        seed_cell("funnel", "2 cart", K, 0, 6),
        seed_cell("funnel", "3 checkout", K - 1, 0, 4),
        seed_cell("funnel", "4 order placed", 1, 0, 1),
    )
    report = get(api, analyst)
    page = breakdown(report, "page")
    assert page["rows"] == [
        {"value": "/exactly-k", "visitors": K, "hits": 9, "visits": 0, "mean_ms": None}
    ]
    # The two folded values had at most 4 visitors: nothing of them shows, not even the
    # one person's 30 pageviews
    assert page["other"] == {"value": "(other)", "visitors": None, "hits": None, "visits": None,
                             "mean_ms": None}  # fmt: skip
    assert (page["values"], page["folded"]) == (3, 2)
    assert b"/k-minus-one" not in report.content and b"/one-person" not in report.content
    assert csv_rows(get(api, analyst, table_path("page")))[1:] == [
        ["/exactly-k", str(K), "9", "0"],
        ["(other)", FEWER, FEWER, FEWER],
    ]
    heat = {
        (c["weekday"], c["hour"]): (c["visitors"], c["pageviews"]) for c in report.json()["heatmap"]
    }
    assert heat[(2, 10)] == (K, 3 * K)
    assert heat[(2, 3)] == (None, None)
    assert report.json()["funnel"] == [
        {"step": "product", "visitors": 10, "visits": 12, "of_previous": None},
        {"step": "cart", "visitors": K, "visits": 6, "of_previous": 0.5},
        {"step": "checkout", "visitors": None, "visits": None, "of_previous": None},
        {"step": "order placed", "visitors": None, "visits": None, "of_previous": None},
    ]
    assert csv_rows(get(api, analyst, table_path("funnel")))[3:] == [
        ["checkout", FEWER, FEWER, FEWER],
        ["order placed", FEWER, FEWER, FEWER],
    ]


def test_small_values_added_up_stay_hidden(api: TestClient, analyst: Clerk, db: Session) -> None:
    # Three rare pages of four visitors each: together 12, but they may be one person
    seed(db, *(seed_cell("country", code, K - 1, 10) for code in ("IS", "LI", "MC")))
    country = breakdown(get(api, analyst), "country")
    assert country["rows"] == []
    assert country["other"] == {"value": "(other)", "visitors": None, "hits": None, "visits": None,
                                "mean_ms": None}  # fmt: skip
    assert (country["values"], country["folded"]) == (3, 3)
    assert csv_rows(get(api, analyst, table_path("country"))) == [
        ["value", "visitors", "hits", "visits"],
        ["(other)", FEWER, FEWER, FEWER],
    ]


def test_a_periods_visitors_are_its_days_visitors_added_up(
    api: TestClient, analyst: Clerk, db: Session
) -> None:
    """docs/analytics.md, 5: the salt changes daily, so a person's two days are two
    visitors "by design"; for k a value needs k visitors on one day, where they are k
    people: three on each of two days (perhaps the same three) is never listed, while
    five on one day and three on the next is listed as the eight visitors it adds up to."""
    next_day = SEED_DAY + timedelta(days=1)
    seed(db, seed_cell("page", "/rare", 3, 3), seed_cell("page", "/rare", 3, 3, day=next_day))
    one = {"from": str(SEED_DAY), "to": str(SEED_DAY)}
    both = {"from": str(SEED_DAY), "to": str(next_day)}
    assert listed(get(api, analyst, **one), "page") == {}
    assert listed(get(api, analyst, **both), "page") == {}
    seed(db, seed_cell("page", "/five", 5, 5), seed_cell("page", "/five", 3, 3, day=next_day))
    assert listed(get(api, analyst, **both), "page") == {"/five": 8}


def test_k_is_the_shops_setting(
    clerk: Callable[..., Clerk], db: Session, settings: Settings,
    sessions: sessionmaker[Session], clock: MovableClock,
) -> None:  # fmt: skip
    # A shop that sets k to 3 shows the page of four visitors and hides the one of two
    analyst = clerk(Role.ANALYST)
    seed(db, seed_cell("page", "/four", 4, 4), seed_cell("page", "/two", 2, 2))
    stricter = settings.model_copy(update={"analytics_min_visitors": 3})
    shop = build_app(stricter, sessions, clock=clock)
    try:
        with TestClient(shop, base_url="https://testserver") as client:
            report = get(client, analyst)
            assert report.json()["fewer_than"] == 3
            assert listed(report, "page") == {"/four": 4}
            assert csv_rows(get(client, analyst, table_path("page")))[-1] == [
                "(other)", "fewer than 3", "fewer than 3", "fewer than 3",
            ]  # fmt: skip
    finally:
        if shop.access_log is not None:
            shop.access_log.close()


def test_a_day_of_fewer_than_k_visitors_is_hidden_in_the_daily_trend(
    api: TestClient, analyst: Clerk, db: Session
) -> None:
    seed(db, seed_day(SEED_DAY, 1, 3))
    trend = {p["start"][:10]: p for p in get(api, analyst).json()["trend"]}
    assert trend[str(SEED_DAY)]["hidden"] is True
    assert trend[str(SEED_DAY)]["visitors"] != 1
