"""Issue 10, item 6: no analytics table holds a customer id, an order number, an email, a
token or a raw address, checked on the schema and on the data after a real checkout
journey is ingested, in the shop's database and in the node's DuckDB store.

The journey is the one the access-log test replays (registration, sign-in, order), on
SQLite and PostgreSQL; the access log it leaves is ingested as ``serve`` would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics import store
from quietshop.analytics.ingest import Ingestion, ingest
from quietshop.analytics.models import TrafficCell, TrafficDay
from quietshop.app import AssembledApp
from quietshop.models import metadata
from tests.analytics.test_access_log_visitors import (
    CUSTOMER_IP,
    UA,
    customer,
    look_register_sign_in_and_order,
    shop,
)
from tests.clock import MovableClock

__all__ = ["customer", "shop"]

ANALYTICS_TABLES = sorted(t.name for t in metadata.sorted_tables if t.name.startswith("analytics_"))


def _texts_of_shop_tables(db: Session) -> Iterator[tuple[str, str]]:
    for name in ANALYTICS_TABLES:
        table = metadata.tables[name]
        columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        for row in db.execute(select(*columns)).all() if columns else []:
            for column, value in zip(columns, row, strict=True):
                yield f"{name}.{column.name}", str(value)


def _texts_of_store(directory: Path) -> Iterator[tuple[str, str]]:
    with store.open_store(directory) as connection:
        tables = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in tables:
            query = f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'
            for (value,) in connection.execute(query).fetchall():
                yield f"{table}.{column}", str(value)


def test_the_schema_has_no_column_about_a_person() -> None:
    # Every column but these is a count (an integer); none of these can name anyone: the
    # node, the day or hour, a breakdown's name and value (a path, a browser...), and the
    # day's salt, which is destroyed with its day.
    not_counts = {
        "analytics_cells": {"node", "day", "dimension", "value"},
        "analytics_days": {"node", "day"},
        "analytics_hours": {"node", "hour"},
        "analytics_salts": {"day", "salt", "created_at"},
    }
    assert sorted(not_counts) == ANALYTICS_TABLES
    for name in ANALYTICS_TABLES:
        table = metadata.tables[name]
        others = {c.name for c in table.columns if not isinstance(c.type, Integer)}
        assert others == not_counts[name]
        assert not table.foreign_keys  # nor does any point at another table's rows


def test_after_a_checkout_journey_no_analytics_table_holds_anything_of_the_customer(
    customer: TestClient,
    shop: AssembledApp,
    sessions: sessionmaker[Session],
    db: Session,
    clock: MovableClock,
    tmp_path: Path,
) -> None:
    journey = look_register_sign_in_and_order(customer, db, clock)
    settings = shop.state.settings
    log_text = settings.access_log_path.read_text()
    visitor_hashes = {line.split(" ", 1)[0] for line in log_text.splitlines()} - {CUSTOMER_IP}
    assert visitor_hashes and all(found.startswith("v-") for found in visitor_hashes)

    # When the day's log is ingested, as serve does every few minutes,
    ingestion = Ingestion(sessions, tmp_path / "store", "node-a", 30, "testserver")
    result = ingest(ingestion, [settings.access_log_path], now=clock())
    assert result.lines == len(log_text.splitlines()) and result.files[0].events > 0

    # then the journey is counted: one visitor, its pageview, its order placed,
    db.expire_all()
    day = db.execute(select(TrafficDay)).scalar_one()
    assert (day.visitors, day.request_visitors) == (1, 1) and day.pageviews >= 1
    funnel = db.execute(
        select(TrafficCell.value, TrafficCell.visitors).where(TrafficCell.dimension == "status")
    ).all()
    assert ("201", 1) in funnel  # POST /api/v1/orders answered 201
    # but nothing names the customer, the order, the sign-in, the address or the browser.
    secrets = {
        "email": journey.email,
        "token": journey.token,
        "order number": journey.order_number,
        "order number's digits": journey.order_number.replace(" ", ""),
        "customer number": journey.customer_number.replace(" ", ""),
        "address": CUSTOMER_IP,
        "User-Agent": UA,
        "name": "Ann",
        **{f"visitor hash {n}": found for n, found in enumerate(visitor_hashes)},
    }
    shop_found = [
        (where, what)
        for where, value in _texts_of_shop_tables(db)
        for what, secret in secrets.items()
        if secret in value.replace(" ", "") or secret in value
    ]
    assert shop_found == []
    # The node's store keeps the day's visitor key (for the day's distinct visitors) but
    # no address, no browser string and nothing of the account or the order.
    store_secrets = {k: v for k, v in secrets.items() if not k.startswith("visitor hash")}
    store_found = [
        (where, what)
        for where, value in _texts_of_store(tmp_path / "store")
        for what, secret in store_secrets.items()
        if secret in value.replace(" ", "") or secret in value
    ]
    assert store_found == []
    raw = (tmp_path / "store" / store.STORE_FILE).read_bytes()
    assert CUSTOMER_IP.encode() not in raw and journey.email.encode() not in raw


def test_a_store_file_holds_no_address_after_a_proxys_log(
    sessions: sessionmaker[Session], tmp_path: Path, clock: MovableClock
) -> None:
    """A proxy's log has every line's address: the store keeps only their hashes."""
    log = tmp_path / "nginx.log"
    when = clock().strftime("%d/%b/%Y:%H:%M:%S +0000")
    addresses = [f"203.0.113.{n}" for n in range(1, 40)] + ["2001:db8::7"]
    log.write_text(
        "".join(
            f'{ip} - - [{when}] "GET /products/x HTTP/1.1" 200 10 "-" "{UA}"\n' for ip in addresses
        )
    )
    ingest(Ingestion(sessions, tmp_path / "store", "node-a", 30), [log], now=clock())
    values = [value for _, value in _texts_of_store(tmp_path / "store")]
    assert values and not [value for value in values if any(ip in value for ip in addresses)]
    raw = (tmp_path / "store" / store.STORE_FILE).read_bytes()
    assert not [ip for ip in addresses if ip.encode() in raw]
