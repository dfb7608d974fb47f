"""Being found without trackers: robots.txt and the sitemaps (catalog/discovery.py)."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.catalog import discovery, service
from tests.catalog.factories import make_category, make_product, small_catalog

BASE = "https://shop.test"  # the test settings' public_base_url
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def locations(answer_text: str, element: str) -> list[str]:
    root = ElementTree.fromstring(answer_text)
    return [loc.text or "" for loc in root.findall(f"s:{element}/s:loc", NS)]


def test_robots_keeps_crawlers_out_of_private_pages_and_names_the_sitemap(
    client: TestClient,
) -> None:
    answer = client.get("/robots.txt")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = answer.text.splitlines()
    assert lines[:2] == ["User-agent: *", "Allow: /"]
    for prefix in ("/account", "/cart", "/checkout", "/orders", "/staff", "/api/"):
        assert f"Disallow: {prefix}" in lines
    assert lines[-1] == f"Sitemap: {BASE}/sitemap.xml"
    assert "set-cookie" not in answer.headers


def test_the_sitemaps_list_every_shown_product_once_at_its_slug(
    db: Session, client: TestClient
) -> None:
    small_catalog(db)
    index = client.get("/sitemap.xml")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("application/xml")
    assert locations(index.text, "sitemap") == [
        f"{BASE}/sitemaps/categories.xml",
        f"{BASE}/sitemaps/products-1.xml",
    ]
    products = locations(client.get("/sitemaps/products-1.xml").text, "url")
    assert len(products) == len(set(products)) == service.active_product_count(db) == 9
    assert all(re.fullmatch(rf"{BASE}/products/[a-z0-9-]+", url) for url in products)
    assert not [url for url in products if "hidden-product" in url]  # inactive: not listed
    for url in products[:3]:  # each is a page that answers
        assert client.get(url.removeprefix(BASE)).status_code == 200
    categories = locations(client.get("/sitemaps/categories.xml").text, "url")
    assert categories == [
        f"{BASE}/",
        *(f"{BASE}{path}" for path in discovery.SHOP_PAGE_PATHS),
        f"{BASE}/categories/cables",
        f"{BASE}/categories/hdmi-cables",
        f"{BASE}/categories/usb-cables",
        f"{BASE}/categories/tools",
    ]


def test_the_products_are_split_at_the_protocols_limit(
    db: Session, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_catalog(db)
    monkeypatch.setattr(discovery, "SITEMAP_URLS", 4)  # 9 products: 4, 4 and 1
    index = locations(client.get("/sitemap.xml").text, "sitemap")
    assert index[1:] == [f"{BASE}/sitemaps/products-{n}.xml" for n in (1, 2, 3)]
    pages = [locations(client.get(f"/sitemaps/products-{n}.xml").text, "url") for n in (1, 2, 3)]
    assert [len(page) for page in pages] == [4, 4, 1]
    everything = [url for page in pages for url in page]
    assert len(set(everything)) == 9


@pytest.mark.parametrize(
    "page", ["2", "0", "00", "-1", "x", "1e3", "99999999999999999999", "%F0%9F%98%80"]
)
def test_a_sitemap_past_the_end_or_malformed_is_a_plain_404(
    db: Session, client: TestClient, page: str
) -> None:
    small_catalog(db)
    answer = client.get(f"/sitemaps/products-{page}.xml")
    assert answer.status_code == 404
    assert "Traceback" not in answer.text


def test_an_empty_shop_has_a_sitemap_of_its_home_and_no_product_sitemap(
    client: TestClient,
) -> None:
    assert locations(client.get("/sitemap.xml").text, "sitemap") == [
        f"{BASE}/sitemaps/categories.xml"
    ]
    assert locations(client.get("/sitemaps/categories.xml").text, "url") == [
        f"{BASE}/",
        f"{BASE}/contact",
        f"{BASE}/shipping",
        f"{BASE}/returns",
    ]
    assert client.get("/sitemaps/products-1.xml").status_code == 404


def test_a_forged_host_header_never_reaches_a_sitemap(db: Session, client: TestClient) -> None:
    """The answers are cached and shared: their URLs come from the settings only."""
    small_catalog(db)
    for path in ("/robots.txt", "/sitemap.xml", "/sitemaps/products-1.xml"):
        answer = client.get(path, headers={"host": "evil.example"})
        assert "evil.example" not in answer.text, path


def product_data(page_text: str) -> list[dict[str, object]]:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', page_text, re.S)
    assert found is not None
    data: list[dict[str, object]] = json.loads(found.group(1))
    return data


def test_a_product_answers_at_its_sku_too_but_names_its_slug_as_canonical(
    db: Session, client: TestClient
) -> None:
    catalog = small_catalog(db)
    product = service.get_product(db, catalog.cable_with_lengths)
    canonical = f'<link rel="canonical" href="{BASE}/products/{product.slug}">'
    for key in (product.slug, product.sku, product.variants[1].sku):
        page = client.get(f"/products/{key}")
        assert page.status_code == 200
        assert canonical in page.text, key
    page = client.get(f"/products/{product.slug}", params={"variant": product.variants[2].sku})
    assert canonical in page.text
    assert f'<meta property="og:url" content="{BASE}/products/{product.slug}">' in page.text
    assert '<meta property="og:type" content="product">' in page.text


def test_a_product_page_carries_its_json_ld_product_offers_and_breadcrumbs(
    db: Session, client: TestClient
) -> None:
    catalog = small_catalog(db)
    product = service.get_product(db, catalog.cable_with_lengths)
    thing, crumbs = product_data(client.get(f"/products/{product.slug}").text)
    assert thing["@type"] == "Product" and thing["name"] == "Braided HDMI Cable"
    assert thing["brand"] == {"@type": "Brand", "name": "Quietline"}
    offers = thing["offers"]
    assert isinstance(offers, list)
    assert [(o["sku"], o["price"], o["priceCurrency"]) for o in offers] == [
        (v.sku, f"{v.price.cents / 100:.2f}", "USD") for v in product.variants
    ]
    assert {o["availability"] for o in offers} == {"https://schema.org/InStock"}
    assert crumbs["@type"] == "BreadcrumbList"
    items = crumbs["itemListElement"]
    assert isinstance(items, list)
    assert [item["item"] for item in items] == [
        f"{BASE}/",
        f"{BASE}/categories/cables",
        f"{BASE}/categories/hdmi-cables",
    ]


def test_a_hostile_product_name_cannot_leave_the_json_ld(db: Session, client: TestClient) -> None:
    """tojson escapes < > & and quotes: a name with </script> stays data."""
    hostile = 'Cable </script><script>alert(1)</script> "&"'
    sku = make_product(db, make_category(db, "odd", "Odd"), name=hostile)
    db.commit()
    page = client.get(f"/products/{sku}")
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    (thing, _) = product_data(page.text)
    assert thing["name"] == hostile
