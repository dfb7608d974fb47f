"""The need-to-know table (P6, issue 9 item 2): each role reads the columns it is granted and
nothing else, a personal column the table does not name reaches nobody, and the rendered
table in docs/ is the table itself.

Pure functions over the real metadata and throwaway tables: no database, no clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table

from quietshop.errors import QuietshopError
from quietshop.models import metadata
from quietshop.privacy.personal_data import personal
from quietshop.staff.errors import Forbidden
from quietshop.staff.need_to_know import (
    ACTION_ROLES,
    ACTIONS_NEEDING_A_REASON,
    GRANTS,
    NOBODY,
    REGENERATE,
    SHOP_TABLES,
    AccessDenied,
    Action,
    UnknownField,
    UnknownTable,
    acting_role,
    check_table,
    computed,
    matrix,
    may,
    readable_columns,
    render_markdown,
    serialise,
)
from quietshop.staff.roles import Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "need-to-know.md"
EVERY_ROLE = frozenset(Role)
T = metadata.tables


def personal_of(table: Table) -> set[str]:
    return {c.name for c in table.columns if "personal" in c.info}


def reads(role: Role, table: str) -> frozenset[str]:
    return readable_columns({role}, T[table])


def every_personal_column() -> list[str]:
    return [f"{t.name}.{c}" for t in T.values() for c in sorted(personal_of(t))]


ORDER_HANDLING = {"id", "order_number", "status", "placed_at", "updated_at", "pseudonymised_at"}
AMOUNTS = {
    *("currency", "subtotal_cents", "discount_cents", "shipping_cents", "tax_cents"),
    *("total_cents", "refunded_cents", "prices_include_tax", "discount_code"),
}
SHIP = {f"ship_{n}" for n in ("name", "line1", "line2", "city", "region", "postcode", "country")}
BILL = {f"bill_{n}" for n in ("name", "line1", "line2", "city", "region", "postcode", "country")}
DELIVERY = {"shipping_method", "shipping_method_name", "carrier", "tracking_number"}
CONTACT_ON_ORDER = {"customer_id", "customer_number", "email", "customer_name"}


# --- The table agrees with the models --------------------------------------------------


def test_the_table_and_the_real_metadata_agree() -> None:
    # Given the shop's every table; then every name exists, every table is classified and
    # every column of a customer-data table is granted to some role or refused with a reason.
    assert check_table(metadata) == []


def test_every_personal_column_is_granted_to_a_role_or_refused_with_its_reason() -> None:
    granted = frozenset().union(*(grant.reads for grant in GRANTS.values()))
    undecided = [name for name in every_personal_column() if name not in granted | set(NOBODY)]
    assert undecided == []
    assert all(len(reason) > 20 for reason in NOBODY.values())


def test_secrets_are_refused_to_every_role_even_together() -> None:
    secrets = {
        "customers": {"password_hash", "email_key", "guest_key"},
        "payment_cards": {"ciphertext", "key_id"},
        "customer_tokens": {c.name for c in T["customer_tokens"].columns},
        "account_links": {c.name for c in T["account_links"].columns},
        "mail_outbox": {"sealed_context"},
        "staff_members": {"password_hash", "totp_ciphertext", "totp_key_id", "totp_last_step"}
        | {"enrolment_token_hash", "email_key"},
        "staff_sessions": {"token_hash"},
    }
    for table, columns in secrets.items():
        assert readable_columns(EVERY_ROLE, T[table]) & columns == set(), table


def _real_tables_but(left_out: str) -> MetaData:
    md = MetaData()
    for table in T.values():
        if table.name != left_out:
            table.to_metadata(md)
    return md


@pytest.mark.parametrize(
    ("replaced", "column", "problem"),
    [
        # Orders lose every column but the id: the names the table grants no longer exist.
        ("orders", Column("id", Integer), "orders.order_number: no such column"),
        # A new table holding personal data.
        (
            "loyalty",
            Column("card", String, info=personal("contact")),
            "loyalty: table not in the need-to-know table",
        ),
        # A shop table that is all of a sudden holding someone's address.
        (
            "products",
            Column("buyer", String, info=personal("contact")),
            "products.buyer: personal column in a shop table; name it in a set",
        ),
    ],
    ids=["unknown-name", "new-table", "personal-in-shop-table"],
)
def test_the_checker_sees_each_kind_of_disagreement(
    replaced: str, column: Column[Any], problem: str
) -> None:
    md = _real_tables_but(replaced)
    Table(replaced, md, column)
    assert problem in check_table(md)


def test_the_checker_sees_a_new_column_on_a_customer_table() -> None:
    md = _real_tables_but("")
    md.tables["orders"].append_column(Column("gift_note", String))
    assert check_table(md) == ["orders.gift_note: neither granted nor in NOBODY"]


# --- The issue's rules, exactly ----------------------------------------------------------


def test_customer_service_reads_contact_addresses_and_orders_but_no_payment_data() -> None:
    role = Role.CUSTOMER_SERVICE
    assert personal_of(T["customers"]) & reads(role, "customers") == {
        "customer_number", "name", "email", "phone",
    }  # fmt: skip
    assert reads(role, "customer_addresses") == {c.name for c in T["customer_addresses"].columns}
    assert reads(role, "orders") == ORDER_HANDLING | AMOUNTS | SHIP | BILL | DELIVERY | (
        CONTACT_ON_ORDER
    )
    for table in ("payments", "payment_cards", "card_reveals"):
        assert reads(role, table) == frozenset(), table


def test_billing_reads_billing_name_and_address_and_the_masked_card_only() -> None:
    role = Role.BILLING
    assert reads(role, "customers") == frozenset()
    assert reads(role, "customer_addresses") == frozenset()
    assert reads(role, "orders") == ORDER_HANDLING | AMOUNTS | BILL
    assert reads(role, "payment_cards") == {
        "id", "order_id", "brand", "last4", "exp_month", "exp_year", "name_on_card",
        "purged_at", "created_at",
    }  # fmt: skip
    # No shipping address, no email, no phone anywhere, no outbox.
    assert reads(role, "orders") & (SHIP | CONTACT_ON_ORDER) == set()
    assert reads(role, "mail_outbox") == frozenset()
    assert reads(role, "order_events") >= {"note", "to_status"}


def test_fulfilment_reads_the_shipping_address_and_items_but_no_email_phone_or_payment() -> None:
    role = Role.FULFILMENT
    assert reads(role, "customers") == frozenset()
    assert "email" not in reads(role, "customers") and "phone" not in reads(role, "customers")
    assert reads(role, "orders") == ORDER_HANDLING | SHIP | DELIVERY
    assert reads(role, "order_lines") == {
        "id", "order_id", "sku", "product_name", "label", "quantity", "weight_grams",
        "returned_quantity",
    }  # fmt: skip
    # A decline reason is told to the customer in the event's note: not fulfilment's.
    assert "note" not in reads(role, "order_events")
    for table in ("payments", "payment_cards", "card_reveals", "mail_outbox", "customer_addresses"):
        assert reads(role, table) == frozenset(), table


@pytest.mark.parametrize("role", [Role.MARKETING, Role.ANALYST, Role.CATALOG, Role.OWNER])
def test_these_roles_read_no_customer_personal_data_in_any_table(role: Role) -> None:
    personal_columns = set(every_personal_column())
    exposed = [
        name
        for (role_, name, readable) in matrix(metadata)
        if role_ is role and readable and name in personal_columns
    ]
    assert exposed == []


def test_marketing_sees_whether_mail_went_out_never_to_whom() -> None:
    assert reads(Role.MARKETING, "mail_outbox") == {
        "id", "message_id", "purpose", "status", "attempts", "next_attempt_at", "claimed_by",
        "claimed_at", "created_at", "sent_at", "erase_after_send",
    }  # fmt: skip
    assert reads(Role.MARKETING, "mailing_subscriptions") == frozenset()


def test_the_privacy_officer_reads_the_chain_and_the_identity_a_legal_request_names() -> None:
    role = Role.PRIVACY_OFFICER
    assert reads(role, "audit_entries") == {c.name for c in T["audit_entries"].columns}
    personal_read = {
        name for name in every_personal_column() if name.split(".")[1] in reads(role, "customers")
        and name.startswith("customers.")
    }  # fmt: skip
    assert personal_read == {"customers.customer_number", "customers.name", "customers.email"}
    others = [n for n in every_personal_column() if not n.startswith("customers.")]
    # Beyond the identity, only whose data past disclosures handed over (their own record).
    assert [n for n in others if n.split(".")[1] in reads(role, n.split(".")[0])] == [
        "legal_disclosures.customer_id",
        "legal_disclosures.customer_number",
    ]


def test_the_owner_reads_staff_and_the_chain_not_customers() -> None:
    assert reads(Role.OWNER, "customers") == frozenset()
    assert reads(Role.OWNER, "orders") == frozenset()
    assert "password_hash" not in reads(Role.OWNER, "staff_members")
    assert {"name", "email", "last_active_at", "disabled_at"} <= reads(Role.OWNER, "staff_members")
    assert reads(Role.OWNER, "audit_entries") == {c.name for c in T["audit_entries"].columns}


def test_the_order_number_goes_to_order_handling_roles_only() -> None:
    holders = {role for role in Role if "order_number" in reads(role, "orders")}
    assert holders == {Role.BILLING, Role.CUSTOMER_SERVICE, Role.FULFILMENT}
    # It is in mail subjects too: marketing's outbox view has no subject or reference.
    assert {"subject", "reference"} & reads(Role.MARKETING, "mail_outbox") == set()


def test_shop_data_is_read_by_every_role() -> None:
    for name in SHOP_TABLES:
        columns = {c.name for c in T[name].columns}
        for role in Role:
            assert reads(role, name) == columns, (role, name)


# --- Actions -----------------------------------------------------------------------------


def test_the_issue_rules_for_actions() -> None:
    assert ACTION_ROLES[Action.REVEAL_CARD] == {Role.BILLING}
    assert ACTION_ROLES[Action.VERIFY_PAYMENT] == {Role.BILLING}
    assert ACTION_ROLES[Action.LEGAL_DISCLOSURE] == {Role.PRIVACY_OFFICER}
    assert ACTION_ROLES[Action.READ_AUDIT] == {Role.OWNER, Role.PRIVACY_OFFICER}
    assert ACTION_ROLES[Action.MANAGE_STAFF] == {Role.OWNER}
    assert ACTION_ROLES[Action.FLAG_AVAILABILITY_PROBLEM] == {
        Role.CUSTOMER_SERVICE,
        Role.FULFILMENT,
    }
    assert ACTION_ROLES[Action.SEND_MAILINGS] == {Role.MARKETING}
    assert {Action.REVEAL_CARD, Action.LEGAL_DISCLOSURE} == ACTIONS_NEEDING_A_REASON
    # Aggregates, and the dashboard every role opens (its sections ask their own actions)
    assert GRANTS[Role.ANALYST].actions == {Action.VIEW_AGGREGATES, Action.VIEW_DASHBOARD}
    assert all(ACTION_ROLES[action] for action in Action)


def test_an_action_comes_with_the_reads_it_needs() -> None:
    def holders(action: Action) -> set[Role]:
        return set(ACTION_ROLES[action])

    for role in holders(Action.VIEW_ORDER_QUEUE):
        assert "order_number" in reads(role, "orders")
    for role in holders(Action.REVEAL_CARD) | holders(Action.VERIFY_PAYMENT):
        assert {"brand", "last4"} <= reads(role, "payment_cards")
    for role in holders(Action.READ_AUDIT):
        assert "hash" in reads(role, "audit_seals")
        assert "reason" in reads(role, "audit_entries")
    for role in holders(Action.LOOK_UP_CUSTOMER) | holders(Action.VERIFY_CALLER):
        assert "customer_number" in reads(role, "customers")
    for role in holders(Action.VERIFY_CALLER):
        assert "postcode" in reads(role, "customer_addresses")
    for role in holders(Action.ANSWER_QUESTIONS):
        assert "question" in reads(role, "information_requests")


def test_may_and_acting_role_use_the_union_of_roles() -> None:
    assert may({Role.CATALOG}, Action.SHIP) is False
    assert may({Role.CATALOG, Role.FULFILMENT}, Action.SHIP) is True
    assert acting_role([Role.CATALOG, Role.FULFILMENT], Action.SHIP) is Role.FULFILMENT


def test_acting_role_is_a_stable_choice_whatever_order_the_roles_come_in() -> None:
    # Both grant it: the first in Role's order is named, however the set iterates.
    assert acting_role([Role.PRIVACY_OFFICER, Role.OWNER], Action.READ_AUDIT) is Role.OWNER
    assert acting_role([Role.OWNER, Role.PRIVACY_OFFICER], Action.READ_AUDIT) is Role.OWNER
    assert acting_role(("fulfilment", "billing"), Action.VIEW_ORDER_QUEUE) is Role.BILLING


@pytest.mark.parametrize(
    ("roles", "action"),
    [
        ({Role.MARKETING, Role.ANALYST}, Action.LOOK_UP_CUSTOMER),
        ({Role.CUSTOMER_SERVICE}, Action.REVEAL_CARD),
        ({Role.OWNER}, Action.REVEAL_CARD),
        (set(), Action.VIEW_AGGREGATES),
    ],
    ids=["marketing-analyst-lookup", "cs-reveal", "owner-reveal", "no-roles"],
)
def test_acting_role_refuses_a_missing_action_with_403_forbidden(
    roles: set[Role], action: Action
) -> None:
    assert may(roles, action) is False
    with pytest.raises(AccessDenied) as refused:
        acting_role(roles, action)
    error = refused.value
    assert isinstance(error, Forbidden) and isinstance(error, QuietshopError)
    assert (error.status_code, error.code, error.action) == (403, "forbidden", action)
    assert str(error) == f"Your roles do not allow this ({action.value})."


@pytest.mark.parametrize("bad", ["root", "", "OWNER", "owner; drop table", "x" * 10_000])
def test_an_unknown_role_name_is_refused_not_ignored(bad: str) -> None:
    with pytest.raises(ValueError):
        may([bad], Action.SHIP)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        readable_columns([Role.BILLING, bad], T["orders"])  # type: ignore[list-item]


def test_an_unknown_action_name_is_refused() -> None:
    with pytest.raises(ValueError):
        may({Role.OWNER}, "become_root")  # type: ignore[arg-type]


# --- serialise ---------------------------------------------------------------------------

ORDER_ROW: dict[str, Any] = {
    "id": 7,
    "order_number": "QS-1234567",
    "status": "placed",
    "email": "ann@example.org",
    "customer_name": "Ann Example",
    "ship_name": "Ann Example",
    "ship_city": "Springfield",
    "bill_name": "Ann Payer",
    "total_cents": 4_200,
}


def test_serialise_leaves_out_what_the_role_may_not_read_rather_than_nulling_it() -> None:
    # Given an order row; when fulfilment reads it; then email and billing are absent keys.
    seen = serialise({Role.FULFILMENT}, T["orders"], ORDER_ROW)
    assert seen.values == {
        "id": 7, "order_number": "QS-1234567", "status": "placed", "ship_name": "Ann Example",
        "ship_city": "Springfield",
    }  # fmt: skip
    assert seen.personal_fields == ("orders.ship_city", "orders.ship_name")
    assert seen.kinds == ("address",)
    assert seen.role is Role.FULFILMENT


def test_serialise_with_no_personal_field_names_no_role() -> None:
    seen = serialise({Role.MARKETING}, T["orders"], ORDER_ROW)
    assert seen.values == {}
    assert (seen.personal_fields, seen.kinds, seen.role) == ((), (), None)
    product = serialise({Role.ANALYST}, T["products"], {"sku": "HDMI-2M", "price_cents": 999})
    assert product.values == {"sku": "HDMI-2M", "price_cents": 999}
    assert product.role is None


def test_several_roles_read_the_union_and_the_entry_names_the_role_granting_most() -> None:
    seen = serialise({Role.BILLING, Role.FULFILMENT}, T["orders"], ORDER_ROW)
    assert set(seen.values) == set(ORDER_ROW) - {"email", "customer_name"}
    assert seen.personal_fields == ("orders.bill_name", "orders.ship_city", "orders.ship_name")
    # Fulfilment grants two of the three personal fields, billing one.
    assert seen.role is Role.FULFILMENT
    assert readable_columns({Role.BILLING, Role.FULFILMENT}, T["orders"]) == (
        reads(Role.BILLING, "orders") | reads(Role.FULFILMENT, "orders")
    )


def test_the_card_ciphertext_is_never_serialised() -> None:
    row = {"id": 1, "brand": "visa", "last4": "4242", "ciphertext": b"\x00sealed"}
    seen = serialise(EVERY_ROLE, T["payment_cards"], row)
    assert seen.values == {"id": 1, "brand": "visa", "last4": "4242"}
    assert (seen.personal_fields, seen.kinds, seen.role) == (
        ("payment_cards.last4",),
        ("payment",),
        Role.BILLING,
    )


@pytest.mark.parametrize(
    "key",
    ["masked_number", "", "orders.email", "__class__", "email ", "x" * 10_000, "ema\u0131l"],
    ids=["computed", "empty", "qualified", "dunder", "trailing-space", "huge", "lookalike"],
)
def test_a_key_that_is_no_column_is_refused_not_passed_through(key: str) -> None:
    with pytest.raises(UnknownField) as refused:
        serialise({Role.CUSTOMER_SERVICE}, T["orders"], {"id": 1, key: "ann@example.org"})
    assert len(str(refused.value)) < 200


def test_a_computed_field_is_kept_only_when_its_sources_are_readable() -> None:
    row = {"id": 1, "masked": computed("Visa •••• 4242", "brand", "last4")}
    billing = serialise({Role.BILLING}, T["payment_cards"], row)
    assert billing.values == {"id": 1, "masked": "Visa •••• 4242"}
    # A value built from the last four is a read of the last four, for the audit entry.
    assert (billing.personal_fields, billing.kinds) == (("payment_cards.last4",), ("payment",))
    assert serialise({Role.CUSTOMER_SERVICE}, T["payment_cards"], row).values == {}


def test_a_computed_field_needs_known_sources_and_a_name_of_its_own() -> None:
    with pytest.raises(ValueError, match="names the columns"):
        computed("anything")
    table = T["orders"]
    with pytest.raises(UnknownField, match="unknown columns"):
        serialise({Role.BILLING}, table, {"age": computed(3, "placed_at", "birthday")})
    with pytest.raises(UnknownField, match="cannot take a column's name"):
        serialise({Role.BILLING}, table, {"status": computed("paid", "status")})


def test_a_table_the_need_to_know_table_does_not_name_is_refused() -> None:
    stray = Table("loyalty_cards", MetaData(), Column("id", Integer), Column("points", Integer))
    with pytest.raises(UnknownTable, match="loyalty_cards"):
        readable_columns({Role.OWNER}, stray)
    with pytest.raises(UnknownTable):
        serialise({Role.OWNER}, stray, {"id": 1})


def _orders_with(md: MetaData, *extra: Column[Any]) -> Table:
    orders = T["orders"].to_metadata(md)
    for column in extra:
        orders.append_column(column)
    return orders


def test_a_new_personal_column_is_refused_to_every_role_until_the_table_names_it() -> None:
    # Given orders with a personal column the need-to-know table has never heard of.
    orders = _orders_with(
        MetaData(),
        Column("birth_date", String, info=personal("contact")),
        Column("id_scan", LargeBinary, info=personal("credentials")),
    )
    # Then no role, nor all of them together, reads it; the rest of the row still comes.
    assert {"birth_date", "id_scan"} & readable_columns(EVERY_ROLE, orders) == set()
    row = {**ORDER_ROW, "birth_date": "1970-01-01", "id_scan": b"..."}
    seen = serialise(EVERY_ROLE, orders, row)
    assert set(seen.values) == set(ORDER_ROW)
    assert "orders.birth_date" not in seen.personal_fields


def test_a_personal_column_added_to_a_shop_table_is_refused_too() -> None:
    products = T["products"].to_metadata(MetaData())
    products.append_column(Column("buyer_email", String, info=personal("contact")))
    assert "buyer_email" not in readable_columns(EVERY_ROLE, products)
    assert "sku" in readable_columns({Role.ANALYST}, products)


# --- The matrix and the doc ----------------------------------------------------------------


def test_the_matrix_covers_every_role_and_column_and_agrees_with_readable_columns() -> None:
    rows = matrix(metadata)
    columns = sum(len(t.columns) for t in T.values())
    assert len(rows) == len(Role) * columns
    assert len({(role, name) for role, name, _ in rows}) == len(rows)
    for role, name, readable in rows:
        table, column = name.split(".")
        assert readable is (column in reads(role, table)), (role, name)
    assert (Role.BILLING, "payment_cards.ciphertext", False) in rows
    assert (Role.CUSTOMER_SERVICE, "customers.email", True) in rows
    assert (Role.FULFILMENT, "customers.email", False) in rows


def test_the_doc_is_the_table() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        f"docs/need-to-know.md is out of date: run `{REGENERATE}`"
    )


def test_the_doc_shows_every_role_kind_action_and_refusal() -> None:
    text = render_markdown()
    assert all(f"`{role.value}`" in text for role in Role)
    assert all(f"| `{action.value}` |" in text for action in Action)
    assert all(f"| `{name}` |" in text for name in NOBODY)
    assert "| Masked card: brand, last four digits, expiry, name on card | — | reads |" in text


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        GRANTS[Role.MARKETING] = GRANTS[Role.CUSTOMER_SERVICE]  # type: ignore[index]
    with pytest.raises(AttributeError):
        GRANTS[Role.MARKETING].reads = frozenset({"customers.email"})  # type: ignore[misc]


# --- Property: nothing outside readable_columns, ever ----------------------------------------

CLASSIFIED = sorted(T)
VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=20), st.binary(max_size=8))


@given(
    roles=st.frozensets(st.sampled_from(list(Role))),
    table_name=st.sampled_from(CLASSIFIED),
    data=st.data(),
)
def test_serialise_never_returns_a_column_outside_readable_columns(
    roles: frozenset[Role], table_name: str, data: st.DataObject
) -> None:
    table = T[table_name]
    names = data.draw(st.sets(st.sampled_from([c.name for c in table.columns])))
    row = {name: data.draw(VALUES) for name in names}
    readable = readable_columns(roles, table)
    seen = serialise(roles, table, row)
    assert set(seen.values) == names & readable
    assert all(seen.values[k] is row[k] for k in seen.values)
    assert {f.split(".")[1] for f in seen.personal_fields} == names & readable & personal_of(table)
    assert (seen.role is None) == (not seen.personal_fields)
    assert seen.role is None or seen.role in roles
