"""The cart's price lookup, GET /api/v1/variants: today's prices and stock for the SKUs a
browser's cart holds, the same for everyone, cached, and tagged by product; and the cache
tags of the other catalog routes (issue 8, item 3)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.catalog import service, variants
from quietshop.catalog.service import ProductDraft, VariantDraft
from quietshop.errors import InvalidInput
from quietshop.settings import Settings
from tests.catalog.factories import make_category, small_catalog
from tests.clock import T0

URL = "/api/v1/variants"


def cable(session: Session, *, active: bool = True, sku: str = "CB") -> None:
    """One product in two lengths, one on sale, one sold out."""
    service.create_product(
        session,
        ProductDraft(
            sku=sku,
            slug=f"cable-{sku.lower()}",
            name="Cable",
            category_slug=make_category(session),
            currency="EUR",
            image_file=f"{sku.lower()}.svg",
            active=active,
            variants=[
                VariantDraft(
                    sku=f"{sku}-1M",
                    label="1 m",
                    options={"length": "1 m"},
                    price_cents=500,
                    was_price_cents=700,
                    stock=4,
                    weight_grams=80,
                ),
                VariantDraft(
                    sku=f"{sku}-2M",
                    label="2 m",
                    options={"length": "2 m"},
                    price_cents=650,
                    stock=0,
                ),
            ],
        ),
        T0,
    )
    session.commit()


def lookup(client: TestClient, *skus: str) -> Any:
    return client.get(URL, params=[("sku", sku) for sku in skus])


def tags(assembled: AssembledApp, answer: Any) -> frozenset[str] | None:
    """The tags the page cache keeps the answer by (it never sends the header on)."""
    assert "x-cache-tags" not in answer.headers
    assert assembled.page_cache is not None
    return assembled.page_cache.tags_of(answer.request.url.raw_path.decode("latin-1"))


def test_found_skus_come_with_todays_price_and_stock(db: Session, client: TestClient) -> None:
    cable(db)
    answer = lookup(client, "CB-2M", "CB-1M")
    assert answer.status_code == 200
    assert answer.json() == {
        "variants": [
            {
                "sku": "CB-2M",
                "product_sku": "CB",
                "product_slug": "cable-cb",
                "name": "Cable",
                "label": "2 m",
                "options": {"length": "2 m"},
                "price": {"cents": 650, "currency": "EUR"},
                "was_price": None,
                "stock": 0,
                "in_stock": False,
                "active": True,
                "image_url": "/images/cb.svg",
                "weight_grams": 0,
            },
            {
                "sku": "CB-1M",
                "product_sku": "CB",
                "product_slug": "cable-cb",
                "name": "Cable",
                "label": "1 m",
                "options": {"length": "1 m"},
                "price": {"cents": 500, "currency": "EUR"},
                "was_price": {"cents": 700, "currency": "EUR"},
                "stock": 4,
                "in_stock": True,
                "active": True,
                "image_url": "/images/cb.svg",
                "weight_grams": 80,
            },
        ],
        "missing": [],
    }


def test_unknown_and_inactive_skus_are_missing(db: Session, client: TestClient) -> None:
    cable(db)
    cable(db, sku="OLD", active=False)
    answer = lookup(client, "NOPE", "CB-1M", "OLD-1M", "CB")
    assert answer.status_code == 200
    body = answer.json()
    assert [v["sku"] for v in body["variants"]] == ["CB-1M"]
    # A product's own SKU is not a variant's (unless the product has one variant named so).
    assert body["missing"] == ["NOPE", "OLD-1M", "CB"]


def test_a_single_variant_products_sku_is_its_variants(db: Session, client: TestClient) -> None:
    catalog = small_catalog(db)
    body = lookup(client, catalog.hdmi_skus[1]).json()
    assert body["variants"][0]["sku"] == body["variants"][0]["product_sku"] == catalog.hdmi_skus[1]
    assert body["variants"][0]["price"] == {"cents": 499, "currency": "USD"}


def test_repeats_are_answered_once(db: Session, client: TestClient) -> None:
    cable(db)
    body = lookup(client, "CB-1M", "X", "CB-1M", "X").json()
    assert [v["sku"] for v in body["variants"]] == ["CB-1M"] and body["missing"] == ["X"]


def test_the_answer_is_public_and_tagged_by_product(
    db: Session, client: TestClient, settings: Settings, assembled: AssembledApp
) -> None:
    cable(db)
    cable(db, sku="DB")
    answer = lookup(client, "DB-1M", "CB-1M", "CB-2M")
    assert answer.headers["cache-control"] == f"public, max-age={settings.page_cache_max_age}"
    assert tags(assembled, answer) == frozenset({"product:DB", "product:CB"})
    assert "set-cookie" not in answer.headers
    # An answer with a missing SKU goes with the listings too: the SKU may come back.
    assert tags(assembled, lookup(client, "CB-1M", "GONE")) == frozenset({"product:CB", "listings"})
    assert tags(assembled, lookup(client, "GONE")) == frozenset({"listings"})


def test_a_price_change_drops_the_cached_answer(
    db: Session, client: TestClient, assembled: AssembledApp
) -> None:
    cable(db)
    cable(db, sku="DB")
    first = lookup(client, "CB-1M")
    other = lookup(client, "DB-1M")
    service.set_variant_stock(db, "CB-1M", 1)
    db.commit()
    again = lookup(client, "CB-1M")
    assert [v["stock"] for v in (first.json()["variants"] + again.json()["variants"])] == [4, 1]
    assert tags(assembled, other) == frozenset({"product:DB"})  # another product's answer stays


def test_it_is_the_same_for_everyone(db: Session, client: TestClient) -> None:
    cable(db)
    plain = lookup(client, "CB-1M")
    signed = client.get(URL, params={"sku": "CB-1M"}, headers={"authorization": "Bearer x"})
    assert signed.status_code == 200 and signed.content == plain.content


def test_fifty_skus_are_fine(db: Session, client: TestClient) -> None:
    cable(db)
    answer = lookup(client, "CB-1M", *(f"N-{i}" for i in range(49)))
    assert answer.status_code == 200
    assert len(answer.json()["missing"]) == 49


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([], "Field required"),
        ([("sku", f"S-{i}") for i in range(51)], "at most 50 SKUs per request"),
        ([("sku", "S-1")] * 51, "at most 50 SKUs per request"),  # repeats count too
        ([("sku", "X" * 41)], "a SKU is 1 to 40 letters, digits or punctuation"),
        ([("sku", "")], "a SKU is 1 to 40 letters, digits or punctuation"),
        ([("sku", "A B")], "a SKU is 1 to 40 letters, digits or punctuation"),
        ([("sku", "ok"), ("sku", "\x00")], "a SKU is 1 to 40 letters, digits or punctuation"),
        ([("sku", "line\nbreak")], "a SKU is 1 to 40 letters, digits or punctuation"),
        ([("sku", "CAFÉ")], "a SKU is 1 to 40 letters, digits or punctuation"),
        ([("sku", "' OR 1=1 --")], "a SKU is 1 to 40 letters, digits or punctuation"),
    ],
)
def test_bad_lookups_are_400_naming_sku(
    db: Session,
    client: TestClient,
    assembled: AssembledApp,
    params: list[tuple[str, str]],
    message: str,
) -> None:
    cable(db)
    answer = client.get(URL, params=tuple(params))
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_parameter",
        "detail": [{"field": "sku", "message": message}],
    }
    assert answer.headers["cache-control"] == "no-store"  # a refusal is never cached
    assert "x-cache-tags" not in answer.headers
    assert assembled.page_cache is not None
    assert assembled.page_cache.tags_of(answer.request.url.raw_path.decode("latin-1")) is None


def test_quotes_and_punctuation_are_only_text(db: Session, client: TestClient) -> None:
    cable(db)
    body = lookup(client, "'OR'1'='1", "%", "_", "CB-1M;--", "\\").json()
    assert body["variants"] == [] and len(body["missing"]) == 5


def test_the_rules_hold_without_http(db: Session) -> None:
    cable(db)
    assert variants.checked_skus(["B", "A", "B"]) == ["B", "A"]
    with pytest.raises(InvalidInput) as refused:
        variants.checked_skus([])
    assert refused.value.field == "sku"
    found = variants.lookup_variants(db, ["CB-1M", "NOPE"])
    assert [v.sku for v in found.variants] == ["CB-1M"] and found.missing == ["NOPE"]
    assert found.cache_tags() == ["product:CB", "listings"]


def test_the_api_description_states_the_limits(client: TestClient) -> None:
    operation = client.get("/api/openapi.json").json()["paths"][URL]["get"]
    (parameter,) = operation["parameters"]
    assert parameter["name"] == "sku" and parameter["required"] is True
    schema = parameter["schema"]
    assert (schema["minItems"], schema["maxItems"]) == (1, 50)
    assert schema["items"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 40,
        "pattern": "^[!-~]+$",
    }
    assert {"200", "400"} <= set(operation["responses"])


# ---------------------------------------------------------------- the other routes' tags


@pytest.mark.parametrize(
    "path", ["/api/v1/products", "/api/v1/categories", "/api/v1/search?q=cable"]
)
def test_listing_routes_are_tagged_listings(
    db: Session, client: TestClient, assembled: AssembledApp, path: str
) -> None:
    small_catalog(db)
    answer = client.get(path)
    assert answer.status_code == 200 and tags(assembled, answer) == frozenset({"listings"})


def test_a_product_answer_is_tagged_with_its_product_even_by_variant(
    db: Session, client: TestClient, assembled: AssembledApp
) -> None:
    cable(db)
    assert tags(assembled, client.get("/api/v1/products/CB")) == frozenset({"product:CB"})
    assert tags(assembled, client.get("/api/v1/products/CB-2M")) == frozenset({"product:CB"})
    assert tags(assembled, client.get("/api/v1/products/NOPE")) is None  # a 404 is not kept


def test_the_tags_are_the_ones_the_change_log_drops_by() -> None:
    for sku in ("QS-1042", "A B%C\u00e9"):
        assert variants.product_tag(sku) == service.product_cache_tag(sku)
