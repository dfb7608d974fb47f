"""orders, payments, guests

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:40:00

- orders with their lines, status events and returns; the owner's rate tables
  (shipping regions and rates, tax rates, discount codes and their redemptions);
  Idempotency-Key answers of POST /api/v1/orders; product questions and quote requests.
- payments: payment_cards (the number only AES-256-GCM encrypted, never the security
  code), payments at the processor, and card reveals by billing staff with their reason.
- customers: a guest has a customer number but no password (password_hash NULL) and no
  sign-in address (email_key NULL); guest_key keeps one record per guest address.
- account_links may be 'claim_guest' (a guest sets a password from the order mail).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quietshop.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_PURPOSES = "purpose IN ('verify_email', 'reset_password', 'change_email')"
NEW_PURPOSES = "purpose IN ('verify_email', 'reset_password', 'change_email', 'claim_guest')"


def upgrade() -> None:
    op.create_table(
        "discount_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=7), nullable=False),
        sa.Column("percent_basis_points", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_from", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("minimum_order_cents", sa.Integer(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("max_uses_per_customer", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("kind IN ('percent', 'amount')", name=op.f("ck_discount_codes_kind")),
        sa.CheckConstraint("uses >= 0", name=op.f("ck_discount_codes_uses_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_discount_codes_code")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_expires", ["expires_at"], unique=False)

    op.create_table(
        "information_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("product_sku", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("answered_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delete_after", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('question', 'quote')", name=op.f("ck_information_requests_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_information_requests")),
    )
    with op.batch_alter_table("information_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_information_requests_delete_after", ["delete_after"], unique=False
        )

    op.create_table(
        "shipping_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.Column("method_code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=6), nullable=False),
        sa.Column("base_cents", sa.Integer(), nullable=False),
        sa.Column("per_kg_cents", sa.Integer(), nullable=False),
        sa.Column("free_over_cents", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("delivery_days_min", sa.Integer(), nullable=False),
        sa.Column("delivery_days_max", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("kind IN ('flat', 'weight')", name=op.f("ck_shipping_rates_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_rates")),
        sa.UniqueConstraint("region", "method_code", name="uq_shipping_rates_region_method"),
    )
    op.create_table(
        "shipping_regions",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("country", name=op.f("pk_shipping_regions")),
    )
    op.create_table(
        "tax_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tax_class", sa.String(length=20), nullable=False),
        sa.Column("rate_basis_points", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.CheckConstraint(
            "rate_basis_points BETWEEN 0 AND 10000", name=op.f("ck_tax_rates_rate_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
        sa.UniqueConstraint("country", "tax_class", name="uq_tax_rates_country_class"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(length=12), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("customer_number", sa.String(length=10), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal_cents", sa.Integer(), nullable=False),
        sa.Column("discount_cents", sa.Integer(), nullable=False),
        sa.Column("shipping_cents", sa.Integer(), nullable=False),
        sa.Column("tax_cents", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
        sa.Column("prices_include_tax", sa.Boolean(), nullable=False),
        sa.Column("discount_code", sa.String(length=40), nullable=True),
        sa.Column("shipping_method", sa.String(length=40), nullable=False),
        sa.Column("shipping_method_name", sa.String(length=120), nullable=False),
        sa.Column("ship_name", sa.String(length=200), nullable=False),
        sa.Column("ship_line1", sa.String(length=200), nullable=False),
        sa.Column("ship_line2", sa.String(length=200), nullable=False),
        sa.Column("ship_city", sa.String(length=100), nullable=False),
        sa.Column("ship_region", sa.String(length=100), nullable=False),
        sa.Column("ship_postcode", sa.String(length=20), nullable=False),
        sa.Column("ship_country", sa.String(length=2), nullable=False),
        sa.Column("bill_name", sa.String(length=200), nullable=False),
        sa.Column("bill_line1", sa.String(length=200), nullable=False),
        sa.Column("bill_line2", sa.String(length=200), nullable=False),
        sa.Column("bill_city", sa.String(length=100), nullable=False),
        sa.Column("bill_region", sa.String(length=100), nullable=False),
        sa.Column("bill_postcode", sa.String(length=20), nullable=False),
        sa.Column("bill_country", sa.String(length=2), nullable=False),
        sa.Column("carrier", sa.String(length=60), nullable=True),
        sa.Column("tracking_number", sa.String(length=60), nullable=True),
        sa.Column("placed_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pseudonymised_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('placed', 'payment_verified', 'packed', 'shipped', 'delivered', 'payment_problem', 'availability_problem', 'cancelled', 'refunded', 'partially_refunded', 'return_requested', 'return_received')",
            name=op.f("ck_orders_status"),
        ),
        sa.CheckConstraint("total_cents >= 0", name=op.f("ck_orders_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_orders_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("order_number", name=op.f("uq_orders_order_number")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_customer", ["customer_id", "placed_at"], unique=False)

    op.create_table(
        "card_reveals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_card_reveals_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_reveals")),
    )
    with op.batch_alter_table("card_reveals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_reveals_order_id"), ["order_id"], unique=False)

    op.create_table(
        "discount_redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("discount_code_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_discount_redemptions_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["discount_code_id"],
            ["discount_codes.id"],
            name=op.f("fk_discount_redemptions_discount_code_id_discount_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_discount_redemptions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_redemptions")),
    )
    with op.batch_alter_table("discount_redemptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_discount_redemptions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_discount_redemptions_discount_code_id"),
            ["discount_code_id"],
            unique=False,
        )

    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_order_id"), ["order_id"], unique=False)

    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("line_total_cents", sa.Integer(), nullable=False),
        sa.Column("discount_cents", sa.Integer(), nullable=False),
        sa.Column("tax_cents", sa.Integer(), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=False),
        sa.Column("returned_quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_lines_order_id"), ["order_id"], unique=False)

    op.create_table(
        "order_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("refund_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'received', 'refunded', 'rejected')",
            name=op.f("ck_order_returns_status"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_returns_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_returns")),
    )
    with op.batch_alter_table("order_returns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_returns_order_id"), ["order_id"], unique=False)

    op.create_table(
        "payment_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(length=20), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("name_on_card", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("purged_at", quietshop.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payment_cards_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_cards")),
        sa.UniqueConstraint("order_id", name=op.f("uq_payment_cards_order_id")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("processor", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("captured_cents", sa.Integer(), nullable=False),
        sa.Column("refunded_cents", sa.Integer(), nullable=False),
        sa.Column("authorization_code", sa.String(length=40), nullable=True),
        sa.Column("decline_reason", sa.String(length=200), nullable=True),
        sa.Column("processor_reference", sa.String(length=100), nullable=True),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("created_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", quietshop.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_manual', 'authorized', 'declined', 'failed', 'captured', 'voided', 'refunded', 'partially_refunded')",
            name=op.f("ck_payments_status"),
        ),
        sa.CheckConstraint(
            "refunded_cents <= captured_cents", name=op.f("ck_payments_refund_within_capture")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payments_idempotency_key")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_order_id"), ["order_id"], unique=False)

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guest_key", sa.String(length=254), nullable=True))
        batch_op.alter_column("email_key", existing_type=sa.VARCHAR(length=254), nullable=True)
        batch_op.alter_column("password_hash", existing_type=sa.VARCHAR(length=200), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_customers_guest_key"), ["guest_key"])
    with op.batch_alter_table("account_links", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_account_links_purpose"), type_="check")
        batch_op.create_check_constraint(op.f("ck_account_links_purpose"), NEW_PURPOSES)


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_table("payment_cards")
    op.drop_table("order_returns")
    op.drop_table("order_lines")
    op.drop_table("order_events")
    op.drop_table("discount_redemptions")
    op.drop_table("card_reveals")
    op.drop_table("orders")
    op.drop_table("tax_rates")
    op.drop_table("shipping_regions")
    op.drop_table("shipping_rates")
    op.drop_table("information_requests")
    op.drop_table("idempotency_keys")
    op.drop_table("discount_codes")
    op.execute("DELETE FROM account_links WHERE purpose = 'claim_guest'")
    with op.batch_alter_table("account_links", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_account_links_purpose"), type_="check")
        batch_op.create_check_constraint(op.f("ck_account_links_purpose"), OLD_PURPOSES)
    # Guests have no password and no sign-in address: they cannot survive the old schema.
    op.execute("DELETE FROM customers WHERE password_hash IS NULL OR email_key IS NULL")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_customers_guest_key"), type_="unique")
        batch_op.alter_column("password_hash", existing_type=sa.VARCHAR(length=200), nullable=False)
        batch_op.alter_column("email_key", existing_type=sa.VARCHAR(length=254), nullable=False)
        batch_op.drop_column("guest_key")
