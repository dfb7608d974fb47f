"""stock never below zero, a catalog change log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00

- products.stock and product_variants.stock get CHECK (stock >= 0): the database itself
  refuses to oversell, whatever the code above it does. Negative stock left by earlier
  code is clamped to 0 first.
- catalog_changes: one row per committed catalog change (the product it concerns, whether
  listing pages show it, whether it changes everything), which every process's page
  cache and memo replay, so a sale drops that product's pages and nothing else.
- catalog_state.pruned_through: the highest change id pruned away; a reader whose last
  seen id is below it missed changes and drops everything.

On SQLite a CHECK needs the table rebuilt (batch mode), and dropping the old products
table would cascade-delete every variant (foreign keys are on, and cannot be switched off
inside the migration's transaction) and drop the full-text triggers. So the variants are
set aside in a temporary table first and put back after, and the triggers recreated.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STOCK_CHECK = "stock >= 0"
# The variants set aside while products is rebuilt on SQLite, and put back.
SET_VARIANTS_ASIDE = (
    "CREATE TEMPORARY TABLE variants_aside AS SELECT id, product_id, sku, label, options,"
    " price_cents, was_price_cents, stock, weight_grams, position FROM product_variants"
)
PUT_VARIANTS_BACK = (
    "INSERT INTO product_variants (id, product_id, sku, label, options, price_cents,"
    " was_price_cents, stock, weight_grams, position) SELECT id, product_id, sku, label,"
    " options, price_cents, was_price_cents, stock, weight_grams, position FROM variants_aside"
)
# As created by 0001; rebuilding the products table drops them on SQLite.
SQLITE_FTS_TRIGGERS = [
    """CREATE TRIGGER product_fts_insert AFTER INSERT ON products BEGIN
        INSERT INTO product_fts(rowid, name, brand, search_text)
        VALUES (new.id, new.name, new.brand, new.search_text);
    END""",
    """CREATE TRIGGER product_fts_delete AFTER DELETE ON products BEGIN
        INSERT INTO product_fts(product_fts, rowid, name, brand, search_text)
        VALUES ('delete', old.id, old.name, old.brand, old.search_text);
    END""",
    """CREATE TRIGGER product_fts_update AFTER UPDATE OF name, brand, search_text ON products BEGIN
        INSERT INTO product_fts(product_fts, rowid, name, brand, search_text)
        VALUES ('delete', old.id, old.name, old.brand, old.search_text);
        INSERT INTO product_fts(rowid, name, brand, search_text)
        VALUES (new.id, new.name, new.brand, new.search_text);
    END""",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _rebuild_stock_tables(change: str) -> None:
    """Add (change="create") or drop the stock checks on products and product_variants."""
    sqlite = _sqlite()
    if sqlite:
        op.execute(SET_VARIANTS_ASIDE)
    for table in ("products", "product_variants"):
        name = op.f(f"ck_{table}_stock_nonnegative")
        with op.batch_alter_table(table) as batch_op:
            if change == "create":
                batch_op.create_check_constraint(name, STOCK_CHECK)
            else:
                batch_op.drop_constraint(name, type_="check")
    if sqlite:
        op.execute("DELETE FROM product_variants")  # any left: the aside copy is the truth
        op.execute(PUT_VARIANTS_BACK)
        op.execute("DROP TABLE variants_aside")
        for statement in SQLITE_FTS_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    op.execute("UPDATE product_variants SET stock = 0 WHERE stock < 0")
    op.execute("UPDATE products SET stock = 0 WHERE stock < 0")
    _rebuild_stock_tables("create")

    op.create_table(
        "catalog_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product_sku", sa.String(length=40), nullable=True),
        sa.Column("listings", sa.Boolean(), nullable=False),
        sa.Column("everything", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            quietshop.db.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_changes")),
    )
    with op.batch_alter_table("catalog_state") as batch_op:
        batch_op.add_column(
            sa.Column("pruned_through", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("catalog_state") as batch_op:
        batch_op.alter_column("pruned_through", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("catalog_state") as batch_op:
        batch_op.drop_column("pruned_through")
    op.drop_table("catalog_changes")
    _rebuild_stock_tables("drop")
