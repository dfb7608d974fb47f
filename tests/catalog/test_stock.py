"""Stock taken and returned atomically, the change log every write leaves, and the CHECK
that refuses negative stock, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quietshop.catalog import service
from quietshop.catalog.models import CatalogState, ProductVariant
from quietshop.catalog.service import OrderableVariant, OutOfStock
from quietshop.catalog.variants import product_tag
from quietshop.db import make_session_factory, transaction
from quietshop.errors import Conflict, InvalidInput
from tests.catalog.factories import make_category, make_product
from tests.clock import T0


@pytest.fixture
def shelf(db: Session) -> str:
    return make_category(db, "shelf", "Shelf")


def _stock(db: Session, sku: str) -> tuple[int, int]:
    """(the variant's stock, its product's total)."""
    variant = db.execute(select(ProductVariant).where(ProductVariant.sku == sku)).scalar_one()
    db.refresh(variant)
    db.refresh(variant.product)
    return variant.stock, variant.product.stock


def _changes_after(db: Session, last: int) -> list[tuple[str | None, bool, bool]]:
    return [
        (c.product_sku, c.listings, c.everything) for c in service.changes_since(db, last).changes
    ]


def _last_change(db: Session) -> int:
    return service.changes_since(db, None).last_id


# ---------------------------------------------------------------- orderable_variants


def test_orderable_variants_describes_the_skus_found(db: Session, shelf: str) -> None:
    cable = make_product(db, shelf, name="Cable", price_cents=500, lengths=("1 m", "2 m"))
    hidden = make_product(db, shelf, name="Hidden", price_cents=100, stock=3, active=False)
    found = service.orderable_variants(db, [f"{cable}-1", hidden, "NO-SUCH", f"{cable}-1"])
    assert found == {
        f"{cable}-1": OrderableVariant(
            sku=f"{cable}-1",
            product_sku=cable,
            product_name="Cable",
            label="2 m",
            price_cents=600,
            currency="USD",
            weight_grams=0,
            stock=5,
            active=True,
        ),
        hidden: OrderableVariant(hidden, hidden, "Hidden", "", 100, "USD", 0, 3, False),
    }


def test_orderable_variants_ignores_malformed_skus_and_takes_big_carts(
    db: Session, shelf: str
) -> None:
    sku = make_product(db, shelf)
    hostile = ["", "x" * 10_000, "A\x00B", "' OR 1=1 --", "\n"]
    assert service.orderable_variants(db, hostile) == {}
    assert service.orderable_variants(db, []) == {}
    # 10,000 lines: more than one IN list (SQLite caps bound parameters).
    many = [f"NONE-{i}" for i in range(10_000)] + [sku]
    assert list(service.orderable_variants(db, many)) == [sku]


# ---------------------------------------------------------------- take_stock


def test_take_stock_decrements_variant_and_product_and_logs_the_product(
    db: Session, shelf: str
) -> None:
    cable = make_product(db, shelf, lengths=("1 m", "2 m"), stock=5)
    other = make_product(db, shelf, stock=4)
    last = _last_change(db)
    service.take_stock(db, {f"{cable}-0": 2, f"{cable}-1": 1, other: 4})
    assert _stock(db, f"{cable}-0") == (3, 7)
    assert _stock(db, f"{cable}-1") == (4, 7)
    assert _stock(db, other) == (0, 0)
    # One row per product; only the product that ran out changes what listings show.
    assert sorted(_changes_after(db, last), key=str) == sorted(
        [(cable, False, False), (other, True, False)], key=str
    )


def test_a_short_sku_takes_nothing_and_names_every_shortage(db: Session, shelf: str) -> None:
    plenty = make_product(db, shelf, stock=9)
    few = make_product(db, shelf, stock=2)
    none = make_product(db, shelf, stock=0)
    last = _last_change(db)
    with pytest.raises(OutOfStock) as error:
        service.take_stock(db, {plenty: 3, few: 3, none: 1, "GONE-1": 1})
    assert error.value.shortages == {"GONE-1": 0, few: 2, none: 0}
    assert isinstance(error.value, Conflict) and error.value.code == "out_of_stock"
    assert error.value.status_code == 409
    assert (
        str(error.value) == f"not enough in stock: GONE-1 (0 left), {few} (2 left), {none} (0 left)"
    )
    assert error.value.extra() == {"shortages": error.value.shortages}
    # Even before the caller rolls back, this transaction holds no taken unit.
    assert _stock(db, plenty) == (9, 9) and _stock(db, few) == (2, 2)
    assert _changes_after(db, last) == []


@pytest.mark.parametrize(
    ("quantities", "field"),
    [
        ({"X": 0}, "quantity"),
        ({"X": -1}, "quantity"),
        ({"X": 1.5}, "quantity"),
        ({"X": "2"}, "quantity"),
        ({"X": True}, "quantity"),
        ({"X": 10**12}, "quantity"),  # would overflow the integer column
        ({"": 1}, "sku"),
        ({"A\x00B": 1}, "sku"),  # PostgreSQL refuses NUL in text
        ({"x" * 41: 1}, "sku"),
        ({f"S-{i}": 1 for i in range(10_001)}, "quantities"),
    ],
)
def test_bad_quantities_are_refused_before_anything_is_taken(
    db: Session, shelf: str, quantities: dict[Any, Any], field: str
) -> None:
    sku = make_product(db, shelf, stock=5)
    last = _last_change(db)
    for take in (service.take_stock, service.return_stock):
        with pytest.raises(InvalidInput) as error:
            take(db, {sku: 1, **quantities})
        assert error.value.field == field
    assert _stock(db, sku) == (5, 5) and _changes_after(db, last) == []


def test_nothing_to_take_changes_nothing(db: Session, shelf: str) -> None:
    last = _last_change(db)
    service.take_stock(db, {})
    service.return_stock(db, {})
    assert _changes_after(db, last) == []


# ---------------------------------------------------------------- return_stock


def test_return_stock_puts_units_back_and_says_when_the_badge_flips(
    db: Session, shelf: str
) -> None:
    sold_out = make_product(db, shelf, stock=1)
    stocked = make_product(db, shelf, stock=5)
    service.take_stock(db, {sold_out: 1, stocked: 2})
    last = _last_change(db)
    service.return_stock(db, {sold_out: 1, stocked: 2, "GONE-1": 3})  # a SKU since removed
    assert _stock(db, sold_out) == (1, 1) and _stock(db, stocked) == (5, 5)
    assert sorted(_changes_after(db, last), key=str) == sorted(
        [(sold_out, True, False), (stocked, False, False)], key=str
    )


# ---------------------------------------------------------------- what other writes log


def test_stock_edits_log_the_product_and_listings_only_on_a_flip(db: Session, shelf: str) -> None:
    sku = make_product(db, shelf, stock=5)
    version = service.catalog_version(db)
    last = _last_change(db)
    service.set_variant_stock(db, sku, 7)
    service.set_variant_stock(db, sku, 0)
    service.set_variant_stock(db, sku, 0)
    service.set_variant_stock(db, sku, 3)
    assert _changes_after(db, last) == [
        (sku, False, False),
        (sku, True, False),
        (sku, False, False),
        (sku, True, False),
    ]
    assert service.catalog_version(db) == version  # stock never moves the whole catalog
    for bad in (-1, 10**12, True):
        with pytest.raises(InvalidInput):
            service.set_variant_stock(db, sku, bad)


def test_structure_changes_log_everything_and_move_the_version(db: Session, shelf: str) -> None:
    version = service.catalog_version(db)
    last = _last_change(db)
    make_category(db, "drawer", "Drawer", parent=shelf)
    sku = make_product(db, shelf)
    service.set_product_active(db, sku, False)
    assert [c[2] for c in _changes_after(db, last)] == [True, True, True]
    assert service.catalog_version(db) == version + 3


def test_the_change_tags_are_the_ones_the_pages_set() -> None:
    for sku in ("QS-1042-2M-BK", "A B", "50%", "Ü/ß", "a+b"):
        change = service.ChangeRecord(1, sku, True, False)
        assert change.tags == {product_tag(sku), "listings"}
        assert service.product_cache_tag(sku) == product_tag(sku)
        assert " " not in service.product_cache_tag(sku)
    assert service.ChangeRecord(2, None, False, True).tags == frozenset()


# ---------------------------------------------------------------- pruning


def test_the_log_is_pruned_now_and_then_and_keeps_its_newest_rows(
    db: Session, shelf: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "PRUNE_EVERY", 10)
    monkeypatch.setattr(service, "KEEP_CHANGES", 5)
    sku = make_product(db, shelf, stock=1_000)
    for _ in range(30):
        service.take_stock(db, {sku: 1})
    feed = service.changes_since(db, 0)
    ids = [c.id for c in feed.changes]
    # Pruned when an id crossed a multiple of 10, each time down to the last 5 rows.
    assert feed.pruned_through == ids[0] - 1 and feed.pruned_through % 10 == 5
    assert ids == list(range(ids[0], feed.last_id + 1)) and 5 <= len(ids) < 15
    state = db.execute(select(CatalogState.pruned_through)).scalar_one()
    assert state == feed.pruned_through


def test_a_reader_asking_for_gaps_gets_them_in_id_order(db: Session, shelf: str) -> None:
    sku = make_product(db, shelf, stock=10)
    start = _last_change(db)
    for _ in range(4):
        service.take_stock(db, {sku: 1})
    feed = service.changes_since(db, start + 3, gaps=[start + 1, start + 2, 10**9])
    assert [c.id for c in feed.changes] == [start + 1, start + 2, start + 4]
    assert feed.last_id == start + 4


# ---------------------------------------------------------------- the database refuses


def test_the_check_refuses_negative_stock_by_any_road(db: Session, shelf: str) -> None:
    sku = make_product(db, shelf, stock=1)
    for statement in (
        "UPDATE product_variants SET stock = -1 WHERE sku = :sku",
        "UPDATE products SET stock = -1 WHERE sku = :sku",
    ):
        nested = db.begin_nested()
        with pytest.raises(IntegrityError, match="stock_nonnegative"):
            db.execute(text(statement), {"sku": sku})
        nested.rollback()
    assert _stock(db, sku) == (1, 1)


# ---------------------------------------------------------------- under concurrency


@pytest.fixture
def committed_product(committing_engine: Engine) -> Iterator[tuple[Engine, str]]:
    sessions = make_session_factory(committing_engine)
    with transaction(sessions) as session:
        shelf = make_category(session, "race", "Race")
        sku = make_product(session, shelf, stock=10)
    yield committing_engine, sku


def test_fifty_buyers_of_ten_units_leave_ten_sales_and_no_oversell(
    committed_product: tuple[Engine, str],
) -> None:
    engine, sku = committed_product
    sessions = make_session_factory(engine)
    outcomes: list[str] = []
    start = threading.Barrier(50)

    def buy() -> None:
        start.wait()
        try:
            with transaction(sessions) as session:
                service.take_stock(session, {sku: 1})
            outcomes.append("sold")
        except OutOfStock as error:
            assert error.shortages == {sku: 0}
            outcomes.append("out")
        except Exception as error:  # reported below: the test must see every failure
            outcomes.append(repr(error))

    threads = [threading.Thread(target=buy) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["out"] * 40 + ["sold"] * 10
    with sessions() as session:
        assert _stock(session, sku) == (0, 0)
        changes = service.changes_since(session, 0).changes
        sales = [c for c in changes if c.product_sku == sku and not c.everything]
        # Ten sales logged; only the last one flipped the listing badge.
        assert len(sales) == 10 and [c.listings for c in sales] == [False] * 9 + [True]


def test_orders_naming_the_same_skus_in_any_order_never_deadlock(
    committing_engine: Engine,
) -> None:
    """Rows are locked in one order (variants by SKU, then products by id) whatever the
    order of the mapping, so PostgreSQL never has to break a deadlock."""
    sessions = make_session_factory(committing_engine)
    with transaction(sessions) as session:
        make_category(session, "pairs", "Pairs")
        # Locking each product as its variant comes (in SKU order) would take A then B
        # for the first kind of order and B then A for the second.
        for sku, variants in (("PA", ("A-1", "C-1")), ("PB", ("B-1", "A-2"))):
            draft = service.ProductDraft(
                sku=sku,
                slug=sku.lower(),
                name=sku,
                category_slug="pairs",
                currency="USD",
                variants=[service.VariantDraft(sku=v, price_cents=100, stock=50) for v in variants],
            )
            service.create_product(session, draft, T0)
    orders = [{"A-1": 1, "B-1": 1}, {"C-1": 1, "A-2": 1}] * 15
    errors: list[str] = []
    start = threading.Barrier(len(orders))

    def buy(quantities: dict[str, int]) -> None:
        start.wait()
        try:
            with transaction(sessions) as session:
                service.take_stock(session, quantities)
        except Exception as error:
            errors.append(repr(error))

    threads = [threading.Thread(target=buy, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sessions() as session:
        assert _stock(session, "A-1") == (35, 70) and _stock(session, "A-2") == (35, 70)


def test_the_check_holds_on_committed_rows_too(committed_product: tuple[Engine, str]) -> None:
    engine, sku = committed_product
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text("UPDATE product_variants SET stock = stock - 11 WHERE sku = :sku"), {"sku": sku}
        )
    with make_session_factory(engine)() as session:
        assert _stock(session, sku) == (10, 10)


# ---------------------------------------------------------------- migration 0005


def test_adding_the_checks_keeps_every_variant_and_the_search_index(
    committing_engine: Engine,
) -> None:
    """On SQLite the checks rebuild products and product_variants; dropping the old
    products table would cascade to the variants and take the search triggers along."""
    from alembic import command

    from quietshop.db import alembic_config

    sessions = make_session_factory(committing_engine)
    with transaction(sessions) as session:
        shelf = make_category(session, "kept", "Kept")
        sku = make_product(session, shelf, name="Kept Cable", lengths=("1 m", "2 m"), stock=4)
    with committing_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0004")
    with committing_engine.begin() as connection:
        # Older code could leave a negative count; the upgrade clamps it to 0.
        connection.execute(
            text("UPDATE product_variants SET stock = -2 WHERE sku = :s"), {"s": f"{sku}-0"}
        )
    with committing_engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    with transaction(sessions) as session:
        assert [v.stock for v in service.get_product(session, sku).variants] == [0, 4]
        assert [p.sku for p in service.search_products(session, "kept").items] == [sku]
        session.execute(
            text("UPDATE products SET name = 'Renamed Lead' WHERE sku = :s"), {"s": sku}
        )
    with sessions() as session:
        assert [p.sku for p in service.search_products(session, "renamed").items] == [sku]
        with pytest.raises(IntegrityError):
            session.execute(text("UPDATE products SET stock = -1"))
