"""Engine and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Table,
    TypeDecorator,
    create_engine,
    event,
    insert,
    make_url,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from quietshop.errors import EnvironmentProblem

# Stable constraint names so Alembic migrations read the same on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # savepoints and rollbacks work as documented (SQLAlchemy's pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Erased means gone from the file too: freed cells and pages are overwritten with
    # zeros, instead of keeping a closed account's name readable in free space.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


# Marks a connection whose transaction will write (see transaction()).
WRITE_OPTIONS = {"quietshop_write": True}
# The largest id an Integer primary key holds on every database (PostgreSQL's INTEGER is
# 32-bit): a typed id or cursor above it is refused as input before it reaches a query,
# where PostgreSQL would answer with an error instead of "not found".
MAX_ROW_ID = 2**31 - 1

_Built = TypeVar("_Built")


def per_dialect(build: Callable[[Any], _Built]) -> dict[str, _Built]:
    """``build`` run once for each database the shop runs on, by dialect name: for a
    statement that is each dialect's own construct (INSERT ... ON CONFLICT), built once
    at import and picked by ``connection.dialect.name``."""
    return {"sqlite": build(sqlite), "postgresql": build(postgresql)}


def _begin_sqlite(connection: Connection) -> None:
    # A transaction that reads and then writes cannot wait for SQLite's write lock once
    # another writer has committed meanwhile: it fails at once (SQLITE_BUSY_SNAPSHOT). So a
    # writing transaction takes the lock at BEGIN, where busy_timeout makes it wait.
    immediate = connection.get_execution_options().get("quietshop_write", False)
    # Straight to the driver: through exec_driver_sql this cost a read-only page 10 us.
    driver = connection.connection.driver_connection
    driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")  # type: ignore[union-attr]


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite connections get WAL mode and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


# One lock per SQLite engine: this process's writers queue for it in turn, instead of all
# sleeping in SQLite's busy handler (steps of up to 100 ms with the lock idle between
# them: seconds of p99 and "database is locked" under a burst of orders, bench/orders.py).
# busy_timeout still settles waits between processes. Re-entrant, as a thread's own is.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_SQLITE_WRITERS_GUARD = threading.Lock()


def _writer_lock(factory: sessionmaker[Session]) -> AbstractContextManager[object]:
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return nullcontext()
    with _SQLITE_WRITERS_GUARD:
        lock = _SQLITE_WRITERS.get(bind)
        if lock is None:
            lock = _SQLITE_WRITERS[bind] = threading.RLock()
    return lock


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together or not at all; on SQLite it holds the write
    lock from its first statement, so reading before writing cannot fail under load."""
    with _writer_lock(factory), factory() as session, session.begin():
        session.connection(execution_options=WRITE_OPTIONS)
        yield session


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every dialect (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Quietshop stores UTC-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def migrations_dir() -> Path:
    """Alembic scripts: ``QUIETSHOP_MIGRATIONS_DIR`` or the ``migrations/`` of this checkout."""
    configured = os.environ.get("QUIETSHOP_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def wipe_erased_pages(sessions: sessionmaker[Session]) -> None:
    """Call after an erasure has committed. On SQLite the old versions of the erased rows
    still sit in the write-ahead log until a checkpoint copies the new pages back: a
    TRUNCATE checkpoint does that and empties the log, so neither file holds them. Best
    effort: with a reader still on an older snapshot the log is emptied next time."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return  # PostgreSQL reclaims dead rows with (auto)vacuum; tests bind a Connection
    raw = bind.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()


class DatabaseNotReady(EnvironmentProblem):
    """There is no database where the settings point, or it is not migrated: say which."""


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_database(url: str) -> Engine:
    """An engine on an existing, migrated database (for commands that read it), or
    DatabaseNotReady with the one thing to do about it."""
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        raise DatabaseNotReady(
            f"no Quietshop database at {path.resolve()}: run this from the folder where you "
            "started the shop (bash scripts/demo), or set QUIETSHOP_DATA_DIR to its data folder"
        )
    engine = make_engine(url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as error:
        engine.dispose()
        raise DatabaseNotReady(f"cannot open the database: {error.orig}") from None
    if current != head:
        engine.dispose()
        raise DatabaseNotReady(
            f"the database is at schema {current or 'none'}, not {head}: run `quietshop migrate`"
        )
    return engine


def insert_many(
    connection: Connection,
    model: type[Base],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``model``'s table with the
    driver's executemany.

    Each value still goes through its column type's bind processing (dates, UTC times), as
    ``connection.execute(insert(table), dicts)`` would do, but without building a dict and
    compiling parameters per row: for 170,000 aggregate rows that took a second of the
    ingestion's ten (analytics/aggregates.py)."""
    table = cast(Table, model.__table__)
    dialect = connection.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    names = list(columns)
    if compiled.positional:
        names = [key for key in compiled.positiontup or ()]
    position = {name: index for index, name in enumerate(columns)}
    # Column by column, in C where a column needs no processing (most: ints and text).
    given = list(zip(*rows, strict=True))
    if not given:
        return
    ordered = []
    for name in names:
        values = given[position[name]]
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        ordered.append(values if process is None else list(map(process, values)))
    batch: list[Any] = list(zip(*ordered, strict=True))
    if not compiled.positional:
        batch = [dict(zip(names, row, strict=True)) for row in batch]
    connection.exec_driver_sql(compiled.string, batch)


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to the newest schema (what ``quietshop migrate`` does)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")


def is_busy(error: BaseException) -> bool:
    """The database could not take this write now (SQLite's lock wait ran out, or
    PostgreSQL gave up a lock or a serialisation): nothing was written, and trying again
    in a moment is the right answer, not a server error."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(error, OperationalError):
        return False
    text = str(error.orig).lower()
    return "database is locked" in text or any(
        code == getattr(error.orig, "sqlstate", None) for code in ("40001", "40P01", "55P03")
    )
