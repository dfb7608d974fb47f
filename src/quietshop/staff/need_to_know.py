"""The need-to-know table (design.md P6, issue 9 item 2): what each staff role may read and do.

One declarative table. Each role reads a union of a few named column sets (``CONTACT``,
``SHIPPING_ADDRESS``, ``MASKED_CARD`` ...), each set a list of ``"table.column"`` names, and
may take a closed set of actions (``Action``, ``ACTION_ROLES``). Every staff response is cut
through ``serialise``: a column the role is not granted is *absent* from the JSON, not
hidden on screen.

What the table does not name is refused. The columns a role reads are the names it grants,
so a personal column added to a model tomorrow (``info=personal(...)``) reaches no role
until a set here names it, and ``check_table`` fails the test run until it is granted or
listed in ``NOBODY`` with its reason. Three kinds of table:

- customer data and customer-linked records, and the staff's own records: every column is
  decided here, granted to some roles or to nobody;
- shop data (``SHOP_TABLES``: catalog, rates, policies, mailings): no customer's data, so
  every role reads their columns; who may *change* them is an action. A personal column
  declared on one of them would still be refused until named;
- any other table: ``UnknownTable``, so a new table is classified before a route serves it.

A row handed to ``serialise`` holds columns of its table only. A route that adds a value
of its own (an age, a masked label) wraps it in ``computed(value, *columns)``, naming the
columns it is made from: it is kept only when those are readable, and is recorded as a read
of them. Any other key raises ``UnknownField``: passing it through could leak what the
table refuses, dropping it silently would hide the route's mistake.

Roles are a set: a request acts in the union of its roles' grants. ``acting_role`` names the
first held role (in the order ``Role`` lists them) that grants an action; ``serialise``
names the held role that grants the most of the personal fields it let through (ties in
the same order), so the same request always names the same role in the audit chain.

Regenerate the rendered table with
``python -m quietshop.staff.need_to_know > docs/need-to-know.md`` (a test compares them).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy import Column, MetaData, Table

from quietshop.staff.errors import Forbidden
from quietshop.staff.roles import ROLE_LABELS, Role

REGENERATE = "python -m quietshop.staff.need_to_know > docs/need-to-know.md"


class Action(StrEnum):
    """What a staff member may do, beyond reading. A route asks ``acting_role`` for one."""

    # Customers
    LOOK_UP_CUSTOMER = "look_up_customer"  # by customer number, email or name
    VERIFY_CALLER = "verify_caller"  # customer number + the postcode of an address on file
    EDIT_CONTACT = "edit_contact"
    EDIT_ADDRESS = "edit_address"
    # Orders
    VIEW_ORDER_QUEUE = "view_order_queue"
    VERIFY_PAYMENT = "verify_payment"  # also recording a card terminal's result
    REVEAL_CARD = "reveal_card"  # an order awaiting payment only, with a stated reason
    MARK_PACKED = "mark_packed"
    SHIP = "ship"
    FLAG_PAYMENT_PROBLEM = "flag_payment_problem"
    FLAG_AVAILABILITY_PROBLEM = "flag_availability_problem"
    CANCEL_ORDER = "cancel_order"
    REFUND = "refund"
    HANDLE_RETURN = "handle_return"
    # Questions from the product pages
    ANSWER_QUESTIONS = "answer_questions"
    # Catalog
    EDIT_PRODUCTS = "edit_products"  # products, variants, prices, warranty terms
    EDIT_STOCK = "edit_stock"
    EDIT_CATEGORIES = "edit_categories"
    EDIT_IMAGES = "edit_images"
    IMPORT_CATALOG = "import_catalog"
    EXPORT_CATALOG = "export_catalog"
    # Rates
    EDIT_SHIPPING_RATES = "edit_shipping_rates"
    EDIT_TAX_RATES = "edit_tax_rates"
    EDIT_DISCOUNTS = "edit_discounts"
    # The shop's contact, shipping and returns pages (the shop's terms, like the rates)
    EDIT_SHOP_PAGES = "edit_shop_pages"
    # Mail
    SEND_MAILINGS = "send_mailings"
    READ_OUTBOX = "read_outbox"  # what a role reads of each message is its column grant
    READ_CAPTURED_MAIL = "read_captured_mail"  # the demo's local SMTP server: whole messages
    # Analytics
    VIEW_AGGREGATES = "view_aggregates"  # counts and sums, never a row about a person
    # Staff and compliance
    MANAGE_STAFF = "manage_staff"  # add, disable, enable, change roles
    REVIEW_ACCESS = "review_access"  # the six-monthly access review
    PUBLISH_POLICIES = "publish_policies"
    VIEW_COMPLIANCE = "view_compliance"  # who acknowledged which policy version, and when
    # Audit and the law
    READ_AUDIT = "read_audit"
    LEGAL_DISCLOSURE = "legal_disclosure"
    # The back office's first screen: counts of what each role's work holds today (its
    # sections each ask their own action; the counts name nobody)
    VIEW_DASHBOARD = "view_dashboard"


# The service refuses these without a stated reason; the reason goes into the audit entry.
ACTIONS_NEEDING_A_REASON: frozenset[Action] = frozenset(
    {Action.REVEAL_CARD, Action.LEGAL_DISCLOSURE}
)


@dataclass(frozen=True)
class ColumnSet:
    """One kind of data, as a reader thinks of it: a title and its ``"table.column"`` names."""

    title: str
    columns: frozenset[str]


def _columns(table: str, names: str) -> frozenset[str]:
    """``_columns("orders", "status placed_at")``: names as the model spells them."""
    return frozenset(f"{table}.{name}" for name in names.split())


def _set(title: str, *parts: frozenset[str]) -> ColumnSet:
    return ColumnSet(title, frozenset().union(*parts))


# --- Customers -------------------------------------------------------------------------
CONTACT = _set(
    "Contact: name, email, phone, customer number",
    _columns("customers", "customer_number name email phone"),
    _columns("orders", "customer_id customer_number email customer_name"),
)
CUSTOMER_ACCOUNT = _set(
    "Account state: verified, locked, opened, closed",
    _columns(
        "customers",
        "id email_verified_at failed_sign_ins locked_until password_changed_at created_at "
        "closed_at",
    ),
)
ADDRESS_BOOK = _set(
    "Address book (shipping and billing addresses on file)",
    _columns(
        "customer_addresses",
        "id customer_id kind name line1 line2 city region postcode country created_at",
    ),
)
SUBSCRIPTION = _set(
    "Mailing subscription of one customer",
    _columns(
        "mailing_subscriptions",
        "id customer_number email name opted_in address_confirmed_at changed_at",
    ),
)
DISCOUNT_USES = _set(
    "Discount codes a customer has used",
    _columns("discount_redemptions", "id discount_code_id order_id customer_id released"),
)
QUESTIONS = _set(
    "Questions and stock requests (name, email, question)",
    _columns(
        "information_requests",
        "id kind product_sku name email question quantity answered_at created_at delete_after",
    ),
)
# The legal-disclosure lookup. An authority's request names a person (a name, an email
# address, a customer number) and the audit chain names customers by id only: the privacy
# officer must see enough to be sure the request and the account are the same person
# before anything is handed over, and no more. The disclosure itself is an action (the
# privacy export, with the legal basis as its reason), never browsing through screens.
DISCLOSURE_LOOKUP = _set(
    "Identity, to match a legal request: customer number, name, email",
    _columns("customers", "id customer_number name email created_at closed_at"),
)
# The record of past disclosures (staff/disclosures.py): whose data went to which
# authority, when, by whom and under which reference. Read by the privacy officer only.
LEGAL_DISCLOSURES = _set(
    "Legal disclosures: when, by whom, whose data, the legal basis, the kinds handed over",
    _columns(
        "legal_disclosures",
        "id disclosed_at staff_id customer_id customer_number authority reference kinds",
    ),
)

# --- Orders ----------------------------------------------------------------------------
# The order number is not declared personal, but it is printed in the customer's mail and
# links an order to them: only the roles that handle orders read it.
ORDER_REFERENCE = _set("Order number", _columns("orders", "id order_number"))
ORDER_STATUS = _set(
    "Order status and its history",
    _columns("orders", "status placed_at updated_at pseudonymised_at"),
    _columns("order_events", "id order_id from_status to_status actor created_at"),
)
# What the customer was told at a move: a decline reason as much as a carrier, so not
# fulfilment's to read (orders/models.py: never card data, but payment news all the same).
ORDER_NOTES = _set(
    "What the customer was told at each move (a decline reason, a carrier)",
    _columns("order_events", "note"),
)
ORDER_ITEMS = _set(
    "Items: SKU, name, quantity, weight",
    _columns(
        "order_lines", "id order_id sku product_name label quantity weight_grams returned_quantity"
    ),
)
ORDER_AMOUNTS = _set(
    "Amounts: prices, totals, discount, tax",
    _columns(
        "orders",
        "currency subtotal_cents discount_cents shipping_cents tax_cents total_cents "
        "refunded_cents prices_include_tax discount_code",
    ),
    _columns("order_lines", "unit_price_cents line_total_cents discount_cents tax_cents"),
)
DELIVERY = _set(
    "Delivery: method, carrier, tracking number",
    _columns("orders", "shipping_method shipping_method_name carrier tracking_number"),
)
SHIPPING_ADDRESS = _set(
    "Shipping name and address",
    _columns(
        "orders", "ship_name ship_line1 ship_line2 ship_city ship_region ship_postcode ship_country"
    ),
)
BILLING_ADDRESS = _set(
    "Billing name and address",
    _columns(
        "orders", "bill_name bill_line1 bill_line2 bill_city bill_region bill_postcode bill_country"
    ),
)
RETURNS = _set(
    "Returns: lines, status, refund",
    _columns("order_returns", "id order_id status lines refund_cents created_at updated_at"),
)
RETURN_REASON = _set("The customer's reason for a return", _columns("order_returns", "reason"))

# --- Payments --------------------------------------------------------------------------
PAYMENT_RECORD = _set(
    "Payment at the processor: status, amounts, authorisation, decline reason",
    _columns(
        "payments",
        "id order_id processor status amount_cents currency captured_cents refunded_cents "
        "authorization_code decline_reason processor_reference created_at updated_at",
    ),
)
# The name on the card is read with the masked facts: a manual terminal entry asks for it
# beside the revealed number. The number itself is never a readable column (NOBODY).
MASKED_CARD = _set(
    "Masked card: brand, last four digits, expiry, name on card",
    _columns(
        "payment_cards",
        "id order_id brand last4 exp_month exp_year name_on_card purged_at created_at",
    ),
)
CARD_REVEALS = _set(
    "Card reveals: who revealed a number, when, and why",
    _columns("card_reveals", "id order_id actor reason created_at"),
)

# --- Mail ------------------------------------------------------------------------------
OUTBOX_DELIVERY = _set(
    "Outbox delivery state: purpose, status, attempts, times",
    _columns(
        "mail_outbox",
        "id message_id purpose status attempts next_attempt_at claimed_by claimed_at "
        "created_at sent_at erase_after_send",
    ),
)
# The subject and reference carry an order number (mail/messages.py); the bodies, the
# recipient and the server's refusal text carry the person.
OUTBOX_CONTENT = _set(
    "Outbox content: recipient, subject, bodies, errors",
    _columns(
        "mail_outbox",
        "recipient recipient_name customer_number subject reference text_body html_body last_error",
    ),
)

# --- Audit and staff -------------------------------------------------------------------
AUDIT_CHAIN = _set(
    "Audit chain: who read or changed what, when, why",
    _columns(
        "audit_entries",
        "id at action staff_id role subject customer_id data_kinds fields reason origin",
    ),
    # The chain over the entries (audit/sealer.py): seq, entry id and hashes, nobody's data.
    _columns("audit_seals", "seq entry_id prev_hash hash"),
)
STAFF_ACCOUNTS = _set(
    "Staff accounts and roles",
    _columns(
        "staff_members",
        "id name email created_at enrolled_at last_active_at disabled_at disabled_reason "
        "failed_attempts locked_until enrolment_expires_at",
    ),
    _columns("staff_roles", "staff_id role"),
    _columns("staff_passkeys", "id staff_id name created_at last_used_at"),
)
STAFF_SESSIONS = _set(
    "Staff sessions: when, from where, locked, ended",
    _columns(
        "staff_sessions", "id staff_id created_at last_seen_at expires_at locked_at ended_at origin"
    ),
)
# Who acknowledged which policy version, and the owner's six-monthly access reviews (P7).
STAFF_COMPLIANCE = _set(
    "Policy acknowledgements and access reviews",
    _columns(
        "staff_policy_acknowledgements", "staff_id policy_id quarter kind version acknowledged_at"
    ),
    _columns("staff_access_reviews", "id confirmed_by confirmed_at note snapshot"),
)
# The audit chain names staff by id; the privacy officer investigating needs the person.
STAFF_DIRECTORY = _set(
    "Staff names and roles",
    _columns("staff_members", "id name"),
    _columns("staff_roles", "staff_id role"),
)

COLUMN_SETS: tuple[ColumnSet, ...] = (
    CONTACT,
    CUSTOMER_ACCOUNT,
    ADDRESS_BOOK,
    SUBSCRIPTION,
    DISCOUNT_USES,
    QUESTIONS,
    DISCLOSURE_LOOKUP,
    LEGAL_DISCLOSURES,
    ORDER_REFERENCE,
    ORDER_STATUS,
    ORDER_NOTES,
    ORDER_ITEMS,
    ORDER_AMOUNTS,
    DELIVERY,
    SHIPPING_ADDRESS,
    BILLING_ADDRESS,
    RETURNS,
    RETURN_REASON,
    PAYMENT_RECORD,
    MASKED_CARD,
    CARD_REVEALS,
    OUTBOX_DELIVERY,
    OUTBOX_CONTENT,
    AUDIT_CHAIN,
    STAFF_ACCOUNTS,
    STAFF_SESSIONS,
    STAFF_DIRECTORY,
    STAFF_COMPLIANCE,
)

_ORDER_HANDLING = (ORDER_REFERENCE, ORDER_STATUS, ORDER_ITEMS, RETURNS)

# What each role reads. The owner runs the shop (staff, roles, policies, rates) and reads no
# customer's personal data by default: a small shop's owner who also serves customers holds
# customer_service too, and then reads what that role reads, each read in the chain under
# customer_service.
READ_SETS: Mapping[Role, tuple[ColumnSet, ...]] = MappingProxyType(
    {
        Role.OWNER: (
            OUTBOX_DELIVERY,
            AUDIT_CHAIN,
            STAFF_ACCOUNTS,
            STAFF_SESSIONS,
            STAFF_COMPLIANCE,
        ),
        Role.BILLING: (
            *_ORDER_HANDLING,
            ORDER_NOTES,
            ORDER_AMOUNTS,
            BILLING_ADDRESS,
            PAYMENT_RECORD,
            MASKED_CARD,
            CARD_REVEALS,
        ),
        Role.CUSTOMER_SERVICE: (
            CONTACT,
            CUSTOMER_ACCOUNT,
            ADDRESS_BOOK,
            SUBSCRIPTION,
            DISCOUNT_USES,
            QUESTIONS,
            *_ORDER_HANDLING,
            ORDER_NOTES,
            ORDER_AMOUNTS,
            DELIVERY,
            SHIPPING_ADDRESS,
            BILLING_ADDRESS,
            RETURN_REASON,
            OUTBOX_DELIVERY,
            OUTBOX_CONTENT,
        ),
        # The reason of a return is read where the parcel is opened: it says what to check.
        Role.FULFILMENT: (*_ORDER_HANDLING, DELIVERY, SHIPPING_ADDRESS, RETURN_REASON),
        Role.CATALOG: (),
        # Whether a mailing went out, never to whom.
        Role.MARKETING: (OUTBOX_DELIVERY,),
        Role.ANALYST: (),
        # Investigations: the chain, the card reveals, who a staff id is, and the identity
        # needed to match a legal request (DISCLOSURE_LOOKUP says why).
        Role.PRIVACY_OFFICER: (
            AUDIT_CHAIN,
            CARD_REVEALS,
            STAFF_DIRECTORY,
            DISCLOSURE_LOOKUP,
            LEGAL_DISCLOSURES,
            STAFF_COMPLIANCE,
        ),
    }
)

# Who may take each action. Every action is named (a new one is refused at import until
# it is), and the service behind it checks the record's state (only an order awaiting
# payment has a card to reveal).
ACTION_ROLES: Mapping[Action, frozenset[Role]] = MappingProxyType(
    {
        action: frozenset(roles)
        for action, roles in {
            Action.LOOK_UP_CUSTOMER: {Role.CUSTOMER_SERVICE, Role.PRIVACY_OFFICER},
            Action.VERIFY_CALLER: {Role.CUSTOMER_SERVICE},
            Action.EDIT_CONTACT: {Role.CUSTOMER_SERVICE},
            Action.EDIT_ADDRESS: {Role.CUSTOMER_SERVICE},
            Action.VIEW_ORDER_QUEUE: {Role.BILLING, Role.CUSTOMER_SERVICE, Role.FULFILMENT},
            Action.VERIFY_PAYMENT: {Role.BILLING},
            Action.REVEAL_CARD: {Role.BILLING},
            Action.MARK_PACKED: {Role.FULFILMENT},
            Action.SHIP: {Role.FULFILMENT},
            Action.FLAG_PAYMENT_PROBLEM: {Role.BILLING},
            Action.FLAG_AVAILABILITY_PROBLEM: {Role.CUSTOMER_SERVICE, Role.FULFILMENT},
            Action.CANCEL_ORDER: {Role.BILLING, Role.CUSTOMER_SERVICE},
            Action.REFUND: {Role.BILLING},
            # Customer service agrees a return; fulfilment receives the parcel.
            Action.HANDLE_RETURN: {Role.CUSTOMER_SERVICE, Role.FULFILMENT},
            Action.ANSWER_QUESTIONS: {Role.CUSTOMER_SERVICE},
            Action.EDIT_PRODUCTS: {Role.CATALOG},
            Action.EDIT_STOCK: {Role.CATALOG},
            Action.EDIT_CATEGORIES: {Role.CATALOG},
            Action.EDIT_IMAGES: {Role.CATALOG},
            Action.IMPORT_CATALOG: {Role.CATALOG},
            Action.EXPORT_CATALOG: {Role.CATALOG},
            Action.EDIT_SHIPPING_RATES: {Role.OWNER},
            Action.EDIT_TAX_RATES: {Role.OWNER},
            Action.EDIT_DISCOUNTS: {Role.OWNER, Role.MARKETING},
            # What the shop promises (delivery, returns) is the owner's word; customer
            # service tells the owner what callers ask, and does not rewrite the terms.
            Action.EDIT_SHOP_PAGES: {Role.OWNER},
            Action.SEND_MAILINGS: {Role.MARKETING},
            Action.READ_OUTBOX: {Role.OWNER, Role.CUSTOMER_SERVICE, Role.MARKETING},
            # Captured messages are whole, with the customer in them.
            Action.READ_CAPTURED_MAIL: {Role.CUSTOMER_SERVICE},
            Action.VIEW_AGGREGATES: {Role.OWNER, Role.MARKETING, Role.ANALYST},
            Action.MANAGE_STAFF: {Role.OWNER},
            Action.REVIEW_ACCESS: {Role.OWNER},
            Action.PUBLISH_POLICIES: {Role.OWNER},
            Action.VIEW_COMPLIANCE: {Role.OWNER, Role.PRIVACY_OFFICER},
            Action.READ_AUDIT: {Role.OWNER, Role.PRIVACY_OFFICER},
            Action.LEGAL_DISCLOSURE: {Role.PRIVACY_OFFICER},
            Action.VIEW_DASHBOARD: set(Role),
        }.items()
    }
)
if set(ACTION_ROLES) != set(Action):
    raise RuntimeError(f"actions without roles: {sorted(set(Action) - set(ACTION_ROLES))}")
ROLE_ACTIONS: Mapping[Role, frozenset[Action]] = MappingProxyType(
    {role: frozenset(a for a, roles in ACTION_ROLES.items() if role in roles) for role in Role}
)


def _nobody(reason: str, *column_sets: frozenset[str]) -> dict[str, str]:
    return dict.fromkeys(sorted(frozenset().union(*column_sets)), reason)


# Columns of the tables above that no role reads through a response, and why. Every column
# of those tables is either granted to some role or named here (check_table).
NOBODY: Mapping[str, str] = MappingProxyType(
    {
        **_nobody(
            "a one-way hash of a password: shown to nobody, ever (P8)",
            _columns("customers", "password_hash"),
            _columns("staff_members", "password_hash"),
        ),
        **_nobody(
            "the email address case-folded for lookups; the address itself is granted",
            _columns("customers", "email_key guest_key"),
            _columns("staff_members", "email_key"),
        ),
        **_nobody(
            "a customer's signed-in tabs: the token is kept only as a hash, and no staff "
            "task needs to know when a customer signs in",
            _columns(
                "customer_tokens",
                "id customer_id token_hash created_at last_used_at expires_at revoked_at",
            ),
        ),
        **_nobody(
            "one-time links mailed to a customer (hashes only) and an address change not "
            "confirmed yet, which may not be the customer's: staff act on the account itself",
            _columns(
                "account_links",
                "id customer_id purpose token_hash new_email created_at expires_at used_at",
            ),
        ),
        **_nobody(
            "checkout's replay cache: machinery, whose answer is the order's and is read "
            "from the order",
            _columns(
                "idempotency_keys",
                "id scope key request_digest status response_status response_body "
                "created_at expires_at",
            ),
        ),
        **_nobody(
            "the key sent to the processor so that a retry cannot charge twice: machinery",
            _columns("payments", "idempotency_key"),
        ),
        **_nobody(
            "which keyring key sealed the number: the vault's business",
            _columns("payment_cards", "key_id"),
        ),
        **_nobody(
            "the sealed card number: only the reveal action decrypts it (billing, an order "
            "awaiting payment, a stated reason), never a serialised row",
            _columns("payment_cards", "ciphertext"),
        ),
        **_nobody(
            "the sealed one-time links of a message not sent yet (P8): the outbox shows a "
            "placeholder where a link goes",
            _columns("mail_outbox", "sealed_context"),
        ),
        **_nobody(
            "a staff member's second factor (sealed) and its replay guard",
            _columns("staff_members", "totp_key_id totp_ciphertext totp_last_step"),
        ),
        **_nobody(
            "a staff member's passkey (public key and counter): the sign-in checks it, "
            "nobody reads it",
            _columns("staff_passkeys", "credential_id public_key sign_count transports"),
        ),
        **_nobody(
            "one sign-in or registration ceremony's challenge, kept as SHA-256 for five minutes",
            _columns(
                "staff_passkey_challenges",
                "id purpose staff_id challenge_hash expires_at used_at",
            ),
        ),
        **_nobody(
            "machinery: how far a round of policy mail has gone",
            _columns(
                "staff_policy_mail_runs",
                "key policy_id after_customer_id queued summary started_at finished_at",
            ),
        ),
        **_nobody(
            "a token kept only as a hash (P8)",
            _columns("staff_members", "enrolment_token_hash"),
            _columns("staff_sessions", "token_hash"),
        ),
        **_nobody(
            "the day's visitor salt (analytics/visitors.py, P5): read by no one, so a "
            "visitor hash cannot be recomputed, and destroyed when its day closes",
            _columns("analytics_salts", "day salt created_at"),
        ),
    }
)

# Shop data: no customer's data in any column, so every role reads them; who may change
# them is an action (the catalog's, the owner's rates, marketing's discount codes).
SHOP_TABLES: Mapping[str, str] = MappingProxyType(
    {
        "products": "the catalog",
        "product_variants": "the catalog",
        "categories": "the catalog",
        "product_images": "the catalog (a product's gallery)",
        "shop_pages": "the owner's contact, shipping and returns pages",
        "catalog_changes": "the page cache's record of catalog changes",
        "catalog_state": "the page cache's catalog version",
        "shipping_regions": "shipping rates",
        "shipping_rates": "shipping rates",
        "tax_rates": "tax rates",
        "discount_codes": "discount codes (their uses by a customer are DISCOUNT_USES)",
        "policies": "published policy texts",
        "mailings": "mailings as written (who received one is not here)",
        # Counts only, no column about a person (analytics/models.py); the traffic screens
        # that show them are VIEW_AGGREGATES's.
        "analytics_days": "traffic counts per day",
        "analytics_hours": "traffic counts per hour",
        "analytics_cells": "traffic counts per page, browser, country and the like",
    }
)


@dataclass(frozen=True)
class Grant:
    reads: frozenset[str]  # "table.column"
    actions: frozenset[Action]


GRANTS: Mapping[Role, Grant] = MappingProxyType(
    {
        role: Grant(
            reads=frozenset().union(*(s.columns for s in READ_SETS[role])),
            actions=ROLE_ACTIONS[role],
        )
        for role in Role
    }
)

# Tables whose every column is decided here (granted, or NOBODY).
DECIDED_TABLES: frozenset[str] = frozenset(
    name.split(".", 1)[0] for name in (*NOBODY, *(n for s in COLUMN_SETS for n in s.columns))
)


class AccessDenied(Forbidden):
    """None of the staff member's roles grants the action (403 ``forbidden``).

    The route writes the failed attempt into the audit chain: ``action`` says what was tried.
    """

    status_code = 403
    code = "forbidden"

    def __init__(self, action: Action) -> None:
        super().__init__(f"Your roles do not allow this ({action.value}).")
        self.action = action


class UnknownTable(ValueError):
    """A table the need-to-know table does not classify: a bug, caught by check_table."""


class UnknownField(ValueError):
    """A row handed to ``serialise`` carries a key that is neither a column of its table
    nor a declared ``computed`` value: refused rather than passed through."""


@dataclass(frozen=True)
class Computed:
    """A value a route adds to a row that is no column (an age, a masked label, a count).

    It is kept only when every column it is ``derived_from`` (at least one, of the same
    table) is readable, and it counts as a read of those columns: a label built from the
    card's last four is a read of ``payment_cards.last4`` in the audit entry. A value that
    derives from nothing in the row is no part of the row: add it outside ``serialise``.
    """

    value: Any
    derived_from: tuple[str, ...]


def computed(value: Any, *derived_from: str) -> Computed:
    """``row["masked"] = computed(f"•••• {card.last4}", "last4")``."""
    if not derived_from:
        raise ValueError("a computed field names the columns it is derived from")
    return Computed(value, tuple(derived_from))


@dataclass(frozen=True)
class Serialised:
    """What a role may see of one row, and what the audit entry must say of the read."""

    values: dict[str, Any]
    personal_fields: tuple[str, ...]  # "table.column" of the personal data included, sorted
    kinds: tuple[str, ...]  # their declared kinds (contact, address, payment...), sorted
    role: Role | None  # the held role whose grant exposed them; None when none was included


def _held(roles: Iterable[Role | str]) -> tuple[Role, ...]:
    """The roles, checked (an unknown name raises ValueError), in the order Role lists them."""
    held = {Role(role) for role in roles}
    return tuple(role for role in Role if role in held)


def may(roles: Iterable[Role], action: Action) -> bool:
    return any(Action(action) in GRANTS[role].actions for role in _held(roles))


def acting_role(roles: Iterable[Role], action: Action) -> Role:
    """The held role that grants ``action`` (the first in Role's order); AccessDenied if none."""
    action = Action(action)
    for role in _held(roles):
        if action in GRANTS[role].actions:
            return role
    raise AccessDenied(action)


def _is_personal(column: Column[Any]) -> bool:
    # The declaration's shape (privacy/personal_data.py `personal`): read here, not
    # imported, because a domain may import only privacy's declaration helpers.
    return "personal" in column.info


def _role_reads(role: Role, table: Table, column: Column[Any]) -> bool:
    if f"{table.name}.{column.name}" in GRANTS[role].reads:
        return True
    return table.name in SHOP_TABLES and not _is_personal(column)


def _check_known(table: Table) -> None:
    if table.name not in DECIDED_TABLES and table.name not in SHOP_TABLES:
        raise UnknownTable(
            f"the need-to-know table does not name table {table.name!r}: add its columns to "
            "staff/need_to_know.py before a staff route serves it"
        )


def readable_columns(roles: Iterable[Role], table: Table) -> frozenset[str]:
    """The names of the columns of ``table`` that the union of ``roles`` may read."""
    _check_known(table)
    held = _held(roles)
    return frozenset(
        column.name
        for column in table.columns
        if any(_role_reads(role, table, column) for role in held)
    )


def _sources(table: Table, key: str, value: Any) -> tuple[str, ...]:
    """The columns a row's entry reads; raises UnknownField for anything undeclared."""
    if key in table.columns:
        if isinstance(value, Computed):
            raise UnknownField(f"{table.name}.{key}: a computed field cannot take a column's name")
        return (key,)
    if not isinstance(value, Computed):
        raise UnknownField(
            f"{table.name} has no column {key[:80]!r}: drop it, or declare it "
            "computed(value, *columns)"
        )
    unknown = [name[:80] for name in value.derived_from if name not in table.columns]
    if unknown or not value.derived_from:
        raise UnknownField(f"{table.name}.{key[:80]} is derived from unknown columns {unknown}")
    return value.derived_from


def serialise(roles: Iterable[Role], table: Table, row: Mapping[str, Any]) -> Serialised:
    """The entries of ``row`` (keyed by column name) that ``roles`` may read; the others are
    left out of ``values`` altogether, so the JSON never holds them, not even as null.

    A key that is not a column of ``table`` raises UnknownField unless its value is
    ``computed(...)`` from columns of the table; see ``Computed``.
    """
    _check_known(table)
    held = _held(roles)
    readable = readable_columns(held, table)
    values: dict[str, Any] = {}
    personal: set[str] = set()
    for key, value in row.items():
        sources = _sources(table, key, value)
        if not all(name in readable for name in sources):
            continue
        values[key] = value.value if isinstance(value, Computed) else value
        personal.update(name for name in sources if _is_personal(table.columns[name]))
    fields = tuple(sorted(f"{table.name}.{name}" for name in personal))
    kinds = tuple(sorted({str(table.columns[name].info["personal"]) for name in personal}))
    return Serialised(values, fields, kinds, _exposing_role(held, table, personal))


def _exposing_role(held: tuple[Role, ...], table: Table, personal: set[str]) -> Role | None:
    """The held role granting the most of the personal columns read (ties: Role's order).
    When no one role grants them all, the entry still lists every field it read."""
    if not personal:
        return None
    columns = [table.columns[name] for name in personal]
    return max(held, key=lambda role: sum(_role_reads(role, table, c) for c in columns))


def matrix(metadata: MetaData) -> list[tuple[Role, str, bool]]:
    """(role, "table.column", readable) for every column of every table named here: the
    role x field matrix that the staff routes' responses are checked against."""
    tables = [
        metadata.tables[name]
        for name in sorted(metadata.tables)
        if name in DECIDED_TABLES or name in SHOP_TABLES
    ]
    rows: list[tuple[Role, str, bool]] = []
    for role in Role:
        for table in tables:
            readable = readable_columns((role,), table)
            rows += [(role, f"{table.name}.{c.name}", c.name in readable) for c in table.columns]
    return rows


def check_table(metadata: MetaData) -> list[str]:
    """Every way the table and the models disagree (empty when they agree): a name that is
    no column, a table with personal data not named, a table not classified, a column of a
    decided table neither granted nor in NOBODY, a column both granted and in NOBODY."""
    granted = frozenset().union(*(grant.reads for grant in GRANTS.values()))
    existing = {f"{t.name}.{c.name}" for t in metadata.tables.values() for c in t.columns}
    problems = [f"{name}: no such column" for name in sorted((granted | set(NOBODY)) - existing)]
    problems += [f"{name}: granted and in NOBODY" for name in sorted(granted & set(NOBODY))]
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        if table.name in SHOP_TABLES:
            problems += [
                f"{table.name}.{c.name}: personal column in a shop table; name it in a set"
                for c in table.columns
                if _is_personal(c) and f"{table.name}.{c.name}" not in granted | set(NOBODY)
            ]
        elif table.name not in DECIDED_TABLES:
            problems.append(f"{table.name}: table not in the need-to-know table")
        else:
            problems += [
                f"{table.name}.{c.name}: neither granted nor in NOBODY"
                for c in table.columns
                if f"{table.name}.{c.name}" not in granted | set(NOBODY)
            ]
    return problems


def render_markdown() -> str:
    """docs/need-to-know.md: the table, role x kind of data and role x action."""
    legend = ", ".join(f"`{role.value}` ({ROLE_LABELS[role].lower()})" for role in Role)
    return "\n".join(
        [
            "# Need to know: what each staff role reads and does",
            "",
            "Generated from `src/quietshop/staff/need_to_know.py` (design.md P6); do not "
            f"edit by hand. Regenerate with `{REGENERATE}`.",
            "",
            "Every staff response is cut through this table: a field a role is not granted "
            "is absent from the JSON. A person may hold several roles and reads their union. "
            "A personal column added to a model is refused to every role until a set below "
            "names it. The owner reads no customer's personal data by default: an owner who "
            "also serves customers holds `customer_service` too.",
            "",
            f"Roles: {legend}.",
            *_render_reads(),
            *_render_nobody(),
            *_render_actions(),
            "",
        ]
    )


def _table_row(title: str, marks: Iterable[bool], mark: str) -> str:
    return f"| {title} | " + " | ".join(mark if m else "—" for m in marks) + " |"


def _table_head() -> list[str]:
    return ["| | " + " | ".join(f"`{r.value}`" for r in Role) + " |", "|---|" + "---|" * len(Role)]


def _render_reads() -> list[str]:
    shop = ", ".join(f"`{name}`" for name in sorted(SHOP_TABLES))
    return [
        "",
        "## Kinds of data each role reads",
        "",
        *_table_head(),
        *(_table_row(s.title, (s in READ_SETS[r] for r in Role), "reads") for s in COLUMN_SETS),
        _table_row(
            "Shop data: catalog, rates, discount codes, policies", (True for _ in Role), "reads"
        ),
        "",
        "## What each kind of data holds",
        "",
        *(
            f"- **{s.title}**: " + ", ".join(f"`{n}`" for n in sorted(s.columns))
            for s in COLUMN_SETS
        ),
        f"- **Shop data**: every column not declared personal of {shop}",
    ]


def _render_nobody() -> list[str]:
    return [
        "",
        "## Read by nobody",
        "",
        "| column | why |",
        "|---|---|",
        *(f"| `{name}` | {NOBODY[name]} |" for name in sorted(NOBODY)),
    ]


def _render_actions() -> list[str]:
    reasons = ", ".join(f"`{a.value}`" for a in Action if a in ACTIONS_NEEDING_A_REASON)
    return [
        "",
        "## What each role may do",
        "",
        *_table_head(),
        *(_table_row(f"`{a.value}`", (r in ACTION_ROLES[a] for r in Role), "may") for a in Action),
        "",
        f"Only with a stated reason, kept in the audit chain: {reasons}.",
    ]


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
