"""The loaders' fast paths (bench/catalog_import.py --loader) keep their contracts: COPY on
PostgreSQL writes what an INSERT would and leaves the bulk planner settings as they were,
the bind memo never mixes up values JSON tells apart, and galleries are refused whole
for a product that does not exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.catalog import bulk
from quietshop.catalog.demo import load_demo_catalog
from quietshop.catalog.models import ProductImage, ProductVariant
from quietshop.catalog.service import ProductDraft, VariantDraft
from quietshop.errors import InvalidInput
from tests.catalog.factories import make_category
from tests.clock import T0


def _draft(sku: str, category: str, options: dict[str, str] | None = None) -> ProductDraft:
    variant = VariantDraft(sku=sku, price_cents=1299, stock=3, options=options or {})
    return ProductDraft(
        sku=sku, slug="", name=f"Cable {sku}", category_slug=category, variants=[variant],
        currency="USD", description="O'Brien's \"quoted\" text,\twith a tab\nand a line.",
    )  # fmt: skip


def test_new_rows_keep_every_value_through_the_bulk_insert(db: Session) -> None:
    category = make_category(db, "cables")
    options = {"length": "2 m", "colour": "Black \\ White"}
    bulk.upsert_products(db, [_draft("FAST-1", category, options)], T0)
    variant = db.execute(select(ProductVariant).where(ProductVariant.sku == "FAST-1")).scalar_one()
    assert variant.options == options  # JSON, with a backslash, through COPY or INSERT
    assert variant.product.description.endswith("\twith a tab\nand a line.")
    assert variant.product.created_at == T0


@pytest.mark.parametrize(  # PostgreSQL's planner settings: SQLite has none
    "engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_bulk_planner_settings_survive_a_copy(db: Session) -> None:
    category = make_category(db, "cables")
    with bulk.bulk_write_settings(db):
        bulk.upsert_products(db, [_draft("PLAN-1", category)], T0)
        inside = db.connection().exec_driver_sql("SHOW plan_cache_mode").scalar_one()
    after = db.connection().exec_driver_sql("SHOW plan_cache_mode").scalar_one()
    assert inside == "force_custom_plan"  # put back after the COPY's foreign-key checks
    assert after == "auto"


@pytest.mark.parametrize(
    "values",
    [
        [{"a": "1"}, {"a": 1}, {"a": True}, {"a": 1.0}],
        [{"a": "x", "b": "y"}, {"b": "y", "a": "x"}],  # key order is part of the JSON
        [{"a": ["x"]}, {"a": ["x"]}, {}],  # unhashable: processed each time
    ],
)
def test_the_bind_memo_gives_what_the_processor_gives(values: list[dict[str, object]]) -> None:
    memo = bulk._once_per_value(json.dumps)
    assert [memo(value) for value in values] == [json.dumps(value) for value in values]
    assert [memo(value) for value in values] == [json.dumps(value) for value in values]


def test_a_gallery_for_a_missing_product_writes_nothing(db: Session) -> None:
    category = make_category(db, "cables")
    bulk.upsert_products(db, [_draft("GAL-1", category)], T0)
    with pytest.raises(InvalidInput, match="NOPE-1"):
        bulk.insert_galleries(db, {"GAL-1": [("gal-1.svg", "Front")], "NOPE-1": [("x.svg", "")]})
    assert db.execute(select(func.count(ProductImage.id))).scalar_one() == 0
    bulk.insert_galleries(db, {"GAL-1": [("gal-1.svg", "Front"), ("gal-1-b.svg", "Back")]})
    rows = db.execute(select(ProductImage.position, ProductImage.file)).all()
    assert sorted(rows) == [(0, "gal-1.svg"), (1, "gal-1-b.svg")]
    bulk.insert_galleries(db, {})  # nothing to do


def test_a_picture_that_cannot_be_written_fails_the_load(db: Session, tmp_path: Path) -> None:
    # The writer thread's error reaches the caller, whose transaction is then rolled back.
    (tmp_path / "images" / "qs-10002.svg").mkdir(parents=True)  # a folder in the way
    with pytest.raises(OSError):
        load_demo_catalog(db, tmp_path / "images", product_count=3)


def test_an_images_folder_that_is_a_file_fails_the_load(db: Session, tmp_path: Path) -> None:
    blocked = tmp_path / "images"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(OSError):
        load_demo_catalog(db, blocked, product_count=3)
