"""SQLite under concurrent writers: a transaction that reads before it writes must not fail
because another writer committed in between (it takes the write lock at BEGIN)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select, update

from quietshop.catalog.models import CatalogState
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head


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
