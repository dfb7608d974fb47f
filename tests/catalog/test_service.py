"""Catalog rules, without HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from quietshop.catalog import service
from quietshop.catalog.memo import CatalogMemo
from quietshop.catalog.schemas import SortOrder
from quietshop.errors import InvalidInput, NotFound
from tests.catalog.factories import make_category, make_product, small_catalog
from tests.clock import T0


def prices(page: service.ProductPage) -> list[int]:
    return [item.price.cents for item in page.items]


def test_listing_is_cheapest_first_by_default(db: Session) -> None:
    small_catalog(db)
    page = service.list_products(db, service.ListingQuery())
    assert prices(page) == sorted(prices(page))
    assert page.total == 9  # the inactive product is not listed
    assert prices(page)[0] == 349


def test_other_sort_orders(db: Session) -> None:
    small_catalog(db)
    by_price_desc = service.list_products(db, service.ListingQuery(sort=SortOrder.price_desc))
    assert prices(by_price_desc) == sorted(prices(by_price_desc), reverse=True)
    by_name = service.list_products(db, service.ListingQuery(sort=SortOrder.name))
    names = [item.name for item in by_name.items]
    assert names == sorted(names)
    newest = service.list_products(db, service.ListingQuery(sort=SortOrder.newest))
    stamps = [item.created_at for item in newest.items]
    assert stamps == sorted(stamps, reverse=True)


def test_parent_category_lists_its_children_products(db: Session) -> None:
    catalog = small_catalog(db)
    cables = service.list_products(db, service.ListingQuery(category=catalog.cables))
    hdmi = service.list_products(db, service.ListingQuery(category=catalog.hdmi))
    usb = service.list_products(db, service.ListingQuery(category=catalog.usb))
    assert cables.total == hdmi.total + usb.total == 7
    assert {i.category_slug for i in cables.items} == {catalog.hdmi, catalog.usb}


def test_price_range_and_stock_filters(db: Session) -> None:
    small_catalog(db)
    page = service.list_products(db, service.ListingQuery(price_min=500, price_max=1300))
    assert prices(page) == [699, 799, 899, 1299]
    in_stock = service.list_products(db, service.ListingQuery(price_max=700, in_stock=True))
    assert prices(in_stock) == [349, 499]  # the 699 USB-C cable has no stock


def test_pagination_and_a_page_past_the_end(db: Session) -> None:
    small_catalog(db)
    first = service.list_products(db, service.ListingQuery(page_size=5))
    second = service.list_products(db, service.ListingQuery(page_size=5, page=2))
    assert (first.pages, len(first.items), len(second.items)) == (2, 5, 4)
    assert not {i.sku for i in first.items} & {i.sku for i in second.items}
    past_end = service.list_products(db, service.ListingQuery(page_size=5, page=99))
    assert past_end.items == [] and past_end.total == 9 and past_end.pages == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (service.ListingQuery(page=0), "page"),
        (service.ListingQuery(page=-3), "page"),
        (service.ListingQuery(page_size=0), "page_size"),
        (service.ListingQuery(page_size=1000), "page_size"),
        (service.ListingQuery(price_min=-1), "price_min"),
        (service.ListingQuery(price_max=10**15), "price_max"),
        (service.ListingQuery(price_min=500, price_max=100), "price_min"),
    ],
)
def test_bad_listing_queries_name_the_field(
    db: Session, query: service.ListingQuery, field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        service.list_products(db, query)
    assert error.value.field == field


def test_unknown_category_is_not_found(db: Session) -> None:
    small_catalog(db)
    with pytest.raises(NotFound):
        service.list_products(db, service.ListingQuery(category="no-such-thing"))
    with pytest.raises(NotFound):
        service.get_category(db, "no-such-thing")


def test_product_by_sku_variant_sku_or_slug(db: Session) -> None:
    catalog = small_catalog(db)
    product = service.get_product(db, catalog.cable_with_lengths)
    assert [v.label for v in product.variants] == ["1 m", "2 m", "5 m"]
    assert [v.price.cents for v in product.variants] == [799, 899, 999]
    assert product.price.cents == 799 and product.stock == 15
    assert [c.slug for c in product.category_path] == ["cables", "hdmi-cables"]
    assert service.get_product(db, product.variants[2].sku).sku == product.sku
    assert service.get_product(db, product.slug).sku == product.sku


def test_inactive_and_unknown_products_are_not_found(db: Session) -> None:
    small_catalog(db)
    hidden = service.list_products(db, service.ListingQuery(page_size=100))
    assert "Hidden Product" not in [i.name for i in hidden.items]
    for wanted in ("", "NOPE-1", "x" * 10_000, "' OR 1=1 --"):
        with pytest.raises(NotFound):
            service.get_product(db, wanted)


def test_stock_change_updates_product_total_and_logs_a_product_change(db: Session) -> None:
    catalog = small_catalog(db)
    version = service.catalog_version(db)
    last = service.changes_since(db, None).last_id
    product = service.get_product(db, catalog.cable_with_lengths)
    service.set_variant_stock(db, product.variants[0].sku, 0)
    assert service.get_product(db, catalog.cable_with_lengths).stock == 10
    # A stock edit is about one product, not the whole catalog: the version stays.
    assert service.catalog_version(db) == version
    change = service.changes_since(db, last).changes
    assert [(c.product_sku, c.listings, c.everything) for c in change] == [
        (product.sku, False, False)
    ]
    with pytest.raises(InvalidInput):
        service.set_variant_stock(db, product.variants[0].sku, -1)
    with pytest.raises(NotFound):
        service.set_variant_stock(db, "NO-SUCH-SKU", 3)


def test_product_needs_a_known_category_and_a_variant(db: Session) -> None:
    with pytest.raises(InvalidInput) as error:
        make_product(db, "missing-category")
    assert error.value.field == "category_slug"
    make_category(db, "empty")
    with pytest.raises(InvalidInput) as no_variants:
        service.create_product(
            db,
            service.ProductDraft(
                sku="X-1", slug="x-1", name="X", category_slug="empty", variants=[], currency="USD"
            ),
            T0,
        )
    assert no_variants.value.field == "variants"


# ---------------------------------------------------------------- search


def search(db: Session, text: str, **kwargs: int) -> service.SearchResults:
    return service.search_products(db, text, **kwargs)


def test_search_ranks_name_matches_and_finds_prefixes(db: Session) -> None:
    small_catalog(db)
    results = search(db, "hdmi cable")
    assert results.total == 5
    assert all("HDMI" in item.name for item in results.items)
    prefix = search(db, "crimp")
    assert [item.name for item in prefix.items] == ["Crimping Tool RJ45"]


def test_search_tolerates_typos(db: Session) -> None:
    small_catalog(db)
    results = search(db, "hdmi cabel")
    assert results.corrected and results.searched_for == "hdmi cable"
    assert results.total == 5
    assert search(db, "netwrok tester").items[0].name == "Network Cable Tester"


def test_search_by_brand_and_sku(db: Session) -> None:
    catalog = small_catalog(db)
    assert {i.brand for i in search(db, "corelink").items} == {"Corelink"}
    assert search(db, catalog.hdmi_skus[1]).items[0].sku == catalog.hdmi_skus[1]


def test_search_never_shows_inactive_products(db: Session) -> None:
    small_catalog(db)
    assert search(db, "hidden").total == 0


@pytest.mark.parametrize(
    "hostile",
    [
        '" OR 1=1 --',
        "*",
        "NEAR(",
        '"',
        "-",
        "",
        "   ",
        "\x00\x01\x1f",
        "AND OR NOT",
        "a" * 5000,
        "cable)",
        "hdmi:*",
        "{name}:cable",
        "^cable",
        "ca*ble",
        "'; DROP TABLE products; --",
        "é€😀",
        "\ud800",
    ],
)
def test_search_syntax_is_just_text(db: Session, hostile: str) -> None:
    small_catalog(db)
    results = search(db, hostile)
    assert results.total >= 0  # a normal answer: no exception reached us
    assert len(results.query) <= 200


def test_search_paginates(db: Session) -> None:
    small_catalog(db)
    first = search(db, "cable", page_size=2)
    second = search(db, "cable", page=2, page_size=2)
    assert first.total == second.total == 8
    assert not {i.sku for i in first.items} & {i.sku for i in second.items}
    with pytest.raises(InvalidInput):
        search(db, "cable", page=0)


def test_search_sees_catalog_changes(db: Session) -> None:
    catalog = small_catalog(db)
    versions = [service.catalog_version(db)]
    memo = CatalogMemo(lambda: versions[-1])
    assert service.search_products(db, "toslink", memo=memo).total == 0
    make_product(db, catalog.cables, name="Toslink Optical Cable")
    assert service.search_products(db, "toslnk", memo=memo).total == 0  # version not seen yet
    versions.append(service.catalog_version(db))
    assert service.search_products(db, "toslnk", memo=memo).total == 1


def test_taken_keys_and_bad_drafts_are_named_errors(db: Session) -> None:
    catalog = small_catalog(db)
    with pytest.raises(InvalidInput) as taken_category:
        make_category(db, catalog.cables)
    assert taken_category.value.field == "slug"
    draft = service.ProductDraft(
        sku=catalog.hdmi_skus[0],
        slug="fresh-slug",
        name="Dup",
        category_slug=catalog.hdmi,
        variants=[service.VariantDraft(sku=catalog.hdmi_skus[0], price_cents=100, stock=1)],
        currency="USD",
    )
    with pytest.raises(InvalidInput, match="is taken") as taken_sku:
        service.create_product(db, draft, T0)
    assert taken_sku.value.field == "sku"
    lone = [service.VariantDraft(sku="LONE-1", price_cents=100, stock=1)]
    with pytest.raises(InvalidInput, match="one variant has that variant's SKU"):
        service.create_product(
            db, draft.__class__(**{**draft.__dict__, "sku": "LONE", "variants": lone}), T0
        )
    spaced = [service.VariantDraft(sku="SP 1", price_cents=100, stock=1)]
    with pytest.raises(InvalidInput, match="no spaces"):
        service.create_product(
            db, draft.__class__(**{**draft.__dict__, "sku": "SP 1", "variants": spaced}), T0
        )
    twin_variants = [service.VariantDraft(sku="TW-1", price_cents=100, stock=1)] * 2
    with pytest.raises(InvalidInput):
        service.create_product(
            db, draft.__class__(**{**draft.__dict__, "sku": "TW", "variants": twin_variants}), T0
        )
    cheap_was = [service.VariantDraft(sku="W", price_cents=500, stock=1, was_price_cents=400)]
    with pytest.raises(InvalidInput) as was:
        service.create_product(
            db, draft.__class__(**{**draft.__dict__, "sku": "W", "variants": cheap_was}), T0
        )
    assert was.value.field == "was_price_cents"


def test_category_path_for_deeper_trees(db: Session) -> None:
    make_category(db, "a", "A")
    make_category(db, "b", "B", parent="a")
    make_category(db, "c", "C", parent="b")
    assert [c.slug for c in service.category_path(db, "c")] == ["a", "b", "c"]
    assert service.get_category(db, "c").name == "C"
