"""Issue 10, item 8: the whole ingestion of an access log beside GoAccess on the same file in
the same run (lines per second, peak memory), then the report queries over the 90 days of
aggregates it left (p50 / p99 milliseconds).

    .venv/bin/python bench/analytics_ingest.py [--lines 1000000] [--days 90] [--log FILE]
        [--runs 1] [--database URL] [--repeat 30]

The log is ``bench/make_access_log.py``'s, nginx style (every line with its address, the
format GoAccess reads as COMBINED), ``--days`` UTC days ending 2026-11-30, made in a
temporary folder unless ``--log`` names one. Each contender is a child process of its
own, timed from its start to its exit, its peak resident memory its own (``os.wait4``),
as in ``bench/analytics_parse.py``:

- GoAccess: ``goaccess FILE --log-format=COMBINED -o report.json`` (left out when it is
  not installed);
- ours: ``quietshop.analytics.ingest.ingest`` of the file into a fresh node store and a
  freshly migrated SQLite shop database (migrated before the child starts), or, with
  ``--database``, into that database (PostgreSQL: give a scratch database; it is
  migrated, and the rows of node ``bench`` of the analytics tables are replaced).

Then the parent times ``reports.report`` over the last 90 days (or ``--days``) and each
of its parts (totals, trend, heatmap, funnel, each breakdown), ``--repeat`` times each.
Goals: ingestion at least 3x GoAccess's lines per second with a peak under 300 MB;
every report query under 200 ms. Prints a markdown section; writes no file of its own.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from analytics_parse import GOAL_PEAK_MB, GOAL_SPEED_RATIO, Run, best, line_count, run_child
from quietshop.analytics import reports
from quietshop.analytics.aggregates import DIMENSIONS
from quietshop.analytics.models import TrafficCell, TrafficDay, TrafficHour
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head

BENCH = Path(__file__).resolve().parent
END = date(2026, 11, 30)
NODE = "bench"
MIN_VISITORS = 5
GOAL_QUERY_MS = 200.0
# The child that ingests: one ingest() of the whole file, as `quietshop analytics ingest`.
INGEST_CHILD = """
import json, sys, time
from datetime import UTC, datetime
from pathlib import Path
from quietshop.analytics.ingest import Ingestion, ingest
from quietshop.db import make_engine, make_session_factory
log, store, url, node = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
sessions = make_session_factory(make_engine(url))
now = datetime(2026, 12, 1, 12, tzinfo=UTC)  # the morning after the log's last day
started = time.perf_counter()
result = ingest(Ingestion(sessions, store, node, 3650, "quietshop.example"), [log], now=now)
seconds = time.perf_counter() - started
found = result.files[0]
print(json.dumps({"seconds": seconds, "lines": found.lines, "events": found.events,
                  "excluded": found.excluded, "days": len(result.days_counted),
                  "error": found.error}))
"""


@dataclass(frozen=True)
class Ingested:
    run: Run
    seconds_in_ingest: float  # the ingest() call alone, without the child's start-up
    events: int
    excluded: dict[str, int]
    days: int


@dataclass(frozen=True)
class Timing:
    name: str
    p50_ms: float
    p99_ms: float


def make_log(folder: Path, lines: int, days: int) -> Path:
    path = folder / "access.log"
    subprocess.run(
        [sys.executable, str(BENCH / "make_access_log.py"), str(path), "--lines", str(lines),
         "--days", str(days), "--end", END.isoformat(), "--seed", "7", "--style", "nginx"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return path


def fresh_database(url: str | None, folder: Path) -> str:
    """A migrated database without node NODE's analytics rows; its URL."""
    url = url or f"sqlite:///{folder / 'shop.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        for table in (TrafficDay, TrafficHour, TrafficCell):
            session.execute(delete(table).where(table.node == NODE))
    engine.dispose()
    return url


def ingest_once(log: Path, folder: Path, url: str | None) -> Ingested:
    store = folder / "store"
    shutil.rmtree(store, ignore_errors=True)
    database = fresh_database(url, folder)
    run = run_child([sys.executable, "-c", INGEST_CHILD, str(log), str(store), database, NODE])
    found = json.loads(run.output.splitlines()[-1])
    if found["error"]:
        raise RuntimeError(f"ingestion stopped: {found['error']}")
    return Ingested(run, found["seconds"], found["events"], found["excluded"], found["days"])


def timed(repeat: int, query: Callable[[], object]) -> tuple[float, float]:
    """p50 and p99 in milliseconds of ``repeat`` calls (the first, warming caches, dropped)."""
    query()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        query()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.99 * len(samples)))]


def report_queries(
    sessions: sessionmaker[Session], period: reports.Period
) -> dict[str, Callable[[Session], object]]:
    """Each query a report makes, by name; the whole report first."""
    queries: dict[str, Callable[[Session], object]] = {
        "report (everything, by day)": lambda s: reports.report(
            s, period, min_visitors=MIN_VISITORS
        ),
        "report by week, compared with the 90 days before": lambda s: reports.report(
            s, period, min_visitors=MIN_VISITORS, granularity="week", compare_to=period.before()
        ),
        "totals": lambda s: reports.totals(s, period),
        "trend by day": lambda s: reports.trend(s, period, "day", MIN_VISITORS),
        "trend by month": lambda s: reports.trend(s, period, "month", MIN_VISITORS),
        "heatmap": lambda s: reports.heatmap(s, period, MIN_VISITORS),
        "funnel": lambda s: reports.funnel(s, period, MIN_VISITORS),
    }
    for dimension in DIMENSIONS:
        if dimension != "funnel":
            queries[f"breakdown: {dimension}"] = functools.partial(
                _breakdown, period=period, dimension=dimension
            )
    return queries


def _breakdown(session: Session, *, period: reports.Period, dimension: str) -> object:
    return reports.breakdown(session, period, dimension, MIN_VISITORS)


def time_reports(url: str, days: int, repeat: int) -> list[Timing]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    period = reports.Period(END - timedelta(days=days - 1), END)
    timings = []
    try:
        with sessions() as session:
            for name, query in report_queries(sessions, period).items():
                p50, p99 = timed(repeat, functools.partial(query, session))
                timings.append(Timing(name, p50, p99))
    finally:
        engine.dispose()
    return timings


def markdown(
    lines: int,
    days: int,
    ours: Ingested,
    goaccess: Run | None,
    timings: list[Timing],
    database: str,
    runs: int,
) -> str:
    rows = [
        "## Analytics: ingestion and reports, beside GoAccess (`bench/analytics_ingest.py`)",
        "",
        f"{lines:,} lines of `bench/make_access_log.py` (nginx style, {days} days), best of "
        f"{runs}; each contender a child process of its own, timed from start to exit, with "
        f"its own peak memory. Goal: ≥ {GOAL_SPEED_RATIO:g}x GoAccess's lines/s, peak < "
        f"{GOAL_PEAK_MB:g} MB; report queries < {GOAL_QUERY_MS:g} ms. Database: {database}.",
        "",
        "| contender | seconds | lines/s | peak memory | goal |",
        "|---|---:|---:|---:|---|",
    ]
    ratio = None
    if goaccess is not None:
        rows.append(
            f"| GoAccess (`--log-format=COMBINED`, JSON report) | {goaccess.seconds:.2f} | "
            f"{lines / goaccess.seconds:,.0f} | {goaccess.peak_mb:.0f} MB | reference |"
        )
        ratio = goaccess.seconds / ours.run.seconds
    speed = f"{ratio:.2f}x GoAccess" if ratio is not None else "GoAccess not installed"
    met = ratio is not None and ratio >= GOAL_SPEED_RATIO and ours.run.peak_mb < GOAL_PEAK_MB
    rows.append(
        f"| `quietshop analytics ingest` (ingest(), whole file) | {ours.run.seconds:.2f} | "
        f"{lines / ours.run.seconds:,.0f} | {ours.run.peak_mb:.0f} MB | {speed}; "
        f"{'met' if met else 'not met'} |"
    )
    excluded = ", ".join(f"{kind} {count:,}" for kind, count in sorted(ours.excluded.items()))
    rows += [
        "",
        f"Ours: {ours.seconds_in_ingest:.2f} s inside `ingest()` (the rest is the child's "
        f"start-up); {ours.events:,} requests counted, left out: {excluded}; "
        f"{ours.days} days counted.",
        "",
        f"Report queries over {days} days of aggregates (p50 / p99 of the repeats, one session):",
        "",
        "| query | p50 | p99 | goal |",
        "|---|---:|---:|---|",
    ]
    for timing in timings:
        verdict = "met" if timing.p99_ms < GOAL_QUERY_MS else "not met"
        rows.append(
            f"| {timing.name} | {timing.p50_ms:.1f} ms | {timing.p99_ms:.1f} ms | {verdict} |"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--log", type=Path, help="an existing log to read instead")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--database", help="a scratch database URL (default: a fresh SQLite)")
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per query")
    args = parser.parse_args()
    goaccess = shutil.which("goaccess")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        log = args.log or make_log(folder, args.lines, args.days)
        lines = line_count(log)
        theirs = None
        if goaccess is not None:
            command = [goaccess, str(log), "--log-format=COMBINED", "-o", str(folder / "r.json")]
            theirs = best([run_child(command) for _ in range(args.runs)])
        ours = min(
            (ingest_once(log, folder, args.database) for _ in range(args.runs)),
            key=lambda found: found.run.seconds,
        )
        url = args.database or f"sqlite:///{folder / 'shop.db'}"
        timings = time_reports(url, args.days, args.repeat)
    database = "PostgreSQL" if args.database and "postgres" in args.database else "SQLite"
    print(markdown(lines, args.days, ours, theirs, timings, database, args.runs))


if __name__ == "__main__":
    main()
