"""Suggestions as the shopper types: product names, same origin, never kept, never logged."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.catalog import search
from quietshop.settings import Settings
from tests.catalog.factories import make_category, make_product, small_catalog


def suggested(client: TestClient, q: str) -> list[str]:
    answer = client.get("/api/v1/search/suggest", params={"q": q})
    assert answer.status_code == 200
    return [s["name"] for s in answer.json()["suggestions"]]


def test_names_whose_words_start_with_what_is_typed(db: Session, client: TestClient) -> None:
    small_catalog(db)
    assert set(suggested(client, "crim")) == {"Crimping Tool RJ45"}
    assert set(suggested(client, "netw tes")) == {"Network Cable Tester"}
    hdmi = suggested(client, "hdm")
    assert len(hdmi) == 5 and all("HDMI" in name for name in hdmi)


def test_an_answer_links_the_product_and_is_never_kept(db: Session, client: TestClient) -> None:
    small_catalog(db)
    answer = client.get("/api/v1/search/suggest", params={"q": "crimp"})
    assert answer.headers["cache-control"] == "no-store"
    assert "set-cookie" not in answer.headers
    (only,) = answer.json()["suggestions"]
    assert only["url"].startswith("/products/crimping-tool-rj45-")
    assert client.get(only["url"]).status_code == 200


def test_only_names_of_active_products_are_suggested(db: Session, client: TestClient) -> None:
    small_catalog(db)
    assert suggested(client, "hidden") == []  # inactive
    assert suggested(client, "corelink") == []  # a brand, not a name
    assert suggested(client, "product") == []  # only in descriptions ("A product for tests.")


def test_at_most_eight_distinct_names(db: Session, client: TestClient) -> None:
    category = make_category(db, "many", "Many")
    for i in range(12):
        make_product(db, category, name=f"Gizmo Model {i}")
    for _ in range(5):
        make_product(db, category, name="Gizmo Twin")
    db.commit()
    names = suggested(client, "gizmo")
    assert len(names) == search.SUGGEST_LIMIT and len(set(names)) == len(names)


@pytest.mark.parametrize(
    "q",
    ["", "c", " ", "!!!", "\x00", "\x00\x00cr", '" OR 1=1 --', "{name} : *", "a b c d e", "😀"],
)
def test_too_little_or_hostile_text_suggests_nothing_or_words(
    db: Session, client: TestClient, q: str
) -> None:
    small_catalog(db)
    assert suggested(client, q) in ([], ["Crimping Tool RJ45"])


def test_many_words_and_long_text(db: Session, client: TestClient) -> None:
    small_catalog(db)
    assert suggested(client, " ".join(["cr"] * 100)[: search.MAX_QUERY_CHARS]) == [
        "Crimping Tool RJ45"
    ]
    too_long = client.get("/api/v1/search/suggest", params={"q": "c" * 10_000})
    assert too_long.status_code == 400
    assert too_long.json()["detail"][0]["field"] == "q"


def test_what_is_typed_never_reaches_the_access_log(
    db: Session, client: TestClient, settings: Settings
) -> None:
    small_catalog(db)
    client.get("/api/v1/search/suggest", params={"q": "jane.doe@example.com crimp"})
    client.get("/api/v1/search/suggest", params={"q": "netwo", "page": "2", "sort": "name"})
    lines = settings.access_log_path.read_text().splitlines()
    assert '"GET /api/v1/search/suggest HTTP/1.1" 200' in lines[-2]
    text = "\n".join(lines)
    assert "jane" not in text and "example.com" not in text
    assert "crimp" not in text and "netwo" not in text


def test_the_suggestion_script_is_same_origin_and_optional(client: TestClient) -> None:
    page = client.get("/")
    assert '<script type="module" src="/static/js/suggest.js"></script>' in page.text
    script = client.get("/static/js/suggest.js")
    assert script.status_code == 200
    assert "/api/v1/search/suggest" in script.text
    assert "http:" not in script.text and "https:" not in script.text  # no other origin
    assert "cookie" not in script.text.lower() and "localStorage" not in script.text
