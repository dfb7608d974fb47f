"""Managing the catalog (catalog/admin.py): products, variants and categories edited by
the rules, each edit logging exactly what it shows on, so the page cache drops only the
affected pages (the approach of tests/web/test_page_cache_tags.py), on SQLite and
PostgreSQL; bad input refused with the field named and nothing changed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.catalog import admin, service
from quietshop.catalog.admin import CategoryChanges, ProductChanges, VariantChanges
from quietshop.catalog.models import Product, ProductVariant
from quietshop.catalog.service import ProductDraft, VariantDraft
from quietshop.errors import InvalidInput, NotFound
from tests.catalog.factories import SmallCatalog, make_category, make_product, small_catalog
from tests.clock import T0
from tests.web.test_page_cache_tags import _browse, _cached, memo_of

Change = tuple[str | None, bool, bool]  # product SKU, listings, everything


@pytest.fixture
def shop(db: Session) -> SmallCatalog:
    return small_catalog(db)


def changes_after(db: Session, last: int) -> list[Change]:
    return [
        (c.product_sku, c.listings, c.everything) for c in service.changes_since(db, last).changes
    ]


def last_change(db: Session) -> int:
    return service.changes_since(db, None).last_id


def product(db: Session, sku: str) -> Product:
    db.expire_all()
    return db.execute(select(Product).where(Product.sku == sku)).scalar_one()


# ---------------------------------------------------------------- products


def test_a_new_name_changes_everything_and_the_search_finds_it(
    db: Session, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    last = last_change(db)
    edited = admin.update_product(db, sku, ProductChanges(name="  Toslink Optical Cable  "))
    assert (edited.subject, edited.fields) == (f"product:{sku}", ("products.name",))
    assert product(db, sku).name == "Toslink Optical Cable"
    assert changes_after(db, last) == [(None, False, True)]
    assert service.search_products(db, "toslink").items[0].sku == sku


def test_warranty_terms_change_that_product_only(db: Session, shop: SmallCatalog) -> None:
    sku = shop.hdmi_skus[0]
    last = last_change(db)
    edited = admin.update_product(
        db,
        sku,
        ProductChanges(warranty_terms="Five years.\nReturn postage paid.", warranty_months=60),
    )
    assert edited.fields == ("products.warranty_months", "products.warranty_terms")
    assert changes_after(db, last) == [(sku, False, False)]
    assert product(db, sku).warranty_terms == "Five years.\nReturn postage paid."


def test_an_edit_that_changes_nothing_records_nothing(db: Session, shop: SmallCatalog) -> None:
    sku = shop.hdmi_skus[0]
    last = last_change(db)
    current = product(db, sku)
    edited = admin.update_product(db, sku, ProductChanges(name=current.name, active=True))
    assert not edited.changed
    assert changes_after(db, last) == []


def test_a_new_description_or_category_rebuilds_the_search_text(
    db: Session, shop: SmallCatalog
) -> None:
    sku = shop.hdmi_skus[0]
    admin.update_product(db, sku, ProductChanges(description="Gold plated.", category_slug="tools"))
    assert product(db, sku).category.slug == "tools"
    assert service.search_products(db, "gold plated").items[0].sku == sku
    words = product(db, sku).search_text.split()
    assert "tools" in words and "hdmi" not in words  # the old category's name left


def test_withdrawing_a_product_takes_it_off_the_shop(db: Session, shop: SmallCatalog) -> None:
    sku = shop.hdmi_skus[0]
    admin.update_product(db, sku, ProductChanges(active=False))
    with pytest.raises(NotFound):
        service.get_product(db, sku)
    assert admin.product_for_editing(db, sku).active is False  # the editor still sees it


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (ProductChanges(name=""), "name"),
        (ProductChanges(name="   "), "name"),
        (ProductChanges(name="x" * 201), "name"),
        (ProductChanges(name="Bell\x07Cable"), "name"),
        (ProductChanges(name="Two\nlines"), "name"),
        (ProductChanges(brand="\u202eevil"), "brand"),
        (ProductChanges(description="x" * 20_001), "description"),
        (ProductChanges(description="nul\x00"), "description"),
        (ProductChanges(warranty_months=-1), "warranty_months"),
        (ProductChanges(warranty_months=10**9), "warranty_months"),
        (ProductChanges(category_slug="no-such"), "category_slug"),
    ],
    ids=[
        "empty", "blank", "too long", "control", "newline in name", "bidi override",
        "huge description", "nul", "negative warranty", "huge warranty", "unknown category",
    ],
)  # fmt: skip
def test_bad_product_input_is_refused_naming_the_field_and_changes_nothing(
    db: Session, shop: SmallCatalog, changes: ProductChanges, field: str
) -> None:
    sku = shop.hdmi_skus[0]
    before = admin.product_for_editing(db, sku)
    last = last_change(db)
    with pytest.raises(InvalidInput) as caught:
        admin.update_product(db, sku, changes)
    assert caught.value.field == field
    db.expire_all()
    assert admin.product_for_editing(db, sku) == before
    assert changes_after(db, last) == []


def test_an_unknown_or_hostile_sku_is_not_found(db: Session, shop: SmallCatalog) -> None:
    for sku in ("NO-SUCH", "", "x" * 41, "A\x00B"):
        with pytest.raises(NotFound):
            admin.update_product(db, sku, ProductChanges(name="X"))
        with pytest.raises(NotFound):
            admin.update_variant(db, sku, VariantChanges(stock=1))


def test_create_product_makes_a_slug_from_name_and_sku(db: Session, shop: SmallCatalog) -> None:
    draft = ProductDraft(
        sku="NEW/1", slug="", name="Fibre Patch Lead", category_slug="tools", currency="USD",
        variants=[VariantDraft(sku="NEW/1", price_cents=1500, stock=2)],
    )  # fmt: skip
    admin.create_product(db, draft, T0)
    assert admin.product_for_editing(db, "NEW/1").slug == "fibre-patch-lead-new-1"
    again = ProductDraft(
        sku="NEW-1", slug="", name="Fibre Patch Lead", category_slug="tools", currency="USD",
        variants=[VariantDraft(sku="NEW-1", price_cents=1500, stock=2)],
    )  # fmt: skip
    admin.create_product(db, again, T0)  # the same words: the SKU's digest tells them apart
    slug = admin.product_for_editing(db, "NEW-1").slug
    assert (
        slug.startswith("fibre-patch-lead-new-1-")
        and len(slug) == len("fibre-patch-lead-new-1-") + 8
    )


# ---------------------------------------------------------------- variants


def test_the_cheapest_variants_new_price_shows_on_listings(db: Session, shop: SmallCatalog) -> None:
    sku = shop.cable_with_lengths  # variants at 7.99, 8.99, 9.99
    last = last_change(db)
    edited = admin.update_variant(db, f"{sku}-0", VariantChanges(price_cents=699))
    assert edited.fields == ("product_variants.price_cents",)
    assert product(db, sku).price_cents == 699
    assert changes_after(db, last) == [(sku, True, False)]


def test_a_dearer_variants_price_changes_that_product_only(db: Session, shop: SmallCatalog) -> None:
    sku = shop.cable_with_lengths
    last = last_change(db)
    admin.update_variant(db, f"{sku}-2", VariantChanges(price_cents=1299))
    assert product(db, sku).price_cents == 799
    assert changes_after(db, last) == [(sku, False, False)]


def test_stock_drops_listings_only_when_the_badge_flips(db: Session, shop: SmallCatalog) -> None:
    sku = shop.hdmi_skus[0]  # one variant, 5 in stock
    last = last_change(db)
    admin.update_variant(db, sku, VariantChanges(stock=9))
    admin.update_variant(db, sku, VariantChanges(stock=0))
    assert changes_after(db, last) == [(sku, False, False), (sku, True, False)]
    assert product(db, sku).stock == 0


def test_a_was_price_is_set_kept_and_cleared(db: Session, shop: SmallCatalog) -> None:
    sku = shop.hdmi_skus[0]  # 12.99
    admin.update_variant(db, sku, VariantChanges(was_price_cents=1599))
    admin.update_variant(db, sku, VariantChanges(stock=3))  # UNSET: the was-price stays
    assert product(db, sku).was_price_cents == 1599
    admin.update_variant(db, sku, VariantChanges(was_price_cents=None))
    assert product(db, sku).was_price_cents is None


def test_new_options_rebuild_the_search_text_and_change_everything(
    db: Session, shop: SmallCatalog
) -> None:
    sku = shop.cable_with_lengths
    last = last_change(db)
    admin.update_variant(
        db, f"{sku}-1", VariantChanges(label="Ultraviolet", options={"colour": "UV"})
    )
    assert changes_after(db, last) == [(None, False, True)]
    assert service.search_products(db, "ultraviolet").items[0].sku == sku


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (VariantChanges(price_cents=-1), "price_cents"),
        (VariantChanges(price_cents=service.MAX_PRICE_CENTS + 1), "price_cents"),
        (VariantChanges(was_price_cents=100), "was_price_cents"),
        (VariantChanges(stock=-5), "stock"),
        (VariantChanges(stock=service.MAX_STOCK + 1), "stock"),
        (VariantChanges(weight_grams=-1), "weight_grams"),
        (VariantChanges(label="x" * 121), "label"),
        (VariantChanges(options={f"k{n}": "v" for n in range(9)}), "options"),
        (VariantChanges(options={"length": ""}), "options"),
        (VariantChanges(options={"length": 2}), "options"),  # type: ignore[dict-item]
    ],
    ids=[
        "negative price", "huge price", "was-price below price", "negative stock",
        "huge stock", "negative weight", "long label", "nine options", "empty option",
        "number option",
    ],
)  # fmt: skip
def test_bad_variant_input_is_refused_naming_the_field(
    db: Session, shop: SmallCatalog, changes: VariantChanges, field: str
) -> None:
    sku = shop.hdmi_skus[0]
    before = admin.product_for_editing(db, sku)
    with pytest.raises(InvalidInput) as caught:
        admin.update_variant(db, sku, changes)
    assert caught.value.field == field
    db.expire_all()
    assert admin.product_for_editing(db, sku) == before


def test_a_variant_is_added_at_the_end_and_the_summary_follows(
    db: Session, shop: SmallCatalog
) -> None:
    sku = shop.cable_with_lengths
    last = last_change(db)
    edited = admin.add_variant(
        db, sku, VariantDraft(sku=f"{sku}-10M", label="10 m", options={"length": "10 m"},
                              price_cents=499, stock=4)
    )  # fmt: skip
    assert edited.subject == f"product:{sku}"
    found = admin.product_for_editing(db, sku)
    assert [v.sku for v in found.variants][-1] == f"{sku}-10M"
    assert (found.price_cents, found.stock) == (499, 19)
    assert product(db, sku).variant_count == 4
    assert changes_after(db, last) == [(None, False, True)]
    with pytest.raises(InvalidInput, match="taken"):
        admin.add_variant(db, sku, VariantDraft(sku=shop.hdmi_skus[0], price_cents=1, stock=1))


# ---------------------------------------------------------------- categories


def test_a_category_renamed_renames_it_in_its_products_search_text(
    db: Session, shop: SmallCatalog
) -> None:
    last = last_change(db)
    edited = admin.update_category(db, "cables", CategoryChanges(name="Leads"))
    assert edited.fields == ("categories.name",)
    assert changes_after(db, last) == [(None, False, True)]
    # The products of its children name it as their parent.
    found = {item.sku for item in service.search_products(db, "leads hdmi", page_size=50).items}
    assert set(shop.hdmi_skus) <= found
    assert service.search_products(db, "cables").searched_for  # still a word of names


def test_a_category_moves_and_never_under_itself_or_its_own(
    db: Session, shop: SmallCatalog
) -> None:
    admin.update_category(db, "usb-cables", CategoryChanges(parent_slug="tools"))
    rows = {row.slug: row for row in admin.categories_for_editing(db)}
    assert rows["usb-cables"].parent_slug == "tools"
    admin.update_category(db, "usb-cables", CategoryChanges(parent_slug=None))
    assert {row.slug: row for row in admin.categories_for_editing(db)}[
        "usb-cables"
    ].parent_slug is None
    for parent in ("cables", "hdmi-cables"):
        with pytest.raises(InvalidInput) as caught:
            admin.update_category(db, "cables", CategoryChanges(parent_slug=parent))
        assert caught.value.field == "parent_slug"
    with pytest.raises(InvalidInput, match="no category"):
        admin.update_category(db, "cables", CategoryChanges(parent_slug="nowhere"))
    with pytest.raises(NotFound):
        admin.update_category(db, "nowhere", CategoryChanges(name="X"))


def test_the_category_list_puts_parents_first_and_counts_products(
    db: Session, shop: SmallCatalog
) -> None:
    rows = admin.categories_for_editing(db)
    assert [row.slug for row in rows] == ["cables", "hdmi-cables", "usb-cables", "tools"]
    assert [row.product_count for row in rows] == [0, 5, 2, 3]


@pytest.mark.parametrize(
    ("slug", "name", "field"),
    [("Bad Slug", "Name", "slug"), ("a--b", "Name", "slug"), ("x" * 81, "Name", "slug"),
     ("good", "", "name"), ("good", "x" * 121, "name"), ("tools", "Tools", "slug")],
)  # fmt: skip
def test_a_new_category_is_checked(
    db: Session, shop: SmallCatalog, slug: str, name: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        admin.create_category(db, slug, name)
    assert caught.value.field == field


# ---------------------------------------------------------------- finding products to edit


def test_the_editor_finds_by_sku_variant_sku_or_name_withdrawn_ones_too(
    db: Session, shop: SmallCatalog
) -> None:
    assert [row.name for row in admin.find_products(db, "hidden").items] == ["Hidden Product"]
    by_variant = admin.find_products(db, f"{shop.cable_with_lengths}-2").items
    assert [row.sku for row in by_variant] == [shop.cable_with_lengths]
    assert admin.find_products(db, "").total == 10
    assert admin.find_products(db, "%").total == 0  # a wildcard is just a character
    assert admin.find_products(db, "_").total == 0
    page = admin.find_products(db, "", page=2, page_size=4)
    assert (len(page.items), page.total) == (4, 10)
    with pytest.raises(InvalidInput):
        admin.find_products(db, "", page_size=1_000)


# ---------------------------------------------------------------- only the affected pages


def test_a_price_edit_drops_that_products_pages_and_the_listings_only(
    db: Session, shop: SmallCatalog, client: TestClient, assembled: AssembledApp
) -> None:
    paths = _browse(client, shop, db)
    loads = dict(memo_of(assembled).loads)
    admin.update_variant(db, shop.hdmi_skus[0], VariantChanges(price_cents=1199))
    db.commit()
    client.get("/robots.txt")
    assert _cached(assembled, paths) == {"other product page", "privacy"}
    assert client.get(paths["sold product api"]).json()["price"]["cents"] == 1199
    for path in paths.values():
        client.get(path)
    assert memo_of(assembled).loads == loads  # neither the tree nor the vocabulary reloaded


def test_a_warranty_edit_drops_that_products_pages_only(
    db: Session, shop: SmallCatalog, client: TestClient, assembled: AssembledApp
) -> None:
    paths = _browse(client, shop, db)
    admin.update_product(db, shop.hdmi_skus[0], ProductChanges(warranty_terms="Ten years."))
    db.commit()
    client.get("/robots.txt")
    assert _cached(assembled, paths) == set(paths) - {
        "sold product page", "sold product api", "cart lookup",
    }  # fmt: skip


def test_a_category_rename_drops_everything_and_reloads_the_menu(
    db: Session, shop: SmallCatalog, client: TestClient, assembled: AssembledApp
) -> None:
    paths = _browse(client, shop, db)
    tree_loads = memo_of(assembled).loads["tree"]
    admin.update_category(db, "hdmi-cables", CategoryChanges(name="HDMI Leads"))
    db.commit()
    client.get("/robots.txt")
    assert _cached(assembled, paths) == set()
    assert "HDMI Leads" in client.get("/").text
    assert memo_of(assembled).loads["tree"] == tree_loads + 1


def test_an_image_alt_edit_shows_on_listings_not_everywhere(
    db: Session, shop: SmallCatalog, client: TestClient, assembled: AssembledApp
) -> None:
    paths = _browse(client, shop, db)
    admin.update_product(db, shop.hdmi_skus[0], ProductChanges(image_alt="A coiled cable"))
    db.commit()
    client.get("/robots.txt")
    assert _cached(assembled, paths) == {"other product page", "privacy"}


def test_variants_table_keeps_one_row_per_sku(db: Session) -> None:
    shelf = make_category(db)
    sku = make_product(db, shelf, lengths=("1 m", "2 m"))
    admin.update_variant(db, f"{sku}-1", VariantChanges(stock=0))
    rows = db.execute(
        select(ProductVariant.sku).where(ProductVariant.sku.like(f"{sku}%"))
    ).scalars()
    assert sorted(rows) == [f"{sku}-0", f"{sku}-1"]
