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

import csv
import io
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.catalog import admin, bulk
from quietshop.catalog.csv_rows import (
    COLUMNS,
    TEXT_MARK,
    Context,
    ImportReport,
    RowError,
    SeenSkus,
    Unreadable,
    product_draft,
    read_groups,
    read_rows,
)
from quietshop.catalog.models import Category, Product, ProductVariant
from quietshop.catalog.service import ProductDraft
from quietshop.errors import QuietshopError

__all__ = [
    "COLUMNS",
    "CatalogFileRefused",
    "ImportReport",
    "RowError",
    "export_catalog",
    "export_to_temporary_file",
    "import_catalog",
    "safe_cell",
]

BATCH_PRODUCTS = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int], None]  # (done, total): bytes read, or products written


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


# ---------------------------------------------------------------- importing


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
    context = Context(currency.upper(), bulk.category_index(session))
    savepoint = session.begin_nested() if dry_run else None
    try:
        with bulk.bulk_write_settings(session):
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
    context: Context,
    report: ImportReport,
    now: datetime,
    skip_bad: bool,
    progress: tuple[int, Progress | None],
) -> None:
    seen = SeenSkus()
    batch = _Batch()
    size, callback = progress
    writing = True  # until the first error (without skip_bad): then only checking
    try:
        for group in read_groups(read_rows(stream, report)):
            report.products += 1
            draft, errors = product_draft(group, context, seen.check(group))
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
    except Unreadable as unreadable:
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
    context: Context,
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
