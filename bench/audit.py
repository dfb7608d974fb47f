"""The staff audit log: what an append costs with one and two writers, the chained append
of before migration 0014 beside today's insert-only one, how fast the sealer chains and
``audit verify`` walks, on SQLite and PostgreSQL side by side. Prints a markdown section
for bench/results.md (this file writes no results file itself).

    .venv/bin/python bench/audit.py [--appends 20000] [--entries 1000000] [--quick]
                                    [--postgres URL]

For each database (SQLite in a temporary file; PostgreSQL in a schema of its own in the
``test`` database, dropped afterwards):

1. *append*: ``--appends`` entries in all, by 1 and then 2 threads at once, then by 2
   spawned processes at once (each with its own interpreter and GIL, as the two workers
   of ``serve --workers 2`` are: two threads of one process also wait for each other's
   Python), each entry in a transaction of its own as a staff request writes it
   (``db.transaction``, then the append, then commit), for two designs, one after the
   other:

   - ``chained (0013)``: the reference, a copy of the append before migration 0014 on a
     table of that shape (``bench_chained_entries``): PostgreSQL's advisory lock held to
     commit, read the last entry, insert the entry with its hashes;
   - ``insert + sealer``: ``audit.append`` (one INSERT, no lock), while a sealer thread
     runs ``audit.seal`` every ``SEAL_EVERY`` seconds (``serve`` does every 5 s), and once
     more at the end.

   Timed per entry: the append alone inside the open transaction (what a request's
   transaction pays: on PostgreSQL the chained one includes waiting for the other
   writer's advisory lock; on SQLite the wait for the write lock happens at BEGIN, before
   it), and the whole transaction as the writer sees it, waits and commit included. The
   chain is verified afterwards (it must be one valid line holding every entry).
2. *seal* and *verify*: ``--entries`` unsealed entries (varied staff, roles, fields and
   reasons), inserted fast (executemany on SQLite, COPY on PostgreSQL), then
   ``audit.seal`` over all of them, timed (entries sealed per second), then
   ``audit.verify`` over the chain, timed (entries verified per second).

``--quick``: 2,000 appends and 100,000 entries. Goal (issue 9): an append < 1 ms at p99
with two writers. The numbers are disturbed by whatever else runs on the machine; the two
designs run in the same process, minutes apart, so compare them as a ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.audit.chain import GENESIS, ChainRow, entry_hash, json_array
from quietshop.audit.models import AuditEntry
from quietshop.audit.statements import COLUMNS
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head

T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
GOAL_P99_MS = 1.0
BUILD_BATCH = 10_000
SEAL_EVERY = 0.5  # seconds between the sealer's runs during the append runs
ROLES = ("customer_service", "billing", "fulfilment", "owner", "privacy_officer")
FIELDS = (
    ("customers.name", "customers.email", "customers.phone"),
    ("orders.bill_name", "orders.bill_line1", "payment_cards.last4"),
    ("orders.ship_name", "orders.ship_line1", "orders.ship_city"),
)
KINDS = (("contact",), ("address", "payment"), ("address",))
CHAINED = "chained (0013)"
SEALED = "insert + sealer"

Append = Callable[[Session, audit.AuditEvent, datetime], int]


@dataclass(frozen=True)
class AppendRun:
    design: str
    writers: int
    entries: int
    seconds: float
    append_ms: list[float]
    transaction_ms: list[float]
    intact: bool
    processes: bool = False  # each writer a process of its own, as two server workers are


@dataclass(frozen=True)
class ChainRun:
    entries: int
    build_seconds: float
    seal_seconds: float
    verify_seconds: float
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


# ---------------------------------------------------------------- the reference: 0013's append

OLD_TABLE = "bench_chained_entries"
OLD_COLUMNS = ("id", *COLUMNS, "prev_hash", "hash")
OLD_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"quietshop audit_entries append").digest()[:8], "big", signed=True
)


def create_old_table(engine: Engine) -> None:
    """audit_entries as migration 0007 made it, under another name."""
    at_type = "TIMESTAMP WITH TIME ZONE" if engine.dialect.name == "postgresql" else "DATETIME"
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {OLD_TABLE}"))
        connection.execute(
            text(
                f"CREATE TABLE {OLD_TABLE} (id INTEGER PRIMARY KEY, at {at_type} NOT NULL,"
                " action VARCHAR(40) NOT NULL, staff_id INTEGER, role VARCHAR(40) NOT NULL,"
                " subject VARCHAR(120) NOT NULL, customer_id INTEGER, data_kinds TEXT NOT NULL,"
                " fields TEXT NOT NULL, reason TEXT NOT NULL, origin VARCHAR(100) NOT NULL,"
                " prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL)"
            )
        )


def old_append(session: Session, event: audit.AuditEvent, now: datetime) -> int:
    """The append before migration 0014, on the driver as it was: lock (PostgreSQL), read
    the last entry, insert the entry chained to it."""
    connection = session.connection()
    driver: Any = connection.connection.driver_connection
    postgres = connection.dialect.name == "postgresql"
    bind_at = AuditEntry.__table__.c.at.type.dialect_impl(connection.dialect).bind_processor(
        connection.dialect
    )
    if postgres:
        driver.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": OLD_LOCK_KEY})
    last = driver.execute(f"SELECT id, hash FROM {OLD_TABLE} ORDER BY id DESC LIMIT 1").fetchone()
    previous_id, previous_hash = (last[0], last[1]) if last is not None else (0, GENESIS)
    row = ChainRow(
        previous_id + 1, now, event.action, event.staff_id, event.role, event.subject,
        event.customer_id, event.data_kinds, event.fields, event.reason, event.origin,
        previous_hash,
    )  # fmt: skip
    values = {
        "id": row.id, "at": bind_at(now) if bind_at else now, "action": row.action,
        "staff_id": row.staff_id, "role": row.role, "subject": row.subject,
        "customer_id": row.customer_id, "data_kinds": json_array(row.data_kinds),
        "fields": json_array(row.fields), "reason": row.reason, "origin": row.origin,
        "prev_hash": row.prev_hash, "hash": entry_hash(row),
    }  # fmt: skip
    mark = "%({})s" if postgres else ":{}"
    marks = ", ".join(mark.format(name) for name in OLD_COLUMNS)
    driver.execute(f"INSERT INTO {OLD_TABLE} ({', '.join(OLD_COLUMNS)}) VALUES ({marks})", values)
    return row.id


def old_chain_intact(sessions: sessionmaker[Session], expected: int) -> bool:
    with sessions() as session:
        rows = session.execute(
            text(f"SELECT id, prev_hash, hash FROM {OLD_TABLE} ORDER BY id")
        ).all()
    links = all(rows[n][1] == rows[n - 1][2] for n in range(1, len(rows)))
    return len(rows) == expected and [r[0] for r in rows] == list(range(1, expected + 1)) and links


# ---------------------------------------------------------------- append


def run_appends(
    sessions: sessionmaker[Session], design: str, writers: int, total: int
) -> AppendRun:
    append: Append = old_append if design == CHAINED else audit.append
    per_writer = total // writers
    append_ms: list[list[float]] = [[] for _ in range(writers)]
    transaction_ms: list[list[float]] = [[] for _ in range(writers)]
    start = threading.Barrier(writers + 1)
    stop_sealing = threading.Event()
    failures: list[BaseException] = []

    def write(index: int) -> None:
        try:
            start.wait()
            timed_appends(
                sessions, append, index, per_writer, append_ms[index], transaction_ms[index]
            )
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    def seal() -> None:
        try:
            _seal_until(sessions, stop_sealing)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    sealer = threading.Thread(target=seal)
    for thread in threads:
        thread.start()
    if design == SEALED:
        sealer.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    stop_sealing.set()
    if design == SEALED:
        sealer.join()
    if failures:
        raise failures[0]
    return AppendRun(
        design, writers, per_writer * writers, seconds,
        [ms for each in append_ms for ms in each],
        [ms for each in transaction_ms for ms in each],
        _intact(sessions, design, per_writer * writers),
    )  # fmt: skip


def timed_appends(
    sessions: sessionmaker[Session],
    append: Append,
    index: int,
    count: int,
    append_ms: list[float],
    transaction_ms: list[float],
) -> None:
    """Writer ``index``'s ``count`` appends, each in its own transaction, timed."""
    for n in range(count):
        event = staff_event(index * count + n)
        began = time.perf_counter()
        with transaction(sessions) as session:
            before = time.perf_counter()
            append(session, event, T0 + timedelta(microseconds=n))
            append_ms.append((time.perf_counter() - before) * 1000)
        transaction_ms.append((time.perf_counter() - began) * 1000)


@dataclass(frozen=True)
class Database:
    """How a writer process opens the bench's database (an Engine does not cross
    processes)."""

    url: str
    connect_args: dict[str, Any]

    def engine(self) -> Engine:
        return make_engine(self.url, connect_args=self.connect_args)


def process_writer(
    database: Database, design: str, index: int, count: int, start: Any, answers: Any
) -> None:
    """One writer in a process of its own: warm up, wait for the others, then append."""
    engine = database.engine()
    try:
        sessions = make_session_factory(engine)
        append: Append = old_append if design == CHAINED else audit.append
        timed_appends(sessions, append, 1000 + index, min(50, count), [], [])  # untimed
        start.wait()
        append_ms: list[float] = []
        transaction_ms: list[float] = []
        timed_appends(sessions, append, index, count, append_ms, transaction_ms)
        answers.put((append_ms, transaction_ms))
    finally:
        engine.dispose()


def run_appends_in_processes(
    database: Database, sessions: sessionmaker[Session], design: str, total: int
) -> AppendRun:
    """Two writer processes (spawned, so each has its own interpreter and GIL, as two
    workers of ``serve --workers 2`` do); the sealer runs here, as in the threaded run."""
    writers, context = 2, multiprocessing.get_context("spawn")
    per_writer = total // writers
    start, answers = context.Barrier(writers + 1), context.Queue()
    children = [
        context.Process(
            target=process_writer, args=(database, design, i, per_writer, start, answers)
        )
        for i in range(writers)
    ]
    for child in children:
        child.start()
    stop_sealing = threading.Event()
    sealer = threading.Thread(target=lambda: _seal_until(sessions, stop_sealing))
    if design == SEALED:
        sealer.start()
    start.wait(timeout=120)
    began = time.perf_counter()
    results = [answers.get(timeout=600) for _ in children]
    seconds = time.perf_counter() - began
    for child in children:
        child.join(timeout=60)
    stop_sealing.set()
    if design == SEALED:
        sealer.join()
    if any(child.exitcode != 0 for child in children):
        raise RuntimeError("a writer process failed")
    # The untimed warm-up appends are in the log too: the chain holds them all.
    expected = per_writer * writers + writers * min(50, per_writer)
    return AppendRun(
        design, writers, per_writer * writers, seconds,
        [ms for each, _ in results for ms in each],
        [ms for _, each in results for ms in each],
        _intact(sessions, design, expected),
        processes=True,
    )  # fmt: skip


def _seal_until(sessions: sessionmaker[Session], stop: threading.Event) -> None:
    while not stop.wait(SEAL_EVERY):
        audit.seal(sessions, T0)


def _intact(sessions: sessionmaker[Session], design: str, expected: int) -> bool:
    if design == CHAINED:
        return old_chain_intact(sessions, expected)
    audit.seal(sessions, T0)
    with sessions() as session:
        result = audit.verify(session)
    return result.intact and result.count == expected and result.unsealed.count == 0


# ---------------------------------------------------------------- seal and verify


def entry_rows(count: int) -> Iterator[tuple[Any, ...]]:
    """Entries as an append would have written them, ids 1, 2, 3, ..."""
    for n in range(count):
        event = staff_event(n)
        yield (
            n + 1, T0 + timedelta(milliseconds=n), event.action, event.staff_id, event.role,
            event.subject, event.customer_id, json_array(event.data_kinds),
            json_array(event.fields), event.reason, event.origin,
        )  # fmt: skip


def build_entries(engine: Engine, count: int) -> float:
    """Fill audit_entries with ``count`` unsealed entries; seconds taken."""
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
        for row in entry_rows(count):
            batch.append((row[0], bind_at(row[1]) if bind_at else row[1], *row[2:]))
            if len(batch) == BUILD_BATCH:
                _write(engine, cursor, batch)
                batch = []
        if batch:
            _write(engine, cursor, batch)
        if engine.dialect.name == "postgresql":  # the identity goes on after the ids given
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('audit_entries', 'id'), %s)", (count + 1,)
            )
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - began


def _write(engine: Engine, cursor: Any, batch: list[tuple[Any, ...]]) -> None:
    names = ", ".join(("id", *COLUMNS))
    if engine.dialect.name == "postgresql":
        with cursor.copy(f"COPY audit_entries ({names}) FROM STDIN") as copy:
            for values in batch:
                copy.write_row(values)
    else:
        marks = ", ".join("?" for _ in range(len(COLUMNS) + 1))
        cursor.executemany(f"INSERT INTO audit_entries ({names}) VALUES ({marks})", batch)


def run_chain(engine: Engine, count: int) -> ChainRun:
    build_seconds = build_entries(engine, count)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE audit_entries"))
    sessions = make_session_factory(engine)
    began = time.perf_counter()
    run = audit.seal(sessions, T0)
    seal_seconds = time.perf_counter() - began
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE audit_seals"))
    with sessions() as session:
        result = audit.verify(session)
    intact = run.sealed == count and result.intact and result.count == count
    return ChainRun(count, build_seconds, seal_seconds, result.seconds, intact)


# ---------------------------------------------------------------- one database


def empty_logs(engine: Engine) -> None:
    with engine.begin() as connection:  # bench tables, not a shop's
        for table in ("audit_seals", "audit_entries", OLD_TABLE):
            connection.execute(text(f"DELETE FROM {table}"))


def measure(
    name: str, database: Database, engine: Engine, appends: int, entries: int
) -> tuple[list[AppendRun], ChainRun]:
    upgrade_to_head(engine)
    create_old_table(engine)
    sessions = make_session_factory(engine)
    runs = []
    for writers in (1, 2):
        for design in (CHAINED, SEALED):
            empty_logs(engine)
            run_appends(sessions, design, writers, min(200, appends))  # warm-up
            empty_logs(engine)
            run = run_appends(sessions, design, writers, appends)
            print(
                f"{name}, {design}, {writers} writer(s): append p99 "
                f"{percentile(run.append_ms, 0.99):.2f} ms, transaction p99 "
                f"{percentile(run.transaction_ms, 0.99):.2f} ms, "
                f"{run.entries / run.seconds:.0f} entries/s, chain intact: {run.intact}"
            )
            runs.append(run)
    for design in (CHAINED, SEALED):
        empty_logs(engine)
        run = run_appends_in_processes(database, sessions, design, appends)
        print(
            f"{name}, {design}, 2 writer processes: append p99 "
            f"{percentile(run.append_ms, 0.99):.2f} ms, chain intact: {run.intact}"
        )
        runs.append(run)
    empty_logs(engine)
    chain = run_chain(engine, entries)
    print(
        f"{name}: seal {chain.entries / chain.seal_seconds:,.0f} entries/s, "
        f"verify {chain.entries / chain.verify_seconds:,.0f} entries/s"
    )
    return runs, chain


def report(results: list[tuple[str, list[AppendRun], ChainRun]], quick: bool) -> str:
    lines = [
        "## Audit log: append cost, sealing and verify rate",
        "",
        f"Written by `bench/audit.py{' --quick' if quick else ''}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC (Python {platform.python_version()}, "
        "writers as threads of this process, then as two processes, as two server workers "
        "are; each entry its own transaction; the 0013 chained append as the reference, in "
        "the same run). Goal: append < "
        f"{GOAL_P99_MS:g} ms at p99 with two writers.",
        "",
        "| database | design | writers | entries | append p50 | append p99 | "
        "transaction p50 | transaction p99 | entries/s | chain | goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, runs, _ in results:
        for run in runs:
            p99 = percentile(run.append_ms, 0.99)
            goal = ("met" if p99 < GOAL_P99_MS else "missed") if run.writers == 2 else ""
            cells = [
                name, run.design, f"{run.writers} processes" if run.processes else str(run.writers),
                f"{run.entries:,}",
                f"{statistics.median(run.append_ms):.3f} ms", f"{p99:.3f} ms",
                f"{statistics.median(run.transaction_ms):.3f} ms",
                f"{percentile(run.transaction_ms, 0.99):.3f} ms",
                f"{run.entries / run.seconds:,.0f}", "intact" if run.intact else "BROKEN", goal,
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| database | entries | built in | sealed in | entries/s sealed | verified in | "
        "entries/s verified | chain |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, _, chain in results:
        cells = [
            name, f"{chain.entries:,}", f"{chain.build_seconds:.1f} s",
            f"{chain.seal_seconds:.1f} s", f"{chain.entries / chain.seal_seconds:,.0f}",
            f"{chain.verify_seconds:.1f} s", f"{chain.entries / chain.verify_seconds:,.0f}",
            "intact" if chain.intact else "BROKEN",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, help="entries appended per run (20,000)")
    parser.add_argument("--entries", type=int, help="entries sealed and verified (1,000,000)")
    parser.add_argument("--quick", action="store_true", help="2,000 appends, 100,000 entries")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    appends: int = args.appends or (2_000 if args.quick else 20_000)
    entries: int = args.entries or (100_000 if args.quick else 1_000_000)
    results: list[tuple[str, list[AppendRun], ChainRun]] = []
    with tempfile.TemporaryDirectory() as folder:
        lite = Database(f"sqlite:///{Path(folder) / 'audit.db'}", {"check_same_thread": False})
        engine = lite.engine()
        results.append(("SQLite", *measure("SQLite", lite, engine, appends, entries)))
        engine.dispose()
    try:
        admin = make_engine(args.postgres, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS audit_bench CASCADE"))
            connection.execute(text("CREATE SCHEMA audit_bench"))
    except Exception:
        print("PostgreSQL not reachable; SQLite only")
    else:
        pg = Database(args.postgres, {"options": "-csearch_path=audit_bench"})
        engine = pg.engine()
        try:
            results.append(("PostgreSQL", *measure("PostgreSQL", pg, engine, appends, entries)))
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.execute(text("DROP SCHEMA audit_bench CASCADE"))
            admin.dispose()
    print()
    print(report(results, args.quick))


if __name__ == "__main__":
    main()
