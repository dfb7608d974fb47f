"""The migrations and the models agree (as `alembic check` would say), on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from quietshop.models import metadata

HAND_MADE_PREFIXES = ("product_fts", "ix_products_search", "search_vector")


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


def test_the_outbox_status_check_survives_the_table_rebuild(engine: Engine) -> None:
    """Migration 0004 rebuilds mail_outbox on SQLite: its checks must come through, the
    status one widened to 'cancelled' and still refusing anything else."""
    from sqlalchemy.exc import IntegrityError

    row = (
        "INSERT INTO mail_outbox (message_id, purpose, recipient, recipient_name, subject,"
        " text_body, html_body, status, attempts, next_attempt_at, created_at,"
        " erase_after_send) VALUES (:id, :purpose, 'a@example.org', '', 's', 't', 'h',"
        " :status, 0, '2026-11-25 12:00:00', '2026-11-25 12:00:00', false)"
    )
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(
                text(row), {"id": "<1@x>", "purpose": "account", "status": "cancelled"}
            )
            for bad in (
                {"purpose": "account", "status": "bogus"},
                {"purpose": "ads", "status": "sent"},
            ):
                nested = connection.begin_nested()
                with pytest.raises(IntegrityError):
                    connection.execute(text(row), {"id": "<2@x>", **bad})
                nested.rollback()
        finally:
            transaction.rollback()


def test_downgrading_0004_and_upgrading_again_keeps_the_schema(committing_engine: Engine) -> None:
    from alembic import command

    from quietshop.db import alembic_config

    with committing_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0003")
    with committing_engine.begin() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("mail_outbox")}
        assert "unsubscribe_url" in columns and "sealed_context" not in columns
    with committing_engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    test_models_and_migrations_do_not_drift(committing_engine)
