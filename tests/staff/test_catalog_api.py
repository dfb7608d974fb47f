"""The back office's catalog API (staff/catalog_api.py): the catalog role edits products,
variants, categories and pictures and imports and exports the catalog file; every change
is an audit "change" entry; a role without the catalog actions gets 403 and an audit
"denied" entry; bad input is a 4xx naming the field; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import build_app
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import access
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.roles import Role
from tests.catalog.factories import SmallCatalog, small_catalog
from tests.catalog.test_csv_io import csv_bytes, row
from tests.clock import T0
from tests.staff.conftest import bearer, signed_in
from tests.staff.factories import Staff, audit_entries, make_staff

API = "/api/v1/staff/catalog"
IMAGE_LIMIT = 64 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shop's settings with a small picture limit, to refuse a large one cheaply."""
    return settings.model_copy(update={"catalog_image_max_bytes": IMAGE_LIMIT})


@pytest.fixture
def shop(db: Session) -> SmallCatalog:
    return small_catalog(db)


@pytest.fixture
def cleo(db: Session, settings: Settings, keyring: Keyring) -> Staff:
    """An enrolled catalog clerk."""
    return make_staff(
        db, settings, keyring, roles=frozenset({Role.CATALOG}), name="Cleo Shelf",
        email="cleo@shop.example",
    )  # fmt: skip


@pytest.fixture
def clerk(api: TestClient, cleo: Staff, shop: SmallCatalog) -> dict[str, str]:
    return signed_in(api, cleo, T0)


@pytest.fixture
def billing(api: TestClient, bea: Staff, shop: SmallCatalog) -> dict[str, str]:
    return signed_in(api, bea, T0)


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------- who may


def test_a_billing_clerk_is_refused_and_the_attempt_is_in_the_audit_chain(
    api: TestClient, db: Session, billing: dict[str, str], bea: Staff, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    attempts = [
        api.get(f"{API}/products", headers=billing),
        api.patch(f"{API}/products/{sku}", headers=billing, json={"name": "Mine now"}),
        api.patch(f"{API}/variants/{sku}", headers=billing, json={"stock": 1}),
        api.post(f"{API}/import", headers=billing, content=csv_bytes(row())),
        api.get(f"{API}/export", headers=billing),
    ]
    assert [answer.status_code for answer in attempts] == [403] * 5
    assert {answer.json()["error"] for answer in attempts} == {"forbidden"}
    denied = audit_entries(db, action="denied", staff_id=bea.id)
    assert len(denied) == 5
    assert denied[1].reason == (
        "PATCH /api/v1/staff/catalog/products/{sku:path} needs catalog; holds billing"
    )
    assert audit_entries(db, action="change") == []


def test_no_token_or_a_customer_token_is_401_before_anything(
    api: TestClient, shop: SmallCatalog
) -> None:
    assert api.get(f"{API}/products").status_code == 401
    forged = api.get(f"{API}/products", headers=bearer("qs_cust_not-a-staff-token"))
    assert forged.status_code == 401
    assert api.post(f"{API}/import", content=b"x" * 1000).status_code == 401


# ---------------------------------------------------------------- products and variants


def test_the_clerk_lists_finds_and_reads_products_withdrawn_ones_too(
    api: TestClient, clerk: dict[str, str], shop: SmallCatalog
) -> None:
    listed = api.get(f"{API}/products", headers=clerk, params={"q": "hidden"})
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert (item["name"], item["active"]) == ("Hidden Product", False)
    one = api.get(f"{API}/products/{shop.cable_with_lengths}", headers=clerk).json()
    assert [v["price_cents"] for v in one["variants"]] == [799, 899, 999]
    assert api.get(f"{API}/products/NO-SUCH", headers=clerk).status_code == 404
    assert (
        api.get(f"{API}/products", headers=clerk, params={"page_size": 10_000}).status_code == 400
    )


def test_an_edit_answers_the_product_and_is_an_audit_change(
    api: TestClient, db: Session, clerk: dict[str, str], cleo: Staff, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    answer = api.patch(
        f"{API}/products/{sku}", headers=clerk, json={"name": "Premium HDMI", "warranty_months": 36}
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["name"], answer.json()["warranty_months"]) == ("Premium HDMI", 36)
    (entry,) = audit_entries(db, action="change")
    assert (entry.staff_id, entry.role, entry.subject, entry.customer_id) == (
        cleo.id, "catalog", f"product:{sku}", None,
    )  # fmt: skip
    assert entry.fields == ("products.name", "products.warranty_months")
    assert entry.data_kinds == ()
    # The shop shows it at once (this process saw its own commit).
    assert api.get(f"/api/v1/products/{sku}").json()["name"] == "Premium HDMI"


def test_an_edit_that_changes_nothing_leaves_no_audit_entry(
    api: TestClient, db: Session, clerk: dict[str, str], shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    name = api.get(f"{API}/products/{sku}", headers=clerk).json()["name"]
    assert api.patch(f"{API}/products/{sku}", headers=clerk, json={"name": name}).status_code == 200
    assert audit_entries(db, action="change") == []


def test_variant_price_stock_and_was_price(
    api: TestClient, db: Session, clerk: dict[str, str], shop: SmallCatalog
) -> None:
    sku = f"{shop.cable_with_lengths}-0"
    answer = api.patch(
        f"{API}/variants/{sku}", headers=clerk, json={"price_cents": 649, "was_price_cents": 799}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["price_cents"] == 649
    cleared = api.patch(f"{API}/variants/{sku}", headers=clerk, json={"was_price_cents": None})
    assert cleared.json()["variants"][0]["was_price_cents"] is None
    stock = api.patch(f"{API}/variants/{sku}", headers=clerk, json={"stock": 0})
    assert stock.json()["variants"][0]["stock"] == 0
    assert [e.fields for e in audit_entries(db, action="change")] == [
        ("product_variants.price_cents", "product_variants.was_price_cents"),
        ("product_variants.was_price_cents",),
        ("product_variants.stock",),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_cents": -1}, "price_cents"),
        ({"price_cents": "12"}, "price_cents"),
        ({"price_cents": 12.5}, "price_cents"),
        ({"stock": 10**12}, "stock"),
        ({"options": {"k": "v" * 81}}, "options"),
        ({"colour": "red"}, "colour"),
        ({"was_price_cents": 1}, "was_price_cents"),
    ],
    ids=["negative", "text", "fraction", "huge stock", "long option", "unknown field", "was below"],
)
def test_bad_variant_bodies_are_400_naming_the_field(
    api: TestClient, clerk: dict[str, str], shop: SmallCatalog, body: dict[str, object], field: str
) -> None:
    answer = api.patch(f"{API}/variants/{shop.hdmi_skus[0]}", headers=clerk, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_parameter"
    assert [item["field"] for item in answer.json()["detail"]][-1] in (field, "k")


def test_a_product_is_created_and_a_variant_added(
    api: TestClient, db: Session, clerk: dict[str, str], shop: SmallCatalog
) -> None:
    body = {
        "sku": "NEW/42",
        "name": "Coax Cable",
        "category_slug": "tools",
        "variants": [{"sku": "NEW/42", "price_cents": 450, "stock": 3}],
    }
    created = api.post(f"{API}/products", headers=clerk, json=body)
    assert created.status_code == 201, created.text
    assert (created.json()["slug"], created.json()["currency"]) == ("coax-cable-new-42", "USD")
    assert api.get(f"{API}/products/NEW/42", headers=clerk).status_code == 200  # a slash in a SKU
    again = api.post(f"{API}/products", headers=clerk, json=body)
    assert again.status_code == 400 and again.json()["detail"][0]["field"] == "sku"
    added = api.post(
        f"{API}/variants",
        headers=clerk,
        json={"product_sku": "NEW/42", "sku": "NEW/42-5M", "label": "5 m", "price_cents": 900},
    )
    assert added.status_code == 201, added.text
    assert [v["sku"] for v in added.json()["variants"]] == ["NEW/42", "NEW/42-5M"]
    assert [e.subject for e in audit_entries(db, action="change")] == ["product:NEW/42"] * 2
    assert api.get("/api/v1/search", params={"q": "coax"}).json()["items"][0]["sku"] == "NEW/42"


# ---------------------------------------------------------------- categories


def test_categories_are_created_moved_and_never_into_a_cycle(
    api: TestClient, db: Session, clerk: dict[str, str], shop: SmallCatalog
) -> None:
    made = api.post(
        f"{API}/categories",
        headers=clerk,
        json={"slug": "optical", "name": "Optical", "parent_slug": "cables"},
    )
    assert made.status_code == 201, made.text
    rows = {c["slug"]: c for c in made.json()}
    assert rows["optical"]["parent_slug"] == "cables"
    moved = api.patch(f"{API}/categories/optical", headers=clerk, json={"parent_slug": None})
    assert {c["slug"]: c for c in moved.json()}["optical"]["parent_slug"] is None
    cycle = api.patch(
        f"{API}/categories/cables", headers=clerk, json={"parent_slug": "hdmi-cables"}
    )
    assert cycle.status_code == 400 and cycle.json()["detail"][0]["field"] == "parent_slug"
    bad = api.post(f"{API}/categories", headers=clerk, json={"slug": "Not A Slug", "name": "X"})
    assert bad.status_code == 400 and bad.json()["detail"][0]["field"] == "slug"
    assert [e.subject for e in audit_entries(db, action="change")] == ["category:optical"] * 2


# ---------------------------------------------------------------- pictures


def test_a_picture_is_uploaded_re_encoded_and_served(
    api: TestClient, clerk: dict[str, str], settings: Settings, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    answer = api.post(
        f"{API}/images/{sku}", headers={**clerk, "content-type": "image/png"}, content=png()
    )
    assert answer.status_code == 200, answer.text
    url = answer.json()["image_url"]
    assert url.startswith(f"/images/{sku.lower()}-") and url.endswith(".webp")
    served = api.get(url)
    assert served.status_code == 200 and served.content[8:12] == b"WEBP"
    assert api.get(f"/api/v1/products/{sku}").json()["image_url"] == url


def test_a_script_named_png_an_svg_and_a_too_large_file_are_refused_and_nothing_stored(
    api: TestClient, clerk: dict[str, str], settings: Settings, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    headers = {**clerk, "content-type": "image/png"}
    script = api.post(f"{API}/images/{sku}", headers=headers, content=b"#!/bin/sh\necho owned\n")
    assert (script.status_code, script.json()["error"]) == (415, "unsupported_image")
    svg = api.post(f"{API}/images/{sku}", headers=headers, content=b"<svg onload='alert(1)'/>")
    assert svg.status_code == 415
    large = api.post(f"{API}/images/{sku}", headers=headers, content=png() + b"\0" * IMAGE_LIMIT)
    assert (large.status_code, large.json()["error"]) == (413, "payload_too_large")
    huge = api.post(f"{API}/images/{sku}", headers=headers, content=b"\0" * (33 * 1024 * 1024))
    assert huge.status_code == 413  # over the route's ceiling: refused before the app
    truncated = api.post(f"{API}/images/{sku}", headers=headers, content=png((300, 300))[:200])
    assert (truncated.status_code, truncated.json()["error"]) == (422, "image_refused")
    assert not settings.images_dir.exists() or list(settings.images_dir.iterdir()) == []
    assert api.get(f"{API}/products/{sku}", headers=clerk).json()["image_url"] is None


# ---------------------------------------------------------------- the catalog file


def test_a_dry_run_reports_and_changes_nothing(
    api: TestClient, db: Session, clerk: dict[str, str], shop: SmallCatalog
) -> None:
    answer = api.post(
        f"{API}/import",
        headers=clerk,
        params={"dry_run": "true"},
        content=csv_bytes(row(product_sku="D-1")),
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["created"], answer.json()["imported"]) == (1, False)
    assert api.get(f"{API}/products/D-1", headers=clerk).status_code == 404
    assert audit_entries(db, action="change") == []


def test_a_file_with_errors_is_422_with_each_bad_row_and_imports_nothing(
    api: TestClient, clerk: dict[str, str], shop: SmallCatalog
) -> None:
    data = csv_bytes(
        row(product_sku="E-1"),
        row(product_sku="E-2", price="-5"),
        row(product_sku="E-3", category="x"),
    )
    answer = api.post(f"{API}/import", headers=clerk, content=data)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "catalog_file_refused"
    assert [(e["line"], e["column"]) for e in body["report"]["errors"]] == [
        (3, "price"),
        (4, "category"),
    ]
    assert api.get(f"{API}/products/E-1", headers=clerk).status_code == 404
    skipped = api.post(f"{API}/import", headers=clerk, params={"skip_bad": "true"}, content=data)
    assert (skipped.status_code, skipped.json()["created"], skipped.json()["skipped"]) == (
        200,
        1,
        2,
    )


def test_import_then_export_through_the_api(
    api: TestClient, db: Session, clerk: dict[str, str], cleo: Staff, shop: SmallCatalog
) -> None:
    imported = api.post(
        f"{API}/import", headers={**clerk, "content-type": "text/csv"},
        content=csv_bytes(row(product_sku="I-1", name="Imported Zither Cable")),
    )  # fmt: skip
    assert imported.status_code == 200, imported.text
    assert (imported.json()["created"], imported.json()["imported"]) == (1, True)
    (entry,) = audit_entries(db, action="change")
    assert (entry.subject, entry.role, entry.staff_id) == ("catalog:import", "catalog", cleo.id)
    assert entry.reason == "imported a catalog file: 1 created, 0 updated, 0 unchanged, 0 skipped"
    assert api.get("/api/v1/search", params={"q": "zither"}).json()["items"][0]["sku"] == "I-1"
    exported = api.get(f"{API}/export", headers=clerk)
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == 'attachment; filename="catalog.csv"'
    assert exported.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert "I-1" in {r["product_sku"] for r in rows} and len({r["product_sku"] for r in rows}) == 11


def test_a_catalog_file_over_the_setting_is_413(
    api: TestClient, clerk: dict[str, str], settings: Settings, shop: SmallCatalog
) -> None:
    limit = settings.catalog_import_max_bytes
    answer = api.post(f"{API}/import", headers=clerk, content=b"a" * (limit + 1))
    assert (answer.status_code, answer.json()["error"]) == (413, "payload_too_large")


def test_stock_is_its_own_action_and_route(
    api: TestClient, db: Session, clerk: dict[str, str], shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    answer = api.put(f"{API}/stock/{sku}", headers=clerk, json={"stock": 41})
    assert answer.status_code == 200, answer.text
    assert answer.json()["stock"] == 41
    (entry,) = audit_entries(db, action="change")
    assert (entry.fields, entry.reason) == (("product_variants.stock",), f"counted variant {sku}")
    assert api.put(f"{API}/stock/{sku}", headers=clerk, json={"stock": -1}).status_code == 400


def test_every_catalog_route_declares_the_action_it_checks(settings: Settings) -> None:
    app = build_app(settings, sessionmaker())
    declared = {
        (method, route.path): route.openapi_extra[access.ACTION_KEY]
        for route in app.fastapi.routes
        if isinstance(route, APIRoute) and route.path.startswith(API)
        for method in route.methods
    }
    assert declared == {
        ("GET", f"{API}/products"): "edit_products",
        ("POST", f"{API}/products"): "edit_products",
        ("GET", f"{API}/products/{{sku:path}}"): "edit_products",
        ("PATCH", f"{API}/products/{{sku:path}}"): "edit_products",
        ("POST", f"{API}/variants"): "edit_products",
        ("PATCH", f"{API}/variants/{{sku:path}}"): "edit_products",
        ("PUT", f"{API}/stock/{{sku:path}}"): "edit_stock",
        ("GET", f"{API}/categories"): "edit_categories",
        ("POST", f"{API}/categories"): "edit_categories",
        ("PATCH", f"{API}/categories/{{slug}}"): "edit_categories",
        ("POST", f"{API}/images/{{sku:path}}"): "edit_images",
        ("POST", f"{API}/import"): "import_catalog",
        ("GET", f"{API}/export"): "export_catalog",
    }
    # The catalog role holds every one of them, and no role reading customers does.
    for action in {Action(value) for value in declared.values()}:
        assert ACTION_ROLES[action] == frozenset({Role.CATALOG})
