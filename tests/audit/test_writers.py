"""Real commits: concurrent writers keep one chain, `record` outlives the refused request,
and on PostgreSQL the chain works for a database user refused UPDATE and DELETE."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.db import make_session_factory
from tests.audit.conftest import READ, event
from tests.clock import T0

PER_WRITER = 200


def test_two_writers_appending_at_once_leave_one_valid_chain(committing_engine: Engine) -> None:
    sessions = make_session_factory(committing_engine)
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def write(staff_id: int) -> None:
        try:
            start.wait()
            for n in range(PER_WRITER):
                audit.record(sessions, event(staff_id=staff_id, subject=f"order:{n}"), T0)
        except BaseException as error:  # handed to the main thread
            failures.append(error)

    writers = [threading.Thread(target=write, args=(staff_id,)) for staff_id in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert failures == []
    with sessions() as session:
        result = audit.verify(session)
        mine = [audit.entries(session, audit.AuditFilter(staff_id=s), 500) for s in (1, 2)]
    assert (result.intact, result.count) == (True, 2 * PER_WRITER)
    assert [len(entries) for entries in mine] == [PER_WRITER, PER_WRITER]


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
    from quietshop.db import transaction

    with pytest.raises(RuntimeError), transaction(sessions) as session:
        audit.append(session, READ, T0)
        raise RuntimeError("the change failed")
    with sessions() as session:
        assert audit.chain_head(session) is None
    assert audit.record(sessions, READ, T0) == 1  # the id was never used


# ---------------------------------------------------------------- PostgreSQL: no UPDATE


@pytest.fixture
def limited(engine: Engine) -> Iterator[tuple[Connection, sessionmaker[Session]]]:
    """A throwaway role that may only INSERT and SELECT on audit_entries, in a transaction
    rolled back afterwards: the role and its grants vanish with it."""
    with engine.connect() as connection:
        outer = connection.begin()
        role = f"qs_audit_{uuid.uuid4().hex[:12]}"
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        for statement in (
            f'CREATE ROLE "{role}" NOLOGIN',
            f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
            f'GRANT SELECT, INSERT ON audit_entries TO "{role}"',
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
def test_a_user_refused_update_and_delete_appends_and_verifies(
    limited: tuple[Connection, sessionmaker[Session]],
) -> None:
    connection, sessions = limited
    for n in range(3):
        audit.record(sessions, event(subject=f"order:{n}"), T0)
    with sessions() as session:
        assert audit.verify(session).count == 3
        assert len(audit.entries(session, audit.AuditFilter(), 10)) == 3
    for statement in ("UPDATE audit_entries SET reason = 'x'", "DELETE FROM audit_entries"):
        savepoint = connection.begin_nested()
        with pytest.raises(ProgrammingError, match="permission denied"):
            connection.execute(text(statement))
        savepoint.rollback()
