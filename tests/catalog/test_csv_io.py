"""The catalog file (docs/catalog-csv.md): every bad row reported with its line and column,
nothing imported from a file with errors unless asked, import twice changes nothing,
export and import round trip, formula cells neutralised on export, the search index kept
current, a million rows refused without reading them all, and the commands, on SQLite
and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from quietshop.catalog import bulk, csv_io, csv_rows, search, service
from quietshop.catalog.csv_io import COLUMNS, CatalogFileRefused, ImportReport, RowError
from quietshop.catalog.models import CatalogChange, Product, ProductVariant
from quietshop.cli import app
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from quietshop.errors import InvalidInput
from tests.catalog.factories import SmallCatalog, make_product, small_catalog
from tests.clock import T0

HEADER = ",".join(COLUMNS)


def row(**cells: str) -> dict[str, str]:
    """One variant row of a one-variant product, with sensible cells."""
    sku = cells.get("product_sku", "NEW-1")
    base = {
        "product_sku": sku,
        "name": "Optical Audio Cable",
        "brand": "Quietline",
        "category": "tools",
        "description": "Carries sound to the amplifier.",
        "warranty_months": "24",
        "warranty_terms": "Replaced within two years.",
        "active": "yes",
        "currency": "USD",
        "variant_sku": cells.get("variant_sku", sku),
        "label": "",
        "options": "",
        "price": "12.99",
        "was_price": "",
        "stock": "7",
        "weight_grams": "40",
    }
    return {**base, **cells}


def csv_bytes(*rows: dict[str, str], header: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for cells in rows:
        writer.writerow([cells.get(column, "") for column in header])
    return out.getvalue().encode("utf-8")


def run_import(
    db: Session, data: bytes, *, skip_bad: bool = False, dry_run: bool = False
) -> ImportReport:
    return csv_io.import_catalog(
        db, io.BytesIO(data), currency="USD", now=T0, skip_bad=skip_bad, dry_run=dry_run
    )


def refused(db: Session, data: bytes) -> ImportReport:
    with pytest.raises(CatalogFileRefused) as caught:
        run_import(db, data)
    assert caught.value.report.imported is False
    return caught.value.report


def errors(report: ImportReport) -> list[tuple[int, str]]:
    return [(error.line, error.column) for error in report.errors]


def product_count(db: Session) -> int:
    return int(db.execute(select(func.count(Product.id))).scalar_one())


def change_count(db: Session) -> int:
    return int(db.execute(select(func.count(CatalogChange.id))).scalar_one())


def export_text(db: Session) -> str:
    out = io.StringIO()
    csv_io.export_catalog(db, out)
    return out.getvalue()


@pytest.fixture
def shop(db: Session) -> SmallCatalog:
    return small_catalog(db)


# ---------------------------------------------------------------- importing good files


def test_a_new_product_with_variants_is_created_with_its_summary_and_is_found(
    db: Session, shop: SmallCatalog
) -> None:
    options = json.dumps({"length": "2 m"})
    data = csv_bytes(
        row(product_sku="TOS-1", variant_sku="TOS-1-1M", label="1 m", price="9.50",
            options=json.dumps({"length": "1 m"}), stock="0"),
        row(product_sku="TOS-1", variant_sku="TOS-1-2M", label="2 m", price="8.99",
            was_price="11.99", options=options, stock="3", name="", description=""),
    )  # fmt: skip
    report = run_import(db, data)
    assert (report.products, report.rows, report.created, report.updated) == (1, 2, 1, 0)
    assert report.imported and report.errors == []
    found = db.execute(select(Product).where(Product.sku == "TOS-1")).scalar_one()
    assert (found.name, found.price_cents, found.was_price_cents, found.stock) == (
        "Optical Audio Cable", 899, 1199, 3,
    )  # fmt: skip
    assert found.slug == "optical-audio-cable-tos-1"
    assert [(v.sku, v.options, v.position) for v in found.variants] == [
        ("TOS-1-1M", {"length": "1 m"}, 0),
        ("TOS-1-2M", {"length": "2 m"}, 1),
    ]
    assert service.search_products(db, "optical").items[0].sku == "TOS-1"
    assert service.search_products(db, "tos 1 2m").items[0].sku == "TOS-1"  # variant SKU


def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    db: Session, shop: SmallCatalog
) -> None:
    data = csv_bytes(row(product_sku="A-1"), row(product_sku="B-1", price="3.00"))
    assert run_import(db, data).created == 2
    before, changes = export_text(db), change_count(db)
    again = run_import(db, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert export_text(db) == before
    assert change_count(db) == changes  # no change recorded: no page dropped


def test_export_then_import_into_the_same_shop_changes_nothing(
    db: Session, shop: SmallCatalog
) -> None:
    exported = export_text(db)
    changes = change_count(db)
    report = run_import(db, exported.encode())
    assert (report.created, report.updated, report.unchanged) == (0, 0, 10)
    assert change_count(db) == changes
    assert export_text(db) == exported


def test_export_import_into_an_empty_shop_and_export_again_gives_the_same_file(
    db: Session, shop: SmallCatalog, tmp_path: Path
) -> None:
    exported = export_text(db)
    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    upgrade_to_head(engine)
    other = make_session_factory(engine)
    with transaction(other) as session:
        small_catalog_categories(session)
    with transaction(other) as session:
        assert run_import(session, exported.encode()).created == 10
    with other() as session:
        assert export_text(session) == exported
        assert service.search_products(session, "crimping").total == 1
    engine.dispose()


def small_catalog_categories(session: Session) -> None:
    for slug, name, parent in [
        ("cables", "Cables", None),
        ("hdmi-cables", "HDMI Cables", "cables"),
        ("usb-cables", "USB Cables", "cables"),
        ("tools", "Tools", None),
    ]:
        service.create_category(session, slug, name, parent)


def test_an_update_writes_only_what_changed_and_keeps_slug_picture_and_creation(
    db: Session, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    product = db.execute(select(Product).where(Product.sku == sku)).scalar_one()
    slug, created = product.slug, product.created_at
    exported = export_text(db)
    lines = exported.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{sku},"))
    cells = next(csv.reader([lines[index]]))
    cells[COLUMNS.index("price")] = "10.49"
    cells[COLUMNS.index("name")] = "Renamed HDMI Cable"
    data = csv_bytes(dict(zip(COLUMNS, cells, strict=True)))
    last = service.changes_since(db, None).last_id
    report = run_import(db, data)
    assert (report.updated, report.unchanged) == (1, 0)
    db.expire_all()
    product = db.execute(select(Product).where(Product.sku == sku)).scalar_one()
    assert (product.name, product.price_cents, product.slug, product.created_at) == (
        "Renamed HDMI Cable", 1049, slug, created,
    )  # fmt: skip
    # A name changed: the menu, listings and the search vocabulary go (one change).
    feed = service.changes_since(db, last).changes
    assert [(c.product_sku, c.everything) for c in feed] == [(None, True)]
    assert service.search_products(db, "renamed").items[0].sku == sku


def test_a_price_change_alone_drops_that_product_and_the_listings_only(
    db: Session, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[1]
    cells = next(c for c in csv.DictReader(io.StringIO(export_text(db))) if c["product_sku"] == sku)
    last = service.changes_since(db, None).last_id
    run_import(db, csv_bytes({**cells, "price": "4.49"}))
    feed = service.changes_since(db, last).changes
    assert [(c.product_sku, c.listings, c.everything) for c in feed] == [(sku, True, False)]


def test_a_stock_change_drops_the_listings_only_when_the_badge_flips(
    db: Session, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[2]
    cells = next(c for c in csv.DictReader(io.StringIO(export_text(db))) if c["product_sku"] == sku)
    last = service.changes_since(db, None).last_id
    run_import(db, csv_bytes({**cells, "stock": "40"}))  # 5 -> 40: still in stock
    run_import(db, csv_bytes({**cells, "stock": "0"}))  # out of stock: listings too
    feed = service.changes_since(db, last).changes
    assert [(c.product_sku, c.listings, c.everything) for c in feed] == [
        (sku, False, False),
        (sku, True, False),
    ]


def test_a_products_variants_become_the_files_rows(db: Session, shop: SmallCatalog) -> None:
    sku = shop.cable_with_lengths
    rows = [c for c in csv.DictReader(io.StringIO(export_text(db))) if c["product_sku"] == sku]
    assert len(rows) == 3
    kept, new = rows[1], {**rows[2], "variant_sku": f"{sku}-9", "label": "9 m", "price": "20.00"}
    run_import(db, csv_bytes(kept, new))
    db.expire_all()
    variants = db.execute(
        select(ProductVariant.sku, ProductVariant.position)
        .join(Product)
        .where(Product.sku == sku)
        .order_by(ProductVariant.position)
    ).all()
    assert [tuple(v) for v in variants] == [(f"{sku}-1", 0), (f"{sku}-9", 1)]


def test_a_dry_run_counts_as_if_imported_and_changes_nothing(
    db: Session, shop: SmallCatalog
) -> None:
    count, changes = product_count(db), change_count(db)
    report = run_import(db, csv_bytes(row(product_sku="DRY-1")), dry_run=True)
    assert (report.dry_run, report.imported, report.created) == (True, False, 1)
    assert (product_count(db), change_count(db)) == (count, changes)


def test_a_leading_apostrophe_is_the_spreadsheets_text_mark_and_is_dropped(
    db: Session, shop: SmallCatalog
) -> None:
    run_import(db, csv_bytes(row(product_sku="Q-1", name="'=Not a formula")))
    name = db.execute(select(Product.name).where(Product.sku == "Q-1")).scalar_one()
    assert name == "=Not a formula"


def test_the_search_index_trigger_is_back_after_a_bulk_insert(
    db: Session, shop: SmallCatalog
) -> None:
    run_import(db, csv_bytes(row(product_sku="IDX-1", name="Zircon Adapter")))
    if db.get_bind().dialect.name == "sqlite":
        stored = db.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'product_fts_insert'")
        ).scalar_one()
        assert stored == search.SQLITE_INSERT_TRIGGER
    make_product(db, shop.tools, name="Quartz Splitter")  # the row-by-row path after it
    assert service.search_products(db, "zircon").total == 1
    assert service.search_products(db, "quartz").total == 1


# ---------------------------------------------------------------- bad files


def test_a_wrong_header_names_what_is_missing_and_unknown(db: Session, shop: SmallCatalog) -> None:
    header = (*(c for c in COLUMNS if c != "price"), "colour")
    report = refused(db, csv_bytes(row(), header=header))
    assert report.unreadable
    (error,) = report.errors
    assert (error.line, error.column) == (1, "header")
    assert error.message.startswith("missing price; unknown colour")


def test_an_empty_file_is_refused(db: Session, shop: SmallCatalog) -> None:
    assert errors(refused(db, b"")) == [(1, "header")]


def test_text_that_is_not_utf8_is_refused_with_its_line(db: Session, shop: SmallCatalog) -> None:
    latin1 = csv_bytes(row(product_sku="A-1"), row(product_sku="B-1", name="Caf\u00e9 Cable"))
    data = latin1.decode().encode("latin-1")
    count = product_count(db)
    report = refused(db, data)
    assert report.unreadable and errors(report) == [(3, "encoding")]
    assert product_count(db) == count


def test_a_utf8_byte_order_mark_is_fine(db: Session, shop: SmallCatalog) -> None:
    assert run_import(db, b"\xef\xbb\xbf" + csv_bytes(row())).created == 1


def test_each_bad_row_is_reported_with_line_and_column_and_nothing_imported(
    db: Session, shop: SmallCatalog
) -> None:
    count = product_count(db)
    data = csv_bytes(
        row(product_sku="OK-1"),
        row(product_sku="NEG-1", price="-1.00"),
        row(product_sku="CAT-1", category="no-such-category"),
        row(product_sku="LONG-1", name="x" * 201),
        row(product_sku="WAS-1", price="5.00", was_price="4.00"),
        row(product_sku="BAD PRICE", price="12,99"),
        row(product_sku="STOCK-1", stock="-3"),
        row(product_sku="OPT-1", options="length=2m"),
        row(product_sku="CUR-1", currency="EUR"),
        row(product_sku="ACT-1", active="maybe"),
        row(product_sku="CTRL-1", name="Bell\x07Cable"),
    )
    report = refused(db, data)
    assert errors(report) == [
        (3, "price"),
        (4, "category"),
        (5, "name"),
        (6, "was_price"),
        (7, "product_sku"),
        (7, "variant_sku"),
        (7, "price"),
        (8, "stock"),
        (9, "options"),
        (10, "currency"),
        (11, "active"),
        (12, "name"),
    ]
    messages = {(e.line, e.column): e.message for e in report.errors}
    assert messages[(3, "price")] == "must not be negative"
    assert messages[(4, "category")] == "no category 'no-such-category'"
    assert messages[(5, "name")] == "at most 200 characters, not 201"
    assert messages[(10, "currency")] == "the shop sells in USD"
    assert product_count(db) == count  # not even OK-1
    assert str(report.errors[0]) == "line 3, price: must not be negative"


def test_repeated_skus_are_reported_where_they_repeat(db: Session, shop: SmallCatalog) -> None:
    data = csv_bytes(
        row(product_sku="P-1", variant_sku="P-1-A"),
        row(product_sku="P-1", variant_sku="P-1-A"),
        row(product_sku="P-2"),
        row(product_sku="P-1", variant_sku="P-1-B"),
    )
    report = refused(db, data)
    assert errors(report) == [(3, "variant_sku"), (5, "product_sku")]
    assert report.errors[0].message == "P-1-A is already on line 2"
    assert report.errors[1].message.startswith("P-1 came before, on line 2")


def test_a_variant_sku_of_another_product_is_refused(db: Session, shop: SmallCatalog) -> None:
    taken = f"{shop.cable_with_lengths}-0"
    data = csv_bytes(
        row(product_sku="P-9", variant_sku="P-9-A"), row(product_sku="P-9", variant_sku=taken)
    )
    report = refused(db, data)
    assert report.errors == [
        RowError(3, "variant_sku", f"{taken} belongs to product {shop.cable_with_lengths}")
    ]


def test_a_one_variant_product_must_have_that_variants_sku(db: Session, shop: SmallCatalog) -> None:
    report = refused(db, csv_bytes(row(product_sku="P-1", variant_sku="P-1-X")))
    assert errors(report) == [(2, "product_sku")]


def test_a_later_row_with_other_product_cells_is_refused(db: Session, shop: SmallCatalog) -> None:
    data = csv_bytes(
        row(product_sku="P-1", variant_sku="P-1-A"),
        row(product_sku="P-1", variant_sku="P-1-B", name="Another name", brand=""),
    )
    report = refused(db, data)
    assert errors(report) == [(3, "name")]
    assert report.errors[0].message == "differs from line 2 (leave it empty, or the same)"


def test_a_row_with_too_few_cells_and_a_broken_quote(db: Session, shop: SmallCatalog) -> None:
    data = (HEADER + "\r\nA-1,only,three\r\n").encode()
    assert errors(refused(db, data)) == [(2, "row")]
    broken = csv_bytes(row()) + b'B-1,"unterminated\r\n'
    report = refused(db, broken)
    assert report.unreadable and errors(report)[-1] == (3, "row")


def test_skip_bad_imports_the_good_products_and_reports_the_rest(
    db: Session, shop: SmallCatalog
) -> None:
    data = csv_bytes(
        row(product_sku="G-1"),
        row(product_sku="B-1", price="-2"),
        row(product_sku="G-2"),
    )
    report = run_import(db, data, skip_bad=True)
    assert (report.created, report.skipped, report.imported) == (2, 1, True)
    assert errors(report) == [(3, "price")]
    skus = set(
        db.execute(select(Product.sku).where(Product.sku.in_(["G-1", "B-1", "G-2"]))).scalars()
    )
    assert skus == {"G-1", "G-2"}


def test_an_unreadable_file_imports_nothing_even_with_skip_bad(
    db: Session, shop: SmallCatalog
) -> None:
    data = csv_bytes(row(product_sku="G-1")) + "\xe9\r\n".encode("latin-1")
    with pytest.raises(CatalogFileRefused):
        run_import(db, data, skip_bad=True)


def test_batches_written_before_a_late_error_are_rolled_back_with_the_transaction(
    sessions: sessionmaker[Session],
    db: Session,
    shop: SmallCatalog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(csv_io, "BATCH_PRODUCTS", 2)
    rows = [row(product_sku=f"L-{n}") for n in range(6)] + [row(product_sku="L-9", price="-1")]
    count = product_count(db)
    with pytest.raises(CatalogFileRefused), transaction(sessions) as session:
        csv_io.import_catalog(session, io.BytesIO(csv_bytes(*rows)), currency="USD", now=T0)
    assert product_count(db) == count


class EndlessRows(io.RawIOBase):
    """A catalog file of a million rows, made as it is read: never in memory at once."""

    def __init__(self, rows: int) -> None:
        self.lines = self._lines(rows)
        self.pending = b""
        self.served_rows = 0

    def _lines(self, rows: int) -> Iterator[bytes]:
        yield (HEADER + "\r\n").encode()
        for n in range(rows):
            self.served_rows = n + 1
            yield csv_bytes(row(product_sku=f"M-{n}")).split(b"\r\n", 1)[1]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while len(self.pending) < len(buffer):
            try:
                self.pending += next(self.lines)
            except StopIteration:
                break
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def test_a_million_rows_are_refused_at_the_row_limit_without_reading_them_all(
    db: Session, shop: SmallCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_rows, "MAX_ROWS", 300)
    stream = EndlessRows(1_000_000)
    with pytest.raises(CatalogFileRefused) as caught:
        csv_io.import_catalog(db, io.BufferedReader(stream), currency="USD", now=T0)
    report = caught.value.report
    assert report.unreadable and errors(report)[-1] == (302, "file")
    assert report.errors[-1].message == "more than 300 rows: split the file"
    assert stream.served_rows < 1_000  # stopped at the limit, read ahead a little only


def test_the_error_list_is_capped_but_every_error_counted(
    db: Session, shop: SmallCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_rows, "MAX_REPORTED", 3)
    report = refused(db, csv_bytes(*(row(product_sku=f"N-{n}", price="-1") for n in range(5))))
    assert (len(report.errors), report.error_count) == (3, 5)


# ---------------------------------------------------------------- export


def test_export_neutralises_cells_a_spreadsheet_would_run(db: Session, shop: SmallCatalog) -> None:
    make_product(db, shop.tools, name='=HYPERLINK("http://evil.example")', description="+1")
    make_product(db, shop.tools, name="@SUM(A1)", description="-2 and 'quoted'")
    exported = list(csv.DictReader(io.StringIO(export_text(db))))
    names = {cells["name"] for cells in exported}
    assert '\'=HYPERLINK("http://evil.example")' in names and "'@SUM(A1)" in names
    descriptions = {cells["description"] for cells in exported}
    assert {"'+1", "'-2 and 'quoted'"} <= descriptions
    for cells in exported:
        for value in cells.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_safe_cell_marks_what_would_run_and_leaves_the_rest() -> None:
    assert [csv_io.safe_cell(v) for v in ("=1+1", "+1", "-1", "@x", "\tx", "'x", "a=b", "")] == [
        "'=1+1", "'+1", "'-1", "'@x", "'\tx", "''x", "a=b", "",
    ]  # fmt: skip


def test_export_writes_money_options_and_withdrawn_products(
    db: Session, shop: SmallCatalog
) -> None:
    exported = list(csv.DictReader(io.StringIO(export_text(db))))
    assert list(exported[0]) == list(COLUMNS)
    hidden = next(cells for cells in exported if cells["name"] == "Hidden Product")
    assert (hidden["active"], hidden["price"], hidden["was_price"]) == ("no", "0.01", "")
    lengths = [c for c in exported if c["product_sku"] == shop.cable_with_lengths]
    assert [json.loads(c["options"]) for c in lengths] == [
        {"length": "1 m"}, {"length": "2 m"}, {"length": "5 m"},
    ]  # fmt: skip
    assert [c["price"] for c in lengths] == ["7.99", "8.99", "9.99"]


# ---------------------------------------------------------------- the commands


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("QUIETSHOP_DATABASE_URL", raising=False)
    (tmp_path / "var").mkdir()
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'quietshop.db'}")
    upgrade_to_head(engine)
    with transaction(make_session_factory(engine)) as session:
        small_catalog(session)
    yield engine
    engine.dispose()


def test_the_commands_export_and_import_with_a_report(data_dir: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "catalog.csv"
    exported = runner.invoke(app, ["catalog", "export", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "Exported 10 products" in exported.output
    again = runner.invoke(app, ["catalog", "import", str(out)])
    assert again.exit_code == 0, again.output
    assert "10 products in 12 rows: 0 created, 0 updated, 10 unchanged, 0 skipped." in again.output


def test_the_import_command_lists_bad_rows_and_exits_2(data_dir: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(row(product_sku="C-1"), row(product_sku="C-2", price="-1")))
    result = CliRunner().invoke(app, ["catalog", "import", str(bad)])
    assert result.exit_code == 2
    assert "line 3, price: must not be negative" in result.output
    with make_session_factory(data_dir)() as session:
        assert session.execute(select(Product.id).where(Product.sku == "C-1")).first() is None
    skipped = CliRunner().invoke(app, ["catalog", "import", "--skip-bad", str(bad)])
    assert skipped.exit_code == 0, skipped.output
    assert "1 created, 0 updated, 0 unchanged, 1 skipped" in skipped.output


def test_bulk_upsert_refuses_what_the_rules_refuse(db: Session, shop: SmallCatalog) -> None:
    good = service.ProductDraft(
        sku="U-1", slug="", name="U", category_slug="tools", currency="USD",
        variants=[service.VariantDraft(sku="U-1", price_cents=100, stock=1)],
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="comes twice"):
        bulk.upsert_products(db, [good, good], T0)
    taken = service.VariantDraft(sku=f"{shop.cable_with_lengths}-0", price_cents=1, stock=1)
    other = service.ProductDraft(
        sku="U-2", slug="", name="U2", category_slug="tools", currency="USD",
        variants=[taken, service.VariantDraft(sku="U-2-B", price_cents=1, stock=1)],
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="is product"):
        bulk.upsert_products(db, [other], T0)
    assert db.execute(select(Product.id).where(Product.sku.in_(["U-1", "U-2"]))).first() is None


def test_the_search_index_stays_whole_when_a_bulk_insert_fails(
    db: Session, shop: SmallCatalog
) -> None:
    def failing() -> list[int]:
        raise RuntimeError("the insert failed")

    with pytest.raises(RuntimeError):
        search.insert_indexed(db.connection(), failing)
    if db.get_bind().dialect.name == "sqlite":  # the trigger a bulk insert drops is back
        stored = db.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'product_fts_insert'")
        ).scalar_one()
        assert stored == search.SQLITE_INSERT_TRIGGER
    else:  # PostgreSQL's expression index is never dropped: it is still there
        found = db.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_products_search' "
                "AND schemaname = current_schema()"
            )
        ).scalar_one()
        assert found == "ix_products_search"


def test_a_line_longer_than_any_row_ends_the_reading(
    db: Session, shop: SmallCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_rows, "MAX_LINE_BYTES", 2_000)
    data = csv_bytes(row(product_sku="OK-1"), row(product_sku="BIG-1", description="x" * 5_000))
    report = refused(db, data)
    assert report.unreadable and report.errors[-1] == RowError(
        3, "row", "a line longer than 2,000 bytes"
    )
