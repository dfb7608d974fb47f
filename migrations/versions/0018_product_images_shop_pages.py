"""product images and shop pages

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 21:20:00

- product_images: a product's gallery in order (catalog/models.py); position 0 is the
  picture listings show, mirrored in products.image_file. Existing products' pictures
  become their first gallery image.
- shop_pages: the owner's contact, shipping and returns pages (shop_pages/models.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("alt", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_images_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_images")),
    )
    op.create_index(
        "ix_product_images_product", "product_images", ["product_id", "position"], unique=False
    )
    op.execute(
        "INSERT INTO product_images (product_id, position, file, alt) "
        "SELECT id, 0, image_file, image_alt FROM products WHERE image_file IS NOT NULL"
    )
    op.create_table(
        "shop_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_pages")),
        sa.UniqueConstraint("slug", name=op.f("uq_shop_pages_slug")),
    )


def downgrade() -> None:
    op.drop_table("shop_pages")
    op.drop_index("ix_product_images_product", table_name="product_images")
    op.drop_table("product_images")
