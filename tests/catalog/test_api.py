"""The catalog JSON API: shapes, status codes, and what bad input gets back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.catalog.factories import small_catalog


def test_products_listing(db: Session, client: TestClient) -> None:
    small_catalog(db)
    response = client.get("/api/v1/products", params={"page_size": 3})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["page_size"], body["pages"]) == (9, 1, 3, 3)
    assert [item["price"] for item in body["items"]] == [
        {"cents": 349, "currency": "USD"},
        {"cents": 499, "currency": "USD"},
        {"cents": 699, "currency": "USD"},
    ]
    assert response.headers["cache-control"].startswith("public")


def test_products_filtered_by_category_and_price(db: Session, client: TestClient) -> None:
    small_catalog(db)
    body = client.get(
        "/api/v1/products", params={"category": "cables", "price_min": 500, "price_max": 900}
    ).json()
    assert [i["price"]["cents"] for i in body["items"]] == [699, 799, 899]


def test_one_product_by_sku(db: Session, client: TestClient) -> None:
    catalog = small_catalog(db)
    body = client.get(f"/api/v1/products/{catalog.cable_with_lengths}").json()
    assert body["sku"] == catalog.cable_with_lengths
    assert [v["label"] for v in body["variants"]] == ["1 m", "2 m", "5 m"]
    assert body["warranty_months"] == 24 and body["warranty_terms"]


def test_categories_tree(db: Session, client: TestClient) -> None:
    small_catalog(db)
    tree = client.get("/api/v1/categories").json()
    assert [c["slug"] for c in tree] == ["cables", "tools"]
    assert [c["slug"] for c in tree[0]["children"]] == ["hdmi-cables", "usb-cables"]


def test_search(db: Session, client: TestClient) -> None:
    small_catalog(db)
    body = client.get("/api/v1/search", params={"q": "hdmi cabel"}).json()
    assert body["searched_for"] == "hdmi cable" and body["corrected"] is True
    assert body["total"] == 5


@pytest.mark.parametrize(
    "path", ["/api/v1/products/NO-SUCH-SKU", "/api/v1/nothing-here", "/api/v1/products/%00"]
)
def test_unknown_things_are_json_404(db: Session, client: TestClient, path: str) -> None:
    small_catalog(db)
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_unknown_category_filter_is_404(db: Session, client: TestClient) -> None:
    small_catalog(db)
    assert client.get("/api/v1/products", params={"category": "nope"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "99999999999999999999999"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page_size": "1000"}, "page_size"),
        ({"price_min": "-5"}, "price_min"),
        ({"price_max": "1e30"}, "price_max"),
        ({"price_min": "900", "price_max": "100"}, "price_min"),
        ({"sort": "'; DROP TABLE products"}, "sort"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"category": "c" * 10_000}, "category"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    db: Session, client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/products", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_parameter"
    assert field in [d["field"] for d in body["detail"]]


def test_page_past_the_end_is_an_empty_page(db: Session, client: TestClient) -> None:
    small_catalog(db)
    body = client.get("/api/v1/products", params={"page": 500}).json()
    assert body["items"] == [] and body["total"] == 9


@pytest.mark.parametrize(
    "q", ['" OR 1=1 --', "*", "NEAR(", '"', "-", "\x07bell", "%ff%fe", "\u202ertl"]
)
def test_search_syntax_gets_a_normal_answer(db: Session, client: TestClient, q: str) -> None:
    small_catalog(db)
    response = client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200
    assert response.json()["total"] >= 0


def test_oversized_search_and_query_strings_are_400(db: Session, client: TestClient) -> None:
    response = client.get("/api/v1/search", params={"q": "x" * 10_000})
    assert response.status_code == 400
    assert response.json()["detail"][0]["field"] == "q"
    huge = client.get("/api/v1/products?" + "junk=1&" * 1500)  # ~10 KB of unknown parameters
    assert huge.status_code == 200


def test_invalid_utf8_in_the_query_is_not_a_500(db: Session, client: TestClient) -> None:
    small_catalog(db)
    assert client.get("/api/v1/search?q=%ff%fe%fd").status_code == 200
    assert client.get("/api/v1/products?category=%ff").status_code == 404


def test_openapi_lists_the_catalog(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert {
        "/api/v1/products",
        "/api/v1/products/{sku}",
        "/api/v1/categories",
        "/api/v1/search",
    } <= set(spec["paths"])
    # Pages are not part of the API description.
    assert "/products/{slug}" not in spec["paths"]


def test_interactive_docs_are_self_hosted(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text
    assert "<script>" not in page.text  # no inline script: the CSP forbids it
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/api-docs.js").status_code == 200


def test_openapi_describes_the_errors_really_sent(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    for operations in spec["paths"].values():
        for operation in operations.values():
            # FastAPI's own 422 never: bad input is 400. A route's declared 422 (an
            # Idempotency-Key reused for another order) carries our error body.
            declared = operation["responses"].get("422")
            assert declared is None or declared["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
            assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_head_requests_work_on_pages_and_api(db: Session, client: TestClient) -> None:
    small_catalog(db)
    for path in ("/", "/categories/cables", "/api/v1/products"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
