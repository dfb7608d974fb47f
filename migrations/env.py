"""Alembic environment: the models' metadata, one connection, search indexes kept apart."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from quietshop.models import metadata
from quietshop.settings import load_settings

# Objects the migrations create by hand that the models do not describe:
# SQLite's FTS5 table (and its shadow tables), PostgreSQL's stored search vector column
# (migration 0019) and its index.
HAND_MADE_PREFIXES = ("product_fts", "ix_products_search", "search_vector")


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (name and name.startswith(HAND_MADE_PREFIXES))


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    from quietshop.db import make_engine

    url = context.config.get_main_option("sqlalchemy.url") or load_settings().resolved_database_url
    engine = make_engine(url)
    with engine.connect() as new_connection:
        run(new_connection)
    engine.dispose()


main()
