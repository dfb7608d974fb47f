"""Choosing what to buy: the variant picker's rules, and the product page and listing cards
that offer "Add to cart" without JavaScript (issue 8, item 1)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp, log_policy
from quietshop.catalog import service
from quietshop.catalog.schemas import Money, VariantOut
from quietshop.catalog.service import ProductDraft, VariantDraft
from quietshop.catalog.variants import (
    CACHE_TAGS_HEADER,
    MAX_QUANTITY,
    pick_variant,
    product_tag,
    set_cache_tags,
    stock_text,
)
from tests.catalog.factories import make_category, small_catalog
from tests.clock import T0


def variant(sku: str, stock: int = 5, price: int = 1000, **options: Any) -> VariantOut:
    return VariantOut(
        sku=sku,
        label=", ".join(str(value) for value in options.values()),
        options=options,
        price=Money(cents=price, currency="USD"),
        was_price=None,
        stock=stock,
        in_stock=stock > 0,
        weight_grams=0,
    )


# Two lengths in two colours, except that 2 m does not come in White; 1 m White is sold out.
GRID = [
    variant("C-1-BK", length="1 m", colour="Black", price=799),
    variant("C-1-WH", length="1 m", colour="White", price=799, stock=0),
    variant("C-2-BK", length="2 m", colour="Black", price=899, stock=3),
]


def skus(pick: Any) -> str:
    return str(pick.variant.sku)


# ---------------------------------------------------------------- the rules


def test_without_a_choice_the_first_variant_in_stock_is_shown() -> None:
    pick = pick_variant(GRID, None, {})
    assert skus(pick) == "C-1-BK" and pick.message == ""
    sold_out_first = [GRID[1], GRID[2]]
    assert skus(pick_variant(sold_out_first, None, {})) == "C-2-BK"
    nothing_in_stock = [GRID[1], variant("C-9", stock=0, length="9 m", colour="White")]
    assert skus(pick_variant(nothing_in_stock, None, {})) == "C-1-WH"


def test_options_name_the_variant() -> None:
    pick = pick_variant(GRID, None, {"length": "2 m", "colour": "Black"})
    assert skus(pick) == "C-2-BK" and pick.message == "" and pick.by_options


def test_some_options_pick_the_first_match_in_stock() -> None:
    assert skus(pick_variant(GRID, None, {"colour": "White"})) == "C-1-WH"  # the only one
    assert skus(pick_variant(GRID, None, {"length": "1 m"})) == "C-1-BK"


def test_a_combination_not_sold_says_so_and_falls_back_to_the_closest() -> None:
    pick = pick_variant(GRID, None, {"length": "2 m", "colour": "White"})
    # 1 m White and 2 m Black each share one option; the first of them wins.
    assert skus(pick) == "C-1-WH"
    assert pick.message == "This product does not come in 2 m, White. Showing 1 m, White instead."


@pytest.mark.parametrize(
    "value", ["<script>alert(1)</script>", "\x00", "x" * 10_000, "", " 1 m", "1 M", "☃"]
)
def test_an_unknown_value_is_never_echoed(value: str) -> None:
    pick = pick_variant(GRID, None, {"length": value, "colour": "Black"})
    assert skus(pick) == "C-1-BK"  # Black matches; the first Black is the closest
    # The whole message, so nothing of the value is in it.
    assert pick.message == (
        "That choice is not one this product comes in. Showing 1 m, Black instead."
    )


def test_options_win_over_a_sku_and_a_sku_alone_names_its_variant() -> None:
    assert skus(pick_variant(GRID, "C-2-BK", {"length": "1 m", "colour": "Black"})) == "C-1-BK"
    pick = pick_variant(GRID, "C-1-WH", {"variant": "C-1-WH", "page": "3"})
    assert skus(pick) == "C-1-WH" and pick.message == ""


@pytest.mark.parametrize("sku", ["NO-SUCH", "c-2-bk", "C-2-BK ", "T-00001"])
def test_a_sku_that_is_not_this_products_falls_back_with_a_message(sku: str) -> None:
    pick = pick_variant(GRID, sku, {})
    assert skus(pick) == "C-1-BK"
    assert pick.message == "That version is not one of this product's. Showing 1 m, Black instead."


def test_the_groups_offer_each_value_next_to_the_current_variant() -> None:
    pick = pick_variant(GRID, "C-1-BK", {})
    length, colour = pick.groups
    assert (length.name, length.title, colour.name, colour.title) == (
        "length",
        "Length",
        "colour",
        "Colour",
    )
    assert [(c.value, c.selected, c.available, c.sold_out) for c in length.choices] == [
        ("1 m", True, True, False),
        ("2 m", False, True, False),
    ]
    assert [(c.value, c.selected, c.available, c.sold_out) for c in colour.choices] == [
        ("Black", True, True, False),
        ("White", False, True, True),  # 1 m White exists, sold out
    ]
    from_two_metres = pick_variant(GRID, "C-2-BK", {}).groups[1].choices
    assert [(c.value, c.available) for c in from_two_metres] == [("Black", True), ("White", False)]


def test_numbers_in_options_compare_as_the_text_a_form_sends() -> None:
    numbered = [variant("N-1", watts=20), variant("N-2", watts=65)]
    pick = pick_variant(numbered, None, {"watts": "65"})
    assert skus(pick) == "N-2" and pick.groups[0].choices[1].value == "65"


@pytest.mark.parametrize(
    "variants",
    [
        [variant("A"), variant("B")],  # no options at all
        [variant("A", colour="Red"), variant("B", colour="Red")],  # options do not tell apart
        [variant("A", colour="Red"), variant("B", length="2 m")],  # different option names
    ],
)
def test_variants_options_cannot_tell_apart_are_picked_by_sku(variants: list[VariantOut]) -> None:
    pick = pick_variant(variants, "B", {"colour": "Red"})
    assert not pick.by_options and pick.groups == [] and skus(pick) == "B"


def test_a_single_variant_is_the_product_whatever_the_query() -> None:
    only = [variant("ONE")]
    pick = pick_variant(only, "OTHER", {"colour": "Red"})
    assert skus(pick) == "ONE" and pick.message == "" and pick.groups == []
    with pytest.raises(ValueError, match="at least one variant"):
        pick_variant([], None, {})


@pytest.mark.parametrize(
    ("stock", "text", "most"),
    [(0, "Out of stock", 0), (1, "Only 1 left", 1), (9, "Only 9 left", 9), (10, "In stock", 10)],
)
def test_stock_is_said_in_words_and_bounds_the_quantity(stock: int, text: str, most: int) -> None:
    assert stock_text(stock) == text
    assert pick_variant([variant("S", stock=stock)], None, {}).max_quantity == most


def test_a_quantity_never_goes_above_the_carts_limit() -> None:
    assert pick_variant([variant("S", stock=5000)], None, {}).max_quantity == MAX_QUANTITY == 999


def test_cache_tags_are_one_token_per_product() -> None:
    assert product_tag("QS-1042") == "product:QS-1042"
    assert product_tag("A B%C\u00e9\n") == "product:A%20B%25C%C3%A9%0A"
    headers: dict[str, str] = {}
    set_cache_tags(headers, [])
    assert headers == {}
    set_cache_tags(headers, ["product:A", "listings", "product:A"])
    assert headers == {CACHE_TAGS_HEADER: "product:A listings"}


def test_the_access_log_keeps_no_choice_of_variant() -> None:
    policy = log_policy()
    target = policy.target("/products/braided-cable-3", "variant=C-1-BK&length=2+m", None)
    assert target == "/products/braided-cable-3"


# ---------------------------------------------------------------- the product page


def grid_product(session: Session) -> str:
    """A cable like GRID's, as a product page; returns its slug."""
    category = make_category(session)
    draft_variants = [
        VariantDraft(
            sku=v.sku,
            label=v.label,
            options=dict(v.options),
            price_cents=v.price.cents,
            stock=v.stock,
            was_price_cents=1299 if v.sku == "C-2-BK" else None,
            weight_grams=120,
        )
        for v in GRID
    ]
    service.create_product(
        session,
        ProductDraft(
            sku="C",
            slug="braided-cable",
            name="Braided Cable",
            category_slug=category,
            variants=draft_variants,
            currency="USD",
        ),
        T0,
    )
    session.commit()
    return "braided-cable"


def checked(text: str) -> list[tuple[str, str]]:
    return re.findall(
        r'<input type="radio" id="[^"]+" name="([^"]+)" value="([^"]+)" checked>', text
    )


def test_the_picker_is_a_get_form_of_options(db: Session, client: TestClient) -> None:
    slug = grid_product(db)
    page = client.get(f"/products/{slug}")
    assert page.status_code == 200
    assert f'<form class="variant-picker" method="get" action="/products/{slug}"' in page.text
    assert "<legend>Length</legend>" in page.text and "<legend>Colour</legend>" in page.text
    assert checked(page.text) == [("length", "1 m"), ("colour", "Black")]
    assert '<button type="submit" class="secondary">Show this version</button>' in page.text
    assert "sold out" in page.text  # 1 m White


def test_submitting_options_shows_that_variants_price_stock_and_cart_form(
    db: Session, client: TestClient
) -> None:
    slug = grid_product(db)
    page = client.get(f"/products/{slug}", params={"length": "2 m", "colour": "Black"})
    assert page.status_code == 200
    assert checked(page.text) == [("length", "2 m"), ("colour", "Black")]
    assert "<strong data-variant-price>$8.99</strong>" in page.text
    assert 'aria-label="was $12.99"' in page.text
    assert '<p class="stock in" data-variant-stock>Only 3 left</p>' in page.text
    assert "<span data-variant-sku>C-2-BK</span>" in page.text
    form = page.text.split('<form class="add-to-cart"')[1].split("</form>")[0]
    assert 'method="get" action="/cart"' in form
    assert '<input type="hidden" name="add" value="C-2-BK">' in form
    assert 'name="qty" type="number"' in form and 'min="1" max="3"' in form
    assert "Add to cart" in form and 'aria-live="polite"' in form
    assert "Shipping weight: 120 g" in page.text
    assert "<title>Braided Cable, 2 m, Black" in page.text


def test_a_sold_out_variant_offers_no_cart_form(db: Session, client: TestClient) -> None:
    slug = grid_product(db)
    page = client.get(f"/products/{slug}", params={"variant": "C-1-WH"})
    assert '<p class="stock out" data-variant-stock>Out of stock</p>' in page.text
    assert 'class="add-to-cart"' not in page.text
    assert "This version is out of stock" in page.text


def test_an_unsold_combination_gets_a_message_not_an_error(db: Session, client: TestClient) -> None:
    slug = grid_product(db)
    page = client.get(f"/products/{slug}", params={"length": "2 m", "colour": "White"})
    assert page.status_code == 200
    assert "This product does not come in 2 m, White. Showing 1 m, White instead." in page.text
    hostile = client.get(f"/products/{slug}", params={"length": "<b>free</b>", "colour": "\x00"})
    assert hostile.status_code == 200
    assert "That choice is not one this product comes in." in hostile.text
    assert "<b>free" not in hostile.text and "&lt;b&gt;free" not in hostile.text


@pytest.mark.parametrize("value", ["NO-SUCH", "\x00", "%", "<script>", ""])
def test_an_unknown_variant_sku_falls_back_to_the_first(
    db: Session, client: TestClient, value: str
) -> None:
    slug = grid_product(db)
    page = client.get(f"/products/{slug}", params={"variant": value})
    assert page.status_code == 200
    assert checked(page.text) == [("length", "1 m"), ("colour", "Black")]
    assert ("That version is not one of this product" in page.text) == (value != "")


def test_an_overlong_variant_is_a_400_naming_it(db: Session, client: TestClient) -> None:
    slug = grid_product(db)
    page = client.get(f"/products/{slug}", params={"variant": "X" * 41})
    assert page.status_code == 400 and "<strong>variant</strong>" in page.text


def test_every_version_links_to_its_own_page(db: Session, client: TestClient) -> None:
    slug = grid_product(db)
    page = client.get(f"/products/{slug}", params={"variant": "C-2-BK"})
    for sku in ("C-1-BK", "C-1-WH", "C-2-BK"):
        assert f'href="/products/{slug}?variant={sku}"' in page.text
    assert page.text.count('aria-current="true"') == 1


def cached_tags(assembled: AssembledApp, page: Any) -> frozenset[str] | None:
    """The tags the page cache keeps a page by (it never sends the header on)."""
    assert CACHE_TAGS_HEADER not in page.headers
    assert assembled.page_cache is not None
    return assembled.page_cache.tags_of(page.request.url.raw_path.decode("latin-1"))


def test_the_product_page_is_public_and_tagged_with_its_product(
    db: Session, client: TestClient, assembled: AssembledApp
) -> None:
    slug = grid_product(db)
    for params in ({}, {"variant": "C-2-BK"}, {"length": "2 m"}):
        page = client.get(f"/products/{slug}", params=params)
        assert page.headers["cache-control"] == "public, max-age=60"
        assert cached_tags(assembled, page) == frozenset({"product:C"})
        assert "set-cookie" not in page.headers
    signed_in = client.get(f"/products/{slug}", headers={"authorization": "Bearer someone"})
    assert signed_in.text == client.get(f"/products/{slug}").text  # the same for everyone


def test_a_single_variant_product_page_has_no_picker(db: Session, client: TestClient) -> None:
    catalog = small_catalog(db)
    product = service.get_product(db, catalog.hdmi_skus[0])
    page = client.get(f"/products/{product.slug}", params={"variant": "ELSEWHERE"})
    assert page.status_code == 200
    assert "variant-picker" not in page.text and "pick-message" not in page.text
    assert f'<input type="hidden" name="add" value="{product.sku}">' in page.text
    assert '<p class="stock in" data-variant-stock>Only 5 left</p>' in page.text


# ---------------------------------------------------------------- listing cards


def card_of(text: str, name: str) -> str:
    cards = [card for card in text.split('<li class="card">')[1:] if f">{name}<" in card]
    assert cards, name
    return cards[0].split("</li>")[0]


def test_cards_offer_the_cart_for_single_variants_and_options_for_the_rest(
    db: Session, client: TestClient
) -> None:
    small_catalog(db)
    page = client.get("/categories/cables")
    single = card_of(page.text, "High Speed HDMI Cable 1")
    assert 'method="get" action="/cart" data-add-to-cart' in single
    assert re.search(r'name="add" value="T-\d+"', single) and 'name="qty" value="1"' in single
    assert "Choose options" not in single
    several = card_of(page.text, "Braided HDMI Cable")
    assert "data-add-to-cart" not in several
    assert 'href="/products/braided-hdmi-cable-' in several and "Choose options" in several
    sold_out = card_of(page.text, "USB-C Charging Cable")
    assert "data-add-to-cart" not in sold_out and "Choose options" not in sold_out


@pytest.mark.parametrize("path", ["/", "/categories/cables", "/search?q=cable"])
def test_listings_load_the_add_script_and_are_tagged_listings(
    db: Session, client: TestClient, assembled: AssembledApp, path: str
) -> None:
    small_catalog(db)
    page = client.get(path)
    assert page.status_code == 200
    assert cached_tags(assembled, page) == frozenset({"listings"})
    assert page.headers["cache-control"].startswith("public")
    assert '<script type="module" src="/static/orders/cart-add.js"></script>' in page.text
    assert "data-add-to-cart" in page.text
