"""The catalog file's row reader (csv_rows.py) and bulk writer (bulk.py), beside
test_csv_io.py: each kind of bad cell reported on its own line and column with nothing
written, line numbers across quoted line breaks, the header in any order, hostile files
(a deeply nested options text, a header of a hundred thousand names, a cell over csv's
limit) refused with a report instead of a crash or a hang, cells that look like formulas
kept as text, a file going into an empty shop and coming out byte for byte, SQLite's page
cache set back after an import whatever happens inside it, and the lookups and inserts
handed to the driver, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from quietshop.catalog import admin, bulk, csv_io, csv_rows
from quietshop.catalog.csv_io import COLUMNS, CatalogFileRefused, ImportReport, RowError
from quietshop.catalog.models import Product, ProductVariant
from quietshop.catalog.service import ProductDraft, VariantDraft
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from tests.catalog.factories import SmallCatalog, small_catalog
from tests.catalog.test_csv_io import (
    change_count,
    csv_bytes,
    errors,
    export_text,
    product_count,
    refused,
    row,
    run_import,
    small_catalog_categories,
)
from tests.clock import T0

SQLITE_ONLY = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize(
    "engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

NOT_A_PRICE = "a price such as 12.99 (a dot, no currency sign)"
NEGATIVE = "must not be negative"
NOT_STOCK = "a whole number from 0 to 1,000,000,000"
NOT_WEIGHT = "a whole number from 0 to 1,000,000"
NOT_MONTHS = "a whole number from 0 to 1,200"
NOT_OPTIONS = 'a JSON object of texts, such as {"length": "2 m"}'
NOT_SKU = "1 to 40 letters, digits or punctuation, no spaces"
CONTROL = "control characters are not allowed"


@pytest.fixture
def shop(db: Session) -> SmallCatalog:
    return small_catalog(db)


def body(*rows: dict[str, str]) -> bytes:
    """The rows as a catalog file writes them, without the header."""
    return csv_bytes(*rows).split(b"\r\n", 1)[1]


def exported_rows(db: Session, product_sku: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(export_text(db)))
    return [cells for cells in reader if cells["product_sku"] == product_sku]


def stored(db: Session, product_sku: str) -> Product | None:
    db.expire_all()
    return db.execute(select(Product).where(Product.sku == product_sku)).scalar_one_or_none()


# ---------------------------------------------------------------- one bad cell at a time

BAD_CELLS = [
    # The bad row's cells, and the errors on its line: (column, message).
    pytest.param({"price": "12.999"}, [("price", NOT_A_PRICE)], id="price-fraction-of-a-cent"),
    pytest.param({"price": "12."}, [("price", NOT_A_PRICE)], id="price-dot-no-cents"),
    pytest.param({"price": ".99"}, [("price", NOT_A_PRICE)], id="price-no-units"),
    pytest.param({"price": "1e3"}, [("price", NOT_A_PRICE)], id="price-exponent"),
    pytest.param({"price": "$12.99"}, [("price", NOT_A_PRICE)], id="price-currency-sign"),
    pytest.param({"price": ""}, [("price", NOT_A_PRICE)], id="price-empty"),
    pytest.param({"price": "=1+1"}, [("price", NOT_A_PRICE)], id="price-formula"),
    pytest.param({"price": "-0.01"}, [("price", NEGATIVE)], id="price-negative"),
    pytest.param({"price": "1000000.01"}, [("price", "at most 1,000,000.00")], id="price-over"),
    pytest.param({"price": "9" * 30}, [("price", NOT_A_PRICE)], id="price-huge"),
    pytest.param({"stock": "1.5"}, [("stock", NOT_STOCK)], id="stock-fraction"),
    pytest.param({"stock": "1,000"}, [("stock", NOT_STOCK)], id="stock-thousands-comma"),
    pytest.param({"stock": "seven"}, [("stock", NOT_STOCK)], id="stock-letters"),
    pytest.param({"stock": ""}, [("stock", NOT_STOCK)], id="stock-empty"),
    pytest.param({"stock": "\u00bd"}, [("stock", NOT_STOCK)], id="stock-vulgar-half"),
    pytest.param({"stock": "1000000001"}, [("stock", NOT_STOCK)], id="stock-over"),
    pytest.param({"stock": "9" * 30}, [("stock", NOT_STOCK)], id="stock-huge"),
    pytest.param({"stock": "=A1"}, [("stock", NOT_STOCK)], id="stock-formula"),
    pytest.param({"weight_grams": "2.5"}, [("weight_grams", NOT_WEIGHT)], id="weight-fraction"),
    pytest.param({"weight_grams": "-1"}, [("weight_grams", NEGATIVE)], id="weight-negative"),
    pytest.param({"weight_grams": "1000001"}, [("weight_grams", NOT_WEIGHT)], id="weight-over"),
    pytest.param({"warranty_months": "1201"}, [("warranty_months", NOT_MONTHS)], id="months-over"),
    pytest.param({"warranty_months": "6 mo"}, [("warranty_months", NOT_MONTHS)], id="months-text"),
    # A bad was-price is one error, not a second "must be above the price" as well.
    pytest.param({"was_price": "abc"}, [("was_price", NOT_A_PRICE)], id="was-price-letters"),
    pytest.param({"was_price": "-1"}, [("was_price", NEGATIVE)], id="was-price-negative"),
    pytest.param(
        {"was_price": "12.99"},
        [("was_price", "must be above the price (or empty)")],
        id="was-price-equal",
    ),
    pytest.param({"name": ""}, [("name", "must not be empty")], id="name-empty"),
    pytest.param({"name": "Bell\x00Cable"}, [("name", CONTROL)], id="name-nul"),
    pytest.param({"name": "Cable \u202eelbaC"}, [("name", CONTROL)], id="name-bidi-override"),
    pytest.param(
        {"description": "x" * 20_001},
        [("description", "at most 20000 characters, not 20001")],
        id="description-long",
    ),
    pytest.param(
        {"warranty_terms": "x" * 5_001},
        [("warranty_terms", "at most 5000 characters, not 5001")],
        id="terms-long",
    ),
    pytest.param({"brand": "x" * 81}, [("brand", "at most 80 characters, not 81")], id="brand"),
    pytest.param({"label": "x" * 121}, [("label", "at most 120 characters, not 121")], id="label"),
    pytest.param({"options": "[" * 50_000}, [("options", NOT_OPTIONS)], id="options-deep"),
    pytest.param(
        {"options": '{"a": ' * 5_000}, [("options", NOT_OPTIONS)], id="options-deep-objects"
    ),
    pytest.param({"options": '["2 m"]'}, [("options", NOT_OPTIONS)], id="options-list"),
    pytest.param(
        {"options": '{"length": 2}'},
        [("options", "each option is a name and a text value")],
        id="options-number",
    ),
    pytest.param(
        {"options": json.dumps({f"k{n}": "v" for n in range(9)})},
        [("options", "at most 8 options")],
        id="options-nine",
    ),
    pytest.param(
        {"product_sku": "BAD 1", "variant_sku": "BAD 1"},
        [("product_sku", NOT_SKU), ("variant_sku", NOT_SKU)],
        id="sku-space",
    ),
    pytest.param(
        {"product_sku": "B" * 41, "variant_sku": "B" * 41},
        [("product_sku", NOT_SKU), ("variant_sku", NOT_SKU)],
        id="sku-long",
    ),
    pytest.param(
        {"product_sku": "\u00c4-1", "variant_sku": "\u00c4-1"},
        [("product_sku", NOT_SKU), ("variant_sku", NOT_SKU)],
        id="sku-not-ascii",
    ),
    pytest.param(
        {"name": "", "price": "abc", "stock": "x", "active": "maybe"},
        [
            ("name", "must not be empty"),
            ("price", NOT_A_PRICE),
            ("stock", NOT_STOCK),
            ("active", "yes or no"),
        ],
        id="every-bad-cell-its-own-error",
    ),
]


@pytest.mark.parametrize(("cells", "expected"), BAD_CELLS)
def test_a_bad_cell_is_reported_on_its_line_and_the_file_changes_nothing(
    db: Session, shop: SmallCatalog, cells: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    (update,) = exported_rows(db, shop.hdmi_skus[0])
    data = csv_bytes(
        {**update, "price": "3.33"},
        row(product_sku="GOOD-1"),
        row(**{"product_sku": "BAD-1", **cells}),
    )
    before, changes = export_text(db), change_count(db)
    report = refused(db, data)
    assert [(e.line, e.column, e.message) for e in report.errors] == [
        (4, column, message) for column, message in expected
    ]
    assert (report.products, report.created, report.updated, report.unreadable) == (
        3, 0, 0, False,
    )  # fmt: skip
    assert export_text(db) == before  # not the update, not the good new product
    assert change_count(db) == changes


def test_skip_bad_writes_the_good_products_updates_too_and_leaves_each_bad_one_out(
    db: Session, shop: SmallCatalog
) -> None:
    (update,) = exported_rows(db, shop.hdmi_skus[0])
    data = csv_bytes(
        row(product_sku="BAD-1", price="12.999"),
        {**update, "price": "3.33"},
        row(product_sku="BAD-2", options="[" * 50_000),
        row(product_sku="GOOD-1"),
        row(product_sku="BAD-3", stock="1.5"),
    )
    report = run_import(db, data, skip_bad=True)
    assert (report.created, report.updated, report.skipped, report.imported) == (1, 1, 3, True)
    assert errors(report) == [(2, "price"), (4, "options"), (6, "stock")]
    found = stored(db, shop.hdmi_skus[0])
    assert found is not None and found.price_cents == 333
    assert stored(db, "GOOD-1") is not None
    assert [stored(db, sku) for sku in ("BAD-1", "BAD-2", "BAD-3")] == [None, None, None]


def test_good_cells_at_the_edges_are_read_as_written(db: Session, shop: SmallCatalog) -> None:
    data = csv_bytes(
        row(product_sku="E-1", price="12.5", stock="0", weight_grams="", warranty_months="",
            active="", currency="usd"),
        row(product_sku="E-2", price="1000000.00", was_price="", stock="1000000000",
            weight_grams="1000000", warranty_months="1200", active="N"),
        row(product_sku="E-3", price="0", was_price="0.01", stock="0000000007", active="FALSE"),
    )  # fmt: skip
    assert run_import(db, data).created == 3
    read = {}
    for sku in ("E-1", "E-2", "E-3"):
        product = stored(db, sku)
        assert product is not None
        read[sku] = (
            product.price_cents, product.was_price_cents, product.stock, product.weight_grams,
            product.warranty_months, product.active, product.currency,
        )  # fmt: skip
    assert read == {
        "E-1": (1250, None, 0, 0, 12, True, "USD"),
        "E-2": (100_000_000, None, 1_000_000_000, 1_000_000, 1200, False, "USD"),
        "E-3": (0, 1, 7, 40, 24, False, "USD"),
    }


# ---------------------------------------------------------------- lines and SKUs


def test_line_numbers_count_quoted_line_breaks_and_blank_lines(
    db: Session, shop: SmallCatalog
) -> None:
    data = (
        csv_bytes(row(product_sku="ML-1", description="one\ntwo\nthree"))  # lines 2-4
        + b"\r\n"  # 5: a blank line is no row
        + body(row(product_sku="ML-2", price="x", description="a\r\nb"))  # 6-7
        + body(row(product_sku="ML-3"))  # 8
        + b"ML-9,too,few\r\n"  # 9
        + body(row(product_sku="ML-4", stock="x"))  # 10
    )
    report = refused(db, data)
    assert errors(report) == [(6, "price"), (9, "row"), (10, "stock")]
    assert report.errors[1].message == "3 cells where the header has 16"
    assert report.rows == 5  # the blank line is not counted
    assert stored(db, "ML-1") is None


def test_a_row_with_a_cell_too_many_is_reported(db: Session, shop: SmallCatalog) -> None:
    data = csv_bytes(row(product_sku="T-1")) + body(row(product_sku="T-2")).replace(
        b"\r\n", b",\r\n"
    )
    assert refused(db, data).errors == [RowError(3, "row", "17 cells where the header has 16")]


def test_a_variant_sku_repeated_in_another_product_or_as_a_product_is_reported(
    db: Session, shop: SmallCatalog
) -> None:
    data = csv_bytes(
        row(product_sku="P-1", variant_sku="P-1-A"),
        row(product_sku="P-1", variant_sku="P-1-B"),
        row(product_sku="P-2", variant_sku="P-2-A"),
        row(product_sku="P-2", variant_sku="P-1-B"),  # P-1's
        row(product_sku="P-1-A"),  # a product whose one variant is P-1's
    )
    assert refused(db, data).errors == [
        RowError(5, "variant_sku", "P-1-B is already on line 3"),
        RowError(6, "variant_sku", "P-1-A is already on line 2"),
    ]
    report = run_import(db, data, skip_bad=True)
    assert (report.created, report.skipped) == (1, 2)  # the first comer, P-1
    variants = db.execute(
        select(ProductVariant.sku).join(Product).where(Product.sku == "P-1")
    ).scalars()
    assert sorted(variants) == ["P-1-A", "P-1-B"]


# ---------------------------------------------------------------- the header and the bytes


def test_the_header_may_name_the_columns_in_any_order_any_case_and_text_marked(
    db: Session, shop: SmallCatalog
) -> None:
    def product(sku: str) -> list[dict[str, str]]:
        first = row(
            product_sku=sku,
            variant_sku=f"{sku}-A",
            label="1 m",
            price="7.50",
            was_price="9.00",
            stock="3",
            weight_grams="40",
            warranty_months="36",
            options=json.dumps({"length": "1 m"}),
            brand="Corelink",
            active="no",
        )
        second = {
            **first,
            "variant_sku": f"{sku}-B",
            "label": "2 m",
            "price": "8.25",
            "was_price": "",
            "stock": "11",
            "weight_grams": "75",
            "options": json.dumps({"length": "2 m"}),
        }
        return [first, second]

    assert run_import(db, csv_bytes(*product("ORD-1"))).created == 1
    shuffled = [*COLUMNS[8:], *reversed(COLUMNS[:8])]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f" '{name.upper()} " for name in shuffled])
    for cells in product("ORD-2"):
        writer.writerow([cells[name] for name in shuffled])
    assert run_import(db, out.getvalue().encode()).created == 1
    first, second = exported_rows(db, "ORD-1"), exported_rows(db, "ORD-2")
    assert len(first) == 2
    renamed = [{k: v.replace("ORD-2", "ORD-1") for k, v in cells.items()} for cells in second]
    assert renamed == first


def test_a_repeated_column_and_a_column_without_a_name_are_named(
    db: Session, shop: SmallCatalog
) -> None:
    report = refused(db, csv_bytes(row(), header=(*COLUMNS, "price", "")))
    (error,) = report.errors
    assert (error.line, error.column, report.unreadable) == (1, "header", True)
    assert error.message.startswith("unknown (a column without a name); repeated price (")


def test_a_header_of_a_hundred_thousand_names_is_refused_with_a_short_message(
    db: Session, shop: SmallCatalog
) -> None:
    # Read once, however many names: each name counted against every other was an hour
    # for a megabyte of header. Fifty thousand names, each twice.
    names = [f"c{n}" for n in range(50_000)] * 2
    report = refused(db, (",".join(names) + "\r\n").encode())
    (error,) = report.errors
    assert (error.line, error.column) == (1, "header")
    assert error.message.startswith("missing product_sku, name, brand")
    assert "; unknown c0, c1, c10, c100, c1000, c10000, c10001, " in error.message
    assert "; repeated c0, c1, c10, c100, c1000, c10000, c10001, " in error.message
    assert len(error.message) < 1_000


@pytest.mark.parametrize("delimiter", [b";", b"\t"])
def test_a_file_with_another_delimiter_is_refused_at_its_header(
    db: Session, shop: SmallCatalog, delimiter: bytes
) -> None:
    data = csv_bytes(row(product_sku="SEMI-1")).replace(b",", delimiter)
    report = refused(db, data)
    assert report.unreadable and errors(report) == [(1, "header")]
    assert report.errors[0].message.startswith("missing product_sku, name, brand, category")
    assert stored(db, "SEMI-1") is None


def test_a_file_of_the_header_alone_imports_nothing_without_error(
    db: Session, shop: SmallCatalog
) -> None:
    count = product_count(db)
    report = run_import(db, b"\xef\xbb\xbf" + csv_bytes())
    assert (report.rows, report.products, report.error_count, report.imported) == (0, 0, 0, True)
    assert product_count(db) == count


def test_a_utf16_file_is_refused_on_its_first_line(db: Session, shop: SmallCatalog) -> None:
    data = csv_bytes(row()).decode().encode("utf-16")  # a spreadsheet's "Unicode text"
    report = refused(db, data)
    assert report.errors == [RowError(1, "encoding", "not UTF-8 text: save the file as CSV UTF-8")]


def test_latin1_after_quoted_line_breaks_is_named_by_its_own_line(
    db: Session, shop: SmallCatalog
) -> None:
    data = csv_bytes(row(product_sku="L-1", description="one\ntwo\nthree")) + body(
        row(product_sku="L-2", name="Caf\u00e9 Cable")
    ).decode().encode("latin-1")
    report = refused(db, data)
    assert report.unreadable and errors(report) == [(5, "encoding")]


def test_two_files_pasted_together_are_refused_at_the_second_header(
    db: Session, shop: SmallCatalog
) -> None:
    data = csv_bytes(row(product_sku="A-1")) + b"\xef\xbb\xbf" + csv_bytes(row(product_sku="B-1"))
    report = refused(db, data)
    assert {error.line for error in report.errors} == {3}
    assert {"product_sku", "category", "price", "stock"} <= {e.column for e in report.errors}
    assert (stored(db, "A-1"), stored(db, "B-1")) == (None, None)


def test_a_cell_over_csvs_limit_ends_the_reading_even_with_skip_bad(
    db: Session, shop: SmallCatalog
) -> None:
    huge = row(product_sku="H-2", description="x" * 140_000)  # one line, under 1 MiB
    data = csv_bytes(row(product_sku="H-1"), huge, row(product_sku="H-3"))
    with pytest.raises(CatalogFileRefused) as caught:
        run_import(db, data, skip_bad=True)
    report = caught.value.report
    assert report.unreadable and report.imported is False
    assert report.errors == [RowError(3, "row", "not CSV: field larger than field limit (131072)")]
    assert stored(db, "H-1") is None


# ---------------------------------------------------------------- formulas and round trips


def test_cells_that_look_like_formulas_are_kept_as_text_and_exported_marked(
    db: Session, shop: SmallCatalog
) -> None:
    # The shop stores text; a spreadsheet is what would run it, so the export marks it
    # (docs/catalog-csv.md, "Spreadsheets and formulas"). In a number's column it is an error.
    data = csv_bytes(
        row(product_sku="F-1", name="=cmd|' /C calc'!A0", brand="@SUM(1+1)",
            description="+1 cm longer", warranty_terms="-2 years if dropped"),
        row(product_sku="=1+1", name="''tis the season", label="=HYPERLINK(\"x\")"),
    )  # fmt: skip
    assert run_import(db, data).created == 2
    formula = stored(db, "F-1")
    assert formula is not None
    assert (formula.name, formula.brand, formula.description, formula.warranty_terms) == (
        "=cmd|' /C calc'!A0", "@SUM(1+1)", "+1 cm longer", "-2 years if dropped",
    )  # fmt: skip
    quoted = stored(db, "=1+1")
    assert quoted is not None and quoted.name == "'tis the season"
    exported = export_text(db)
    (f1,) = exported_rows(db, "F-1")
    assert (f1["name"], f1["brand"], f1["description"]) == (
        "'=cmd|' /C calc'!A0", "'@SUM(1+1)", "'+1 cm longer",
    )  # fmt: skip
    marked = next(c for c in csv.DictReader(io.StringIO(exported)) if c["name"].endswith("season"))
    assert (marked["product_sku"], marked["name"], marked["label"]) == (
        "'=1+1", "''tis the season", "'=HYPERLINK(\"x\")",
    )  # fmt: skip
    again = run_import(db, exported.encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 12)
    assert export_text(db) == exported


def _edge_file() -> str:
    """A catalog file as the export writes one, of texts and numbers at their edges, in
    SKU order (a SKU order every collation agrees on)."""
    base = {
        "brand": "Quietline", "category": "tools", "warranty_months": "24",
        "warranty_terms": "", "active": "yes", "currency": "USD", "label": "",
        "options": "", "was_price": "", "weight_grams": "0",
    }  # fmt: skip
    rows = [
        {**base, "product_sku": "RT-A", "variant_sku": "RT-A",
         "name": "C\u00e2ble HDMI \u2013 2 m \u2713",
         "description": 'He said "hi", then left.\nLine two\r\nLine three', "price": "0.00",
         "stock": "0", "active": "no", "brand": ""},
        {**base, "product_sku": "RT-B", "variant_sku": "RT-B/2m:#1", "name": "N" * 200,
         "description": "d" * 20_000, "price": "1000000.00", "stock": "1000000000",
         "weight_grams": "1000000", "warranty_months": "1200", "label": "2 m",
         "options": json.dumps({"colour": 'Noir "mat"', "l\u00e4nge": "2 m"}, ensure_ascii=False)},
        {**base, "product_sku": "RT-B", "variant_sku": "RT-B/5m:#2", "name": "N" * 200,
         "description": "d" * 20_000, "price": "12.50", "was_price": "999999.99",
         "stock": "3", "weight_grams": "1000000", "warranty_months": "1200", "label": "5 m",
         "options": json.dumps({"colour": 'Noir "mat"', "l\u00e4nge": "5 m"}, ensure_ascii=False)},
        {**base, "product_sku": "RT-C", "variant_sku": "RT-C", "name": "'=1+1",
         "description": "''tis a formula-looking text", "warranty_terms": "'-5 dB",
         "price": "0.01", "stock": "1", "warranty_months": "0"},
    ]  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for cells in rows:
        writer.writerow([cells[column] for column in COLUMNS])
    return out.getvalue()


def test_a_file_goes_into_an_empty_shop_and_comes_out_byte_for_byte(db: Session) -> None:
    small_catalog_categories(db)
    edge = _edge_file()
    report = run_import(db, edge.encode())
    assert (report.created, report.rows, report.errors) == (3, 4, [])
    exported = export_text(db)
    assert exported == edge
    again = run_import(db, exported.encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert export_text(db) == edge


# ---------------------------------------------------------------- the import's options


def test_the_shop_currency_is_compared_without_case(db: Session, shop: SmallCatalog) -> None:
    data = csv_bytes(row(product_sku="CUR-1", currency="Usd"))
    report = csv_io.import_catalog(db, io.BytesIO(data), currency="usd", now=T0)
    found = stored(db, "CUR-1")
    assert report.created == 1 and found is not None and found.currency == "USD"


class OneWay(io.RawIOBase):
    """A stream that can be read but not asked where it is (a pipe)."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return self.data.readinto(buffer)


@pytest.mark.parametrize("seekable", [True, False], ids=["file", "pipe"])
def test_progress_hears_of_each_batch_and_of_the_whole_size_at_the_end(
    db: Session, shop: SmallCatalog, monkeypatch: pytest.MonkeyPatch, seekable: bool
) -> None:
    monkeypatch.setattr(csv_io, "BATCH_PRODUCTS", 2)
    data = csv_bytes(*(row(product_sku=f"PR-{n}") for n in range(5)))
    stream = io.BytesIO(data) if seekable else io.BufferedReader(OneWay(data))
    heard: list[tuple[int, int]] = []
    report = csv_io.import_catalog(
        db, stream, currency="USD", now=T0, size=len(data),
        progress=lambda done, total: heard.append((done, total)),
    )  # fmt: skip
    assert report.created == 5
    assert len(heard) == 3 and heard[-1] == (len(data), len(data))
    done = [position for position, _ in heard]
    assert done == sorted(done) and all(0 <= n <= len(data) for n in done)
    if not seekable:
        assert done[:2] == [0, 0]  # where a pipe is cannot be said


# ---------------------------------------------------------------- SQLite's page cache


def cache_size(db: Session) -> int:
    return int(db.connection().exec_driver_sql("PRAGMA cache_size").scalar_one())


@pytest.fixture
def own_cache(db: Session, request: pytest.FixtureRequest) -> Iterator[int]:
    """The test connection's page cache at a size of the test's (not SQLite's default, so
    that "set back" cannot be "set to the default"), and its first size again after."""
    size = int(getattr(request, "param", -3000))
    first = cache_size(db)
    db.connection().exec_driver_sql(f"PRAGMA cache_size = {size:d}")
    yield size
    db.connection().exec_driver_sql(f"PRAGMA cache_size = {first:d}")


@SQLITE_ONLY
@pytest.mark.parametrize("own_cache", [-3000, 1500], indirect=True, ids=["kib", "pages"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry-run"])
def test_an_import_has_the_bulk_write_settings_and_the_connections_own_size_after(
    db: Session, shop: SmallCatalog, monkeypatch: pytest.MonkeyPatch, own_cache: int,
    dry_run: bool,
) -> None:  # fmt: skip
    during: list[int] = []
    upsert = bulk.upsert_products

    def upsert_and_look(session: Session, *args: Any, **kwargs: Any) -> bulk.UpsertCounts:
        during.append(cache_size(session))
        return upsert(session, *args, **kwargs)

    monkeypatch.setattr(bulk, "upsert_products", upsert_and_look)
    report = run_import(db, csv_bytes(row(product_sku="C-1")), dry_run=dry_run)
    assert report.created == 1
    assert during == [-bulk.BULK_CACHE_KIB]
    assert cache_size(db) == own_cache


@SQLITE_ONLY
def test_the_own_size_is_back_when_the_import_fails_midway(
    db: Session, shop: SmallCatalog, monkeypatch: pytest.MonkeyPatch, own_cache: int
) -> None:
    monkeypatch.setattr(csv_io, "BATCH_PRODUCTS", 2)
    data = csv_bytes(*(row(product_sku=f"MID-{n}") for n in range(5)))

    def give_up(done: int, total: int) -> None:
        assert cache_size(db) == -bulk.BULK_CACHE_KIB  # inside the import
        raise RuntimeError("the operator gave up")

    with pytest.raises(RuntimeError, match="gave up"):
        csv_io.import_catalog(db, io.BytesIO(data), currency="USD", now=T0, progress=give_up)
    assert cache_size(db) == own_cache


@SQLITE_ONLY
def test_the_own_size_is_back_after_a_failed_statement_in_the_block(
    db: Session, own_cache: int
) -> None:
    with pytest.raises(OperationalError, match="no such table"), bulk.bulk_write_settings(db):
        db.connection().exec_driver_sql("SELECT * FROM no_such_table")
    assert cache_size(db) == own_cache


@contextmanager
def statements_on(connection: Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (conn, cursor, statement, parameters, context, executemany)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def test_an_interrupt_inside_a_statement_is_the_error_that_comes_out(tmp_path: Path) -> None:
    # SQLAlchemy invalidates a connection a statement was interrupted on; setting the
    # cache back on it raised PendingRollbackError instead of the interrupt.
    engine = make_engine(f"sqlite:///{tmp_path / 'interrupted.db'}")
    try:
        with engine.connect() as first:
            own = first.exec_driver_sql("PRAGMA cache_size").scalar_one()
        with Session(engine) as session:
            connection = session.connection()

            def interrupt(*args: Any) -> None:
                if "interrupt me" in args[2]:
                    raise KeyboardInterrupt

            event.listen(connection, "before_cursor_execute", interrupt)
            with pytest.raises(KeyboardInterrupt), bulk.bulk_write_settings(session):
                connection.exec_driver_sql("SELECT 'interrupt me'")
            assert connection.invalidated
        with engine.connect() as fresh:  # the pool's next connection has the usual size
            assert fresh.exec_driver_sql("PRAGMA cache_size").scalar_one() == own
    finally:
        engine.dispose()


def planner(db: Session) -> tuple[str, str]:
    show = db.connection().exec_driver_sql
    modes = (show("SHOW plan_cache_mode").scalar_one(), show("SHOW enable_seqscan").scalar_one())
    return str(modes[0]), str(modes[1])


@POSTGRES_ONLY
def test_on_postgresql_an_import_plans_each_statement_for_its_values(
    db: Session, shop: SmallCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generic plan costed on the empty table, or stale statistics, made a large
    import's look-ups scan it (bench/catalog_import.py); during the import the plans are
    custom and scans are costed high, and after it the transaction has its own again."""
    own = planner(db)
    during: list[tuple[str, str]] = []
    upsert = bulk.upsert_products

    def upsert_and_look(session: Session, *args: Any, **kwargs: Any) -> bulk.UpsertCounts:
        during.append(planner(session))
        return upsert(session, *args, **kwargs)

    monkeypatch.setattr(bulk, "upsert_products", upsert_and_look)
    assert run_import(db, csv_bytes(row(product_sku="PG-1"))).created == 1
    assert during == [("force_custom_plan", "off")] and planner(db) == own == ("auto", "on")


@POSTGRES_ONLY
def test_on_postgresql_an_error_in_the_block_comes_out_as_itself(db: Session) -> None:
    with pytest.raises(LookupError, match="inside"), bulk.bulk_write_settings(db):
        raise LookupError("raised inside the block")
    assert db.execute(select(Product.id).limit(1)).all() == []  # the transaction goes on


# ---------------------------------------------------------------- what the driver is handed


def _draft(sku: str) -> ProductDraft:
    return ProductDraft(
        sku=sku, slug="", name=f"Product {sku}", category_slug="tools", currency="USD",
        variants=[VariantDraft(sku=sku, price_cents=100, stock=1)],
    )  # fmt: skip


def test_driver_lookups_find_exactly_the_keys_that_exist_across_chunks(
    db: Session, shop: SmallCatalog
) -> None:
    connection = db.connection()
    ids = {sku: product_id for sku, product_id in db.execute(select(Product.sku, Product.id))}
    real = sorted(ids)
    keys = [f"NONE-{n}" for n in range(1_200)]
    for position, sku in zip((0, 499, 500, 999, 1_000, 1_199), real, strict=False):
        keys[position] = sku  # at the chunks' edges (500 keys a chunk)
    found = bulk._IDS.rows(connection, keys)
    assert sorted(found) == sorted((sku, ids[sku]) for sku in real[:6])
    through_sqlalchemy = connection.execute(bulk._IDS.statement, {"keys": keys})
    assert sorted(found) == sorted(tuple(each) for each in through_sqlalchemy)


def test_driver_lookup_keys_are_data_not_sql(db: Session, shop: SmallCatalog) -> None:
    sly = "O'R%s?;--"  # a quote, both placeholders and a comment: a valid SKU
    bulk.upsert_products(db, [_draft(sly)], T0)
    connection = db.connection()
    count = product_count(db)
    hostile = ["' OR '1'='1", "%s", "%(keys)s", "?", "1); DELETE FROM products; --", sly]
    assert [sku for sku, _ in bulk._IDS.rows(connection, hostile)] == [sly]
    assert bulk._OWNERS.rows(connection, hostile) == [(sly, sly)]
    assert product_count(db) == count


def test_a_lookup_of_no_keys_sends_nothing(db: Session) -> None:
    connection = db.connection()
    with statements_on(connection) as seen:
        assert bulk._SLUGS.rows(connection, []) == []
        assert bulk.variant_owners(db, []) == {}
    assert seen == []


def test_other_paramstyles_go_through_sqlalchemy_with_the_same_result(tmp_path: Path) -> None:
    exports = {}
    for paramstyle in ("qmark", "named"):
        engine = make_engine(f"sqlite:///{tmp_path / paramstyle}.db", paramstyle=paramstyle)
        assert (engine.dialect.paramstyle in bulk._MARKS) is (paramstyle == "qmark")
        try:
            upgrade_to_head(engine)
            sessions = make_session_factory(engine)
            with transaction(sessions) as session:
                small_catalog_categories(session)
                assert run_import(session, _edge_file().encode()).created == 3
                owners = bulk.variant_owners(session, ["RT-B/5m:#2", "RT-A", "NONE"])
                assert owners == {"RT-B/5m:#2": "RT-B", "RT-A": "RT-A"}
            with sessions() as session:
                exports[paramstyle] = export_text(session)
        finally:
            engine.dispose()
    assert exports["named"] == exports["qmark"] == _edge_file()


# ---------------------------------------------------------------- any text at all

RUN = hypothesis.settings(max_examples=300, deadline=None)

# Cells a file may hold, some at their edges; a few of a row's cells are then replaced by
# any text at all.
_VALID = {
    "product_sku": ["HY-1"], "variant_sku": ["HY-1"], "category": ["tools"],
    "name": ["Cable", " Cable ", "C\u00e2ble \u2713", "N" * 200],
    "brand": ["", "Corelink", "B" * 80],
    "description": ["", "one\ntwo", "tab\there", "D" * 20_000],
    "warranty_months": ["", "0", "1200", "\u0663\u0666"],  # Arabic-Indic 36: int() reads it
    "warranty_terms": ["", "Two years.\r\nNo more."],
    "active": ["", "yes", "NO", "y", "0", "True"],
    "currency": ["USD", "usd"],
    "label": ["", "2 m", "L" * 120],
    "options": ["", '{"length": "2 m"}', '{"a": "1", "b": "2"}'],
    "price": ["0", "1.00", "12.5", "1000000.00", "\u0661\u0662.\u0665"],
    "was_price": ["", "1000000.00"],
    "stock": ["0", "1", "1000000000", "007"],
    "weight_grams": ["", "0", "1000000"],
}  # fmt: skip
_MESSY = st.text(max_size=12) | st.text(alphabet="0123456789.-+e ,'", max_size=12)
_CONTEXT = csv_rows.Context("USD", {"tools": bulk.CategoryFacts(1, "Tools", "")})


@st.composite
def row_cells(draw: st.DrawFn) -> dict[str, str]:
    cells = {column: draw(st.sampled_from(_VALID[column])) for column in COLUMNS}
    for column in draw(st.sets(st.sampled_from(COLUMNS), max_size=3)):
        cells[column] = draw(_MESSY)
    return cells


@RUN
@given(row_cells())
def test_any_cells_give_a_draft_the_writer_accepts_or_errors_on_their_line(
    cells: dict[str, str],
) -> None:
    group = csv_rows.Group(0, [csv_rows.Row(7, csv_rows.RowCells(**cells))])
    draft, found = csv_rows.product_draft(group, _CONTEXT, [])
    if draft is None:
        assert found and all(e.line == 7 and e.column in COLUMNS for e in found), found
        assert len({e.column for e in found}) == len(found)  # one error a cell, at most
    else:
        # upsert_products(checked=True) skips the single edit's checks: the reader must
        # let through only what they let through, as they would store it.
        assert found == [] and admin.checked_draft(draft) == draft


_CELL = st.text(max_size=8) | st.sampled_from(
    ["", " ", "'", "'=1", "a\nb", 'say "x"', "x,y", "\r\n", "  'pad  "]
)


@RUN
@given(st.lists(st.lists(_CELL, min_size=16, max_size=16), max_size=6))
def test_rows_are_read_as_written_on_the_line_they_start(rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    expected: list[tuple[int, list[str]]] = []
    line = 2
    for cells in rows:
        start = out.tell()
        writer.writerow(cells)
        stripped = [cell.strip() for cell in cells]
        if any(stripped):
            expected.append((line, [c[1:] if c.startswith("'") else c for c in stripped]))
        line += out.getvalue()[start:].count("\n")
    report = ImportReport()
    read = list(csv_rows.read_rows(io.BytesIO(out.getvalue().encode()), report))
    assert [(r.line, list(r.cells)) for r in read] == expected
    assert (report.rows, report.errors) == (len(expected), [])
