"""Visitors without identifiers (P5): the hash, the daily salt each process agrees on,
and its destruction once the day has closed."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from datetime import date, timedelta, timezone
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics.background import destroy_salts, start_salt_destruction
from quietshop.analytics.models import DailySalt
from quietshop.analytics.visitors import (
    NO_VISITOR,
    DailySalts,
    destroy_closed_salts,
    hmac_pads,
    visitor_hash,
    visitor_hash_sql,
)
from quietshop.db import make_session_factory
from tests.clock import T0, MovableClock

SALT = bytes(range(32))
OTHER_SALT = bytes(range(1, 33))
IP = "198.51.100.23"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
HASH = re.compile(r"^v-[0-9a-f]{16}$")


def _salt_days(db: Session) -> dict[date, bytes]:
    db.expire_all()
    return {day: salt for day, salt in db.execute(select(DailySalt.day, DailySalt.salt))}


# ---------------------------------------------------------------- the hash


def test_the_same_visitor_on_the_same_day_has_the_same_hash() -> None:
    assert visitor_hash(SALT, IP, UA) == visitor_hash(SALT, IP, UA)


def test_another_salt_address_or_browser_is_another_visitor() -> None:
    seen = {
        visitor_hash(SALT, IP, UA),
        visitor_hash(OTHER_SALT, IP, UA),  # the next day
        visitor_hash(SALT, "198.51.100.24", UA),
        visitor_hash(SALT, "2001:db8::23", UA),
        visitor_hash(SALT, IP, UA.replace("140", "141")),
        # The separator holds: moving text between address and browser is another visitor.
        visitor_hash(SALT, IP + "M", UA[1:]),
    }
    assert len(seen) == 6


def test_a_hash_is_marked_and_never_looks_like_an_address() -> None:
    shown = visitor_hash(SALT, IP, UA)
    assert HASH.match(shown), shown
    assert IP not in shown and not re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", shown)


# ---------------------------------------------------------------- the keeper


def test_the_first_use_of_a_day_makes_its_salt_and_keeps_it(
    sessions: sessionmaker[Session], db: Session
) -> None:
    salts = DailySalts(sessions)
    salt = salts.salt_for(T0)
    assert salt is not None and len(salt) == 32
    assert _salt_days(db) == {T0.date(): salt}
    assert salts.salt_for(T0 + timedelta(hours=11, minutes=59)) == salt
    assert salts.visitor(IP, UA, T0) == visitor_hash(salt, IP, UA)


def test_a_new_day_makes_a_new_salt(sessions: sessionmaker[Session], db: Session) -> None:
    salts = DailySalts(sessions)
    first = salts.salt_for(T0)
    second = salts.salt_for(T0 + timedelta(days=1))
    assert first is not None and second is not None and first != second
    assert salts.visitor(IP, UA, T0 + timedelta(days=1)) != visitor_hash(first, IP, UA)
    assert set(_salt_days(db)) == {T0.date(), T0.date() + timedelta(days=1)}
    # The day this process has left is not fetched again: its salt stays out of memory.
    assert salts.salt_for(T0) is None


def test_the_database_is_asked_once_per_day(
    sessions: sessionmaker[Session], connection: Connection
) -> None:
    statements: list[str] = []
    event.listen(connection, "before_cursor_execute", lambda *a: statements.append(a[2]))
    salts = DailySalts(sessions)
    salts.visitor(IP, UA, T0)
    asked = len(statements)
    assert asked > 0
    for minute in range(100):
        salts.visitor(IP, UA, T0 + timedelta(minutes=minute))
    assert len(statements) == asked


def test_two_keepers_on_one_database_agree(committing_engine: Engine) -> None:
    """As worker processes and nodes do: each with its own sessions, all at once."""
    keepers = [DailySalts(make_session_factory(committing_engine)) for _ in range(4)]
    start = threading.Barrier(len(keepers))
    found: list[bytes | None] = [None] * len(keepers)

    def fetch(index: int) -> None:
        start.wait()
        found[index] = keepers[index].salt_for(T0)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(keepers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert found[0] is not None and found == [found[0]] * len(keepers)
    with make_session_factory(committing_engine)() as db:
        assert _salt_days(db) == {T0.date(): found[0]}


def _unreachable_sessions(attempts: list[int]) -> sessionmaker[Session]:
    def refuse() -> Any:
        attempts.append(1)
        raise sqlite3.OperationalError("unable to open database file")

    return make_session_factory(create_engine("sqlite://", creator=refuse))


def test_without_a_database_there_is_no_salt_and_it_is_asked_for_rarely() -> None:
    attempts: list[int] = []
    salts = DailySalts(_unreachable_sessions(attempts))
    assert salts.salt_for(T0) is None
    assert salts.visitor(IP, UA, T0 + timedelta(seconds=1)) == NO_VISITOR
    assert salts.visitor(IP, UA, T0 + timedelta(seconds=9)) == NO_VISITOR
    assert len(attempts) == 1  # the event loop is not kept waiting on every line
    assert salts.visitor(IP, UA, T0 + timedelta(seconds=10)) == NO_VISITOR
    assert len(attempts) == 2


# ---------------------------------------------------------------- destroying


def test_destroy_removes_closed_days_only(sessions: sessionmaker[Session], db: Session) -> None:
    salts = DailySalts(sessions)
    day_one = salts.salt_for(T0)
    day_two = salts.salt_for(T0 + timedelta(days=1))
    with sessions() as session:
        assert destroy_closed_salts(session, T0 + timedelta(days=1, hours=1)) == 1
        session.commit()
    assert _salt_days(db) == {T0.date() + timedelta(days=1): day_two}
    assert day_one not in _salt_days(db).values()
    with sessions() as session:
        assert destroy_closed_salts(session, T0 + timedelta(days=1, hours=2)) == 0  # idempotent
        session.commit()
    assert DailySalts(sessions).salt_for(T0 + timedelta(days=1)) == day_two


def test_a_destroyed_day_gets_no_salt_again(
    sessions: sessionmaker[Session], db: Session, clock: MovableClock
) -> None:
    """A lagging node, or a line finished after midnight, after the salt is gone."""
    before = DailySalts(sessions).salt_for(T0)
    assert before is not None
    clock.advance(days=1)
    assert destroy_salts(sessions, clock) == 1
    # A keeper that never saw the day, as a worker started just now: nothing comes back.
    late = DailySalts(sessions)
    assert late.salt_for(T0) is None
    assert late.visitor(IP, UA, T0) == NO_VISITOR
    assert set(_salt_days(db)) == {clock().date()}  # today's, made by the destruction


def test_destroy_on_an_empty_table_closes_the_days_before(
    sessions: sessionmaker[Session], db: Session, clock: MovableClock
) -> None:
    """At start-up on a quiet day: today's salt is made, so no earlier one can be."""
    assert destroy_salts(sessions, clock) == 0
    assert set(_salt_days(db)) == {T0.date()}
    assert DailySalts(sessions).salt_for(T0 - timedelta(days=1)) is None
    assert set(_salt_days(db)) == {T0.date()}


@pytest.mark.parametrize(("hour", "offset_hours"), [(0, -5), (23, 5)])
def test_the_day_is_the_utc_day(
    sessions: sessionmaker[Session], db: Session, hour: int, offset_hours: int
) -> None:
    """00:30 UTC is the evening before in New York, 23:30 UTC the next morning in Karachi."""
    moment = T0.replace(hour=hour, minute=30).astimezone(timezone(timedelta(hours=offset_hours)))
    assert moment.date() != T0.date()
    DailySalts(sessions).salt_for(moment)
    assert set(_salt_days(db)) == {T0.date()}


def test_serve_destroys_a_closed_days_salt_at_start(
    committing_engine: Engine, clock: MovableClock
) -> None:
    """The thread's first round runs at once, not after its interval (its own database:
    the thread and the test must not share one connection)."""
    sessions = make_session_factory(committing_engine)
    assert DailySalts(sessions).salt_for(T0) is not None
    clock.advance(days=1)
    destruction = start_salt_destruction(sessions, interval_seconds=3600, clock=clock)
    try:
        for _ in range(500):
            with sessions() as db:
                if T0.date() not in _salt_days(db):
                    break
            time.sleep(0.01)
    finally:
        destruction.stop(timeout=5)
    assert not destruction.thread.is_alive()
    with sessions() as db:
        assert set(_salt_days(db)) == {clock().date()}


# The ingestion hashes a slice's visitors in DuckDB (visitor_hash_sql), the access log one
# request's in Python (visitor_hash): a visitor's private and public lines are one visitor
# only if both give the same text for every salt, address and User-Agent.
_SQL_HASH = visitor_hash_sql("inner_pad", "outer_pad", "ip", "agent")


@settings(max_examples=200, deadline=None)
@given(
    salt=st.binary(min_size=32, max_size=32),
    ip=st.one_of(st.ip_addresses().map(str), st.text(max_size=50)),
    agent=st.text(max_size=400),  # any Unicode but lone surrogates: DuckDB's text is UTF-8
)
def test_the_sql_hash_is_the_python_hash(salt: bytes, ip: str, agent: str) -> None:
    agent = agent.encode("utf-8", "replace").decode("utf-8")
    ip = ip.encode("utf-8", "replace").decode("utf-8")
    inner, outer = hmac_pads(salt)
    with duckdb.connect() as connection:
        found = connection.execute(
            f"SELECT {_SQL_HASH} FROM (SELECT $inner::BLOB AS inner_pad, "
            "$outer::BLOB AS outer_pad, $ip AS ip, $agent AS agent)",
            {"inner": inner, "outer": outer, "ip": ip, "agent": agent},
        ).fetchone()
    assert found == (visitor_hash(salt, ip, agent),)


def test_the_sql_hash_of_an_empty_agent_and_a_huge_one() -> None:
    salt = bytes(range(32))
    inner, outer = hmac_pads(salt)
    with duckdb.connect() as connection:
        connection.execute(
            "CREATE TABLE t (inner_pad BLOB, outer_pad BLOB, ip VARCHAR, agent VARCHAR)"
        )
        agents = ["", "x" * 20_000, "Mozilla/5.0 \u00e9\u4e2d\U0001f600", "a\x00b"]
        for agent in agents:
            connection.execute(
                "INSERT INTO t VALUES (?, ?, ?, ?)", [inner, outer, "2001:db8::1", agent]
            )
        found = [row[0] for row in connection.execute(f"SELECT {_SQL_HASH} FROM t").fetchall()]
    assert found == [visitor_hash(salt, "2001:db8::1", agent) for agent in agents]
    assert len(set(found)) == len(agents)
