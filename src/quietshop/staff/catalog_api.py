"""The back office's catalog API under /api/v1/staff/catalog: products, variants, prices,
stock, categories, pictures, and the catalog file (CSV import and export).

Every route goes through ``staff_session`` with the roles the need-to-know table grants the
catalog action it takes (``ACTION_ROLES``), so a role without it gets 403 and an audit
``denied`` entry. Catalog data is no one's personal data: reads are not audited, and the
policy gate does not apply. Each change is an audit ``change`` entry in the change's own
transaction (subject ``product:<sku>`` or ``category:<slug>``, no customer); an import is
one entry for the file. The rules live in the catalog (``catalog.service.admin``,
``.csv_io``, ``.images``); these routes parse, call one of them, and answer.

A picture and a catalog file come as the raw request body (``image/png``, ``text/csv``,
...): the route checks the sign-in and the role first, then reads the body up to its
setting's size (``catalog_image_max_bytes``, ``catalog_import_max_bytes``) and refuses
more with 413 as it streams in. A SKU in a path may hold a slash, so it ends the path.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from quietshop.audit import service as audit
from quietshop.catalog import service as catalog
from quietshop.errors import QuietshopError
from quietshop.staff.access import declares
from quietshop.staff.auth import staff_session
from quietshop.staff.need_to_know import ACTION_ROLES, Action, acting_role
from quietshop.staff.sessions import SignedInStaff
from quietshop.web.dependencies import now, settings
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

admin = catalog.admin
PREFIX = "/api/v1/staff/catalog"
IMPORT_PATH = f"{PREFIX}/import"
IMAGES_PATH = f"{PREFIX}/images"
router = APIRouter(prefix=PREFIX, tags=["staff"], route_class=SignedInRoute)

# The body limits here are ceilings; the settings (at most these) refuse earlier.
SITE = DomainSite(
    routers=(router,),
    body_limits={IMPORT_PATH: 256 * 1024 * 1024, IMAGES_PATH: 32 * 1024 * 1024},
)

FORBIDDEN: Responses = {403: {"description": "forbidden: your roles do not allow this"}}
SKU_PATTERN = r"^[!-~]+$"
Sku = Annotated[str, Path(min_length=1, max_length=40, pattern=SKU_PATTERN)]
CategorySlug = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[a-z0-9-]+$")]
SkuText = Annotated[str, Field(min_length=1, max_length=40, pattern=SKU_PATTERN)]
Cents = Annotated[int, Field(ge=0, le=catalog.MAX_PRICE_CENTS)]
Stock = Annotated[int, Field(ge=0, le=catalog.MAX_STOCK)]
Grams = Annotated[int, Field(ge=0, le=admin.MAX_WEIGHT_GRAMS)]
Months = Annotated[int, Field(ge=0, le=admin.MAX_WARRANTY_MONTHS)]
Options = Annotated[
    dict[
        Annotated[str, Field(min_length=1, max_length=admin.MAX_OPTION_KEY)],
        Annotated[str, Field(min_length=1, max_length=admin.MAX_OPTION_VALUE)],
    ],
    Field(max_length=admin.MAX_OPTIONS),
]


# ---------------------------------------------------------------- bodies


class Strict(BaseModel):
    """Unknown fields and wrong JSON types are refused with a 400 naming the field."""

    model_config = ConfigDict(extra="forbid", strict=True)


class VariantIn(Strict):
    sku: SkuText
    label: str = Field("", max_length=admin.MAX_LABEL)
    options: Options = Field(default_factory=dict)
    price_cents: Cents
    was_price_cents: Cents | None = Field(None, description="Above the price, or null")
    stock: Stock = 0
    weight_grams: Grams = 0

    def draft(self) -> catalog.VariantDraft:
        return catalog.VariantDraft(
            sku=self.sku,
            price_cents=self.price_cents,
            stock=self.stock,
            label=self.label,
            options=dict(self.options),
            was_price_cents=self.was_price_cents,
            weight_grams=self.weight_grams,
        )


class NewVariantIn(VariantIn):
    product_sku: SkuText


class ProductIn(Strict):
    sku: SkuText
    name: str = Field(min_length=1, max_length=admin.MAX_NAME)
    category_slug: str = Field(min_length=1, max_length=admin.MAX_CATEGORY_SLUG)
    brand: str = Field("", max_length=admin.MAX_BRAND)
    description: str = Field("", max_length=admin.MAX_DESCRIPTION)
    warranty_months: Months = 12
    warranty_terms: str = Field("", max_length=admin.MAX_WARRANTY_TERMS)
    active: bool = True
    variants: list[VariantIn] = Field(min_length=1, max_length=admin.MAX_VARIANTS)


class ProductPatchIn(Strict):
    """The fields to change; a field left out stays as it is."""

    name: str | None = Field(None, min_length=1, max_length=admin.MAX_NAME)
    brand: str | None = Field(None, max_length=admin.MAX_BRAND)
    description: str | None = Field(None, max_length=admin.MAX_DESCRIPTION)
    category_slug: str | None = Field(None, min_length=1, max_length=admin.MAX_CATEGORY_SLUG)
    warranty_months: Months | None = None
    warranty_terms: str | None = Field(None, max_length=admin.MAX_WARRANTY_TERMS)
    active: bool | None = None
    image_alt: str | None = Field(None, max_length=admin.MAX_IMAGE_ALT)


class VariantPatchIn(Strict):
    """The fields to change; a field left out stays as it is (``was_price_cents`` null
    removes the was-price)."""

    label: str | None = Field(None, max_length=admin.MAX_LABEL)
    options: Options | None = None
    price_cents: Cents | None = None
    was_price_cents: Cents | None = None
    stock: Stock | None = None
    weight_grams: Grams | None = None

    def changes(self) -> catalog.admin.VariantChanges:
        was: int | catalog.admin.Unset | None = (
            self.was_price_cents if "was_price_cents" in self.model_fields_set else admin.UNSET
        )
        return admin.VariantChanges(
            label=self.label,
            options=self.options,
            price_cents=self.price_cents,
            was_price_cents=was,
            stock=self.stock,
            weight_grams=self.weight_grams,
        )


class CategoryIn(Strict):
    slug: str = Field(min_length=1, max_length=admin.MAX_CATEGORY_SLUG)
    name: str = Field(min_length=1, max_length=admin.MAX_CATEGORY_NAME)
    parent_slug: str | None = Field(None, min_length=1, max_length=admin.MAX_CATEGORY_SLUG)
    description: str = Field("", max_length=admin.MAX_CATEGORY_DESCRIPTION)
    position: int = Field(0, ge=0, le=admin.MAX_POSITION)


class CategoryPatchIn(Strict):
    """The fields to change; ``parent_slug`` null moves it to the top level."""

    name: str | None = Field(None, min_length=1, max_length=admin.MAX_CATEGORY_NAME)
    description: str | None = Field(None, max_length=admin.MAX_CATEGORY_DESCRIPTION)
    position: int | None = Field(None, ge=0, le=admin.MAX_POSITION)
    parent_slug: str | None = Field(None, min_length=1, max_length=admin.MAX_CATEGORY_SLUG)


# ---------------------------------------------------------------- answers


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProductRowOut(Out):
    sku: str
    name: str
    category_slug: str
    price_cents: int
    currency: str
    stock: int
    variant_count: int
    active: bool
    image_url: str | None


class ProductRowsOut(Out):
    items: list[ProductRowOut]
    total: int
    page: int
    page_size: int


class EditableVariantOut(Out):
    sku: str
    label: str
    options: dict[str, Any]
    price_cents: int
    was_price_cents: int | None
    stock: int
    weight_grams: int
    position: int


class ProductOut(Out):
    sku: str
    slug: str
    name: str
    brand: str
    category_slug: str
    description: str
    warranty_months: int
    warranty_terms: str
    currency: str
    price_cents: int
    was_price_cents: int | None
    stock: int
    active: bool
    image_url: str | None
    image_alt: str
    variants: list[EditableVariantOut]


class CategoryRowOut(Out):
    slug: str
    name: str
    description: str
    parent_slug: str | None
    position: int
    product_count: int


class RowErrorOut(Out):
    line: int
    column: str
    message: str


class ImportReportOut(Out):
    rows: int
    products: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    error_count: int
    errors: list[RowErrorOut]
    imported: bool
    dry_run: bool
    unreadable: bool


class BodyTooLarge(QuietshopError):
    status_code = 413
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes; nothing was changed.")


# ---------------------------------------------------------------- helpers


def _audit_change(
    session: Session,
    request: Request,
    staff: SignedInStaff,
    action: Action,
    edited: catalog.admin.Edited,
    why: str,
) -> None:
    """The change's audit entry, in its transaction (nothing changed: no entry)."""
    if not edited.changed:
        return
    event = audit.AuditEvent(
        action="change",
        staff_id=staff.id,
        role=acting_role(staff.roles, action).value,
        subject=edited.subject[: audit.MAX_SUBJECT],
        customer_id=None,
        fields=tuple(edited.fields[: audit.MAX_NAMES]),
        reason=why[: audit.MAX_REASON],
        origin=staff.origin[: audit.MAX_ORIGIN],
    )
    audit.append(session, event, now(request))


def _product_out(session: Session, sku: str) -> ProductOut:
    return ProductOut.model_validate(admin.product_for_editing(session, sku))


def _may(request: Request, action: Action) -> None:
    """The sign-in and the role, before a large body is read (403 is audited there)."""
    with staff_session(request, need=ACTION_ROLES[action]):
        pass


async def _spooled_body(request: Request, limit: int) -> IO[bytes]:
    """The body in a temporary file (memory, then disk), read from its start; 413 past
    ``limit`` bytes, as declared or as it streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    spool = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+b")  # noqa: SIM115
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(64 * 1024):
            yield chunk
    finally:
        file.close()


# ---------------------------------------------------------------- products


@router.get(
    "/products",
    response_model=ProductRowsOut,
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_PRODUCTS),
)
def list_products(
    request: Request,
    q: Annotated[str, Query(max_length=admin.MAX_FIND_CHARS)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=admin.MAX_EDITOR_PAGE)] = 50,
) -> ProductRowsOut:
    """Products to edit, withdrawn ones too, in SKU order: those whose SKU, a variant's
    SKU or name holds ``q``."""
    with staff_session(request, need=ACTION_ROLES[Action.EDIT_PRODUCTS]) as (session, _):
        found = admin.find_products(session, q, page, page_size)
    return ProductRowsOut.model_validate(found)


@router.get(
    "/products/{sku:path}",
    response_model=ProductOut,
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_PRODUCTS),
)
def get_product(request: Request, sku: Sku) -> ProductOut:
    with staff_session(request, need=ACTION_ROLES[Action.EDIT_PRODUCTS]) as (session, _):
        return _product_out(session, sku)


@router.post(
    "/products",
    status_code=201,
    response_model=ProductOut,
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_PRODUCTS),
)
def create_product(request: Request, body: ProductIn) -> ProductOut:
    """A new product with its variants, in the shop's currency (a one-variant product has
    that variant's SKU)."""
    action = Action.EDIT_PRODUCTS
    draft = catalog.ProductDraft(
        sku=body.sku,
        slug="",
        name=body.name,
        category_slug=body.category_slug,
        variants=[variant.draft() for variant in body.variants],
        currency=settings(request).currency,
        description=body.description,
        brand=body.brand,
        warranty_months=body.warranty_months,
        warranty_terms=body.warranty_terms,
        active=body.active,
    )
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        edited = admin.create_product(session, draft, now(request))
        _audit_change(session, request, staff, action, edited, "created the product")
        return _product_out(session, body.sku)


@router.patch(
    "/products/{sku:path}",
    response_model=ProductOut,
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_PRODUCTS),
)
def update_product(request: Request, sku: Sku, body: ProductPatchIn) -> ProductOut:
    action = Action.EDIT_PRODUCTS
    changes = admin.ProductChanges(**body.model_dump(exclude_unset=True))
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        edited = admin.update_product(session, sku, changes)
        _audit_change(session, request, staff, action, edited, "edited the product")
        return _product_out(session, sku)


# ---------------------------------------------------------------- variants


@router.post(
    "/variants",
    status_code=201,
    response_model=ProductOut,
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_PRODUCTS),
)
def add_variant(request: Request, body: NewVariantIn) -> ProductOut:
    """A new variant at the end of a product's list."""
    action = Action.EDIT_PRODUCTS
    draft = body.draft()
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        edited = admin.add_variant(session, body.product_sku, draft)
        _audit_change(session, request, staff, action, edited, f"added variant {body.sku}")
        return _product_out(session, body.product_sku)


@router.patch(
    "/variants/{sku:path}",
    response_model=ProductOut,
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_PRODUCTS),
)
def update_variant(request: Request, sku: Sku, body: VariantPatchIn) -> ProductOut:
    """Price, was-price, stock, weight, label or options of one variant."""
    action = Action.EDIT_PRODUCTS
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        edited = admin.update_variant(session, sku, body.changes())
        _audit_change(session, request, staff, action, edited, f"edited variant {sku}")
        return _product_out(session, edited.product_sku)


class StockIn(Strict):
    stock: Stock


@router.put(
    "/stock/{sku:path}",
    response_model=ProductOut,
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_STOCK),
)
def set_stock(request: Request, sku: Sku, body: StockIn) -> ProductOut:
    """One variant's stock: counted on the shelf, or a delivery come in."""
    action = Action.EDIT_STOCK
    changes = admin.VariantChanges(stock=body.stock)
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        edited = admin.update_variant(session, sku, changes)
        _audit_change(session, request, staff, action, edited, f"counted variant {sku}")
        return _product_out(session, edited.product_sku)


# ---------------------------------------------------------------- categories


def _categories(rows: Iterable[Any]) -> list[CategoryRowOut]:
    return [CategoryRowOut.model_validate(row) for row in rows]


@router.get(
    "/categories",
    response_model=list[CategoryRowOut],
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_CATEGORIES),
)
def list_categories(request: Request) -> list[CategoryRowOut]:
    """Every category, parents before their children, with its own product count."""
    with staff_session(request, need=ACTION_ROLES[Action.EDIT_CATEGORIES]) as (session, _):
        return _categories(admin.categories_for_editing(session))


@router.post(
    "/categories",
    status_code=201,
    response_model=list[CategoryRowOut],
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_CATEGORIES),
)
def create_category(request: Request, body: CategoryIn) -> list[CategoryRowOut]:
    action = Action.EDIT_CATEGORIES
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        edited = admin.create_category(
            session, body.slug, body.name, body.parent_slug, body.description, body.position
        )
        _audit_change(session, request, staff, action, edited, "created the category")
        return _categories(admin.categories_for_editing(session))


@router.patch(
    "/categories/{slug}",
    response_model=list[CategoryRowOut],
    responses=FORBIDDEN,
    openapi_extra=declares(Action.EDIT_CATEGORIES),
)
def update_category(
    request: Request, slug: CategorySlug, body: CategoryPatchIn
) -> list[CategoryRowOut]:
    """Rename, describe, reorder or move a category (never under itself or its own)."""
    action = Action.EDIT_CATEGORIES
    given = body.model_dump(exclude_unset=True)
    changes = admin.CategoryChanges(
        name=body.name,
        description=body.description,
        position=body.position,
        parent_slug=given.get("parent_slug", admin.UNSET),
    )
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        edited = admin.update_category(session, slug, changes)
        _audit_change(session, request, staff, action, edited, "edited the category")
        return _categories(admin.categories_for_editing(session))


# ---------------------------------------------------------------- pictures

IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The picture's bytes: PNG, JPEG or WebP (never SVG)",
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}}
            for kind in ("image/png", "image/jpeg", "image/webp")
        },
    }
}


def _store_image(request: Request, sku: str, data: bytes) -> ProductOut:
    action = Action.EDIT_IMAGES
    config = settings(request)
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        stored = catalog.images.save_product_image(
            session, config.images_dir, sku, data, config.catalog_image_max_bytes
        )
        _audit_change(session, request, staff, action, stored.edited, "uploaded a picture")
        return _product_out(session, sku)


@router.post(
    "/images/{sku:path}",
    response_model=ProductOut,
    openapi_extra={**IMAGE_BODY, **declares(Action.EDIT_IMAGES)},
    responses={
        **FORBIDDEN,
        413: {"description": "image_too_large"},
        415: {"description": "unsupported_image: not PNG, JPEG or WebP"},
        422: {"description": "image_refused: damaged, or too many pixels"},
    },
)
async def upload_image(request: Request, sku: Sku) -> ProductOut:
    """The product's picture, from the raw body; stored re-encoded as WebP, without any
    metadata (EXIF, GPS, XMP, ICC)."""
    await run_in_threadpool(_may, request, Action.EDIT_IMAGES)
    limit = settings(request).catalog_image_max_bytes
    spool = await _spooled_body(request, limit)
    try:
        data = spool.read()  # at most the limit: the spool stops there
    finally:
        spool.close()
    return await run_in_threadpool(_store_image, request, sku, data)


# ---------------------------------------------------------------- the catalog file

CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "A catalog file (docs/catalog-csv.md): UTF-8 CSV, one row per variant",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def _import(
    request: Request, file: IO[bytes], dry_run: bool, skip_bad: bool
) -> catalog.csv_io.ImportReport:
    action = Action.IMPORT_CATALOG
    config = settings(request)
    with staff_session(request, need=ACTION_ROLES[action], write=True) as (session, staff):
        report = catalog.csv_io.import_catalog(
            session,
            file,
            currency=config.currency,
            now=now(request),
            skip_bad=skip_bad,
            dry_run=dry_run,
        )
        if report.imported:
            why = (
                f"imported a catalog file: {report.created} created, {report.updated} "
                f"updated, {report.unchanged} unchanged, {report.skipped} skipped"
            )
            edited = admin.Edited("catalog:import", ("products.*", "product_variants.*"))
            _audit_change(session, request, staff, action, edited, why)
    return report


@router.post(
    "/import",
    response_model=ImportReportOut,
    openapi_extra={**CSV_BODY, **declares(Action.IMPORT_CATALOG)},
    responses={
        **FORBIDDEN,
        413: {"description": "payload_too_large: over catalog_import_max_bytes"},
        422: {"description": "catalog_file_refused: nothing imported; `report` lists each error"},
    },
)
async def import_file(
    request: Request,
    dry_run: Annotated[bool, Query(description="Check and count only; change nothing")] = False,
    skip_bad: Annotated[bool, Query(description="Import the good products, skip bad")] = False,
) -> ImportReportOut:
    """Create or update products from a catalog file (the raw body). A file with errors
    imports nothing (422 with the report) unless ``skip_bad``; a dry run answers the
    report and changes nothing."""
    await run_in_threadpool(_may, request, Action.IMPORT_CATALOG)
    spool = await _spooled_body(request, settings(request).catalog_import_max_bytes)
    try:
        report = await run_in_threadpool(_import, request, spool, dry_run, skip_bad)
    finally:
        spool.close()
    return ImportReportOut.model_validate(report)


@router.get(
    "/export",
    response_class=StreamingResponse,
    openapi_extra=declares(Action.EXPORT_CATALOG),
    responses={**FORBIDDEN, 200: {"content": {"text/csv": {}}, "description": "The file"}},
)
def export_file(request: Request) -> Response:
    """The whole catalog as a catalog file, withdrawn products too."""
    with staff_session(request, need=ACTION_ROLES[Action.EXPORT_CATALOG]) as (session, _):
        file = catalog.csv_io.export_to_temporary_file(session)
    return StreamingResponse(
        _chunks(file),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="catalog.csv"'},
    )
