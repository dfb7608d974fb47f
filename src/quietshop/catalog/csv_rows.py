"""A catalog file read as a stream of rows: decoded line by line, parsed as CSV, each cell
checked, a product's rows grouped, and each group made into a ``ProductDraft`` or the
list of what is wrong with it, by line and column (csv_io.py writes the drafts).

The checks are admin.py's for a single edit, run on text. They are written for the usual
row, which has nothing wrong with it: a row's cells are kept as one tuple in the file's
column order (``RowCells``), the cells common to a product's rows are compared in one
go, and an options text ({"colour": "Black"}) is parsed once per import however many rows
repeat it (``OptionTexts``). Every bad cell still gets its own error.
"""

from __future__ import annotations

import codecs
import csv
import json
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, Any, NamedTuple

from quietshop.catalog import admin, bulk, service
from quietshop.catalog.service import MAX_PRICE_CENTS, MAX_STOCK, ProductDraft, VariantDraft
from quietshop.errors import InvalidInput

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
TEXT_MARK = "'"

_PRICE = re.compile(r"^(\d{1,7})(?:\.(\d{1,2}))?$")
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


class Unreadable(Exception):
    """The file cannot be read on: nothing of it is imported."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


# ---------------------------------------------------------------- reading rows


class RowCells(NamedTuple):
    """One row's cells in ``COLUMNS`` order, as written (``_text_cell``)."""

    product_sku: str
    name: str
    brand: str
    category: str
    description: str
    warranty_months: str
    warranty_terms: str
    active: str
    currency: str
    variant_sku: str
    label: str
    options: str
    price: str
    was_price: str
    stock: str
    weight_grams: str


_PRODUCT_WIDTH = len(PRODUCT_COLUMNS)


class Row(NamedTuple):
    line: int  # where the row starts (a quoted cell may hold line breaks)
    cells: RowCells


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


def _named(names: list[str]) -> str:
    # A spreadsheet's stray trailing comma makes a column without a name: say so.
    return ", ".join(name or "(a column without a name)" for name in names)


def _check_header(header: list[str]) -> list[str]:
    names = [_text_cell(name).lower() for name in header]
    # Counted once: a hostile header of half a million names made a count per name
    # (list.count) take an hour.
    counts = Counter(names)
    missing = [name for name in COLUMNS if name not in counts]
    unknown = sorted(name for name in counts if name not in COLUMNS)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    problems = []
    if missing:
        problems.append("missing " + _named(missing))
    if unknown:
        problems.append("unknown " + _named(unknown[:10]))
    if repeated:
        problems.append("repeated " + _named(repeated[:10]))
    if problems:
        raise Unreadable(
            RowError(1, "header", "; ".join(problems) + f" (the columns: {', '.join(COLUMNS)})")
        )
    return names


def _in_column_order(names: list[str]) -> Callable[[list[str]], Sequence[str]]:
    """What puts a row's cells in ``COLUMNS`` order (the header names each once)."""
    if tuple(names) == COLUMNS:
        return lambda cells: cells
    return operator.itemgetter(*(names.index(name) for name in COLUMNS))


def _text_lines(stream: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, decoded one by one, so that bytes which are not UTF-8
    are reported on their own line (UTF-8 never holds a newline byte inside a character);
    a line longer than any row could be ends the reading instead of filling memory."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise Unreadable(
                RowError(number, "row", f"a line longer than {MAX_LINE_BYTES:,} bytes")
            )
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]  # as spreadsheets write "CSV UTF-8"
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            message = "not UTF-8 text: save the file as CSV UTF-8"
            raise Unreadable(RowError(number, "encoding", message)) from None


def read_rows(stream: IO[bytes], report: ImportReport) -> Iterator[Row]:
    """The file's rows with their first line number; a row whose cells do not match the
    header is reported and left out. Raises Unreadable where reading cannot go on."""
    reader = csv.reader(_text_lines(stream), strict=True)
    line = 1
    strip = str.strip
    try:
        header = next(reader, None)
        if header is None:
            raise Unreadable(RowError(1, "header", "the file is empty"))
        names = _check_header(header)
        in_order = _in_column_order(names)
        line = reader.line_num + 1
        for record in reader:
            cells = list(map(strip, record))  # map: no Python frame per cell
            if any(cells):  # a blank line is no row
                report.rows += 1
                if report.rows > MAX_ROWS:
                    raise Unreadable(
                        RowError(line, "file", f"more than {MAX_ROWS:,} rows: split the file")
                    )
                if len(cells) != len(names):
                    message = f"{len(cells)} cells where the header has {len(names)}"
                    report.add_error(RowError(line, "row", message))
                else:
                    yield Row(line, RowCells._make(in_order(_unmarked(cells))))
            line = reader.line_num + 1
    except csv.Error as error:
        raise Unreadable(RowError(line, "row", f"not CSV: {error}")) from None


@dataclass
class Group:
    """Consecutive rows of one product SKU: one product."""

    index: int  # the product's ordinal in the file
    rows: list[Row]

    @property
    def first_line(self) -> int:
        return self.rows[0].line

    @property
    def product_sku(self) -> str:
        return self.rows[0].cells.product_sku


def read_groups(rows: Iterator[Row]) -> Iterator[Group]:
    """Consecutive rows of one product SKU, together."""
    group: Group | None = None
    index = 0
    for row in rows:
        sku = row.cells.product_sku
        if group is not None and sku and sku == group.product_sku:
            group.rows.append(row)
            continue
        if group is not None:
            yield group
        group = Group(index, [row])
        index += 1
    if group is not None:
        yield group


# ---------------------------------------------------------------- one product's rows


class _Check:
    """Reads one row's cells, collecting an error per bad cell instead of stopping: each
    method returns the cell's value, or a stand-in after recording what is wrong."""

    def __init__(self, line: int, errors: list[RowError]) -> None:
        self.line = line
        self.errors = errors

    def fail(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.line, column, message))

    def text(
        self, column: str, value: str, limit: int, *, lines: bool = False, required: bool = False
    ) -> str:
        try:
            return admin.checked_text(column, value, limit, lines=lines, required=required)
        except InvalidInput as error:
            self.fail(column, error.message)
            return ""

    def sku(self, column: str, value: str) -> str:
        if not _SKU.match(value):
            self.fail(column, "1 to 40 letters, digits or punctuation, no spaces")
        return value

    def whole(self, column: str, value: str, high: int, *, default: int | None = None) -> int:
        # isdecimal: the digits re's \d takes (Unicode's Nd), as int() reads them.
        if value.isdecimal() and len(value) <= 10:
            if (number := int(value)) <= high:
                return number
        elif not value and default is not None:
            return default
        if value.startswith("-"):
            self.fail(column, "must not be negative")
        else:
            self.fail(column, f"a whole number from 0 to {high:,}")
        return 0

    def price(self, column: str, value: str) -> int:
        found = _PRICE.match(value)
        if found is not None:
            units, cents = found.groups()
            total = int(units) * 100 + (int(cents.ljust(2, "0")) if cents else 0)
            if total <= MAX_PRICE_CENTS:
                return total
            self.fail(column, f"at most {MAX_PRICE_CENTS // 100:,}.00")
        elif value.startswith("-"):
            self.fail(column, "must not be negative")
        else:
            self.fail(column, "a price such as 12.99 (a dot, no currency sign)")
        return 0

    def flag(self, column: str, value: str) -> bool:
        value = value.lower()
        if value in _YES or value == "":
            return True
        if value not in _NO:
            self.fail(column, "yes or no")
        return False

    def options(self, value: str, texts: OptionTexts) -> dict[str, str]:
        if not value:
            return {}
        read = texts.read(value)
        if isinstance(read, str):
            self.fail("options", read)
            return {}
        return read


class OptionTexts:
    """Options cells parsed and checked once each per import: a catalog repeats a few
    texts ({"colour": "Black"}) over thousands of rows, and parsing each row's copy was a
    tenth of an import's time (bench/catalog_import.py). Only short texts are kept, and
    only so many, so a hostile file cannot make this grow."""

    MAX_TEXT = 300  # characters of a kept text (8 short options fit)
    MAX_KEPT = 2_000

    def __init__(self) -> None:
        self._known: dict[str, dict[str, str] | str] = {}

    def read(self, value: str) -> dict[str, str] | str:
        """The options in ``value`` (a copy of its own for each caller), or what is wrong."""
        found = self._known.get(value)
        if found is None:
            found = _parsed_options(value)
            if len(value) <= self.MAX_TEXT and len(self._known) < self.MAX_KEPT:
                self._known[value] = found
        return found if isinstance(found, str) else dict(found)


def _parsed_options(value: str) -> dict[str, str] | str:
    try:
        parsed = json.loads(value)
        if not isinstance(parsed, dict):
            raise ValueError("not an object")
        return admin.checked_options(parsed)
    except InvalidInput as error:
        return error.message
    except (ValueError, RecursionError):  # json's errors too; [[[[... nested too deep
        return 'a JSON object of texts, such as {"length": "2 m"}'


@dataclass(frozen=True)
class Context:
    """What checking a product needs of the shop, read once per import."""

    currency: str
    categories: Mapping[str, bulk.CategoryFacts]
    options: OptionTexts = field(default_factory=OptionTexts)


def _same_product_cells(group: Group, errors: list[RowError]) -> None:
    first = group.rows[0]
    shared = first.cells[:_PRODUCT_WIDTH]
    for row in group.rows[1:]:
        if row.cells[:_PRODUCT_WIDTH] == shared:  # as an export writes them
            continue
        for column, value, before in zip(PRODUCT_COLUMNS, row.cells, shared, strict=False):
            if value and value != before:
                message = f"differs from line {first.line} (leave it empty, or the same)"
                errors.append(RowError(row.line, column, message))


def _variant(row: Row, options: OptionTexts, errors: list[RowError]) -> VariantDraft:
    cells = row.cells
    check = _Check(row.line, errors)
    sku = check.sku("variant_sku", cells.variant_sku)
    price = check.price("price", cells.price)
    was_price = None
    if cells.was_price:
        found = len(errors)
        was_price = check.price("was_price", cells.was_price)
        # Compared only when it is a price: a bad cell gets one error, not a second.
        if len(errors) == found and was_price <= price:
            check.fail("was_price", "must be above the price (or empty)")
    return VariantDraft(
        sku=sku,
        price_cents=price,
        stock=check.whole("stock", cells.stock, MAX_STOCK),
        label=check.text("label", cells.label, admin.MAX_LABEL),
        options=check.options(cells.options, options),
        was_price_cents=was_price,
        weight_grams=check.whole(
            "weight_grams", cells.weight_grams, admin.MAX_WEIGHT_GRAMS, default=0
        ),
    )


def product_draft(
    group: Group, context: Context, errors: list[RowError]
) -> tuple[ProductDraft | None, list[RowError]]:
    """The group's product, or None and the errors of its rows (``errors``: those found
    already, such as a repeated SKU; the rules across variants are checked without any)."""
    first = group.rows[0]
    cells = first.cells
    check = _Check(first.line, errors)
    sku = check.sku("product_sku", cells.product_sku)
    if cells.category not in context.categories:
        check.fail("category", f"no category {cells.category[:80]!r}")
    currency = cells.currency.upper()
    if currency != context.currency:
        check.fail("currency", f"the shop sells in {context.currency}")
    draft = ProductDraft(
        sku=sku,
        slug="",
        name=check.text("name", cells.name, admin.MAX_NAME, required=True),
        category_slug=cells.category,
        variants=[_variant(row, context.options, errors) for row in group.rows],
        currency=currency,
        description=check.text("description", cells.description, admin.MAX_DESCRIPTION, lines=True),
        brand=check.text("brand", cells.brand, admin.MAX_BRAND),
        warranty_months=check.whole(
            "warranty_months", cells.warranty_months, admin.MAX_WARRANTY_MONTHS, default=12
        ),
        warranty_terms=check.text(
            "warranty_terms", cells.warranty_terms, admin.MAX_WARRANTY_TERMS, lines=True
        ),
        active=check.flag("active", cells.active),
    )
    if len(group.rows) > 1:
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


class SeenSkus:
    """The SKUs read so far and their lines: repeats are errors."""

    def __init__(self) -> None:
        self.products: dict[str, int] = {}
        self.variants: dict[str, int] = {}

    def check(self, group: Group) -> list[RowError]:
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
            variant = row.cells.variant_sku
            if variant in self.variants:
                message = f"{variant[:40]} is already on line {self.variants[variant]}"
                errors.append(RowError(row.line, "variant_sku", message))
            elif variant:
                self.variants[variant] = row.line
        return errors
