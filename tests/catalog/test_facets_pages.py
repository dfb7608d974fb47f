"""The category page's facets and numbered pages, and the API listing's (issue 11, item 2):
a GET form that works without JavaScript, links that keep every filter, an empty result
that offers a way out, and bad facet input answered 4xx or empty, never 500."""

from __future__ import annotations

import html
import re
import threading
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.catalog import admin, service
from quietshop.catalog.listing_index import ListingIndex, load_listing_index
from quietshop.catalog.memo import CatalogMemo
from tests.catalog.factories import make_category, make_product, small_catalog


def shelf(db: Session) -> None:
    """small_catalog, plus cables of two brands in lengths (options) under hdmi-cables."""
    small_catalog(db)
    for i in range(3):
        make_product(
            db, "hdmi-cables", name=f"Lead {i}", brand="Amberton", price_cents=300 + i,
            lengths=("1 m", "10 m"),
        )  # fmt: skip
    make_product(db, "hdmi-cables", name="Lead sold out", brand="Amberton", stock=0)
    db.commit()


def names(page_text: str) -> list[str]:
    return re.findall(r'class="card-name"[^>]*>([^<]+)<', page_text)


def hrefs(page_text: str, label: str) -> list[str]:
    """The hrefs of links whose text is ``label``."""
    return [
        html.unescape(href)
        for href in re.findall(rf'<a[^>]*href="([^"]+)"[^>]*>{re.escape(label)}</a>', page_text)
    ]


def test_sidebar_shows_brands_options_and_stock_with_counts(
    db: Session, client: TestClient
) -> None:
    shelf(db)
    page = client.get("/categories/cables")
    assert page.status_code == 200
    text = page.text
    # Brands: every product in cables is Quietline but the four Amberton leads.
    assert re.search(
        r'value="Amberton"[^>]*>\s*<label[^>]*>Amberton <span class="facet-count">\(4\)', text
    )
    assert re.search(
        r'value="Quietline"[^>]*>\s*<label[^>]*>Quietline <span class="facet-count">\(7\)', text
    )
    # Options: lengths in number order, with how many products have each.
    lengths = re.findall(
        r'value="length:([^"]+)"[^>]*>\s*<label[^>]*>[^<]+<span class="facet-count">\((\d+)\)', text
    )
    assert lengths == [("1 m", "4"), ("2 m", "1"), ("5 m", "1"), ("10 m", "3")]
    assert 'In stock only <span class="facet-count">(9)</span>' in text
    assert 'placeholder="3.00"' in text and 'placeholder="24.99"' in text  # the price range


def test_choosing_a_brand_and_an_option_filters_and_keeps_other_brand_counts(
    db: Session, client: TestClient
) -> None:
    shelf(db)
    page = client.get(
        "/categories/cables", params=[("brand", "Amberton"), ("option", "length:10 m")]
    )
    assert page.status_code == 200
    assert sorted(names(page.text)) == ["Lead 0", "Lead 1", "Lead 2"]
    assert re.search(r'value="Amberton" checked', page.text)
    assert re.search(r'value="length:10 m" checked', page.text)
    # Disjunctive: Quietline is still offered with what it would add (none has 10 m).
    assert 'value="Quietline"' not in page.text
    one_m = client.get("/categories/cables", params=[("option", "length:1 m")])
    assert 'Quietline <span class="facet-count">(1)' in one_m.text  # the braided cable


def test_sort_and_page_links_keep_every_filter(db: Session, client: TestClient) -> None:
    category = make_category(db, "many", "Many")
    for i in range(24 * 12):
        make_product(db, category, name=f"Item {i:03d}", price_cents=100 + i, brand="Quietline")
    db.commit()
    params = [("brand", "Quietline"), ("in_stock", "true"), ("price_min", "1"), ("page", "6")]
    page = client.get("/categories/many", params=params)
    assert page.status_code == 200
    # Numbered: first, last, two either side of the current, previous and next.
    numbers = re.findall(r'<li><a href="[^"]+"(?: aria-label="[^"]+")?>(\d+)</a></li>', page.text)
    assert numbers == ["1", "4", "5", "7", "8", "12"]
    assert '<span aria-current="page">6</span>' in page.text
    for label in ("← Previous", "Next →", "12", "4"):
        (link,) = hrefs(page.text, label)
        query = dict(parse_qsl(urlsplit(link).query))
        assert query["brand"] == "Quietline" and query["in_stock"] == "true"
        assert query["price_min"] == "1" and query["sort"] == "price_asc"
    assert dict(parse_qsl(urlsplit(hrefs(page.text, "Next →")[0]).query))["page"] == "7"
    first = client.get("/categories/many")
    assert "← Previous" not in first.text and '<span aria-current="page">1</span>' in first.text


def test_no_match_offers_removing_each_filter(db: Session, client: TestClient) -> None:
    shelf(db)
    params = [("brand", "Amberton"), ("option", "length:2 m"), ("in_stock", "true")]
    page = client.get("/categories/cables", params=params)
    assert page.status_code == 200 and "No products match these filters." in page.text
    (without_brand,) = hrefs(page.text, "Remove brand: Amberton")
    assert ("brand", "Amberton") not in parse_qsl(urlsplit(without_brand).query)
    assert ("option", "length:2 m") in parse_qsl(urlsplit(without_brand).query)
    # Removing the brand finds the braided cable in 2 m.
    assert names(client.get(without_brand).text) == ["Braided HDMI Cable"]
    (without_option,) = hrefs(page.text, "Remove length: 2 m")
    assert sorted(names(client.get(without_option).text)) == ["Lead 0", "Lead 1", "Lead 2"]
    assert hrefs(page.text, "Show products out of stock too")


def test_an_empty_category_links_its_parent(db: Session, client: TestClient) -> None:
    small_catalog(db)
    make_category(db, "empty-leaf", "Empty leaf", parent="cables")
    db.commit()
    page = client.get("/categories/empty-leaf")
    assert page.status_code == 200
    assert "There are no products in Empty leaf yet." in page.text
    assert hrefs(page.text, "See all of Cables") == ["/categories/cables"]


def test_unknown_facet_values_give_an_empty_page(db: Session, client: TestClient) -> None:
    shelf(db)
    for params in (
        [("brand", "Nobody")],
        [("option", "length:99 m")],
        [("option", "voltage:230 V")],
        [("option", 'le"n\\gth:1 m')],
    ):
        page = client.get("/categories/cables", params=params)
        assert page.status_code == 200 and "0 products" in page.text, params
        api = client.get("/api/v1/products", params=[("category", "cables"), *params])
        assert api.status_code == 200 and api.json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("brand", f"b{i}") for i in range(51)], "brand"),
        ([("brand", "x")] * 1000, "brand"),
        ([("brand", "x" * 101)], "brand"),
        ([("option", "length:" + "x" * 101)], "option"),
        ([("option", "no colon")], "option"),
        ([("brand", "a\x00b")], "brand"),
    ],
)
def test_too_many_or_too_long_facets_are_a_400_naming_the_field(
    db: Session, client: TestClient, params: list[tuple[str, str]], field: str
) -> None:
    small_catalog(db)
    page = client.get("/categories/cables", params=params)
    assert page.status_code == 400 and f"<strong>{field}</strong>" in page.text
    api = client.get("/api/v1/products", params=params)
    assert api.status_code == 400 and field in api.text


def test_absurd_and_past_the_end_pages(db: Session, client: TestClient) -> None:
    shelf(db)
    # Refused before any query, as before the index (the shop answers 400, field named).
    for path in ("/categories/cables", "/api/v1/products"):
        absurd = client.get(path, params={"page": 10_001})
        assert absurd.status_code == 400 and "page" in absurd.text
    past = client.get("/categories/cables", params={"page": 9_999, "brand": "Amberton"})
    assert past.status_code == 200 and "There is no page 9999" in past.text
    (last,) = hrefs(past.text, "Go to the last page")
    assert dict(parse_qsl(urlsplit(last).query)) == {
        "sort": "price_asc",
        "brand": "Amberton",
        "page": "1",
    }


def test_the_api_listing_filters_by_brand_and_option_and_counts_facets(
    db: Session, client: TestClient
) -> None:
    shelf(db)
    answer = client.get(
        "/api/v1/products",
        params=[("category", "cables"), ("brand", "Amberton"), ("option", "length:1 m")],
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["total"] == 3 and {i["name"] for i in body["items"]} == {
        "Lead 0",
        "Lead 1",
        "Lead 2",
    }
    facets = body["facets"]
    assert {b["value"]: b["count"] for b in facets["brands"]} == {"Amberton": 3, "Quietline": 1}
    (length,) = facets["options"]
    assert {v["value"]: v["count"] for v in length["values"]} == {"1 m": 3, "10 m": 3}
    assert facets["price"] == {"min_cents": 300, "max_cents": 302}
    assert "set-cookie" not in answer.headers


def test_a_sale_that_empties_stock_leaves_the_in_stock_listing_at_once(
    db: Session, client: TestClient
) -> None:
    catalog = small_catalog(db)
    url = "/categories/hdmi-cables?in_stock=true&sort=price_asc"
    before = client.get(url)
    assert "High Speed HDMI Cable 1" in names(before.text)
    # The badge flips: a listings change (no new catalog generation). The page cache drops
    # the page and the re-render's index is patched from the change log.
    service.set_variant_stock(db, catalog.hdmi_skus[1], 0)
    db.commit()
    after = client.get(url)
    assert "High Speed HDMI Cable 1" not in names(after.text)
    assert "4 products" in after.text


def test_a_price_edit_moves_the_product_in_price_order_at_once(
    db: Session, client: TestClient
) -> None:
    catalog = small_catalog(db)
    url = "/categories/hdmi-cables?sort=price_desc"
    assert names(client.get(url).text)[0] == "High Speed HDMI Cable 3"  # 24.99
    admin.update_variant(db, catalog.hdmi_skus[0], admin.VariantChanges(price_cents=99_00))
    db.commit()
    assert names(client.get(url).text)[0] == "High Speed HDMI Cable 0"
    cheap = client.get("/categories/hdmi-cables", params={"price_max": "10"})
    assert "High Speed HDMI Cable 0" not in names(cheap.text)


def test_a_page_from_the_previous_index_is_not_kept(
    db: Session, client: TestClient, assembled: AssembledApp
) -> None:
    catalog = small_catalog(db)
    assert client.get("/categories/tools").headers["cache-control"].startswith("public")
    memo = assembled.state.part(CatalogMemo)
    gate = threading.Event()

    def held(session: Session) -> ListingIndex:
        assert gate.wait(10)
        return load_listing_index(session)

    memo._listing_loader = held  # the next rebuild waits for the test
    make_product(db, catalog.tools, name="Punch Down Tool", price_cents=999)
    db.commit()
    during = client.get("/categories/tools")
    assert "Punch Down Tool" not in during.text  # the previous index still answers ...
    assert during.headers["cache-control"] == "no-store"  # ... and the page is not kept
    gate.set()
    assert memo.wait_for_rebuild(10)
    after = client.get("/categories/tools")
    assert "Punch Down Tool" in after.text
    assert after.headers["cache-control"].startswith("public")
