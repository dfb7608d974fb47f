"""The staff audit log: what an append costs with one and two writers, and how fast
``audit verify`` walks a million entries, on SQLite and PostgreSQL side by side. Prints a
markdown section for bench/results.md (this file writes no results file itself).

    .venv/bin/python bench/audit.py [--appends 20000] [--entries 1000000] [--quick]
                                    [--postgres URL]

For each database (SQLite in a temporary file; PostgreSQL in a schema of its own in the
``test`` database, dropped afterwards):

1. *append*: ``--appends`` entries in all, by 1 and then 2 threads at once, each entry
   in a transaction of its own as a staff request writes it (``db.transaction``, then
   ``audit.append``, then commit). Timed per entry: the append alone inside the open
   transaction (what a request's transaction pays: on PostgreSQL that includes waiting
   for the other writer's advisory lock; on SQLite the wait for the write lock happens
   at BEGIN, before it), and the whole transaction as the writer sees it, waits and
   commit included. The chain is verified afterwards (it must be one valid line).
2. *verify*: a fresh table of ``--entries`` entries (varied staff, roles, fields and
   reasons), built fast from precomputed chain rows (executemany on SQLite, COPY on
   PostgreSQL), then ``audit.verify`` over all of them, timed; entries per second.

``--quick``: 2,000 appends and 100,000 entries. Goals (issue 9): an append < 1 ms at p99
with two writers.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.audit.chain import GENESIS, ChainRow, entry_hash, json_array
from quietshop.audit.models import AuditEntry
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head

T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
GOAL_P99_MS = 1.0
BUILD_BATCH = 10_000
ROLES = ("customer_service", "billing", "fulfilment", "owner", "privacy_officer")
FIELDS = (
    ("customers.name", "customers.email", "customers.phone"),
    ("orders.bill_name", "orders.bill_line1", "payment_cards.last4"),
    ("orders.ship_name", "orders.ship_line1", "orders.ship_city"),
)
KINDS = (("contact",), ("address", "payment"), ("address",))
COLUMNS = tuple(column.name for column in AuditEntry.__table__.columns)


@dataclass(frozen=True)
class AppendRun:
    writers: int
    entries: int
    seconds: float
    append_ms: list[float]
    transaction_ms: list[float]
    intact: bool


@dataclass(frozen=True)
class VerifyRun:
    entries: int
    build_seconds: float
    seconds: float
    intact: bool


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def staff_event(n: int) -> audit.AuditEvent:
    kind = n % len(FIELDS)
    return audit.AuditEvent(
        action="read",
        staff_id=1 + n % 40,
        role=ROLES[n % len(ROLES)],
        subject=f"customer:{1 + n % 5000}",
        customer_id=1 + n % 5000,
        data_kinds=KINDS[kind],
        fields=FIELDS[kind],
        reason=f"Customer called about order QS-{n:09d}",
        origin=f"10.0.{n % 250}.{n % 200}",
    )


# ---------------------------------------------------------------- append


def run_appends(sessions: sessionmaker[Session], writers: int, total: int) -> AppendRun:
    per_writer = total // writers
    append_ms: list[list[float]] = [[] for _ in range(writers)]
    transaction_ms: list[list[float]] = [[] for _ in range(writers)]
    start = threading.Barrier(writers + 1)
    failures: list[BaseException] = []

    def write(index: int) -> None:
        try:
            start.wait()
            for n in range(per_writer):
                event = staff_event(index * per_writer + n)
                began = time.perf_counter()
                with transaction(sessions) as session:
                    before = time.perf_counter()
                    audit.append(session, event, T0 + timedelta(microseconds=n))
                    append_ms[index].append((time.perf_counter() - before) * 1000)
                transaction_ms[index].append((time.perf_counter() - began) * 1000)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if failures:
        raise failures[0]
    with sessions() as session:
        result = audit.verify(session)
    return AppendRun(
        writers,
        per_writer * writers,
        seconds,
        [ms for each in append_ms for ms in each],
        [ms for each in transaction_ms for ms in each],
        result.intact and result.count >= per_writer * writers,
    )


# ---------------------------------------------------------------- verify


def chain_rows(count: int) -> Iterator[dict[str, Any]]:
    """The rows an append would have written, hashed in order, without the database."""
    previous = GENESIS
    for n in range(count):
        event = staff_event(n)
        row = ChainRow(
            n + 1, T0 + timedelta(milliseconds=n), event.action, event.staff_id, event.role,
            event.subject, event.customer_id, event.data_kinds, event.fields, event.reason,
            event.origin, previous,
        )  # fmt: skip
        previous = entry_hash(row)
        yield {
            "id": row.id, "at": row.at, "action": row.action, "staff_id": row.staff_id,
            "role": row.role, "subject": row.subject, "customer_id": row.customer_id,
            "data_kinds": json_array(row.data_kinds), "fields": json_array(row.fields),
            "reason": row.reason, "origin": row.origin, "prev_hash": row.prev_hash,
            "hash": previous,
        }  # fmt: skip


def build_chain(engine: Engine, count: int) -> float:
    """Fill audit_entries with ``count`` chained entries; seconds taken."""
    began = time.perf_counter()
    bind_at = AuditEntry.__table__.c.at.type.dialect_impl(engine.dialect).bind_processor(
        engine.dialect
    )
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        if engine.dialect.name == "sqlite":  # autocommit driver mode (db.py): one transaction
            cursor.execute("BEGIN")
        batch: list[tuple[Any, ...]] = []
        for row in chain_rows(count):
            at = bind_at(row["at"]) if bind_at is not None else row["at"]
            batch.append(tuple(at if name == "at" else row[name] for name in COLUMNS))
            if len(batch) == BUILD_BATCH:
                _write(engine, cursor, batch)
                batch = []
        if batch:
            _write(engine, cursor, batch)
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - began


def _write(engine: Engine, cursor: Any, batch: list[tuple[Any, ...]]) -> None:
    names = ", ".join(COLUMNS)
    if engine.dialect.name == "postgresql":
        with cursor.copy(f"COPY audit_entries ({names}) FROM STDIN") as copy:
            for values in batch:
                copy.write_row(values)
    else:
        marks = ", ".join("?" for _ in COLUMNS)
        cursor.executemany(f"INSERT INTO audit_entries ({names}) VALUES ({marks})", batch)


def run_verify(engine: Engine, count: int) -> VerifyRun:
    build_seconds = build_chain(engine, count)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE audit_entries"))
    with make_session_factory(engine)() as session:
        result = audit.verify(session)
    return VerifyRun(
        result.count, build_seconds, result.seconds, result.intact and result.count == count
    )


# ---------------------------------------------------------------- one database


def empty_log(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries"))  # a bench table, not a shop's


def measure(
    name: str, engine: Engine, appends: int, entries: int
) -> tuple[list[AppendRun], VerifyRun]:
    upgrade_to_head(engine)
    sessions = make_session_factory(engine)
    runs = []
    for writers in (1, 2):
        empty_log(engine)
        run_appends(sessions, writers, min(200, appends))  # warm-up: connections, caches
        empty_log(engine)
        run = run_appends(sessions, writers, appends)
        print(
            f"{name}, {writers} writer(s): append p99 {percentile(run.append_ms, 0.99):.2f} ms, "
            f"{run.entries / run.seconds:.0f} entries/s, chain intact: {run.intact}"
        )
        runs.append(run)
    empty_log(engine)
    verified = run_verify(engine, entries)
    print(f"{name}: verify {verified.entries / verified.seconds:,.0f} entries/s")
    return runs, verified


def report(results: list[tuple[str, list[AppendRun], VerifyRun]], quick: bool) -> str:
    lines = [
        "## Audit log: append cost and verify rate",
        "",
        f"Written by `bench/audit.py{' --quick' if quick else ''}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC (Python {platform.python_version()}, "
        "in-process threads; each entry its own transaction). Goal: append < "
        f"{GOAL_P99_MS:g} ms at p99 with two writers.",
        "",
        "| database | writers | entries | append p50 | append p99 | transaction p50 | "
        "transaction p99 | entries/s | chain | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, runs, _ in results:
        for run in runs:
            p99 = percentile(run.append_ms, 0.99)
            goal = ("met" if p99 < GOAL_P99_MS else "missed") if run.writers == 2 else ""
            cells = [
                name, str(run.writers), f"{run.entries:,}",
                f"{statistics.median(run.append_ms):.3f} ms", f"{p99:.3f} ms",
                f"{statistics.median(run.transaction_ms):.3f} ms",
                f"{percentile(run.transaction_ms, 0.99):.3f} ms",
                f"{run.entries / run.seconds:,.0f}", "intact" if run.intact else "BROKEN", goal,
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| database | entries | built in | verified in | entries/s verified | chain |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, _, verified in results:
        cells = [
            name, f"{verified.entries:,}", f"{verified.build_seconds:.1f} s",
            f"{verified.seconds:.1f} s", f"{verified.entries / verified.seconds:,.0f}",
            "intact" if verified.intact else "BROKEN",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, help="entries appended per run (20,000)")
    parser.add_argument("--entries", type=int, help="entries verified (1,000,000)")
    parser.add_argument("--quick", action="store_true", help="2,000 appends, 100,000 entries")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    appends: int = args.appends or (2_000 if args.quick else 20_000)
    entries: int = args.entries or (100_000 if args.quick else 1_000_000)
    results: list[tuple[str, list[AppendRun], VerifyRun]] = []
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(
            f"sqlite:///{Path(folder) / 'audit.db'}", connect_args={"check_same_thread": False}
        )
        results.append(("SQLite", *measure("SQLite", engine, appends, entries)))
        engine.dispose()
    try:
        admin = make_engine(args.postgres, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS audit_bench CASCADE"))
            connection.execute(text("CREATE SCHEMA audit_bench"))
    except Exception:
        print("PostgreSQL not reachable; SQLite only")
    else:
        engine = make_engine(args.postgres, connect_args={"options": "-csearch_path=audit_bench"})
        try:
            results.append(("PostgreSQL", *measure("PostgreSQL", engine, appends, entries)))
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(text("DROP SCHEMA audit_bench CASCADE"))
            admin.dispose()
    print()
    print(report(results, args.quick))


if __name__ == "__main__":
    main()
