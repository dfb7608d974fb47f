"""What serve does for analytics (analytics/background.py): ingest its own log every few
minutes, ingest once more before a closed day's salt is destroyed, and skip a round while
another ingestion holds the node's store. Time is the movable clock's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics import store
from quietshop.analytics.background import TrafficJob
from quietshop.analytics.ingest import Ingestion
from quietshop.analytics.models import DailySalt, TrafficDay
from quietshop.analytics.visitors import salt_of_day, visitor_hash
from quietshop.db import transaction
from tests.clock import MovableClock

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
LATE = datetime(2026, 11, 25, 23, 58, tzinfo=UTC)


def line(ip: str, when: datetime, path: str = "/products/cable") -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" 200 100 "-" "{UA}" 0.004\n'


def job(sessions: sessionmaker[Session], tmp_path: Path, clock: MovableClock) -> TrafficJob:
    log = tmp_path / "access.log"
    log.touch()
    ingestion = Ingestion(sessions, tmp_path / "store", "node-a", 30)
    return TrafficJob(ingestion, lambda: [log], timedelta(minutes=5), clock)


def pageviews(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(
            session.execute(select(func.coalesce(func.sum(TrafficDay.pageviews), 0))).one()[0]
        )


def test_it_ingests_at_start_then_every_interval(
    sessions: sessionmaker[Session], tmp_path: Path, clock: MovableClock
) -> None:
    traffic = job(sessions, tmp_path, clock)
    log = traffic.own_logs()[0]
    log.write_text(line("203.0.113.1", clock()))
    traffic.one_round()
    assert pageviews(sessions) == 1
    # A minute later a new line waits for the interval...
    with log.open("a") as out:
        out.write(line("203.0.113.2", clock() + timedelta(minutes=1)))
    clock.advance(minutes=1)
    traffic.one_round()
    assert pageviews(sessions) == 1
    # ...and is counted once it has passed, exactly once.
    clock.advance(minutes=4)
    traffic.one_round()
    traffic.one_round()
    assert pageviews(sessions) == 2


def test_a_closed_days_last_lines_are_ingested_with_its_salt_before_it_is_destroyed(
    sessions: sessionmaker[Session], tmp_path: Path, clock: MovableClock
) -> None:
    clock.now = LATE
    traffic = job(sessions, tmp_path, clock)
    log = traffic.own_logs()[0]
    traffic.one_round()  # nothing to read yet; the next ingestion is due in five minutes
    with transaction(sessions) as session:
        salt = salt_of_day(session, LATE.date(), LATE)
    assert salt is not None
    # One visitor's public line (the address) and private line (the day's hash) at 23:59,
    hashed = visitor_hash(salt, "203.0.113.9", UA)
    log.write_text(
        line("203.0.113.9", LATE + timedelta(minutes=1))
        + line(hashed, LATE + timedelta(minutes=1, seconds=5), "/checkout")
    )
    # and two minutes later the day has closed: the job ingests before it destroys.
    clock.advance(minutes=3)
    traffic.one_round()
    with sessions() as session:
        day = session.execute(select(TrafficDay)).scalar_one()
        assert (day.day, day.pageviews, day.visitors) == (LATE.date(), 2, 1)
        assert LATE.date() not in session.execute(select(DailySalt.day)).scalars().all()


@contextmanager
def holding_the_store(directory: Path) -> Iterator[None]:
    """Another process (as `quietshop analytics ingest` by hand is) holds the store open:
    DuckDB locks a file against other processes, not against the same one."""
    with store.open_store(directory):
        pass  # made, so the other process only opens it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory / store.STORE_FILE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        yield
    finally:
        holder.communicate(b"", timeout=30)


HOLDER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])
print("open", flush=True)
sys.stdin.read()
connection.close()
"""


def test_a_round_skips_ingestion_while_another_holds_the_store(
    sessions: sessionmaker[Session], tmp_path: Path, clock: MovableClock
) -> None:
    traffic = job(sessions, tmp_path, clock)
    log = traffic.own_logs()[0]
    log.write_text(line("203.0.113.1", clock()))
    with holding_the_store(tmp_path / "store"):
        traffic.one_round()  # no error: logged and left for the next round
    assert pageviews(sessions) == 0
    traffic.one_round()
    assert pageviews(sessions) == 1
