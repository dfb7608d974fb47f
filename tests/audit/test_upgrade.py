"""Migration 0014 on a log chained the old way (each entry holding its own hashes): the
entries survive, their chain verifies unchanged as seals, an old exported head still
holds, and new appends continue after them; down again, the hashes go back in the rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, inspect

from quietshop.audit import service as audit
from quietshop.audit.chain import GENESIS, ChainRow, entry_hash, json_array
from quietshop.db import UTCDateTime, alembic_config, make_session_factory
from tests.audit.conftest import READ, event
from tests.clock import T0

OLD_ENTRIES = sa.table(
    "audit_entries",
    *(sa.column(name) for name in ("id", "action", "staff_id", "role", "subject")),
    sa.column("at", UTCDateTime()),
    *(sa.column(name) for name in ("customer_id", "data_kinds", "fields", "reason", "origin")),
    sa.column("prev_hash"),
    sa.column("hash"),
)


def _old_rows(count: int) -> list[dict[str, Any]]:
    """What the append before 0014 wrote: ids 1, 2, 3, ..., each row chained to the one before."""
    rows, previous = [], GENESIS
    for n in range(1, count + 1):
        e = event(subject=f"order:{n}", reason=f'Call {n}, "quoted"\nsecond line')
        row = ChainRow(
            n, T0 + timedelta(seconds=n), e.action, e.staff_id, e.role, e.subject,
            e.customer_id, e.data_kinds, e.fields, e.reason, e.origin, previous,
        )  # fmt: skip
        digest = entry_hash(row)
        rows.append({
            "id": n, "at": row.at, "action": e.action, "staff_id": e.staff_id, "role": e.role,
            "subject": e.subject, "customer_id": e.customer_id,
            "data_kinds": json_array(e.data_kinds), "fields": json_array(e.fields),
            "reason": e.reason, "origin": e.origin, "prev_hash": previous, "hash": digest,
        })  # fmt: skip
        previous = digest
    return rows


def _migrate(engine: Engine, target: str, downgrade: bool = False) -> None:
    with engine.begin() as connection:
        step = command.downgrade if downgrade else command.upgrade
        step(alembic_config(connection), target)


def test_a_log_chained_before_0014_survives_the_upgrade_and_verifies(
    committing_engine: Engine,
) -> None:
    _migrate(committing_engine, "0012", downgrade=True)
    old = _old_rows(5)
    with committing_engine.begin() as connection:
        connection.execute(sa.insert(OLD_ENTRIES), old)
    _migrate(committing_engine, "head")

    sessions = make_session_factory(committing_engine)
    with sessions() as session:
        result = audit.verify(session, now=T0 + timedelta(seconds=6))
        kept = audit.parse_head_document(
            f'{{"id": 5, "hash": "{old[-1]["hash"]}", "at": "2026-11-25T12:00:05.000000Z"}}'
        )
        assert audit.holds_head(session, kept)  # a head exported before the upgrade
    assert (result.passed, result.count, result.unsealed.count) == (True, 5, 0)
    assert result.head is not None and (result.head.seq, result.head.hash) == (5, old[-1]["hash"])

    new_id = audit.record(sessions, READ, T0 + timedelta(seconds=7))
    assert new_id == 6  # the identity / rowid goes on after the old ids
    assert audit.seal(sessions, T0 + timedelta(seconds=8)).sealed == 1
    with sessions() as session:
        assert audit.verify(session).count == 6

    # Down again: each entry's hashes back in its row, as 0012 kept them.
    _migrate(committing_engine, "0012", downgrade=True)
    with committing_engine.connect() as connection:
        assert "audit_seals" not in inspect(connection).get_table_names()
        back = connection.execute(
            sa.text("SELECT id, prev_hash, hash FROM audit_entries ORDER BY id")
        ).all()
    assert [tuple(row) for row in back[:5]] == [(r["id"], r["prev_hash"], r["hash"]) for r in old]
    assert back[5][1] == old[-1]["hash"] and len(back[5][2]) == 64
    _migrate(committing_engine, "head")
    with sessions() as session:
        assert audit.verify(session).count == 6
