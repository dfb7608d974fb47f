"""Customer service's customer screens (issue 9 items 2, 3, 4, 7): the lookup by customer
number, email address and name, one customer's record, caller verification and the edits
it allows, each answer cut to the role's grant (compared with the need-to-know matrix),
every look and change in the audit chain and in the customer's own account, and bad input.

Real customers (registered through the accounts service, a guest through the checkout
API) and real staff (enrolled, signed in through the API), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.accounts import addresses
from quietshop.accounts import service as accounts
from quietshop.accounts.models import Address, Customer
from quietshop.accounts.numbers import format_customer_number
from quietshop.audit import service as audit
from quietshop.settings import Settings
from quietshop.staff import callers, customers_api
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.roles import Role
from tests.accounts.factories import Account, make_customer
from tests.clock import T0, MovableClock
from tests.orders.conftest import GUEST, Stock, order_body, quote_total, stock
from tests.staff.conftest import signed_in
from tests.staff.desk import Clerk, cheap_customer_hashes, clerk, granted
from tests.staff.factories import audit_entries

__all__ = ["cheap_customer_hashes", "clerk", "stock"]

CUSTOMERS = "/api/v1/staff/customers"
POSTCODE = "SW1A 1AA"
PHONE = "+44 20 7946 0018"
CUSTOMER_FIELDS = tuple(name for name in accounts.staff_desk.CUSTOMER_COLUMNS if name != "id")
ADDRESS_FIELDS = tuple(
    name for name in accounts.staff_desk.ADDRESS_COLUMNS if name != "customer_id"
)
NOT_CS = (Role.BILLING, Role.FULFILMENT, Role.MARKETING, Role.ANALYST, Role.CATALOG, Role.OWNER)
LONDON = {
    "kind": "shipping",
    "name": "Ann Example",
    "line1": "1 Parliament Street",
    "city": "London",
    "postcode": POSTCODE,
    "country": "GB",
}


def record_url(number: str, rest: str = "") -> str:
    return f"{CUSTOMERS}/{number}" + (f"/{rest}" if rest else "")


@pytest.fixture
def ann(db: Session, settings: Settings) -> Account:
    """A customer with a phone number and one London address in her book."""
    account = make_customer(db, settings, name="Ann Example", email="Ann.Example@example.org")
    accounts.update_profile(db, account.signed_in, None, PHONE)
    addresses.add(db, account.customer.id, addresses.AddressInput(**LONDON), T0)
    db.commit()
    return account


@pytest.fixture
def rep(clerk: Callable[..., Clerk]) -> Clerk:
    return clerk(Role.CUSTOMER_SERVICE)


def look(api: TestClient, who: Clerk, q: str, **params: Any) -> Any:
    return api.get(CUSTOMERS, params={"q": q, **params}, headers=who.headers)


def found_numbers(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [row["customer_number"] for row in answer.json()["customers"]]


def verify(api: TestClient, who: Clerk, number: str, postcode: str) -> Any:
    return api.post(
        record_url(number, "verify-caller"), json={"postcode": postcode}, headers=who.headers
    )


def entry_texts(entries: list[audit.AuditEntryOut]) -> str:
    """What entries say (subjects, fields, kinds, reasons): where no typed value may be."""
    return " ".join(
        " ".join((e.subject, e.reason, *e.fields, *e.data_kinds)) for e in entries
    ).upper()


def customer_row(db: Session, customer_id: int) -> Customer:
    db.expire_all()
    return db.execute(select(Customer).where(Customer.id == customer_id)).scalar_one()


# ---------------------------------------------------------------- the lookup


def test_a_customer_is_found_by_number_as_printed_or_plain(
    api: TestClient, rep: Clerk, ann: Account
) -> None:
    number = ann.customer.customer_number
    # When the number is typed plain, as printed in groups, or with hyphens
    for typed in (
        number,
        format_customer_number(number),
        "-".join(format_customer_number(number).split()),
    ):
        answer = look(api, rep, typed)
        # Then exactly Ann is found, read as a customer number
        assert found_numbers(answer) == [number]
        assert answer.json()["by"] == "customer_number"


def test_a_customer_is_found_by_email_whatever_its_case(
    api: TestClient, rep: Clerk, ann: Account
) -> None:
    for typed in ("ann.example@example.org", " ANN.EXAMPLE@EXAMPLE.ORG "):
        answer = look(api, rep, typed)
        assert found_numbers(answer) == [ann.customer.customer_number]
        assert answer.json()["by"] == "email"
    # An address nobody uses finds nobody: an answer, not an error
    assert found_numbers(look(api, rep, "nobody@example.org")) == []


def test_a_customer_is_found_by_part_of_the_name(api: TestClient, rep: Clerk, ann: Account) -> None:
    for typed in ("Ann", "ann ex", "XAMP", "le"):
        answer = look(api, rep, typed)
        assert found_numbers(answer) == [ann.customer.customer_number], typed
        assert answer.json()["by"] == "name"
    assert found_numbers(look(api, rep, "Bob")) == []


def test_a_guest_is_found_by_the_email_given_at_checkout(
    api: TestClient, rep: Clerk, db: Session, stock: Stock
) -> None:
    # Given a guest's order (a customer record with a number and no password)
    lines = [{"sku": stock.cable, "quantity": 1}]
    placed = api.post(
        "/api/v1/orders",
        json=order_body(lines, quote_total(api, lines)),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert placed.status_code == 201, placed.text
    guest = db.execute(select(Customer).where(Customer.email == GUEST["email"])).scalar_one()
    # When customer service looks the address up in capitals
    answer = look(api, rep, GUEST["email"].upper())
    # Then the guest is found, and the record shows the order
    assert found_numbers(answer) == [guest.customer_number]
    record = api.get(record_url(guest.customer_number), headers=rep.headers).json()
    assert [o["order_number"] for o in record["orders"]] == [placed.json()["order_number"]]
    assert record["orders"][0]["status"] == "placed"
    assert record["addresses"] == []
    # And a caller names the postcode of the order's address: a guest has no address book
    assert verify(api, rep, guest.customer_number, "62701").json()["verified"] is True


def test_a_lookup_by_name_pages_in_name_order_at_most_50_at_a_time(
    api: TestClient, rep: Clerk, db: Session, settings: Settings
) -> None:
    for name in ("Pat Cee", "Pat Ay", "Pat Bee"):
        make_customer(db, settings, name=name)
    db.commit()
    first = look(api, rep, "pat", limit=2)
    assert [c["name"] for c in first.json()["customers"]] == ["Pat Ay", "Pat Bee"]
    assert first.json()["next_offset"] == 2
    second = look(api, rep, "pat", limit=2, offset=2)
    assert [c["name"] for c in second.json()["customers"]] == ["Pat Cee"]
    assert second.json()["next_offset"] is None
    assert look(api, rep, "pat", limit=51).status_code == 400
    assert look(api, rep, "pat", limit=0).status_code == 400
    assert look(api, rep, "pat", offset=1001).status_code == 400


def test_a_closed_account_is_not_found(
    api: TestClient, rep: Clerk, db: Session, ann: Account
) -> None:
    customer_row(db, ann.customer.id).closed_at = T0
    db.commit()
    assert found_numbers(look(api, rep, ann.customer.customer_number)) == []
    assert api.get(record_url(ann.customer.customer_number), headers=rep.headers).status_code == 404


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("q", "why"),
    [
        ("", "empty"),
        ("   ", "blank"),
        ("A", "one character of a name"),
        ("x" * 10_000, "10,000 characters"),
        ("x" * 201, "one over the limit"),
        ("12345", "digits that are no customer number"),
        ("2442 7250 95", "a customer number with a wrong check digit"),
        ("Ann\x00Example", "a control character"),
    ],
)
def test_bad_lookup_text_is_a_400_naming_q_and_reads_nothing(
    api: TestClient, rep: Clerk, db: Session, ann: Account, q: str, why: str
) -> None:
    answer = look(api, rep, q)
    assert answer.status_code == 400, why
    assert answer.json()["error"] == "invalid_parameter"
    assert [d["field"] for d in answer.json()["detail"]] == ["q"], why
    assert audit_entries(db, action="read") == []


def test_a_missing_q_is_a_400(api: TestClient, rep: Clerk) -> None:
    answer = api.get(CUSTOMERS, headers=rep.headers)
    assert answer.status_code == 400
    assert answer.json()["detail"][0]["field"] == "q"


@pytest.mark.parametrize(
    "q", ["' OR 1=1 --", "%%", "_%_", "Ann'); DROP TABLE customers; --", "a\\%"]
)
def test_sql_and_wildcards_in_q_are_only_text(
    api: TestClient, rep: Clerk, db: Session, ann: Account, q: str
) -> None:
    # Given text that would match everyone if it reached the query as SQL or as a pattern
    answer = look(api, rep, q)
    # Then it is a name to look for, which nobody has
    assert found_numbers(answer) == []
    assert db.execute(select(Customer.id)).first() is not None  # and the table is there


def test_names_in_any_script_are_found(
    api: TestClient, rep: Clerk, db: Session, settings: Settings
) -> None:
    zoe = make_customer(db, settings, name="Zoë Łukasiewicz-Ōta")
    db.commit()
    number = zoe.customer.customer_number
    for typed in ("Zoë", "Łukas", "Ōta", "ë Ł", "zo"):
        assert found_numbers(look(api, rep, typed)) == [number], typed
    # Composed and decomposed forms of ë are one letter
    assert found_numbers(look(api, rep, "Zoe\u0308")) == [number]
    # PostgreSQL folds the case of every letter; SQLite's lower() only of ASCII ones
    folded = found_numbers(look(api, rep, "łukas"))
    assert folded == ([number] if db.get_bind().dialect.name == "postgresql" else [])


@pytest.mark.parametrize("typed", ["0000000000", "2442725094", "not-a-number", "x" * 40])
def test_an_unknown_or_malformed_number_is_not_found(
    api: TestClient, rep: Clerk, typed: str
) -> None:
    assert api.get(record_url(typed), headers=rep.headers).status_code == 404
    assert verify(api, rep, typed, POSTCODE).status_code == 404
    assert api.get(record_url("x" * 41), headers=rep.headers).status_code == 400


def test_the_access_log_keeps_neither_the_text_looked_up_nor_the_number(
    api: TestClient, rep: Clerk, settings: Settings, ann: Account
) -> None:
    number = ann.customer.customer_number
    look(api, rep, "Ann Example")
    look(api, rep, "ann.example@example.org")
    api.get(record_url(number), headers=rep.headers)
    verify(api, rep, number, POSTCODE)
    log = settings.access_log_path.read_text()
    assert '"GET /api/v1/staff/customers HTTP/1.1" 200' in log
    assert '"POST /api/v1/staff/customers/{number}/verify-caller HTTP/1.1" 200' in log
    for secret in (number, "Ann", "ann.example", "q=", "SW1A"):
        assert secret not in log


# ---------------------------------------------------------------- who sees what


@pytest.mark.parametrize(
    "roles",
    [
        (Role.CUSTOMER_SERVICE,),
        (Role.PRIVACY_OFFICER,),
        (Role.CUSTOMER_SERVICE, Role.BILLING),
        (Role.PRIVACY_OFFICER, Role.FULFILMENT),
    ],
)
def test_each_answer_holds_exactly_the_columns_the_roles_are_granted(
    api: TestClient, clerk: Callable[..., Clerk], ann: Account, roles: tuple[Role, ...]
) -> None:
    who = clerk(*roles)
    number = ann.customer.customer_number
    listed = look(api, who, number).json()["customers"]
    assert [set(row) for row in listed] == [granted(roles, "customers", CUSTOMER_FIELDS)]
    record = api.get(record_url(number), headers=who.headers).json()
    assert set(record["customer"]) == granted(roles, "customers", CUSTOMER_FIELDS)
    address_fields = granted(roles, "customer_addresses", ADDRESS_FIELDS)
    assert [set(row) for row in record["addresses"]] == ([address_fields] if address_fields else [])


def test_customer_service_reads_contact_and_addresses_billing_none_of_it(
    api: TestClient, clerk: Callable[..., Clerk], ann: Account
) -> None:
    number = ann.customer.customer_number
    rep, biller = clerk(Role.CUSTOMER_SERVICE), clerk(Role.BILLING)
    record = api.get(record_url(number), headers=rep.headers).json()
    assert record["customer"] == {
        "customer_number": number,
        "name": "Ann Example",
        "email": "Ann.Example@example.org",
        "phone": PHONE,
        "email_verified_at": None,
        "created_at": "2026-11-25T12:00:00Z",
        "closed_at": None,
    }
    assert [(a["line1"], a["postcode"], a["country"]) for a in record["addresses"]] == [
        ("1 Parliament Street", POSTCODE, "GB")
    ]
    assert record["caller_verified_until"] is None
    # Billing reads billing addresses on orders, never a customer's record
    assert api.get(record_url(number), headers=biller.headers).status_code == 403
    assert look(api, biller, number).status_code == 403


def test_the_privacy_officer_matches_an_identity_but_reads_no_phone_or_address(
    api: TestClient, clerk: Callable[..., Clerk], ann: Account
) -> None:
    officer = clerk(Role.PRIVACY_OFFICER)
    record = api.get(record_url(ann.customer.customer_number), headers=officer.headers).json()
    assert set(record["customer"]) == {
        "customer_number",
        "name",
        "email",
        "created_at",
        "closed_at",
    }
    assert record["addresses"] == [] and record["orders"] == []
    # Verifying a caller and editing are customer service's alone
    assert verify(api, officer, ann.customer.customer_number, POSTCODE).status_code == 403


@pytest.mark.parametrize("role", NOT_CS)
def test_other_roles_are_refused_every_customer_route_recorded_and_shown_no_one(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, ann: Account, role: Role
) -> None:
    who = clerk(role)
    number = ann.customer.customer_number
    attempts = [
        api.get(CUSTOMERS, params={"q": "Ann"}, headers=who.headers),
        api.get(CUSTOMERS, params={"q": number}, headers=who.headers),
        api.get(record_url(number), headers=who.headers),
        api.post(
            record_url(number, "verify-caller"), json={"postcode": POSTCODE}, headers=who.headers
        ),
        api.patch(record_url(number, "contact"), json={"name": "Mallory"}, headers=who.headers),
        api.post(record_url(number, "addresses"), json=LONDON, headers=who.headers),
        api.delete(record_url(number, "addresses/1"), headers=who.headers),
    ]
    for answer in attempts:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "forbidden"
        for secret in (number, "Ann", "example.org", "Parliament", "7946", "SW1A"):
            assert secret not in answer.text
    denied = audit_entries(db, action="denied", staff_id=who.staff.id)
    assert len(denied) == len(attempts)
    assert all(entry.customer_id is None for entry in denied)
    assert audit_entries(db, action="read") == []
    assert customer_row(db, ann.customer.id).name == "Ann Example"


def test_every_route_declares_the_action_it_checks() -> None:
    declared = customers_api.STAFF_ROUTE_ACTIONS
    assert declared == {
        ("GET", CUSTOMERS): Action.LOOK_UP_CUSTOMER,
        ("GET", f"{CUSTOMERS}/{{number}}"): Action.LOOK_UP_CUSTOMER,
        ("POST", f"{CUSTOMERS}/{{number}}/verify-caller"): Action.VERIFY_CALLER,
        ("PATCH", f"{CUSTOMERS}/{{number}}/contact"): Action.EDIT_CONTACT,
        ("POST", f"{CUSTOMERS}/{{number}}/addresses"): Action.EDIT_ADDRESS,
        ("PUT", f"{CUSTOMERS}/{{number}}/addresses/{{address_id}}"): Action.EDIT_ADDRESS,
        ("DELETE", f"{CUSTOMERS}/{{number}}/addresses/{{address_id}}"): Action.EDIT_ADDRESS,
    }
    # Customer service holds every one of them
    assert all(Role.CUSTOMER_SERVICE in ACTION_ROLES[action] for action in declared.values())


def test_policies_pending_open_no_customer(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, settings: Settings, ann: Account
) -> None:
    from quietshop.staff import policies

    policies.publish_policy(db, settings, "security", "Security", "Lock your screen.", T0)
    db.commit()
    who = clerk(Role.CUSTOMER_SERVICE, acknowledged=False)
    answer = look(api, who, "Ann")
    assert answer.status_code == 403
    assert answer.json()["error"] == "policies_pending"
    assert "Ann Example" not in answer.text
    assert audit_entries(db, action="read") == []


# ---------------------------------------------------------------- the audit chain


def test_each_customer_shown_is_a_read_entry_the_customer_sees(
    api: TestClient, rep: Clerk, db: Session, settings: Settings, ann: Account
) -> None:
    other = make_customer(db, settings, name="Annabel Other")
    db.commit()
    # When a lookup by name shows both, and Ann's record is opened
    assert len(found_numbers(look(api, rep, "ann"))) == 2
    api.get(record_url(ann.customer.customer_number), headers=rep.headers)
    # Then each customer has their own entries, naming the fields read and the role
    reads = audit_entries(db, action="read", customer_id=ann.customer.id)
    assert [(e.subject, e.role, e.staff_id) for e in reads] == [
        (f"customer:{ann.customer.id}", "customer_service", rep.staff.id)
    ] * 2
    assert reads[0].fields == (
        "customers.customer_number", "customers.email", "customers.name", "customers.phone",
    )  # fmt: skip
    assert reads[1].data_kinds == ("address", "contact")
    assert "customer_addresses.postcode" in reads[1].fields
    assert reads[0].reason == "customer service looked up a customer by name"
    assert len(audit_entries(db, action="read", customer_id=other.customer.id)) == 1
    # And Ann sees when, which role and what kind of data, never who
    seen = audit.accesses_for_customer(db, ann.customer.id)
    assert [(s.action, s.role, s.data_kinds) for s in seen] == [
        ("read", "customer_service", ("address", "contact")),
        ("read", "customer_service", ("contact",)),
    ]


def test_nothing_found_is_no_entry(api: TestClient, rep: Clerk, db: Session, ann: Account) -> None:
    assert found_numbers(look(api, rep, "Nobody Atall")) == []
    assert audit_entries(db, action="read") == []


# ---------------------------------------------------------------- caller verification


@pytest.mark.parametrize(
    "typed",
    [POSTCODE, "sw1a 1aa", "SW1A1AA", " sw1a-1AA ", "\uff33\uff37\uff11\uff21 \uff11\uff21\uff21"],
)
def test_the_caller_is_verified_by_the_postcode_in_any_case_or_spacing(
    api: TestClient, rep: Clerk, db: Session, ann: Account, typed: str
) -> None:
    answer = verify(api, rep, ann.customer.customer_number, typed)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "verified": True,
        "valid_until": "2026-11-25T12:15:00Z",
        "attempts_left": 5,
    }
    entries = audit_entries(db, customer_id=ann.customer.id, action="caller_verified")
    assert [(e.staff_id, e.role, e.subject) for e in entries] == [
        (rep.staff.id, "customer_service", f"customer:{ann.customer.id}")
    ]
    # The postcode typed is in no entry, in any form
    assert "1AA" not in entry_texts(audit_entries(db)).replace(" ", "")


def test_a_wrong_postcode_is_not_verified_and_recorded_without_what_was_typed(
    api: TestClient, rep: Clerk, db: Session, ann: Account
) -> None:
    answer = verify(api, rep, ann.customer.customer_number, "EC1A 1BB")
    assert answer.json() == {"verified": False, "valid_until": None, "attempts_left": 4}
    failed = audit_entries(db, customer_id=ann.customer.id, action="caller_verification_failed")
    assert len(failed) == 1
    assert "EC1A" not in entry_texts(audit_entries(db))
    # The customer's own view shows checks that passed, not a stranger's guesses
    assert audit.accesses_for_customer(db, ann.customer.id) == []
    record = api.get(record_url(ann.customer.customer_number), headers=rep.headers).json()
    assert record["caller_verified_until"] is None


def test_a_passed_check_is_shown_to_the_customer_and_on_the_record(
    api: TestClient, rep: Clerk, db: Session, ann: Account
) -> None:
    verify(api, rep, ann.customer.customer_number, POSTCODE)
    record = api.get(record_url(ann.customer.customer_number), headers=rep.headers).json()
    assert record["caller_verified_until"] == "2026-11-25T12:15:00Z"
    seen = audit.accesses_for_customer(db, ann.customer.id)
    assert ("caller_verified", "customer_service") in [(s.action, s.role) for s in seen]
    assert accounts.ACCESS_LABELS["caller_verified"] == "checked it was you on the phone"


@pytest.mark.parametrize(
    "body",
    [{}, {"postcode": ""}, {"postcode": "x" * 41}, {"postcode": 12345}, {"postcode": " - "},
     {"postcode": POSTCODE, "extra": 1}],
)  # fmt: skip
def test_a_malformed_postcode_is_a_400_and_counts_as_no_attempt(
    api: TestClient, rep: Clerk, db: Session, ann: Account, body: dict[str, Any]
) -> None:
    answer = api.post(
        record_url(ann.customer.customer_number, "verify-caller"), json=body, headers=rep.headers
    )
    assert answer.status_code == 400, answer.text
    assert audit_entries(db, customer_id=ann.customer.id) == []


def test_five_wrong_postcodes_in_an_hour_refuse_the_customer_even_a_right_one(
    api: TestClient, rep: Clerk, clerk: Callable[..., Clerk], db: Session, settings: Settings,
    ann: Account, clock: MovableClock,
) -> None:  # fmt: skip
    number = ann.customer.customer_number
    other = clerk(Role.CUSTOMER_SERVICE)
    bob = make_customer(db, settings, name="Bob Other")
    addresses.add(db, bob.customer.id, addresses.AddressInput(**LONDON), T0)
    db.commit()
    # Given five wrong postcodes, two minutes apart
    for left in (4, 3, 2, 1, 0):
        assert verify(api, rep, number, "EC1A 1BB").json()["attempts_left"] == left
        clock.advance(minutes=2)
    # When anyone tries again, with the right postcode even
    answer = verify(api, other, number, POSTCODE)
    # Then the customer is refused, until the first failure is an hour old
    assert answer.status_code == 429
    assert answer.json()["error"] == "too_many_attempts"
    assert answer.headers["retry-after"] == str(60 * 60 - 10 * 60)
    assert audit_entries(db, action="caller_verified") == []
    denied = audit_entries(db, action="denied", customer_id=ann.customer.id)
    assert [(e.staff_id, e.reason) for e in denied] == [
        (other.staff.id, "caller verification refused: 5 failed checks within the hour")
    ]
    # And another customer is not affected
    assert verify(api, other, bob.customer.customer_number, POSTCODE).json()["verified"] is True
    # An hour after the first failure, one more try is allowed
    clock.advance(minutes=50)
    fresh = signed_in(api, other.staff, clock.now)
    again = api.post(
        record_url(number, "verify-caller"), json={"postcode": POSTCODE}, headers=fresh
    )
    assert again.json()["verified"] is True


# ---------------------------------------------------------------- edits for a verified caller


def test_an_edit_without_a_verified_caller_is_refused_recorded_and_changes_nothing(
    api: TestClient, rep: Clerk, db: Session, ann: Account
) -> None:
    number = ann.customer.customer_number
    attempts = [
        api.patch(record_url(number, "contact"), json={"name": "Mallory"}, headers=rep.headers),
        api.post(record_url(number, "addresses"), json=LONDON, headers=rep.headers),
    ]
    for answer in attempts:
        assert answer.status_code == 403
        assert answer.json()["error"] == "caller_not_verified"
    assert customer_row(db, ann.customer.id).name == "Ann Example"
    assert len(db.execute(select(Address).where(Address.customer_id == ann.customer.id)).all()) == 1
    denied = audit_entries(db, action="denied", customer_id=ann.customer.id)
    assert [e.reason for e in denied] == [
        "edit_contact without a verified caller",
        "edit_address without a verified caller",
    ]
    assert audit_entries(db, action="change") == []


def test_a_verified_caller_s_contact_is_changed_by_the_account_rules_and_recorded(
    api: TestClient, rep: Clerk, db: Session, ann: Account
) -> None:
    number = ann.customer.customer_number
    verify(api, rep, number, "sw1a1aa")
    answer = api.patch(
        record_url(number, "contact"),
        json={"name": "Ann Example-Smith", "phone": "+44 20 7946 0999"},
        headers=rep.headers,
    )
    assert answer.status_code == 204, answer.text
    row = customer_row(db, ann.customer.id)
    assert (row.name, row.phone) == ("Ann Example-Smith", "+44 20 7946 0999")
    changes = audit_entries(db, action="change", customer_id=ann.customer.id)
    assert [(c.fields, c.data_kinds, c.role) for c in changes] == [
        (("customers.name", "customers.phone"), ("contact",), "customer_service")
    ]
    assert "SMITH" not in entry_texts(changes) and "0999" not in entry_texts(changes)
    # The customer sees that customer service changed their contact details
    assert ("change", "customer_service", ("contact",)) in [
        (s.action, s.role, s.data_kinds) for s in audit.accesses_for_customer(db, row.id)
    ]
    # The account's own rules apply: a phone of letters, a name with a line break
    for body in ({"phone": "call me maybe"}, {"name": "Ann\r\nBcc: x@y.z"}, {}):
        refused = api.patch(record_url(number, "contact"), json=body, headers=rep.headers)
        assert refused.status_code == 400, body
    assert customer_row(db, ann.customer.id).name == "Ann Example-Smith"


def test_a_verified_caller_s_address_book_is_edited_by_its_country_rules(
    api: TestClient, rep: Clerk, db: Session, ann: Account
) -> None:
    number = ann.customer.customer_number
    verify(api, rep, number, POSTCODE)
    paris = {
        **LONDON,
        "line1": "5 Rue de Rivoli",
        "city": "Paris",
        "postcode": "75001",
        "country": "FR",
    }
    added = api.post(record_url(number, "addresses"), json=paris, headers=rep.headers)
    assert added.status_code == 201, added.text
    new_id = added.json()["id"]
    moved = api.put(
        record_url(number, f"addresses/{new_id}"), json={**paris, "line1": "7 Rue de Rivoli"},
        headers=rep.headers,
    )  # fmt: skip
    assert moved.status_code == 204
    # A postcode not of the country's shape is refused and changes nothing
    bad = api.put(
        record_url(number, f"addresses/{new_id}"), json={**paris, "postcode": "SW1A 1AA"},
        headers=rep.headers,
    )  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["detail"] == [
        {"field": "postcode", "message": "is not a valid postcode for FR"}
    ]
    db.expire_all()
    assert db.get(Address, new_id).line1 == "7 Rue de Rivoli"  # type: ignore[union-attr]
    assert (
        api.delete(record_url(number, f"addresses/{new_id}"), headers=rep.headers).status_code
        == 204
    )
    db.expire_all()
    assert db.get(Address, new_id) is None
    changes = audit_entries(db, action="change", customer_id=ann.customer.id)
    assert [c.fields for c in changes][1] == ("customer_addresses.line1",)
    assert len(changes) == 3 and all(c.data_kinds == ("address",) for c in changes)


def test_another_customer_s_address_is_not_found(
    api: TestClient, rep: Clerk, db: Session, settings: Settings, ann: Account
) -> None:
    bob = make_customer(db, settings, name="Bob Other")
    bobs = addresses.add(db, bob.customer.id, addresses.AddressInput(**LONDON), T0)
    db.commit()
    verify(api, rep, ann.customer.customer_number, POSTCODE)
    answer = api.delete(
        record_url(ann.customer.customer_number, f"addresses/{bobs.id}"), headers=rep.headers
    )
    assert answer.status_code == 404
    db.expire_all()
    assert db.get(Address, bobs.id) is not None


def test_a_check_allows_edits_for_15_minutes_in_this_session_only(
    api: TestClient, rep: Clerk, clerk: Callable[..., Clerk], db: Session, ann: Account,
    clock: MovableClock,
) -> None:  # fmt: skip
    number = ann.customer.customer_number
    verify(api, rep, number, POSTCODE)

    def rename(who: dict[str, str], name: str) -> int:
        return api.patch(
            record_url(number, "contact"), json={"name": name}, headers=who
        ).status_code

    # Another staff member was not on the call
    assert rename(clerk(Role.CUSTOMER_SERVICE).headers, "Mallory") == 403
    # Nor is a new sign-in of the same person the same session
    clock.advance(minutes=1)
    assert rename(signed_in(api, rep.staff, clock.now, steps=1), "Mallory") == 403
    # Within 15 minutes, this session may edit
    clock.advance(minutes=13)
    assert rename(rep.headers, "Ann Two") == 204
    clock.advance(minutes=1, seconds=1)
    assert rename(rep.headers, "Ann Three") == 403
    assert customer_row(db, ann.customer.id).name == "Ann Two"


def test_the_verification_window_is_the_issue_s() -> None:
    assert (callers.MAX_FAILURES, callers.FAILURE_WINDOW.total_seconds()) == (5, 3600)
    assert callers.VERIFIED_FOR.total_seconds() == 15 * 60
