"""The migrations and the models agree (as `alembic check` would say), on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from quietshop.models import metadata

HAND_MADE_PREFIXES = ("product_fts", "ix_products_search")


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (name and name.startswith(HAND_MADE_PREFIXES))


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": _include, "compare_type": True, "target_metadata": metadata},
        )
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_head_has_the_search_index_and_seed_rows(engine: Engine) -> None:
    with engine.connect() as connection:
        names = set(inspect(connection).get_table_names())
        assert {"products", "product_variants", "categories", "policies", "catalog_state"} <= names
        if engine.dialect.name == "sqlite":
            assert "product_fts" in names
        else:
            indexes = {i["name"] for i in inspect(connection).get_indexes("products")}
            assert "ix_products_search" in indexes
        version = connection.execute(text("SELECT version FROM catalog_state")).scalar_one()
        assert version >= 1
        policy = connection.execute(
            text("SELECT kind, version FROM policies ORDER BY version")
        ).first()
        assert tuple(policy or ()) == ("privacy", 1)
