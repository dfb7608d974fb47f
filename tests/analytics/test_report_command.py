"""`quietshop analytics report --from --to --format text|json|csv` (issue 10, item 4): the
same numbers as ``reports.report`` in each format, k from the setting, CSV cells a
spreadsheet would run as formulas neutralised, and every bad input a person can type
answered in one line on stderr with exit status 2, never a traceback.

Logs are ingested through `quietshop analytics ingest`; both commands read a fixed clock.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from quietshop.analytics import presenting, reports
from quietshop.analytics.reports import MAX_DAYS, Period
from quietshop.analytics.service import TABLES
from quietshop.cli import app
from quietshop.db import make_session_factory
from tests.analytics.conftest import command_data_dir
from tests.analytics.test_ingest import TODAY
from tests.analytics.test_reports import US, at, people, views

runner = CliRunner()
DAY = TODAY.isoformat()  # 2026-11-25


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    """A data dir as `quietshop migrate` leaves it, the environment naming only it (k
    the default, 5); the shop's database, to compare the command's figures with."""
    _, engine = command_data_dir(tmp_path, monkeypatch)
    yield make_session_factory(engine)
    engine.dispose()


def ingest(tmp_path: Path, *lines: str | list[str]) -> None:
    log = tmp_path / f"access-{len(list(tmp_path.glob('access-*')))}.log"
    log.write_text("".join(part if isinstance(part, str) else "".join(part) for part in lines))
    done = runner.invoke(app, ["analytics", "ingest", str(log)])
    assert done.exit_code == 0, done.output


def report(*args: str) -> Result:
    return runner.invoke(app, ["analytics", "report", *args])


def csv_rows(result: Result) -> list[list[str]]:
    assert result.exit_code == 0, result.output
    return list(csv.reader(io.StringIO(result.stdout)))


@pytest.fixture
def morning(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """Five visitors view a product and the cart; one views /secret (fewer than k)."""
    ingest(tmp_path, views(people(5), at(9), "/products/cable", "/cart"))
    ingest(tmp_path, views(people(1, US), at(10), "/secret"))
    return sessions


# ---------------------------------------------------------------- the three formats


def test_text_shows_the_totals_and_the_tables_with_small_values_folded(
    morning: sessionmaker[Session],
) -> None:
    result = report("--from", DAY, "--to", DAY)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Traffic {DAY} to {DAY} (UTC; values seen by fewer than 5 visitors are folded)"
    )
    assert lines[1].startswith("pageviews 11  visitors 6  visits 6  views/visit 1.83")
    assert "/products/cable" in result.stdout and "/cart" in result.stdout
    assert "/secret" not in result.stdout
    assert "fewer than 5" in result.stdout  # (other), the US, the 10h hour
    assert "heatmap" not in result.stdout  # 168 rows: CSV and back office only
    assert result.stderr == ""


def test_json_is_the_reports_own_figures(morning: sessionmaker[Session]) -> None:
    result = report("--from", DAY, "--to", DAY, "--format", "json", "--by", "hour")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    with morning() as session:
        expected = reports.report(session, Period(TODAY, TODAY), min_visitors=5, granularity="hour")
    assert shown == json.loads(json.dumps(presenting.as_json(expected)))
    assert (shown["from"], shown["to"], shown["fewer_than"]) == (DAY, DAY, 5)
    assert shown["totals"]["pageviews"] == 11 and len(shown["trend"]) == 24
    page = shown["breakdowns"]["page"]
    assert [row["value"] for row in page["rows"]] == ["/cart", "/products/cable"]
    assert page["other"]["visitors"] is None and page["folded"] == 1
    assert "/secret" not in result.stdout


def test_csv_of_the_trend_by_default_and_of_any_table_named(
    morning: sessionmaker[Session],
) -> None:
    trend = csv_rows(report("--from", DAY, "--to", DAY, "--format", "csv"))
    assert trend == [
        [
            *("start", "pageviews", "visitors", "visits"),
            *("views_per_visit", "bounce_rate", "mean_visit_seconds"),
        ],
        [f"{DAY}T00:00:00+00:00", "11", "6", "6", "1.83", "0.1667", "50.0"],
    ]
    page = csv_rows(report("--from", DAY, "--to", DAY, "--format", "csv", "--table", "page"))
    assert page == [
        ["value", "visitors", "hits", "visits"],
        ["/cart", "5", "5", "0"],
        ["/products/cable", "5", "5", "0"],
        ["(other)", "fewer than 5", "fewer than 5", "fewer than 5"],
    ]
    heatmap = csv_rows(report("--from", DAY, "--to", DAY, "--format", "csv", "--table", "heatmap"))
    assert len(heatmap) == 1 + 168
    assert heatmap[1 + 2 * 24 + 9] == ["Wed", "9", "10", "5"]
    assert heatmap[1 + 2 * 24 + 10] == ["Wed", "10", "fewer than 5", "fewer than 5"]
    for table in TABLES:  # every table the API offers, the command offers too
        assert report("--from", DAY, "--format", "csv", "--table", table).exit_code == 0


def test_csv_lists_every_value_where_text_and_json_stop_at_the_top_20(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """k = 2 from the setting; 25 pages of 2 visitors each."""
    monkeypatch.setenv("QUIETSHOP_ANALYTICS_MIN_VISITORS", "2")
    ingest(tmp_path, *(views(people(2), at(9), f"/p{n:02}") for n in range(25)))
    page = csv_rows(report("--from", DAY, "--format", "csv", "--table", "page"))
    assert [row[0] for row in page[1:]] == [f"/p{n:02}" for n in range(25)]
    shown = json.loads(report("--from", DAY, "--format", "json").stdout)["breakdowns"]["page"]
    assert len(shown["rows"]) == reports.TOP_ROWS
    assert shown["other"] == {
        "value": "(other)",
        "visitors": 2,
        "hits": 10,
        "visits": 0,
        "mean_ms": None,  # only routes are timed
    }


@pytest.mark.parametrize("k", [3, 5])
def test_k_comes_from_the_setting(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, k: int
) -> None:
    monkeypatch.setenv("QUIETSHOP_ANALYTICS_MIN_VISITORS", str(k))
    ingest(tmp_path, views(people(4), at(9), "/four"), views(people(3), at(9), "/three"))
    page = csv_rows(report("--from", DAY, "--format", "csv", "--table", "page"))
    expected = {3: ["/four", "/three"], 5: ["(other)"]}[k]
    assert [row[0] for row in page[1:]] == expected
    assert json.loads(report("--from", DAY, "--format", "json").stdout)["fewer_than"] == k


def test_without_dates_the_last_30_days_to_today(sessions: sessionmaker[Session]) -> None:
    shown = json.loads(report("--format", "json").stdout)
    assert (shown["from"], shown["to"]) == ((TODAY - timedelta(days=29)).isoformat(), DAY)
    assert len(shown["trend"]) == 30
    only_to = json.loads(report("--to", "2026-11-01", "--format", "json").stdout)
    assert (only_to["from"], only_to["to"]) == ("2026-10-03", "2026-11-01")


def test_compare_shows_the_period_just_before(
    morning: sessionmaker[Session], tmp_path: Path
) -> None:
    yesterday = TODAY - timedelta(days=1)
    ingest(tmp_path, views(people(5), at(9, day=yesterday), "/"))
    shown = json.loads(report("--from", DAY, "--format", "json", "--compare").stdout)
    compared = shown["compared"]
    assert (compared["from"], compared["to"]) == (yesterday.isoformat(),) * 2
    assert compared["totals"]["pageviews"] == 5
    assert compared["change"]["pageviews"] == 1.2  # 11 against 5
    text = report("--from", DAY, "--compare")
    assert f"compared with {yesterday} to {yesterday}: pageviews 5  visitors 5  visits 5" in (
        text.stdout
    )


def test_an_empty_shop_reports_zeros(sessions: sessionmaker[Session]) -> None:
    text = report("--from", DAY)
    assert text.exit_code == 0, text.output
    assert "pageviews 0  visitors 0  visits 0  views/visit None" in text.stdout
    shown = json.loads(report("--from", DAY, "--format", "json").stdout)
    assert shown["totals"]["pageviews"] == 0 and shown["breakdowns"]["page"]["rows"] == []
    assert csv_rows(report("--from", DAY, "--format", "csv", "--table", "country")) == [
        ["value", "visitors", "hits", "visits"]
    ]


def test_text_prints_a_path_that_looks_like_markup_as_it_is(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ingest(tmp_path, views(people(5), at(9), "/[bold]x[/bold]"))
    text = report("--from", DAY)
    assert text.exit_code == 0, text.output
    assert "/[bold]x[/bold]" in text.stdout


# ---------------------------------------------------------------- formula injection

HOSTILE = ("=1+1", "+1+1", "-1+1", "=cmd|'calc'!A0")


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """A referrer's domain is whatever follows http:// (and a user name's @) up to / : ? #:
    a visitor can make it start with = + or -. Each such cell is written with a leading '
    (text, not a formula). Paths cannot start so (they start with /) and are written
    unchanged. An @ cannot start a domain: what comes before it is a user name, left out."""
    ingest(
        tmp_path,
        *(
            [v.at(at(9), "/=cmd|'calc'!A0", referrer=f"http://{hostile}") for v in people(5)]
            for hostile in HOSTILE
        ),
    )
    referrers = csv_rows(report("--from", DAY, "--format", "csv", "--table", "referrer"))
    values = sorted(row[0] for row in referrers[1:])
    assert values == sorted("'" + hostile.lower() for hostile in HOSTILE)
    for table in ("referrer", "page", "entry", "exit"):
        for row in csv_rows(report("--from", DAY, "--format", "csv", "--table", table)):
            assert all(cell[:1] not in "=+-@" for cell in row), row
    pages = csv_rows(report("--from", DAY, "--format", "csv", "--table", "page"))
    assert pages[1][0] == "/=cmd|'calc'!A0"
    # JSON is data, not a spreadsheet: the values as they are.
    shown = json.loads(report("--from", DAY, "--format", "json").stdout)
    assert {row["value"] for row in shown["breakdowns"]["referrer"]["rows"]} == {
        hostile.lower() for hostile in HOSTILE
    }


@pytest.mark.parametrize("control", ["\t", "\r"], ids=["tab", "carriage-return"])
def test_a_cell_starting_with_a_control_character_is_neutralised(
    sessions: sessionmaker[Session], tmp_path: Path, control: str
) -> None:
    ingest(tmp_path, [v.at(at(9), "/", referrer=f"http://{control}=1+1") for v in people(5)])
    referrers = csv_rows(report("--from", DAY, "--format", "csv", "--table", "referrer"))
    assert referrers[1][0] == f"'{control}=1+1"  # the hostile value, as text


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-01"], "--from: a day as YYYY-MM-DD, not '2026-13-01'"),
        (["--to", "yesterday"], "--to: a day as YYYY-MM-DD, not 'yesterday'"),
        (["--from", ""], "--from: a day as YYYY-MM-DD, not ''"),
        (["--from", "25/11/2026"], "--from: a day as YYYY-MM-DD, not '25/11/2026'"),
        (["--from", "x" * 10_000], f"--from: a day as YYYY-MM-DD, not '{'x' * 40}'"),
        (
            ["--from", "2026-11-25\n[red]x"],
            "--from: a day as YYYY-MM-DD, not '2026-11-25\\n[red]x'",
        ),
        (
            ["--from", "2026-11-26", "--to", "2026-11-25"],
            "the period ends (2026-11-25) before it starts (2026-11-26)",
        ),
        (["--from", "2020-01-01"], f"a period is at most {MAX_DAYS} days, not 2521"),
        (["--from", "0001-01-01", "--to", "9999-12-31"], f"a period is at most {MAX_DAYS} days"),
        (["--from", "2026-10-01", "--by", "hour"], "an hourly trend covers at most 31 days"),
        (["--format", "xml"], "--format: text, json or csv"),
        (["--format", "CSV"], "--format: text, json or csv"),
        (["--by", "year"], "--by: hour, day, week or month"),
        (
            ["--format", "csv", "--table", "visitors"],
            "--table: one of trend, heatmap, funnel, page, entry, exit, transition, "
            "referrer, browser, os, device, country, status, missing, route, excluded, "
            "rejected",
        ),
    ],
    ids=[
        "no-such-month",
        "a-word",
        "empty",
        "day-first",
        "huge",
        "markup-and-newline",
        "reversed",
        "too-long",
        "absurd",
        "hourly-too-long",
        "unknown-format",
        "format-in-capitals",
        "unknown-granularity",
        "unknown-table",
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(
    sessions: sessionmaker[Session], args: list[str], message: str
) -> None:
    result = report(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"quietshop: {message}")
    assert "Traceback" not in result.output


def test_a_bad_k_setting_is_one_line_too(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """k = 1 would show every single visitor: the setting refuses it."""
    monkeypatch.setenv("QUIETSHOP_ANALYTICS_MIN_VISITORS", "1")
    result = report("--from", DAY)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("quietshop: QUIETSHOP_ANALYTICS_MIN_VISITORS: ")


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "9999-12-31", "--to", "9999-12-31"],
        ["--from", "0001-01-01", "--to", "0001-01-05", "--compare"],
    ],
    ids=["last-day-of-the-calendar", "compared-before-the-first"],
)
def test_a_period_at_the_ends_of_the_calendar_is_one_line(
    sessions: sessionmaker[Session], args: list[str]
) -> None:
    result = report(*args)
    assert result.exit_code == 2, repr(result.exception)
    assert result.stderr.startswith("quietshop: ")


def test_a_hostile_visitor_cannot_make_a_bad_input_of_the_report(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Quotes, backslashes, control-looking text and a long path in the log: each
    format still comes out whole and parses."""
    # As the log escapes them: /a"b and /c\d.
    odd = ['/a\\"b', "/c\\\\d", "/" + "é" * 300, "/%00%0a", "/x,y;z"]
    ingest(tmp_path, *(views(people(5), at(9), path) for path in odd))
    assert report("--from", DAY).exit_code == 0
    shown = json.loads(report("--from", DAY, "--format", "json").stdout)
    assert len(shown["breakdowns"]["page"]["rows"]) == len(odd)
    page = csv_rows(report("--from", DAY, "--format", "csv", "--table", "page"))
    assert {row[0] for row in page[1:]} == {r["value"] for r in shown["breakdowns"]["page"]["rows"]}
    assert {'/a"b', "/c\\d"} <= {row[0] for row in page[1:]}


def test_the_day_options_take_iso_dates_only(sessions: sessionmaker[Session]) -> None:
    """Python's ISO parser also takes the compact form; it means the same day."""
    compact = json.loads(
        report("--from", "20261125", "--to", "20261125", "--format", "json").stdout
    )
    assert (compact["from"], compact["to"]) == (DAY, DAY)
    assert date.fromisoformat(compact["from"]) == TODAY
