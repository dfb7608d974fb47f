"""The rate tables in the back office (issue 8 item 3, issue 9 item 7): the owner edits
shipping regions and rates, tax rates and discount codes; a quote right after an edit
prices with it; each write is checked by the rules a quote applies (negative cents, an
unknown country, a code that exists, more than 100 %, dates the wrong way round) and
changes nothing when refused; each change is an audit entry; other roles are refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from quietshop.catalog import service as catalog
from quietshop.errors import InvalidInput
from quietshop.keyring import Keyring
from quietshop.orders import service as orders
from quietshop.orders.demo import seed_demo_rates
from quietshop.orders.models import DiscountCode
from quietshop.settings import Settings
from quietshop.staff.roles import Role
from tests.catalog.factories import make_category, make_product
from tests.clock import T0
from tests.staff.conftest import bearer, signed_in
from tests.staff.factories import Staff, audit_entries, make_staff

RATES = "/api/v1/staff/rates"
QUOTE = "/api/v1/checkout/quote"


@pytest.fixture
def cable(db: Session) -> str:
    """One product at 12.99 (no weight), and the demo's rate tables (USD)."""
    sku = make_product(db, make_category(db), name="Braided Cable", price_cents=1299, stock=10)
    seed_demo_rates(db, "USD", T0)
    db.commit()
    return sku


@pytest.fixture
def olive(db: Session, settings: Settings, keyring: Keyring) -> Staff:
    return make_staff(
        db, settings, keyring, roles=frozenset({Role.OWNER}), name="Olive Owner",
        email="olive@shop.example",
    )  # fmt: skip


@pytest.fixture
def owner(api: TestClient, olive: Staff, cable: str) -> dict[str, str]:
    return signed_in(api, olive, T0)


@pytest.fixture
def tables(api: TestClient, owner: dict[str, str]) -> dict[str, Any]:
    answer = api.get(RATES, headers=owner)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _row(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    (found,) = [row for row in rows if all(row[k] == v for k, v in match.items())]
    return found


def quote(api: TestClient, sku: str, country: str = "US", **more: Any) -> dict[str, Any]:
    body = {"lines": [{"sku": sku, "quantity": 1}], "shipping_country": country, **more}
    answer = api.post(QUOTE, json={"shipping_method": "standard", **body})
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def editable(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A row as the API lists it, as a body to send back (with changes)."""
    return {key: value for key, value in row.items() if key not in ("id", "currency")} | changes


def rate_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "region": "domestic", "method_code": "economy", "name": "Economy", "kind": "flat",
        "base_cents": 300, "delivery_days_min": 5, "delivery_days_max": 10,
    }  # fmt: skip
    return {**body, **changes}


def code_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": "spring20", "kind": "percent", "percent_basis_points": 2000}
    return {**body, **changes}


# ---------------------------------------------------------------- reading


def test_the_tables_list_every_row_and_the_countries_a_region_may_name(
    tables: dict[str, Any],
) -> None:
    assert [region["code"] for region in tables["regions"]] == [
        "canada", "domestic", "europe", "europe-other", "far", "uk",
    ]  # fmt: skip
    assert _row(tables["regions"], code="uk") == {
        "code": "uk",
        "countries": ["GB"],
        "rate_count": 1,
    }
    assert _row(tables["shipping_rates"], region="domestic", method_code="standard") == {
        "id": _row(tables["shipping_rates"], region="domestic", method_code="standard")["id"],
        "currency": "USD", "region": "domestic", "method_code": "standard",
        "name": "Standard (USPS)", "kind": "weight", "base_cents": 495, "per_kg_cents": 100,
        "free_over_cents": 7500, "delivery_days_min": 3, "delivery_days_max": 5, "active": True,
    }  # fmt: skip
    assert len(tables["tax_rates"]) == 19
    save5 = _row(tables["discount_codes"], code="SAVE5")
    assert (save5["kind"], save5["amount_cents"], save5["percent_basis_points"]) == (
        "amount",
        500,
        None,
    )
    assert (save5["max_uses"], save5["uses"], save5["currency"]) == (100, 0, "USD")
    assert "US" in tables["countries"] and "JP" not in tables["countries"]


# ---------------------------------------------------------------- a quote after an edit


def test_a_quote_right_after_an_edit_prices_with_the_new_shipping_and_tax_rates(
    api: TestClient, owner: dict[str, str], tables: dict[str, Any], cable: str
) -> None:
    # Given today's quote to the US: 12.99 + 4.95 standard shipping, no sales tax
    before = quote(api, cable)
    assert (before["shipping"]["cents"], before["tax"]["cents"], before["total"]["cents"]) == (
        495, 0, 1794,
    )  # fmt: skip
    # When the owner raises the standard rate and sets a 10 % tax for the US
    standard = _row(tables["shipping_rates"], region="domestic", method_code="standard")
    edited = editable(standard, base_cents=795)
    changed = api.put(f"{RATES}/shipping/{standard['id']}", headers=owner, json=edited)
    assert changed.status_code == 200, changed.text
    us = _row(tables["tax_rates"], country="US")
    taxed = api.put(
        f"{RATES}/tax/{us['id']}", headers=owner,
        json={"country": "us", "tax_class": "standard", "rate_basis_points": 1000, "name": "Tax"},
    )  # fmt: skip
    assert taxed.status_code == 200 and taxed.json()["country"] == "US"
    # Then the very next quote uses both (prices include tax: 10/110 of 20.94)
    after = quote(api, cable)
    assert (after["shipping"]["cents"], after["tax"]["cents"], after["total"]["cents"]) == (
        795, 190, 2094,
    )  # fmt: skip


def test_a_new_code_works_at_once_and_an_inactive_one_no_more(
    api: TestClient, owner: dict[str, str], cable: str
) -> None:
    made = api.post(f"{RATES}/discounts", headers=owner, json=code_body())
    assert made.status_code == 201, made.text
    assert (made.json()["code"], made.json()["currency"], made.json()["uses"]) == (
        "SPRING20", "USD", 0,
    )  # fmt: skip
    assert quote(api, cable, discount_code="spring20")["discount"]["cents"] == 260
    off = api.put(
        f"{RATES}/discounts/{made.json()['id']}", headers=owner, json=code_body(active=False)
    )
    assert off.status_code == 200 and off.json()["active"] is False
    refused = api.post(QUOTE, json={
        "lines": [{"sku": cable, "quantity": 1}], "shipping_country": "US",
        "discount_code": "SPRING20"})  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["detail"][0]["field"] == "discount_code"


def test_a_region_moved_and_removed_changes_where_checkout_ships(
    api: TestClient, owner: dict[str, str], tables: dict[str, Any], cable: str
) -> None:
    assert quote(api, cable, "GB")["shipping"]["cents"] == 1490
    # GB is in "uk": another region cannot take it, and "uk" cannot go while a rate uses it
    taken = api.put(f"{RATES}/regions/islands", headers=owner, json={"countries": ["GB", "IE"]})
    assert taken.status_code == 409, taken.text
    assert taken.json()["detail"] == "GB is in the region uk already: take it out there first"
    used = api.delete(f"{RATES}/regions/uk", headers=owner)
    assert used.status_code == 409
    assert used.json()["detail"] == "1 shipping rate(s) use the region uk: delete them first"
    # Once its rate is gone, the region goes, and checkout no longer ships to GB
    uk_rate = _row(tables["shipping_rates"], region="uk")
    assert api.delete(f"{RATES}/shipping/{uk_rate['id']}", headers=owner).status_code == 204
    assert api.delete(f"{RATES}/regions/uk", headers=owner).status_code == 204
    gone = api.post(QUOTE, json={
        "lines": [{"sku": cable, "quantity": 1}], "shipping_country": "GB"})  # fmt: skip
    assert gone.status_code == 400 and gone.json()["detail"][0]["field"] == "country"
    # And a new region for GB with a rate ships there again
    made = api.put(f"{RATES}/regions/islands", headers=owner, json={"countries": ["gb", "GB"]})
    assert made.json() == {"code": "islands", "countries": ["GB"], "rate_count": 0}
    rate = api.post(f"{RATES}/shipping", headers=owner, json=rate_body(
        region="islands", method_code="standard", base_cents=999))  # fmt: skip
    assert rate.status_code == 201, rate.text
    assert quote(api, cable, "GB")["shipping"]["cents"] == 999


# ---------------------------------------------------------------- refused writes


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("shipping", rate_body(base_cents=-1), "base_cents"),
        ("shipping", rate_body(base_cents=1.5), "base_cents"),
        ("shipping", rate_body(base_cents=True), "base_cents"),
        ("shipping", rate_body(base_cents=1_000_000_001), "base_cents"),
        ("shipping", rate_body(free_over_cents=-100), "free_over_cents"),
        ("shipping", rate_body(per_kg_cents=100), "per_kg_cents"),  # flat: no per-kg price
        ("shipping", rate_body(delivery_days_min=9, delivery_days_max=2), "delivery_days_max"),
        ("shipping", rate_body(kind="by_moon"), "kind"),
        ("shipping", rate_body(region="atlantis"), "region"),
        ("shipping", rate_body(method_code="two words"), "method_code"),
        ("shipping", rate_body(name="Economy\x00"), "name"),
        ("shipping", rate_body(name="E" * 121), "name"),
        ("shipping", rate_body(currency="EUR"), "currency"),
        ("tax", {"country": "ZZ", "rate_basis_points": 1900}, "country"),
        ("tax", {"country": "JP", "rate_basis_points": 1000}, "country"),
        ("tax", {"country": "DEU", "rate_basis_points": 1900}, "country"),
        ("tax", {"country": "DE", "rate_basis_points": 10_001}, "rate_basis_points"),
        ("tax", {"country": "DE", "rate_basis_points": -1}, "rate_basis_points"),
        ("tax", {"country": "DE", "tax_class": "re duced", "rate_basis_points": 700}, "tax_class"),
        ("discounts", code_body(percent_basis_points=10_001), "percent_basis_points"),
        ("discounts", code_body(percent_basis_points=0), "percent_basis_points"),
        ("discounts", code_body(kind="amount", percent_basis_points=None), "amount_cents"),
        ("discounts", code_body(amount_cents=500), "amount_cents"),
        ("discounts", code_body(amount_cents=-5, kind="amount", percent_basis_points=None),
         "amount_cents"),
        ("discounts", code_body(code="no"), "code"),
        ("discounts", code_body(code="SPRING 20"), "code"),
        ("discounts", code_body(code="ŞPRING20"), "code"),
        ("discounts", code_body(valid_from="2027-02-01T00:00:00Z",
                                valid_until="2027-01-01T00:00:00Z"), "valid_until"),
        ("discounts", code_body(valid_from="2027-01-01T00:00:00Z",
                                valid_until="2027-01-01T00:00:00Z"), "valid_until"),
        ("discounts", code_body(valid_from="2027-01-01T00:00:00"), "valid_from"),
        ("discounts", code_body(valid_from="tomorrow"), "valid_from"),
        ("discounts", code_body(valid_from=1767225600), "valid_from"),
        ("discounts", code_body(max_uses=0), "max_uses"),
        ("discounts", code_body(minimum_order_cents=-1), "minimum_order_cents"),
    ],
)  # fmt: skip
def test_a_row_a_quote_would_refuse_is_refused_naming_the_field(
    api: TestClient, db: Session, owner: dict[str, str], tables: dict[str, Any],
    path: str, body: dict[str, Any], field: str,
) -> None:  # fmt: skip
    answer = api.post(f"{RATES}/{path}", headers=owner, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_parameter"
    assert [problem["field"] for problem in answer.json()["detail"]] == [field]
    assert api.get(RATES, headers=owner).json() == tables
    assert audit_entries(db, action="change") == []


@pytest.mark.parametrize(
    ("countries", "says"),
    [
        (["XX"], "XX: the address book has no rules for this country"),
        (["JP"], "JP: the address book has no rules for this country"),
        (["Germany"], "give two-letter ISO 3166 country codes"),
        ([], "a region needs at least one country"),
        (["DE"] * 301, "at most 300 items"),
    ],
)
def test_a_region_of_unknown_or_no_countries_is_refused(
    api: TestClient, db: Session, owner: dict[str, str], countries: list[str], says: str
) -> None:
    answer = api.put(f"{RATES}/regions/far-east", headers=owner, json={"countries": countries})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"][0]["field"] == "countries"
    assert says in answer.json()["detail"][0]["message"]
    assert audit_entries(db, action="change") == []


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("discounts", code_body(code=" save5 "), "the code SAVE5 exists already"),
        ("shipping", rate_body(method_code="standard"), "the region domestic has a standard rate"),
        ("tax", {"country": "de", "rate_basis_points": 700}, "DE has a standard tax rate already"),
    ],
)
def test_a_row_that_overlaps_another_is_a_conflict(
    api: TestClient, db: Session, owner: dict[str, str], path: str, body: dict[str, Any],
    says: str,
) -> None:  # fmt: skip
    answer = api.post(f"{RATES}/{path}", headers=owner, json=body)
    assert answer.status_code == 409, answer.text
    assert says in answer.json()["detail"]
    assert audit_entries(db, action="change") == []


def test_a_used_code_keeps_its_letters_and_cannot_be_deleted(
    api: TestClient, db: Session, owner: dict[str, str], tables: dict[str, Any]
) -> None:
    save5 = _row(tables["discount_codes"], code="SAVE5")
    db.execute(update(DiscountCode).where(DiscountCode.id == save5["id"]).values(uses=3))
    db.flush()
    terms = {"code": "SAVE5", "kind": "amount", "amount_cents": 700, "max_uses": 100}
    renamed = api.put(
        f"{RATES}/discounts/{save5['id']}", headers=owner, json=terms | {"code": "SAVE7"}
    )
    assert renamed.status_code == 409 and "keeps its code" in renamed.json()["detail"]
    deleted = api.delete(f"{RATES}/discounts/{save5['id']}", headers=owner)
    assert deleted.status_code == 409 and "set it inactive" in deleted.json()["detail"]
    raised = api.put(f"{RATES}/discounts/{save5['id']}", headers=owner, json=terms)
    assert raised.status_code == 200 and raised.json()["uses"] == 3
    unused = _row(tables["discount_codes"], code="EXPIRED")
    assert api.delete(f"{RATES}/discounts/{unused['id']}", headers=owner).status_code == 204


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", f"{RATES}/shipping/999999"),
        ("DELETE", f"{RATES}/shipping/999999"),
        ("PUT", f"{RATES}/tax/999999"),
        ("DELETE", f"{RATES}/tax/999999"),
        ("PUT", f"{RATES}/discounts/999999"),
        ("DELETE", f"{RATES}/discounts/999999"),
        ("DELETE", f"{RATES}/regions/atlantis"),
    ],
)
def test_a_row_that_is_not_there_is_not_found(
    api: TestClient, owner: dict[str, str], method: str, url: str
) -> None:
    body = {"shipping": rate_body(), "tax": {"country": "DE", "rate_basis_points": 1},
            "discounts": code_body()}.get(url.split("/")[-2])  # fmt: skip
    answer = api.request(method, url, headers=owner, json=body if method == "PUT" else None)
    assert answer.status_code == 404, answer.text


@pytest.mark.parametrize(
    "url",
    [f"{RATES}/shipping/0", f"{RATES}/tax/{2**31}", f"{RATES}/regions/a%20b",
     f"{RATES}/regions/{'r' * 41}"],
)  # fmt: skip
def test_malformed_ids_and_codes_are_400(api: TestClient, owner: dict[str, str], url: str) -> None:
    assert api.delete(url, headers=owner).status_code == 400


# ---------------------------------------------------------------- the audit chain


def test_each_change_is_one_audit_entry_saying_what_changed(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff, tables: dict[str, Any]
) -> None:
    standard = _row(tables["shipping_rates"], region="domestic", method_code="standard")
    edited = editable(standard, base_cents=595, active=False)
    api.put(f"{RATES}/shipping/{standard['id']}", headers=owner, json=edited)
    api.put(f"{RATES}/shipping/{standard['id']}", headers=owner, json=edited)  # no change
    made = api.post(f"{RATES}/tax", headers=owner, json={
        "country": "DE", "tax_class": "reduced", "rate_basis_points": 700})  # fmt: skip
    api.delete(f"{RATES}/tax/{made.json()['id']}", headers=owner)
    europe = _row(tables["regions"], code="europe")["countries"]
    api.put(f"{RATES}/regions/europe", headers=owner, json={"countries": europe[1:]})
    entries = audit_entries(db, action="change")
    assert [(e.staff_id, e.role, e.customer_id, e.data_kinds) for e in entries] == [
        (olive.id, "owner", None, ())
    ] * 4
    assert [(e.subject, e.reason) for e in entries] == [
        (f"shipping_rate:{standard['id']}", "changed: base_cents 495 -> 595, active True -> False"),
        (f"tax_rate:{made.json()['id']}",
         "created: country DE, tax_class reduced, rate_basis_points 700, name VAT"),
        (f"tax_rate:{made.json()['id']}",
         "deleted: country DE, tax_class reduced, rate_basis_points 700, name VAT"),
        ("shipping_region:europe", "saved: countries added none; removed AT"),
    ]  # fmt: skip


# ---------------------------------------------------------------- who may


@pytest.fixture
def marketing(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring, cable: str
) -> dict[str, str]:
    mark = make_staff(db, settings, keyring, roles=frozenset({Role.MARKETING}), name="Mark",
                      email="mark@shop.example")  # fmt: skip
    return signed_in(api, mark, T0)


def test_marketing_edits_discount_codes_only(
    api: TestClient, db: Session, marketing: dict[str, str]
) -> None:
    assert api.get(RATES, headers=marketing).status_code == 200
    made = api.post(f"{RATES}/discounts", headers=marketing, json=code_body())
    assert made.status_code == 201
    (entry,) = audit_entries(db, action="change")
    assert entry.role == "marketing"
    for method, path, body in [
        ("POST", "shipping", rate_body()),
        ("POST", "tax", {"country": "DE", "rate_basis_points": 700}),
        ("PUT", "regions/moon", {"countries": ["DE"]}),
    ]:
        answer = api.request(method, f"{RATES}/{path}", headers=marketing, json=body)
        assert answer.status_code == 403, answer.text
    assert len(audit_entries(db, action="denied")) == 3


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PUT", "/regions/uk", {"countries": ["GB"]}),
        ("DELETE", "/regions/uk", None),
        ("POST", "/shipping", rate_body()),
        ("PUT", "/shipping/1", rate_body()),
        ("DELETE", "/shipping/1", None),
        ("POST", "/tax", {"country": "DE", "rate_basis_points": 700}),
        ("PUT", "/tax/1", {"country": "DE", "rate_basis_points": 700}),
        ("DELETE", "/tax/1", None),
        ("POST", "/discounts", code_body()),
        ("PUT", "/discounts/1", code_body()),
        ("DELETE", "/discounts/1", None),
    ],
)
def test_billing_is_refused_every_rate_route_with_an_audit_entry_and_anonymous_gets_401(
    api: TestClient, db: Session, bea: Staff, cable: str,
    method: str, path: str, body: dict[str, Any] | None,
) -> None:  # fmt: skip
    clerk = signed_in(api, bea, T0)
    answer = api.request(method, f"{RATES}{path}", headers=clerk, json=body)
    assert answer.status_code == 403, answer.text
    (denied,) = audit_entries(db, action="denied", staff_id=bea.id)
    assert denied.reason.startswith(f"{method} {RATES}") and "holds billing" in denied.reason
    for headers in ({}, bearer("qs_staff_forged")):
        assert api.request(method, f"{RATES}{path}", headers=headers, json=body).status_code == 401


# ---------------------------------------------------------------- the service itself


@pytest.fixture
def editor() -> orders.RateEditor:
    return orders.RateEditor(staff_id=1, role="owner", origin="")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"base_cents": -1}, "base_cents"),
        ({"base_cents": True}, "base_cents"),
        ({"free_over_cents": 2**40}, "free_over_cents"),
        ({"active": "yes"}, "active"),
        ({"name": "  "}, "name"),
    ],
)
def test_the_service_refuses_what_the_schema_lets_through_to_other_callers(
    db: Session, settings: Settings, cable: str, editor: orders.RateEditor,
    changes: dict[str, Any], field: str,
) -> None:  # fmt: skip
    data = orders.ShippingRateInput(**{**rate_body(), **changes})
    with pytest.raises(InvalidInput) as refused:
        orders.save_shipping_rate(db, settings, None, data, editor, T0)
    assert refused.value.field == field


def test_a_discount_code_is_stored_upper_case_with_its_dates(
    db: Session, settings: Settings, cable: str, editor: orders.RateEditor
) -> None:
    data = orders.DiscountCodeInput(
        code=" winter-5 ", kind="amount", amount_cents=500,
        valid_from=T0, valid_until=T0 + timedelta(days=30), max_uses_per_customer=1,
    )  # fmt: skip
    saved = orders.save_discount_code(db, settings, None, data, editor, T0)
    assert (saved.code.code, saved.code.percent_basis_points, saved.currency) == (
        "WINTER-5",
        None,
        "USD",
    )
    (row,) = [r for r in orders.rate_tables(db).discount_codes if r.code.code == "WINTER-5"]
    assert row.code.valid_until == T0 + timedelta(days=30)


def test_shipping_edits_drop_every_cached_page_and_other_rate_edits_do_not(
    api: TestClient, owner: dict[str, str], tables: dict[str, Any], db: Session
) -> None:
    """Product pages quote shipping for a chosen country: a region or shipping rate edit
    is a whole-site change in the log every process's page cache reads; a tax rate or a
    discount code edit shows on no cached page and logs nothing."""

    before = catalog.changes_since(db, None).last_id

    def whole_site_changes() -> int:
        return sum(c.everything for c in catalog.changes_since(db, before).changes)

    us = _row(tables["tax_rates"], country="US")
    taxed = api.put(
        f"{RATES}/tax/{us['id']}", headers=owner,
        json={"country": "US", "tax_class": "standard", "rate_basis_points": 500, "name": "Tax"},
    )  # fmt: skip
    assert taxed.status_code == 200 and whole_site_changes() == 0
    standard = _row(tables["shipping_rates"], region="domestic", method_code="standard")
    unchanged = api.put(
        f"{RATES}/shipping/{standard['id']}", headers=owner, json=editable(standard)
    )
    assert unchanged.status_code == 200 and whole_site_changes() == 0  # nothing changed
    raised = editable(standard, base_cents=795)
    assert api.put(f"{RATES}/shipping/{standard['id']}", headers=owner, json=raised).is_success
    assert whole_site_changes() == 1
    europe = _row(tables["regions"], code="europe")["countries"]
    moved, kept = europe[0], europe[1:]
    narrowed = api.put(f"{RATES}/regions/europe", headers=owner, json={"countries": kept})
    assert narrowed.status_code == 200 and whole_site_changes() == 2
    made = api.put(f"{RATES}/regions/islands", headers=owner, json={"countries": [moved]})
    assert made.status_code == 200 and whole_site_changes() == 3
    assert api.delete(f"{RATES}/regions/islands", headers=owner).status_code == 204
    assert whole_site_changes() == 4
