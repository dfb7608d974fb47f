"""The product page a shopper trusts (issue 11 item 3): a gallery that works without
JavaScript, a specifications table, shipping to a country the shopper chose, returns,
related products chosen on the server, and a warranty that states one period."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.catalog import queries, service
from quietshop.catalog.demo import _warranty_terms
from quietshop.catalog.models import Product, ProductImage
from quietshop.catalog.service import ProductDraft, VariantDraft
from quietshop.orders.demo import seed_demo_rates
from tests.catalog.factories import make_category, make_product
from tests.clock import T0

HOSTILE_ALT = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def _product(
    session: Session,
    sku: str,
    category: str,
    *,
    brand: str = "Quietline",
    price_cents: int = 999,
    weights: tuple[int, ...] = (250,),
    warranty_months: int = 24,
    warranty_terms: str = "24-month limited warranty: Quietline repairs or replaces it.",
    image_file: str | None = None,
    active: bool = True,
) -> str:
    variants = [
        VariantDraft(
            sku=f"{sku}-{i}" if len(weights) > 1 else sku,
            price_cents=price_cents + 100 * i,
            stock=3,
            label=f"{i + 1} m" if len(weights) > 1 else "",
            options={"length": f"{i + 1} m", "colour": "Black"} if len(weights) > 1 else {},
            weight_grams=grams,
        )
        for i, grams in enumerate(weights)
    ]
    service.create_product(
        session,
        ProductDraft(
            sku=sku,
            slug=sku.lower(),
            name=f"Product {sku}",
            category_slug=category,
            variants=variants,
            currency="USD",
            brand=brand,
            warranty_months=warranty_months,
            warranty_terms=warranty_terms,
            image_file=image_file,
            image_alt=f"{sku} picture",
            active=active,
        ),
        T0,
    )
    return sku


def _add_images(session: Session, sku: str, pictures: list[tuple[int, str, str]]) -> None:
    product_id = session.execute(select(Product.id).where(Product.sku == sku)).scalar_one()
    session.add_all(
        ProductImage(product_id=product_id, position=position, file=file, alt=alt)
        for position, file, alt in pictures
    )
    session.flush()


# ---------------------------------------------------------------- the gallery


def test_gallery_is_in_position_order_with_thumbnails_that_need_no_script(
    db: Session, client: TestClient
) -> None:
    cables = make_category(db, "cables")
    _product(db, "GAL-1", cables, image_file="gal-1.svg")
    _add_images(
        db, "GAL-1", [(2, "gal-1-c.webp", "Back"), (0, "gal-1.svg", "Front"), (1, "b.webp", "Side")]
    )
    db.commit()

    product = service.get_product(db, "GAL-1")
    assert [(i.url, i.alt) for i in product.images] == [
        ("/images/gal-1.svg", "Front"),
        ("/images/b.webp", "Side"),
        ("/images/gal-1-c.webp", "Back"),
    ]
    page = client.get("/products/gal-1")
    assert page.status_code == 200
    for n in (1, 2, 3):
        assert f'href="#image-{n}"' in page.text and f'id="image-{n}"' in page.text
    assert "Picture 2 of 3: Side" in page.text
    # CSP forbids inline script and style: no style attribute, only data and files.
    assert " style=" not in page.text and "onclick" not in page.text
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page.text)
    assert inline == [' type="application/ld+json"']
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]


def test_gallery_falls_back_to_the_listing_picture_or_to_none(
    db: Session, client: TestClient
) -> None:
    cables = make_category(db, "cables")
    _product(db, "ONE-1", cables, image_file="one-1.svg")
    _product(db, "NONE-1", cables, image_file=None)
    db.commit()

    assert [(i.url, i.alt) for i in service.get_product(db, "ONE-1").images] == [
        ("/images/one-1.svg", "ONE-1 picture")
    ]
    assert service.get_product(db, "NONE-1").images == []
    one = client.get("/products/one-1").text
    assert 'id="image-1"' in one and "gallery-thumbs" not in one  # nothing to choose from
    none = client.get("/products/none-1")
    assert none.status_code == 200 and 'id="image-1"' not in none.text


def test_hostile_alt_text_is_escaped(db: Session, client: TestClient) -> None:
    cables = make_category(db, "cables")
    _product(db, "XSS-1", cables)
    _add_images(db, "XSS-1", [(0, "x.webp", HOSTILE_ALT), (1, "y.webp", HOSTILE_ALT)])
    db.commit()

    page = client.get("/products/xss-1").text
    assert "<script>alert(1)" not in page and "onerror=alert(2)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ---------------------------------------------------------------- specifications


def test_specifications_table_shows_the_chosen_variant_and_the_attributes(
    db: Session, client: TestClient
) -> None:
    cables = make_category(db, "cables", "Cables")
    _product(db, "SPEC-1", cables, brand="Corelink", weights=(250, 1500))
    db.commit()

    page = client.get("/products/spec-1", params={"variant": "SPEC-1-1"}).text
    table = page.split('<table class="specs">')[1].split("</table>")[0]
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th><td>(?:<a [^>]+>)?([^<]+)', table))
    assert rows == {
        "Brand": "Corelink",
        "SKU": "SPEC-1-1",
        "Length": "2 m",
        "Colour": "Black",
        "Shipping weight": "1.50 kg",
        "Warranty": "24-month warranty (2 years).",
        "Category": "Cables",
    }


# ---------------------------------------------------------------- shipping


@pytest.fixture
def shipped(db: Session) -> str:
    """A 250 g product and the demo's rate tables (USD)."""
    cables = make_category(db, "cables")
    _product(db, "SHIP-1", cables, price_cents=999, weights=(250,))
    seed_demo_rates(db, "USD", T0)
    db.commit()
    return "/products/ship-1"


def test_without_a_country_the_page_asks_for_one(shipped: str, client: TestClient) -> None:
    page = client.get(shipped).text
    assert 'data-shipping="choose"' in page and "Choose your country" in page
    assert '<option value="DE">Germany</option>' in page
    assert '<option value="US">United States</option>' in page


@pytest.mark.parametrize("country", ["DE", "de", " DE"[1:]])
def test_shipping_to_the_chosen_country_prices_the_variant(
    shipped: str, client: TestClient, country: str
) -> None:
    page = client.get(shipped, params={"country": country})
    assert page.status_code == 200
    options = page.text.split('data-shipping="options">')[1].split("</ul>")[0]
    # Europe: 14.90 + 3.00 per started kilogram; express flat 39.90 (orders/demo.py).
    assert "<strong>International standard</strong>: $17.90, delivered in 6\u201312 days" in options
    assert "<strong>International express</strong>: $39.90, delivered in 3\u20135 days" in options
    assert '<option value="DE" selected>Germany</option>' in page.text
    assert page.headers["cache-control"].startswith("public")
    assert "set-cookie" not in page.headers


def test_shipping_is_the_same_for_whoever_asks(shipped: str, client: TestClient) -> None:
    """Chosen, never looked up: another address or language gets the same page."""
    first = client.get(shipped, headers={"X-Forwarded-For": "81.2.69.160"})
    second = client.get(shipped, headers={"Accept-Language": "de-DE", "X-Forwarded-For": "1.1.1.1"})
    assert first.text == second.text and 'data-shipping="choose"' in first.text


def test_a_country_the_shop_does_not_ship_to_says_so(shipped: str, client: TestClient) -> None:
    page = client.get(shipped, params={"country": "JP"})
    assert page.status_code == 200
    assert 'data-shipping="none"' in page.text and "We do not ship to JP." in page.text
    assert 'data-shipping="options"' not in page.text


@pytest.mark.parametrize("country", ["DEU", "D", "1!", "<s", "\x00\x00", "é", "x" * 5000])
def test_a_malformed_country_is_a_400_naming_the_field(
    shipped: str, client: TestClient, country: str
) -> None:
    page = client.get(shipped, params={"country": country})
    assert page.status_code == 400
    assert "<strong>country</strong>" in page.text


def test_a_heavy_variant_beyond_every_rate_is_not_shipped(db: Session, client: TestClient) -> None:
    cables = make_category(db, "cables")
    _product(db, "HEAVY-1", cables, weights=(999_999_999,))
    seed_demo_rates(db, "USD", T0)
    db.commit()
    page = client.get("/products/heavy-1", params={"country": "DE"})
    assert page.status_code == 200 and "We do not ship to Germany." in page.text


# ---------------------------------------------------------------- returns


def test_returns_terms_link_to_the_returns_page(db: Session, client: TestClient) -> None:
    cables = make_category(db, "cables")
    _product(db, "RET-1", cables)
    db.commit()
    page = client.get("/products/ret-1").text
    assert 'id="returns"' in page and 'href="/returns"' in page


# ---------------------------------------------------------------- related products


def test_related_products_same_brand_first_never_itself_nor_inactive(
    db: Session, client: TestClient
) -> None:
    cables = make_category(db, "cables")
    tools = make_category(db, "tools")
    _product(db, "REL-0", cables, brand="Acme", price_cents=1000)
    _product(db, "REL-ACME-FAR", cables, brand="Acme", price_cents=5000)
    _product(db, "REL-ACME-NEAR", cables, brand="Acme", price_cents=1200)
    _product(db, "REL-ACME-OFF", cables, brand="Acme", price_cents=1000, active=False)
    _product(db, "REL-B-NEAR", cables, brand="Bolt", price_cents=990)
    _product(db, "REL-B-MID", cables, brand="Bolt", price_cents=1500)
    _product(db, "REL-B-FAR", cables, brand="Bolt", price_cents=9000)
    _product(db, "REL-TOOL", tools, brand="Acme", price_cents=1000)
    db.commit()

    product = service.get_product(db, "REL-0")
    related = [p.sku for p in service.related_products(db, product)]
    assert related == ["REL-ACME-NEAR", "REL-ACME-FAR", "REL-B-NEAR", "REL-B-MID"]
    assert [p.sku for p in service.related_products(db, product)] == related  # deterministic
    page = client.get("/products/rel-0").text.split('id="related"')[1]
    assert 'href="/products/rel-acme-near"' in page and 'href="/products/rel-0"' not in page
    assert "rel-acme-off" not in page and "rel-tool" not in page


def test_a_product_alone_in_its_category_has_no_related_section(
    db: Session, client: TestClient
) -> None:
    _product(db, "SOLO-1", make_category(db, "solo"))
    db.commit()
    assert service.related_products(db, service.get_product(db, "SOLO-1")) == []
    assert 'id="related"' not in client.get("/products/solo-1").text


# The plan is checked on SQLite; PostgreSQL plans by its statistics, which a test's few
# rows do not resemble.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_related_query_walks_the_category_price_index(db: Session) -> None:
    compiled = queries.RELATED_CANDIDATES.compile(dialect=db.get_bind().dialect)
    sql = str(compiled)
    params = {"category_slug": "x", "product_sku": "y", "price_cents": 1}
    ordered = [params.get(name, compiled.params.get(name)) for name in compiled.positiontup or []]
    plan = " | ".join(
        str(row[-1])
        for row in db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(ordered))
    )
    assert plan.count("ix_products_category_price") == 2, plan
    assert not re.search(r"SCAN products(?! USING)", plan), plan


# ---------------------------------------------------------------- warranty


@pytest.mark.parametrize(
    ("months", "terms", "headline", "details"),
    [
        (
            24,
            "24-month limited warranty: Acme repairs it.",
            "24-month warranty (2 years).",
            "Acme repairs it.",
        ),
        (12, "Lifetime warranty: we replace it, always.", "12-month warranty (1 year).", ""),
        (12, "Covered for 2 years against faults.", "12-month warranty (1 year).", ""),
        (
            18,
            "Replaced free within 18 months.",
            "18-month warranty.",
            "Replaced free within 18 months.",
        ),
        (
            120,
            "Limited lifetime warranty: for as long as you own it.",
            "Limited lifetime warranty.",
            "for as long as you own it.",
        ),
        (0, "", "No warranty from the maker; your statutory rights apply.", ""),
    ],
)
def test_warranty_states_one_period(months: int, terms: str, headline: str, details: str) -> None:
    assert service.warranty_headline(months) == headline
    assert service.warranty_details(months, terms) == details


@pytest.mark.parametrize("months", [12, 24, 36, 120])
def test_the_demo_warranty_texts_agree_with_their_months(months: int) -> None:
    assert service.warranty_details(months, _warranty_terms(months, "Acme")) != ""


def test_a_contradicting_warranty_text_is_not_shown(db: Session, client: TestClient) -> None:
    cables = make_category(db, "cables")
    _product(db, "WAR-1", cables, warranty_months=12, warranty_terms="Lifetime warranty: always.")
    db.commit()
    section = client.get("/products/war-1").text.split('id="warranty"')[1].split("</section>")[0]
    assert "12-month warranty (1 year)." in section
    assert "ifetime" not in section and 'href="/contact"' in section


def test_no_personal_data_or_cookie_on_the_page(db: Session, client: TestClient) -> None:
    cables = make_category(db, "cables")
    make_product(db, cables)
    db.commit()
    slug = service.list_products(db, service.ListingQuery()).items[0].slug
    page = client.get(f"/products/{slug}", headers={"Authorization": "Bearer x", "Cookie": "a=b"})
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert "data-recently-viewed hidden" in page.text  # filled by the browser, never the server
