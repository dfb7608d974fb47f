"""SQLite under concurrent writers: a transaction that reads before it writes must not fail
because another writer committed in between (it takes the write lock at BEGIN)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from quietshop.analytics.models import TrafficCell, TrafficHour
from quietshop.catalog.models import CatalogState
from quietshop.db import (
    insert_many,
    make_engine,
    make_session_factory,
    transaction,
    upgrade_to_head,
)

COUNTS = ("pageviews", "visitors", "visits", "bounces", "visit_seconds")
CELL_COLUMNS = ("node", "day", "dimension", "value", "visitors", "hits", "visits", "total")


def test_read_then_write_survives_another_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    upgrade_to_head(engine)
    sessions = make_session_factory(engine)
    read_done, other_done = threading.Event(), threading.Event()

    def other_writer() -> None:
        read_done.wait(5)
        with transaction(sessions) as session:  # waits for the lock, then commits
            session.execute(update(CatalogState).values(version=CatalogState.version + 10))
        other_done.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    with transaction(sessions) as session:
        before = session.execute(select(CatalogState.version)).scalar_one()
        read_done.set()
        other_done.wait(0.5)  # the other writer is blocked by our lock, not racing past it
        session.execute(update(CatalogState).values(version=before + 1))
    thread.join(10)
    with sessions() as session:
        assert session.execute(select(CatalogState.version)).scalar_one() == before + 11
    engine.dispose()


def test_sqlite_overwrites_what_it_frees(tmp_path: Path) -> None:
    """Erasure reaches the file: every connection turns secure_delete on, whatever the
    SQLite build's default (Debian's is on; others' is off)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'secure.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()


def test_a_lock_wait_that_runs_out_is_busy_not_a_server_error(tmp_path: Path) -> None:
    """Under a burst of orders SQLite's lock wait can run out: that is a 503 to retry
    (nothing was written), not a 500."""
    import sqlite3

    from fastapi.testclient import TestClient
    from pydantic import SecretStr
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from quietshop.app import build_app
    from quietshop.db import is_busy
    from quietshop.settings import Settings

    path = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE t (x INTEGER)"))
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with engine.connect() as waiting:
            waiting.exec_driver_sql("PRAGMA busy_timeout=10")
            try:
                waiting.execute(text("INSERT INTO t VALUES (1)"))
            except OperationalError as error:
                caught: OperationalError | None = error
            else:
                caught = None
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert caught is not None and is_busy(caught)
    assert not is_busy(ValueError("database is locked"))  # only the driver's own error

    settings = Settings(
        data_dir=tmp_path / "var", secret_key=SecretStr("k" * 40),
        public_base_url="https://shop.test", access_log_enabled=False,
    )  # fmt: skip
    app = build_app(
        settings, make_session_factory(make_engine(f"sqlite:///{path}")), page_cache=False
    )

    @app.fastapi.get("/api/v1/test-busy")
    def busy() -> None:
        raise caught  # type: ignore[misc]

    answer = TestClient(app, raise_server_exceptions=False).get("/api/v1/test-busy")
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error"] == "busy"


def test_writers_in_one_process_queue_instead_of_timing_out(tmp_path: Path) -> None:
    """SQLite's busy handler sleeps in steps; with many writers in one process some wait
    out busy_timeout. The per-engine writer lock queues them: with a 1 ms busy_timeout,
    32 threads of writes all succeed."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import event, text

    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    event.listen(
        engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=1"), insert=False
    )
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE hits (n INTEGER)"))
    sessions = make_session_factory(engine)

    def write(n: int) -> None:
        for _ in range(10):
            with transaction(sessions) as session:
                session.execute(text("INSERT INTO hits VALUES (:n)"), {"n": n})
                session.execute(text("SELECT count(*) FROM hits")).scalar_one()

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(write, range(32)))
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM hits")).scalar_one() == 320
    engine.dispose()


def test_insert_many_binds_each_type_as_the_orm_does(connection: Connection) -> None:
    """Dates, UTC times and text arrive as ``insert(table)`` with dicts would store them,
    on each dialect, and read back equal through the ORM; no rows is no statement."""
    hour = datetime(2026, 11, 30, 23, tzinfo=UTC)
    insert_many(connection, TrafficHour, ("node", "hour", *COUNTS), [])
    insert_many(connection, TrafficHour, ("node", "hour", *COUNTS), [("n-1", hour, 1, 2, 3, 4, 5)])
    cells = [("n-1", date(2026, 11, 30), "page", f"/p/{i} é", i, i * 2, i * 3, 0) for i in range(3)]
    insert_many(connection, TrafficCell, CELL_COLUMNS, cells)
    with Session(bind=connection) as session:
        stored = session.execute(select(TrafficHour)).scalar_one()
        assert (stored.hour, stored.pageviews, stored.visit_seconds) == (hour, 1, 5)
        found = session.execute(select(TrafficCell).order_by(TrafficCell.value)).scalars().all()
        assert [(c.day, c.value, c.visitors, c.hits, c.visits) for c in found] == [
            (day, value, visitors, hits, visits)
            for _, day, _, value, visitors, hits, visits, _ in cells
        ]


def test_insert_many_refuses_a_naive_time_as_the_orm_does(connection: Connection) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        insert_many(
            connection,
            TrafficHour,
            ("node", "hour", *COUNTS),
            [("n", datetime(2026, 1, 1), 0, 0, 0, 0, 0)],
        )
