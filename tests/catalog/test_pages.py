"""Storefront pages: server-rendered, working without JavaScript, kind to bad input."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.catalog import service
from tests.catalog.factories import small_catalog


def test_home_shows_categories_and_cheapest_products(db: Session, client: TestClient) -> None:
    small_catalog(db)
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/categories/cables"' in page.text and 'href="/categories/tools"' in page.text
    assert "$3.49" in page.text  # the cheapest in-stock product leads the deals
    assert "USB-C Charging Cable" not in page.text.split('id="new"')[0]  # out of stock: no deal


def test_category_page_lists_children_cheapest_first(db: Session, client: TestClient) -> None:
    small_catalog(db)
    page = client.get("/categories/cables")
    assert page.status_code == 200
    shown = [
        int(p.replace(".", "")) for p in re.findall(r"<strong>\$(\d+\.\d\d)</strong>", page.text)
    ]
    assert shown == sorted(shown) and len(shown) == 7
    assert 'aria-current="page">Cables<' in page.text
    assert 'href="/categories/hdmi-cables"' in page.text


def test_category_filters_in_currency_units(db: Session, client: TestClient) -> None:
    small_catalog(db)
    page = client.get("/categories/cables", params={"price_min": "5", "price_max": "8.99"})
    assert page.status_code == 200
    assert "3 products" in page.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"price_min": "cheap"}, "price_min"),
        ({"price_max": "-3"}, "price_max"),
        ({"price_max": "NaN"}, "price_max"),
        ({"price_min": "Infinity"}, "price_min"),
        ({"price_min": "9" * 19}, "price_min"),
        ({"page": "0"}, "page"),
        ({"page": "1e5"}, "page"),
        ({"sort": "random"}, "sort"),
    ],
)
def test_bad_filters_get_a_400_page_naming_the_field(
    db: Session, client: TestClient, params: dict[str, str], field: str
) -> None:
    small_catalog(db)
    page = client.get("/categories/cables", params=params)
    assert page.status_code == 400
    assert f"<strong>{field}</strong>" in page.text


def test_page_past_the_end_offers_the_last_page(db: Session, client: TestClient) -> None:
    small_catalog(db)
    page = client.get("/categories/cables", params={"page": 40})
    assert page.status_code == 200
    assert "There is no page 40" in page.text and "page=1" in page.text


def test_product_page_shows_variants_stock_and_warranty(db: Session, client: TestClient) -> None:
    catalog = small_catalog(db)
    product = service.get_product(db, catalog.cable_with_lengths)
    page = client.get(f"/products/{product.slug}")
    assert page.status_code == 200
    for variant in product.variants:
        assert variant.sku in page.text
    assert "5 m" in page.text and "$9.99" in page.text
    assert "24-month warranty" in page.text and "Replaced free within two years." in page.text
    assert "In stock (5 left)" in page.text


def test_out_of_stock_product_says_so(db: Session, client: TestClient) -> None:
    small_catalog(db)
    slug = service.search_products(db, "usb-c charging").items[0].slug
    page = client.get(f"/products/{slug}")
    assert "Out of stock" in page.text


def test_search_page_corrects_typos(db: Session, client: TestClient) -> None:
    small_catalog(db)
    page = client.get("/search", params={"q": "hdmi cabel"})
    assert page.status_code == 200
    assert "5 results" in page.text and "<strong>hdmi cable</strong>" in page.text
    assert 'value="hdmi cabel"' in page.text


@pytest.mark.parametrize("q", ['" OR 1=1 --', "*", "NEAR(", '"', "-", "<script>alert(1)</script>"])
def test_search_page_with_hostile_text(db: Session, client: TestClient, q: str) -> None:
    small_catalog(db)
    page = client.get("/search", params={"q": q})
    assert page.status_code == 200
    assert "<script>alert" not in page.text  # escaped, never echoed raw


def test_oversized_search_is_a_400_page(client: TestClient) -> None:
    page = client.get("/search", params={"q": "x" * 10_000})
    assert page.status_code == 400 and "<strong>q</strong>" in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/products/no-such-product",
        "/categories/no-such-category",
        "/nothing/here",
        "/products/%ff%fe",
        "/products/%00%01",
        "/categories/%00",
        "/categories/" + "x" * 5000,
    ],
)
def test_unknown_pages_get_the_404_page(db: Session, client: TestClient, path: str) -> None:
    small_catalog(db)
    page = client.get(path)
    assert page.status_code == 404
    assert "We could not find that page" in page.text


def test_server_errors_get_the_500_page_with_headers(
    client: TestClient, assembled: AssembledApp, caplog: pytest.LogCaptureFixture
) -> None:
    @assembled.fastapi.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaput ann@example.org")

    quiet = TestClient(assembled, raise_server_exceptions=False)
    page = quiet.get("/boom")
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.text
    assert "kaput" not in page.text and "Traceback" not in page.text
    assert page.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    # The operator learns what broke and where, not the message (it may quote someone).
    (record,) = [r for r in caplog.records if r.name == "quietshop"]
    assert "RuntimeError" in record.getMessage() and "GET /boom" in record.getMessage()
    assert "ann@example.org" not in caplog.text and "kaput" not in caplog.text


def test_privacy_policy_page(client: TestClient) -> None:
    page = client.get("/privacy")
    assert page.status_code == 200
    assert "Version 1" in page.text
    for heading in ("No cookies, ever", "No spam", "Encrypted in transit", "Your customer number"):
        assert heading in page.text
    assert client.get("/privacy/versions/1").status_code == 200
    assert client.get("/privacy/versions/2").status_code == 404
    assert client.get("/privacy/versions/0").status_code == 400


def test_leaving_notice(client: TestClient) -> None:
    page = client.get("/leaving", params={"to": "https://example.org/rebates"})
    assert page.status_code == 200
    assert "You are leaving" in page.text and "<strong>example.org</strong>" in page.text
    assert client.get("/leaving", params={"to": "javascript:alert(1)"}).status_code == 400
    assert client.get("/leaving").status_code == 400


def test_pages_are_accessible_landmarks(db: Session, client: TestClient) -> None:
    catalog = small_catalog(db)
    product = service.get_product(db, catalog.hdmi_skus[0])
    for path in ("/", "/categories/cables", f"/products/{product.slug}", "/search?q=cable"):
        text = client.get(path).text
        assert '<html lang="en">' in text
        assert "<main" in text and "<nav" in text and "<footer" in text
        assert 'class="skip-link"' in text
        assert '<label for="site-search"' in text
        for img in re.findall(r"<img [^>]*>", text):
            assert 'alt="' in img
        # Nothing from another origin. Only the data for search engines and link previews
        # names absolute URLs, all of them the shop's own (its configured base URL) or
        # schema.org's vocabulary, which nothing loads.
        data = re.findall(
            r'<link rel="canonical"[^>]*>|<meta property="og:[^>]*>'
            r'|<script type="application/ld\+json">.*?</script>',
            text,
            re.S,
        )
        for found in data:
            text = text.replace(found, "")
            for url in re.findall(r"https?://[^\s\"<>]+", found):
                assert url.startswith(("https://shop.test/", "https://schema.org")), url
        assert "http://" not in text and "https://" not in text


def test_a_10kb_query_string_gets_a_normal_page(db: Session, client: TestClient) -> None:
    small_catalog(db)
    page = client.get("/categories/cables?" + "&".join(f"p{i}=v" for i in range(1500)))
    assert page.status_code == 200 and "7 products" in page.text
    search = client.get("/search?q=cable&" + "x=%00%ff&" * 1200)
    assert search.status_code == 200


def test_control_characters_in_search_are_dropped(db: Session, client: TestClient) -> None:
    small_catalog(db)
    page = client.get("/search", params={"q": "hdmi\x00\x1b[31m cable\r\n"})
    assert page.status_code == 200
    assert "\x1b" not in page.text and "\x00" not in page.text
    assert 'value="hdmi[31m cable"' in page.text  # shown back without the control characters
