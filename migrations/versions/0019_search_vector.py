"""stored search vector on PostgreSQL

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 23:45:00

PostgreSQL only: products.search_vector, a STORED generated tsvector (name weight A,
brand B, the other text C), with the GIN index ix_products_search on it, replaces the
expression index of migration 0001. Matching used the expression index already, but
ranking recomputed to_tsvector for every match (582 ms a search for "cable" at 10,000
products); ts_rank now reads the stored vector, and the name tier of a search matches
'word:*A' on it (catalog/search.py). The models do not describe the column, so SQLite
never gets one: SQLite searches its FTS5 table, which this leaves as it is.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same weighted document as 0001's expression index.
_DOCUMENT = """
    setweight(to_tsvector('english', name), 'A') ||
    setweight(to_tsvector('english', brand), 'B') ||
    setweight(to_tsvector('english', search_text), 'C')"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_products_search")
    op.execute(
        f"ALTER TABLE products ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({_DOCUMENT}) STORED"
    )
    op.execute("CREATE INDEX ix_products_search ON products USING gin (search_vector)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_products_search")
    op.execute("ALTER TABLE products DROP COLUMN search_vector")
    op.execute(
        """CREATE INDEX ix_products_search ON products USING gin ((
        setweight(to_tsvector('english', products.name), 'A') ||
        setweight(to_tsvector('english', products.brand), 'B') ||
        setweight(to_tsvector('english', products.search_text), 'C')))"""
    )
