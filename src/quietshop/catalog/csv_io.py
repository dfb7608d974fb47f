"""The catalog as a CSV file: one row per variant, exported for spreadsheets and imported
in bulk (docs/catalog-csv.md describes the columns).

Import reads the file once, as a stream: rows are parsed and checked one by one, grouped
into products (a product's rows follow each other), and written through the bulk upsert
(``bulk.upsert_products``) a few hundred products at a time. Every bad row is reported
with its line number and column. A file with any bad row imports nothing: the writes
made before the first error are rolled back with the caller's transaction, which
``CatalogFileRefused`` ends; with ``skip_bad`` the products with a bad row are left out
and the rest imported. What makes the file itself unreadable (a wrong header, text that
is not UTF-8, a broken quote, more than ``MAX_ROWS`` rows) stops the reading and imports
nothing, ``skip_bad`` or not. Memory stays small whatever the file holds: a product's
rows, one batch, and the SKUs seen so far (at most ``MAX_ROWS``, to find repeats).

Export writes the same columns. A cell that a spreadsheet would read as a formula (one
starting with ``= + - @``, a tab or a carriage return) is written after an apostrophe,
the spreadsheets' mark for "this is text"; so is one that starts with an apostrophe.
Import drops one leading apostrophe, so a file goes out and comes back unchanged.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import operator
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.catalog import admin, bulk, service
from quietshop.catalog.models import Category, Product, ProductVariant
from quietshop.catalog.service import MAX_PRICE_CENTS, MAX_STOCK, ProductDraft, VariantDraft
from quietshop.errors import InvalidInput, QuietshopError

COLUMNS = (
    "product_sku",
    "name",
    "brand",
    "category",
    "description",
    "warranty_months",
    "warranty_terms",
    "active",
    "currency",
    "variant_sku",
    "label",
    "options",
    "price",
    "was_price",
    "stock",
    "weight_grams",
)
# Repeated on every row of a product; a later row holds the same value or leaves it empty.
PRODUCT_COLUMNS = COLUMNS[:9]
MAX_ROWS = 200_000  # rows of one file; a larger catalog is imported in several files
MAX_REPORTED = 1_000  # errors listed in a report (all of them are counted)
MAX_LINE_BYTES = 1024 * 1024  # no row is longer (a cell holds at most 128 KiB: csv's limit)
BATCH_PRODUCTS = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"

Progress = Callable[[int, int], None]  # (done, total): bytes read, or products written

_PRICE = re.compile(r"^(\d{1,7})(?:\.(\d{1,2}))?$")
_WHOLE = re.compile(r"^\d{1,10}$")
_SKU = re.compile(r"^[!-~]{1,40}$")
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})
# The draft's field names as the file's columns call them.
_COLUMN_OF = {
    "sku": "product_sku",
    "category_slug": "category",
    "price_cents": "price",
    "was_price_cents": "was_price",
    "variants": "variant_sku",
}


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class RowError:
    line: int  # 1 is the header
    column: str  # a column name, or "header", "file", "encoding", "row"
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0  # variant rows read
    products: int = 0  # products read (good or bad)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # products left out for a bad row (skip_bad)
    error_count: int = 0  # every error found; ``errors`` lists the first MAX_REPORTED
    errors: list[RowError] = field(default_factory=list)
    imported: bool = False  # the rows were written (and not rolled back as a dry run)
    dry_run: bool = False
    unreadable: bool = False  # the file itself could not be read to its end

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CatalogFileRefused(QuietshopError):
    """The file has errors and nothing was imported; the report lists them by line."""

    status_code = 422
    code = "catalog_file_refused"

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        how = "the file cannot be read" if report.unreadable else "nothing was imported"
        first = f" First: {report.errors[0]}." if report.errors else ""
        super().__init__(f"{report.error_count} error(s) in the catalog file; {how}.{first}")

    def extra(self) -> dict[str, Any]:
        return {"report": self.report.as_dict()}


class _Unreadable(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


# ---------------------------------------------------------------- reading rows


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, str]  # by column, as written (``_text_cell``)


_has_text_mark = operator.methodcaller("startswith", TEXT_MARK)


def _unmarked(cells: list[str]) -> list[str]:
    """Stripped cells without their text mark (``_text_cell``; most rows have none)."""
    if any(map(_has_text_mark, cells)):  # map: no Python frame per cell
        return [cell[1:] if cell[:1] == TEXT_MARK else cell for cell in cells]
    return cells


def _text_cell(raw: str) -> str:
    """A cell as written: without surrounding spaces and one leading text mark."""
    cell = raw.strip()
    return cell[1:] if cell.startswith(TEXT_MARK) else cell


def _check_header(header: list[str]) -> list[str]:
    names = [_text_cell(name).lower() for name in header]
    missing = [name for name in COLUMNS if name not in names]
    unknown = sorted({name for name in names if name not in COLUMNS})
    repeated = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unknown:
        problems.append("unknown " + ", ".join(unknown[:10]))
    if repeated:
        problems.append("repeated " + ", ".join(repeated))
    if problems:
        raise _Unreadable(
            RowError(1, "header", "; ".join(problems) + f" (the columns: {', '.join(COLUMNS)})")
        )
    return names


def _text_lines(stream: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, decoded one by one, so that bytes which are not UTF-8
    are reported on their own line (UTF-8 never holds a newline byte inside a character);
    a line longer than any row could be ends the reading instead of filling memory."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise _Unreadable(
                RowError(number, "row", f"a line longer than {MAX_LINE_BYTES:,} bytes")
            )
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]  # as spreadsheets write "CSV UTF-8"
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            message = "not UTF-8 text: save the file as CSV UTF-8"
            raise _Unreadable(RowError(number, "encoding", message)) from None


def _rows(stream: IO[bytes], report: ImportReport) -> Iterator[_Row]:
    """The file's rows with their first line number; a row whose cells do not match the
    header is reported and left out. Raises _Unreadable where reading cannot go on."""
    reader = csv.reader(_text_lines(stream), strict=True)
    line = 1
    try:
        header = next(reader, None)
        if header is None:
            raise _Unreadable(RowError(1, "header", "the file is empty"))
        names = _check_header(header)
        line = reader.line_num + 1
        for record in reader:
            cells = [cell.strip() for cell in record]
            if any(cells):  # a blank line is no row
                report.rows += 1
                if report.rows > MAX_ROWS:
                    raise _Unreadable(
                        RowError(line, "file", f"more than {MAX_ROWS:,} rows: split the file")
                    )
                if len(cells) != len(names):
                    message = f"{len(cells)} cells where the header has {len(names)}"
                    report.add_error(RowError(line, "row", message))
                else:
                    yield _Row(line, dict(zip(names, _unmarked(cells), strict=True)))
            line = reader.line_num + 1
    except csv.Error as error:
        raise _Unreadable(RowError(line, "row", f"not CSV: {error}")) from None


@dataclass
class _Group:
    index: int  # the product's ordinal in the file
    rows: list[_Row]

    @property
    def first_line(self) -> int:
        return self.rows[0].line

    @property
    def product_sku(self) -> str:
        return self.rows[0].cells["product_sku"]


def _groups(rows: Iterator[_Row]) -> Iterator[_Group]:
    """Consecutive rows of one product SKU, together."""
    group: _Group | None = None
    index = 0
    for row in rows:
        sku = row.cells["product_sku"]
        if group is not None and sku and sku == group.product_sku:
            group.rows.append(row)
            continue
        if group is not None:
            yield group
        group = _Group(index, [row])
        index += 1
    if group is not None:
        yield group


# ---------------------------------------------------------------- one product's rows


class _Cells:
    """Reads one row's cells, collecting an error per bad cell instead of stopping."""

    def __init__(self, row: _Row, errors: list[RowError]) -> None:
        self.row = row
        self.errors = errors

    def fail(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.row.line, column, message))

    def text(self, column: str, limit: int, *, lines: bool = False, required: bool = False) -> str:
        try:
            return admin.checked_text(
                column, self.row.cells[column], limit, lines=lines, required=required
            )
        except InvalidInput as error:
            self.fail(column, error.message)
            return ""

    def sku(self, column: str) -> str:
        value = self.row.cells[column]
        if not _SKU.match(value):
            self.fail(column, "1 to 40 letters, digits or punctuation, no spaces")
        return value

    def whole(self, column: str, high: int, *, default: int | None = None) -> int:
        value = self.row.cells[column]
        if not value and default is not None:
            return default
        if value.startswith("-"):
            self.fail(column, "must not be negative")
        elif not _WHOLE.match(value) or int(value) > high:
            self.fail(column, f"a whole number from 0 to {high:,}")
        else:
            return int(value)
        return 0

    def price(self, column: str, *, optional: bool = False) -> int | None:
        value = self.row.cells[column]
        if not value and optional:
            return None
        found = _PRICE.match(value)
        if value.startswith("-"):
            self.fail(column, "must not be negative")
        elif found is None:
            self.fail(column, "a price such as 12.99 (a dot, no currency sign)")
        else:
            cents = int(found.group(1)) * 100 + int((found.group(2) or "0").ljust(2, "0"))
            if cents <= MAX_PRICE_CENTS:
                return cents
            self.fail(column, f"at most {MAX_PRICE_CENTS // 100:,}.00")
        return 0

    def flag(self, column: str) -> bool:
        value = self.row.cells[column].lower()
        if value in _YES or value == "":
            return True
        if value not in _NO:
            self.fail(column, "yes or no")
        return False

    def options(self) -> dict[str, str]:
        value = self.row.cells["options"]
        if not value:
            return {}
        try:
            parsed = json.loads(value)
            if not isinstance(parsed, dict):
                raise ValueError("not an object")
            return admin.checked_options(parsed)
        except InvalidInput as error:
            self.fail("options", error.message)
        except ValueError:
            self.fail("options", 'a JSON object of texts, such as {"length": "2 m"}')
        return {}


@dataclass(frozen=True)
class _Context:
    currency: str
    categories: Mapping[str, bulk.CategoryFacts]


def _same_product_cells(group: _Group, errors: list[RowError]) -> None:
    first = group.rows[0]
    for row in group.rows[1:]:
        for column in PRODUCT_COLUMNS:
            value = row.cells[column]
            if value and value != first.cells[column]:
                message = f"differs from line {first.line} (leave it empty, or the same)"
                errors.append(RowError(row.line, column, message))


def _variant(row: _Row, errors: list[RowError]) -> VariantDraft:
    cells = _Cells(row, errors)
    sku = cells.sku("variant_sku")
    price = cells.price("price") or 0
    was_price = cells.price("was_price", optional=True)
    if was_price is not None and was_price <= price:
        cells.fail("was_price", "must be above the price (or empty)")
    return VariantDraft(
        sku=sku,
        price_cents=price,
        stock=cells.whole("stock", MAX_STOCK),
        label=cells.text("label", admin.MAX_LABEL),
        options=cells.options(),
        was_price_cents=was_price,
        weight_grams=cells.whole("weight_grams", admin.MAX_WEIGHT_GRAMS, default=0),
    )


def _draft(
    group: _Group, context: _Context, errors: list[RowError]
) -> tuple[ProductDraft | None, list[RowError]]:
    """The group's product, or None and the errors of its rows (``errors``: those found
    already, such as a repeated SKU; the rules across variants are checked without any)."""
    cells = _Cells(group.rows[0], errors)
    sku = cells.sku("product_sku")
    category = group.rows[0].cells["category"]
    if category not in context.categories:
        cells.fail("category", f"no category {category[:80]!r}")
    currency = group.rows[0].cells["currency"].upper()
    if currency != context.currency:
        cells.fail("currency", f"the shop sells in {context.currency}")
    draft = ProductDraft(
        sku=sku,
        slug="",
        name=cells.text("name", admin.MAX_NAME, required=True),
        category_slug=category,
        variants=[_variant(row, errors) for row in group.rows],
        currency=currency,
        description=cells.text("description", admin.MAX_DESCRIPTION, lines=True),
        brand=cells.text("brand", admin.MAX_BRAND),
        warranty_months=cells.whole("warranty_months", admin.MAX_WARRANTY_MONTHS, default=12),
        warranty_terms=cells.text("warranty_terms", admin.MAX_WARRANTY_TERMS, lines=True),
        active=cells.flag("active"),
    )
    _same_product_cells(group, errors)
    if len(group.rows) > admin.MAX_VARIANTS:
        message = f"at most {admin.MAX_VARIANTS} variants (rows) for one product"
        errors.append(RowError(group.first_line, "variant_sku", message))
    if errors:
        return None, errors
    try:
        # Each cell was checked as it was read (admin's checks); what is left are the
        # rules across the variants (the one-variant SKU rule, repeated SKUs).
        service._validate_draft(draft)
    except InvalidInput as error:
        column = _COLUMN_OF.get(error.field, error.field)
        return None, [RowError(group.first_line, column, error.message)]
    return draft, []


# ---------------------------------------------------------------- importing


class _Seen:
    """The SKUs read so far and their lines: repeats are errors."""

    def __init__(self) -> None:
        self.products: dict[str, int] = {}
        self.variants: dict[str, int] = {}

    def check(self, group: _Group) -> list[RowError]:
        errors = []
        sku = group.product_sku
        if sku in self.products:
            errors.append(
                RowError(
                    group.first_line,
                    "product_sku",
                    f"{sku[:40]} came before, on line {self.products[sku]}: a product's "
                    "rows follow each other",
                )
            )
        elif sku:
            self.products[sku] = group.first_line
        for row in group.rows:
            variant = row.cells["variant_sku"]
            if variant in self.variants:
                message = f"{variant[:40]} is already on line {self.variants[variant]}"
                errors.append(RowError(row.line, "variant_sku", message))
            elif variant:
                self.variants[variant] = row.line
        return errors


@dataclass
class _Batch:
    drafts: list[ProductDraft] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # variant SKU -> its line


def import_catalog(
    session: Session,
    stream: IO[bytes],
    *,
    currency: str,
    now: datetime,
    skip_bad: bool = False,
    dry_run: bool = False,
    size: int = 0,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a catalog file in the caller's transaction: create or update each product
    (by SKU) with exactly the variants its rows list; products the file does not name
    stay as they are.

    Raises CatalogFileRefused (the caller's transaction must then be rolled back, which
    undoes every batch already written) when the file is unreadable, or has a bad row and
    ``skip_bad`` is false. ``dry_run``: everything is checked and counted as if imported,
    inside a savepoint that is rolled back. ``size`` is the stream's length in bytes, for
    ``progress`` (called after each batch with bytes read so far)."""
    report = ImportReport(dry_run=dry_run)
    context = _Context(currency.upper(), bulk.category_index(session))
    savepoint = session.begin_nested() if dry_run else None
    try:
        _read_and_write(session, stream, context, report, now, skip_bad, (size, progress))
    finally:
        if savepoint is not None:
            savepoint.rollback()
    if report.unreadable or (report.error_count and not skip_bad):
        report.imported = False
        if not dry_run:
            raise CatalogFileRefused(report)
        return report
    report.imported = not dry_run
    return report


def _read_and_write(
    session: Session,
    stream: IO[bytes],
    context: _Context,
    report: ImportReport,
    now: datetime,
    skip_bad: bool,
    progress: tuple[int, Progress | None],
) -> None:
    seen = _Seen()
    batch = _Batch()
    size, callback = progress
    writing = True  # until the first error (without skip_bad): then only checking
    try:
        for group in _groups(_rows(stream, report)):
            report.products += 1
            draft, errors = _draft(group, context, seen.check(group))
            if errors or draft is None:
                for error in errors:
                    report.add_error(error)
                report.skipped += 1
                writing = writing and skip_bad
                continue
            batch.drafts.append(draft)
            lines = zip(draft.variants, group.rows, strict=True)
            batch.lines.update({variant.sku: row.line for variant, row in lines})
            if len(batch.drafts) >= BATCH_PRODUCTS:
                writing = _flush(session, batch, context, report, now, writing, skip_bad)
                if callback is not None:
                    callback(_position(stream), size)
        _flush(session, batch, context, report, now, writing, skip_bad)
    except _Unreadable as unreadable:
        report.unreadable = True
        report.add_error(unreadable.error)
    if callback is not None:
        callback(size, size)
    if not skip_bad and report.error_count:
        report.skipped = 0  # nothing is imported: nothing was left out


def _position(stream: IO[bytes]) -> int:
    try:
        return stream.tell()
    except (OSError, ValueError):
        return 0


def _flush(
    session: Session,
    batch: _Batch,
    context: _Context,
    report: ImportReport,
    now: datetime,
    writing: bool,
    skip_bad: bool,
) -> bool:
    """Check the batch against the database, and write its good products while writing;
    whether writing goes on."""
    if not batch.drafts:
        return writing
    bad = _taken_elsewhere(session, batch, report)
    writing = writing and (skip_bad or not bad)
    good = [draft for draft in batch.drafts if draft.sku not in bad]
    report.skipped += len(batch.drafts) - len(good)
    if writing:
        counts = bulk.upsert_products(
            session, good, now, categories=context.categories, checked=True
        )
        report.created += counts.created
        report.updated += counts.updated
        report.unchanged += counts.unchanged
    batch.drafts.clear()
    batch.lines.clear()
    return writing


def _taken_elsewhere(session: Session, batch: _Batch, report: ImportReport) -> set[str]:
    """The batch's products with a variant SKU that another product holds (reported)."""
    product_of = {v.sku: d.sku for d in batch.drafts for v in d.variants}
    bad: set[str] = set()
    for variant_sku, owner in bulk.variant_owners(session, list(product_of)).items():
        if owner != product_of[variant_sku]:
            message = f"{variant_sku} belongs to product {owner}"
            report.add_error(RowError(batch.lines[variant_sku], "variant_sku", message))
            bad.add(product_of[variant_sku])
    return bad


# ---------------------------------------------------------------- exporting


def safe_cell(value: str) -> str:
    """A text cell no spreadsheet runs as a formula (OWASP "CSV injection")."""
    return TEXT_MARK + value if value.startswith((*FORMULA_STARTS, TEXT_MARK)) else value


def _money(cents: int | None) -> str:
    return "" if cents is None else f"{cents // 100}.{cents % 100:02d}"


def product_count(session: Session) -> int:
    return admin.find_products(session, page_size=1).total


def export_catalog(
    session: Session, out: IO[str], *, progress: Progress | None = None, page: int = 500
) -> int:
    """Write the whole catalog (withdrawn products too) to ``out`` in SKU order, one row
    per variant; returns the number of products written. Reads ``page`` products at a
    time, so the catalog is never in memory at once."""
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    total = product_count(session)
    written = 0
    after = ""
    while True:
        products = _product_page(session, after, page)
        if not products:
            break
        variants = _variants_of(session, [row.id for row in products])
        for product in products:
            for variant in variants.get(product.id, []):
                writer.writerow(_export_row(product, variant))
        written += len(products)
        after = products[-1].sku
        if progress is not None:
            progress(written, max(total, written))
    return written


SPOOL_IN_MEMORY = 4 * 1024 * 1024  # an export larger than this waits on disk


def export_to_temporary_file(session: Session) -> IO[bytes]:
    """The whole export as UTF-8 bytes in a temporary file (in memory up to 4 MiB, then
    on disk), read from its start; the caller closes it, which deletes it."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, mode="w+b")  # noqa: SIM115
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    try:
        export_catalog(session, text)
        text.flush()
        text.detach()
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _product_page(session: Session, after: str, size: int) -> Sequence[Any]:
    return session.execute(
        select(
            Product.id, Product.sku, Product.name, Product.brand, Category.slug.label("category"),
            Product.description, Product.warranty_months, Product.warranty_terms,
            Product.active, Product.currency,
        )
        .join(Category, Category.id == Product.category_id)
        .where(Product.sku > after)
        .order_by(Product.sku)
        .limit(size)
    ).all()  # fmt: skip


def _variants_of(session: Session, product_ids: list[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    rows = session.execute(
        select(
            ProductVariant.product_id, ProductVariant.sku, ProductVariant.label,
            ProductVariant.options, ProductVariant.price_cents, ProductVariant.was_price_cents,
            ProductVariant.stock, ProductVariant.weight_grams,
        )
        .where(ProductVariant.product_id.in_(product_ids))
        .order_by(ProductVariant.product_id, ProductVariant.position, ProductVariant.id)
    )  # fmt: skip
    for row in rows:
        found.setdefault(row.product_id, []).append(row)
    return found


def _export_row(product: Any, variant: Any) -> list[str]:
    options = json.dumps(variant.options or {}, ensure_ascii=False) if variant.options else ""
    cells = {
        "product_sku": product.sku,
        "name": product.name,
        "brand": product.brand,
        "category": product.category,
        "description": product.description,
        "warranty_months": str(product.warranty_months),
        "warranty_terms": product.warranty_terms,
        "active": "yes" if product.active else "no",
        "currency": product.currency,
        "variant_sku": variant.sku,
        "label": variant.label,
        "options": options,
        "price": _money(variant.price_cents),
        "was_price": _money(variant.was_price_cents),
        "stock": str(variant.stock),
        "weight_grams": str(variant.weight_grams),
    }
    return [safe_cell(cells[column]) for column in COLUMNS]
