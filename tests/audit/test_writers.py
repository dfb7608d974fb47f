"""Real commits: concurrent writers and late commits end in one valid chain, `record`
outlives the refused request, and on PostgreSQL the log works for a database user refused
UPDATE and DELETE on both of its tables."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.audit.models import AuditSeal
from quietshop.db import make_session_factory, transaction
from tests.audit.conftest import READ, event
from tests.clock import T0

PER_WRITER = 200


def _seal_order(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        return list(session.execute(select(AuditSeal.entry_id).order_by(AuditSeal.seq)).scalars())


def test_two_writers_appending_at_once_leave_one_valid_chain(committing_engine: Engine) -> None:
    """Two writers append while a third thread seals, as `serve` does."""
    sessions = make_session_factory(committing_engine)
    start = threading.Barrier(3)
    done = threading.Event()
    failures: list[BaseException] = []

    def write(staff_id: int) -> None:
        try:
            start.wait()
            for n in range(PER_WRITER):
                audit.record(sessions, event(staff_id=staff_id, subject=f"order:{n}"), T0)
        except BaseException as error:  # handed to the main thread
            failures.append(error)

    def seal() -> None:
        try:
            start.wait()
            while not done.is_set():
                audit.seal(sessions, T0)
                time.sleep(0.001)  # as `serve` would, if much more often
        except BaseException as error:
            failures.append(error)

    writers = [threading.Thread(target=write, args=(staff_id,)) for staff_id in (1, 2)]
    sealer = threading.Thread(target=seal)
    for thread in (*writers, sealer):
        thread.start()
    for writer in writers:
        writer.join()
    done.set()
    sealer.join()
    assert failures == []
    audit.seal(sessions, T0)
    with sessions() as session:
        result = audit.verify(session, now=T0)
        mine = [audit.entries(session, audit.AuditFilter(staff_id=s), 500) for s in (1, 2)]
    assert (result.passed, result.count, result.unsealed.count) == (True, 2 * PER_WRITER, 0)
    assert [len(entries) for entries in mine] == [PER_WRITER, PER_WRITER]
    assert sorted(_seal_order(sessions)) == sorted(e.id for each in mine for e in each)


def test_an_entry_committed_late_is_sealed_on_a_later_run(committing_engine: Engine) -> None:
    """Two real transactions: the first appends and stays open while the second appends
    and commits. A seal then chains only the committed one; once the first commits, the
    next seal chains it after, so the chain order is the commit order, not the id order.
    (On SQLite the second writer waits for the first's write lock, so nothing commits late
    there: the first is sealed first.)"""
    sessions = make_session_factory(committing_engine)
    postgres = committing_engine.dialect.name == "postgresql"
    first_appended, second_done = threading.Event(), threading.Event()
    ids: dict[str, int] = {}
    failures: list[BaseException] = []

    def second() -> None:
        try:
            first_appended.wait(5)
            ids["second"] = audit.record(sessions, event(subject="second"), T0)
            second_done.set()
        except BaseException as error:
            failures.append(error)

    helper = threading.Thread(target=second)
    helper.start()
    with transaction(sessions) as open_one:
        ids["first"] = audit.append(open_one, event(subject="first"), T0)
        first_appended.set()
        if postgres:
            assert second_done.wait(5)  # committed while the first is still open
            assert ids["second"] > ids["first"]
            assert audit.seal(sessions, T0).sealed == 1
            assert _seal_order(sessions) == [ids["second"]]
        else:
            time.sleep(0.2)  # the second waits for this transaction's write lock
            assert not second_done.is_set()
    helper.join(10)
    assert failures == []
    audit.seal(sessions, T0)
    expected = [ids["second"], ids["first"]] if postgres else [ids["first"], ids["second"]]
    assert _seal_order(sessions) == expected
    with sessions() as session:
        result = audit.verify(session, now=T0)
    assert (result.passed, result.count) == (True, 2)


def test_a_recorded_refusal_stays_when_the_request_is_rolled_back(
    committing_engine: Engine,
) -> None:
    sessions = make_session_factory(committing_engine)
    denied = replace(READ, action="denied", role="marketing", reason="")
    with sessions() as request:  # the refused request's own reading session
        request.execute(text("SELECT 1"))
        entry_id = audit.record(sessions, denied, T0)
        request.rollback()
    with sessions() as later:
        (kept,) = audit.entries(later, audit.AuditFilter(action="denied"), 10)
    assert (kept.id, kept.role) == (entry_id, "marketing")


def test_an_append_rolls_back_with_the_change_it_belongs_to(committing_engine: Engine) -> None:
    sessions = make_session_factory(committing_engine)
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        audit.append(session, READ, T0)
        raise RuntimeError("the change failed")
    with sessions() as session:
        assert audit.entry_count(session) == 0
    audit.record(sessions, READ, T0)
    assert audit.seal(sessions, T0).sealed == 1  # the rolled-back one left nothing to seal
    with sessions() as session:
        assert audit.verify(session, now=T0).count == 1


# ---------------------------------------------------------------- PostgreSQL: no UPDATE


@pytest.fixture
def limited(engine: Engine) -> Iterator[tuple[Connection, sessionmaker[Session]]]:
    """A throwaway role that may only INSERT and SELECT on the audit tables, in a
    transaction rolled back afterwards: the role and its grants vanish with it."""
    with engine.connect() as connection:
        outer = connection.begin()
        role = f"qs_audit_{uuid.uuid4().hex[:12]}"
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        for statement in (
            f'CREATE ROLE "{role}" NOLOGIN',
            f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
            f'GRANT SELECT, INSERT ON audit_entries, audit_seals TO "{role}"',
            f'SET LOCAL ROLE "{role}"',
        ):
            connection.execute(text(statement))
        yield connection, sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        outer.rollback()
    with engine.connect() as connection:  # gone with the rollback
        assert connection.execute(
            text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).scalar_one() == 0  # fmt: skip


@pytest.mark.parametrize(
    "engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_user_refused_update_and_delete_appends_seals_and_verifies(
    limited: tuple[Connection, sessionmaker[Session]],
) -> None:
    """No sequence grant either: the identity's values come with INSERT on the table."""
    connection, sessions = limited
    for n in range(3):
        audit.record(sessions, event(subject=f"order:{n}"), T0)
    assert audit.seal(sessions, T0).sealed == 3
    with sessions() as session:
        result = audit.verify(session, now=T0)
        assert (result.passed, result.count) == (True, 3)
        assert len(audit.entries(session, audit.AuditFilter(), 10)) == 3
        assert audit.head_document(session).count('"seq": 3') == 1
    for statement in (
        "UPDATE audit_entries SET reason = 'x'",
        "DELETE FROM audit_entries",
        "UPDATE audit_seals SET hash = 'x'",
        "DELETE FROM audit_seals",
        "TRUNCATE audit_seals",
    ):
        savepoint = connection.begin_nested()
        with pytest.raises(ProgrammingError, match="permission denied"):
            connection.execute(text(statement))
        savepoint.rollback()
