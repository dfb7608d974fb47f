"""Test harness: migrate each database once, roll back every test (on SQLite and PostgreSQL).

PostgreSQL tests run whenever a server answers at QUIETSHOP_TEST_POSTGRES_URL (default the
local server, database ``test``); each test session works in its own schema. When no server
answers they are skipped with a plain message, unless QUIETSHOP_REQUIRE_POSTGRES=1 (as in
CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import AssembledApp, build_app
from quietshop.db import make_engine, upgrade_to_head
from quietshop.settings import Settings
from tests.clock import MovableClock

POSTGRES_URL = os.environ.get(
    "QUIETSHOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("QUIETSHOP_REQUIRE_POSTGRES") == "1"

# Properties are judged by what they find, never by how long an example took: the default
# 200 ms deadline fails a sound property on a busy CI machine (two workers, a browser and
# PostgreSQL sharing two cores), which would make the suite depend on the machine's load.
hypothesis.settings.register_profile("quietshop", deadline=None)
hypothesis.settings.load_profile("quietshop")

DIALECTS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _postgres_schema() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"qs_test_{worker}_{os.getpid()}"


def _postgres_engine(suffix: str = "") -> Iterator[Engine]:
    """A migrated PostgreSQL schema of its own (dropped afterwards); skips without a server."""
    schema = _postgres_schema() + suffix
    admin = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:
        admin.dispose()
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(error).__name__}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (QUIETSHOP_REQUIRE_POSTGRES=1)")
        pytest.skip(message + "; PostgreSQL tests skipped")
    engine = make_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}", "connect_timeout": 3}
    )
    try:
        upgrade_to_head(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=DIALECTS)
def committing_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database whose commits are real, for tests of concurrent workers.

    The shared ``engine`` rolls every test back; work that several connections must see
    needs its own database (SQLite file) or schema (PostgreSQL)."""
    if request.param == "sqlite":
        yield from _sqlite_engine(tmp_path)
    else:
        yield from _postgres_engine("_commit")


def _sqlite_engine(directory: Path) -> Iterator[Engine]:
    engine = make_engine(
        f"sqlite:///{directory / 'test.db'}", connect_args={"check_same_thread": False}
    )
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", params=DIALECTS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database of each kind, made once per test session."""
    if request.param == "sqlite":
        yield from _sqlite_engine(tmp_path_factory.mktemp("sqlite"))
    else:
        yield from _postgres_engine()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits become savepoints of the test's transaction."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghij"


@pytest.fixture
def clock() -> MovableClock:
    """The test's clock, at tests.clock.T0; every app and service in the test reads it."""
    return MovableClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        strict_privacy_guard=True,
        catalog_version_check_interval=0,
        shop_name="Quietshop Test",
        secret_key=SecretStr(TEST_SECRET_KEY),
        public_base_url="https://shop.test",
    )


@pytest.fixture
def assembled(
    settings: Settings, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[AssembledApp]:
    app = build_app(settings, sessions, clock=clock)
    yield app
    if app.access_log is not None:
        app.access_log.close()


@pytest.fixture
def client(assembled: AssembledApp) -> Iterator[TestClient]:
    with TestClient(assembled, base_url="https://testserver") as test_client:
        yield test_client
