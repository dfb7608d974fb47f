"""Search over bounded candidates: name matches first, a capped count, sorts, bad input.

On SQLite and PostgreSQL. The cap is made small here (monkeypatched) so that a catalog of
a dozen products exceeds it; the rules are the same at MAX_CANDIDATES = 1000.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from quietshop.catalog import admin, search, service
from quietshop.catalog.admin import ProductChanges
from quietshop.catalog.schemas import SearchSort
from quietshop.catalog.service import ProductDraft, VariantDraft
from tests.catalog.factories import make_category, make_product, small_catalog
from tests.clock import T0

_numbers = itertools.count(1)


def add_product(
    db: Session,
    category: str,
    name: str,
    *,
    price_cents: int = 999,
    description: str = "",
    days_old: int = 0,
    active: bool = True,
) -> str:
    """A product created ``days_old`` days before T0 (the factory makes them all at T0)."""
    number = next(_numbers)
    sku = f"B-{number:05d}"
    service.create_product(
        db,
        ProductDraft(
            sku=sku,
            slug=f"bounded-{number}",
            name=name,
            category_slug=category,
            variants=[VariantDraft(sku=sku, price_cents=price_cents, stock=3)],
            currency="USD",
            brand="Quietline",
            description=description,
            warranty_months=24,
            warranty_terms="Replaced free within two years.",
            active=active,
        ),
        T0 - timedelta(days=days_old),
    )
    return sku


@pytest.fixture
def shelf(db: Session) -> str:
    """Three products named for "widget" and three that only mention it, mixed in order."""
    category = make_category(db, "widgets", "Widgets")
    add_product(db, category, "Plain Gadget", price_cents=100, description="fits any widget")
    add_product(db, category, "Widget Large", price_cents=900, days_old=3)
    add_product(db, category, "Other Gadget", price_cents=200, description="widget compatible")
    add_product(db, category, "Widget Small", price_cents=300, days_old=1)
    add_product(db, category, "Third Gadget", price_cents=50, description="a widget holder")
    add_product(db, category, "Widget Medium", price_cents=600, days_old=2)
    add_product(db, category, "Widget Retired", price_cents=10, active=False)
    db.commit()
    return category


def names(results: service.SearchResults) -> list[str]:
    return [item.name for item in results.items]


def test_products_named_for_the_word_come_first(db: Session, shelf: str) -> None:
    results = service.search_products(db, "widget")
    assert results.total == 6 and not results.total_capped
    assert set(names(results)[:3]) == {"Widget Large", "Widget Small", "Widget Medium"}
    assert set(names(results)[3:]) == {"Plain Gadget", "Other Gadget", "Third Gadget"}


def test_beyond_the_cap_the_name_tier_fills_it_and_the_count_says_so(
    db: Session, shelf: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    results = service.search_products(db, "widget", page_size=2)
    assert results.total_capped and results.total == 3 and results.pages == 2
    second = service.search_products(db, "widget", page=2, page_size=2)
    assert len(second.items) == 1
    every = set(names(results)) | set(names(second))
    assert every == {"Widget Large", "Widget Small", "Widget Medium"}


def test_the_second_tier_counts_exactly_up_to_the_cap(
    db: Session, shelf: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MAX_CANDIDATES", 6)  # exactly the active matches
    exact = service.search_products(db, "widget")
    assert exact.total == 6 and not exact.total_capped
    monkeypatch.setattr(search, "MAX_CANDIDATES", 5)
    capped = service.search_products(db, "widget")
    assert capped.total == 5 and capped.total_capped
    assert set(names(capped)[:3]) == {"Widget Large", "Widget Small", "Widget Medium"}


def test_a_page_past_the_candidates_is_empty_not_an_error(
    db: Session, shelf: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    past = service.search_products(db, "widget", page=9_999, page_size=2)
    assert past.items == [] and past.total == 3 and past.total_capped and past.pages == 2


def test_inactive_products_are_never_candidates(db: Session, shelf: str) -> None:
    assert "Widget Retired" not in names(service.search_products(db, "widget", page_size=50))
    assert service.search_products(db, "retired").total == 0


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (
            SearchSort.price_asc,
            [
                "Third Gadget",
                "Plain Gadget",
                "Other Gadget",
                "Widget Small",
                "Widget Medium",
                "Widget Large",
            ],
        ),
        (
            SearchSort.price_desc,
            [
                "Widget Large",
                "Widget Medium",
                "Widget Small",
                "Other Gadget",
                "Plain Gadget",
                "Third Gadget",
            ],
        ),
        (
            SearchSort.name,
            [
                "Other Gadget",
                "Plain Gadget",
                "Third Gadget",
                "Widget Large",
                "Widget Medium",
                "Widget Small",
            ],
        ),
    ],
)
def test_search_sorts_its_matches(
    db: Session, shelf: str, order: SearchSort, expected: list[str]
) -> None:
    results = service.search_products(db, "widget", sort=order)
    assert names(results) == expected and results.sort is order


def test_newest_first_on_search(db: Session, shelf: str) -> None:
    newest = names(service.search_products(db, "widget", sort=SearchSort.newest))
    # the three gadgets were made at T0 (the newest, the latest made first), then 1, 2, 3 days old
    assert newest == [
        "Third Gadget",
        "Other Gadget",
        "Plain Gadget",
        "Widget Small",
        "Widget Medium",
        "Widget Large",
    ]


def test_a_sort_pages_within_the_same_candidates(
    db: Session, shelf: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    cheap = service.search_products(db, "widget", sort=SearchSort.price_asc)
    assert names(cheap) == ["Widget Small", "Widget Medium", "Widget Large"]


def test_the_stored_vector_follows_a_rename(db: Session, shelf: str) -> None:
    sku = add_product(db, shelf, "Sprocket Deluxe")
    db.commit()
    assert names(service.search_products(db, "sprocket")) == ["Sprocket Deluxe"]
    admin.update_product(db, sku, ProductChanges(name="Flange Deluxe"))
    db.commit()
    assert service.search_products(db, "sprocket").total == 0
    assert names(service.search_products(db, "flange")) == ["Flange Deluxe"]


def test_postgresql_ranks_on_the_stored_vector_and_sqlite_has_none(db: Session) -> None:
    columns = {c["name"] for c in inspect(db.connection()).get_columns("products")}
    if db.get_bind().dialect.name == "sqlite":
        assert "search_vector" not in columns
        return
    assert "search_vector" in columns
    indexes = {i["name"]: i for i in inspect(db.connection()).get_indexes("products")}
    assert indexes["ix_products_search"]["column_names"] == ["search_vector"]
    db.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        db.execute(
            text(
                # without "active", which a dozen rows' planner would rather use
                "EXPLAIN SELECT id FROM products "
                "WHERE search_vector @@ to_tsquery('english', 'widget:*A') LIMIT 1001"
            )
        ).scalars()
    )
    assert "ix_products_search" in plan


@pytest.mark.parametrize(
    "hostile",
    [
        "\x00cable\x00",
        "cable " * 1000,
        "!!! ??? ...",
        "{name} : cable",
        "cable:*A | hdmi",
        "é" * 199,
    ],
)
def test_hostile_text_is_words_or_nothing(db: Session, hostile: str) -> None:
    small_catalog(db)
    results = service.search_products(db, hostile)
    assert len(results.query) <= search.MAX_QUERY_CHARS
    assert len(results.searched_for.split()) <= search.MAX_WORDS
    assert results.total >= 0


def test_only_punctuation_searches_for_nothing(db: Session) -> None:
    small_catalog(db)
    results = service.search_products(db, "?!... --- ***")
    assert results.items == [] and results.total == 0 and results.searched_for == ""


# ---------------------------------------------------------------- the page


def test_the_page_says_when_the_count_is_capped(
    db: Session, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_catalog(db)
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    page = client.get("/search", params={"q": "cable"})
    assert page.status_code == 200
    assert "More than 3 results" in page.text and "narrow your search" in page.text
    past = client.get("/search", params={"q": "cable", "page": 500})
    assert past.status_code == 200 and "There is no page 500" in past.text


def test_the_page_counts_exactly_below_the_cap(db: Session, client: TestClient) -> None:
    small_catalog(db)
    page = client.get("/search", params={"q": "hdmi"})
    assert "5 results" in page.text and "More than" not in page.text


def test_the_page_sorts_and_keeps_the_sort_in_its_links(db: Session, client: TestClient) -> None:
    catalog = make_category(db, "many", "Many")
    for i in range(30):
        make_product(db, catalog, name=f"Gizmo {i:02d}", price_cents=1000 + i)
    db.commit()
    page = client.get("/search", params={"q": "gizmo", "sort": "price_desc"})
    assert page.status_code == 200
    assert page.text.index("Gizmo 29") < page.text.index("Gizmo 28")
    assert '<option value="price_desc" selected>' in page.text
    assert "/search?q=gizmo&amp;sort=price_desc&amp;page=2" in page.text


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": "cable", "sort": "cheapest"}, 400),
        ({"q": "cable", "sort": "x" * 10_000}, 400),
        ({"q": "c" * 10_000}, 400),
        ({"q": "cable", "page": "0"}, 400),
        ({"q": "cable", "page": "99999999999999999999"}, 400),
        ({"q": "cable", "page": "9999"}, 200),
        ({"q": "\x00"}, 200),
        ({"q": "!!!"}, 200),
        ({"q": " ".join(["cable"] * 1000)[:200]}, 200),
    ],
)
def test_bad_search_input_is_a_clear_answer(
    db: Session, client: TestClient, params: dict[str, str], status: int
) -> None:
    small_catalog(db)
    for path in ("/search", "/api/v1/search"):
        answer = client.get(path, params=params)
        assert answer.status_code == status


def test_only_punctuation_says_there_is_nothing_to_search_for(
    db: Session, client: TestClient
) -> None:
    small_catalog(db)
    page = client.get("/search", params={"q": "!!! ???"})
    assert page.status_code == 200 and "Nothing to search for" in page.text


@pytest.mark.parametrize("inactive_set_limit", [search.INACTIVE_SET_LIMIT, 0])
def test_inactive_matches_leave_no_hole_below_the_cap(
    db: Session, monkeypatch: pytest.MonkeyPatch, inactive_set_limit: int
) -> None:
    """On SQLite the index holds products off sale too: a tier asks again for the rows
    they took, whether they are read as one set or looked up among the candidates."""
    monkeypatch.setattr(search, "INACTIVE_SET_LIMIT", inactive_set_limit)
    category = make_category(db, "sprockets", "Sprockets")
    for i in range(4):
        add_product(db, category, f"Sprocket Retired {i}", active=False)
        add_product(db, category, f"Sprocket {i}")
    add_product(db, category, "Chain", description="for any sprocket")
    db.commit()
    monkeypatch.setattr(search, "MAX_CANDIDATES", 5)
    exact = service.search_products(db, "sprocket")
    assert exact.total == 5 and not exact.total_capped
    assert names(exact)[-1] == "Chain" and "Retired" not in " ".join(names(exact))
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    capped = service.search_products(db, "sprocket")
    assert capped.total == 3 and capped.total_capped
    assert set(names(capped)) <= {f"Sprocket {i}" for i in range(4)}


def test_the_api_sorts_and_says_when_capped(
    db: Session, client: TestClient, shelf: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MAX_CANDIDATES", 4)
    body = client.get("/api/v1/search", params={"q": "widget", "sort": "price_desc"}).json()
    assert body["sort"] == "price_desc" and body["total"] == 4 and body["total_capped"] is True
    prices = [item["price"]["cents"] for item in body["items"]]
    assert prices == sorted(prices, reverse=True)
    # the name tier fills the cap first: all three widgets, then one gadget
    assert sum(item["name"].startswith("Widget") for item in body["items"]) == 3
